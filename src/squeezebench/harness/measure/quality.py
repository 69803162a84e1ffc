"""Accuracy and fidelity of a prepared runner on a dataset split."""

from __future__ import annotations

from typing import Any

import numpy as np


def predict(runner: Any, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run ``inputs`` through ``runner`` in batches; return the stacked outputs."""
    outputs = []
    for start in range(0, len(inputs), batch_size):
        placed = runner.place(np.ascontiguousarray(inputs[start : start + batch_size]))
        outputs.append(runner.fetch(runner.run(placed)))
    runner.synchronize()
    return np.concatenate(outputs)


def top1(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples whose highest logit is the label."""
    return float(np.mean(outputs.argmax(axis=-1) == labels))


def agreement(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Share of samples whose predicted class equals the reference's (fidelity)."""
    return float(np.mean(outputs.argmax(axis=-1) == reference.argmax(axis=-1)))
