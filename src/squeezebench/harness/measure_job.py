"""Measuring one compressed artifact on one target: every target-dependent metric.

Nothing here compares with the baseline or aggregates rounds: a job is measured on its own
(in a worker process), :mod:`squeezebench.harness.measure.rounds` turns its rounds into
columns and :mod:`squeezebench.harness.baseline` relates it to the baseline after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squeezebench.harness.compress import CompressedArtifact
from squeezebench.harness.measure.quality import predict, score
from squeezebench.harness.measure.window import (
    ConditionProbe,
    RetryBudget,
    Window,
    measure_window,
)
from squeezebench.plugins.contracts import DatasetSplits, Runner
from squeezebench.results import columns as col
from squeezebench.spec.models import BenchmarkSpec


@dataclass
class TargetMeasurement:
    """What one job measured: shared metrics, one timing window per batch size, outputs."""

    metrics: dict[str, Any] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    outputs: np.ndarray | None = None
    problem: str | None = None  # set when the outputs are unusable (NaN, inf)


def latency_batch(data: DatasetSplits | None, example: Any, batch_size: int) -> np.ndarray:
    """A batch of real test inputs (repeated if the split is smaller), else the example."""
    source = data.test.inputs if data is not None else as_numpy(example)
    if source is None:
        raise ValueError("no dataset and no example input: cannot build a batch to time")
    repeats = -(-batch_size // len(source))
    return np.ascontiguousarray(np.concatenate([source] * repeats)[:batch_size])


def as_numpy(example: Any) -> np.ndarray | None:
    """An example input (tensor, array, or tuple of them) as a numpy array."""
    if example is None:
        return None
    if isinstance(example, tuple | list):
        example = example[0]
    return np.asarray(example.detach().cpu() if hasattr(example, "detach") else example)


def time_round(
    runner: Runner,
    data: DatasetSplits | None,
    example: Any,
    settings: BenchmarkSpec,
    probe: ConditionProbe,
) -> list[Window]:
    """One timing round: a window per batch size, in the spec's order, sharing one
    budget of re-measurements for contended windows."""
    budget = RetryBudget(settings.contention.retries)
    windows = []
    for batch_size in settings.batch_sizes:
        placed = runner.place(latency_batch(data, example, batch_size))
        windows.append(
            measure_window(
                lambda placed=placed: runner.run(placed),
                runner.synchronize,
                batch_size,
                settings,
                probe,
                timer=runner.timer(),
                budget=budget,
            )
        )
        windows[-1].notes = runtime_notes(runner)
    return windows


def measure_on_target(
    compressed: CompressedArtifact,
    runner: Runner,
    data: DatasetSplits | None,
    example: Any,
    settings: BenchmarkSpec,
    probe: ConditionProbe | None,
) -> TargetMeasurement:
    """Artifact bytes, accuracy on the test split, and the first timing round (none
    without a ``probe``: an evaluation that times nothing)."""
    payload = runner.artifact_bytes()
    encoded = compressed.encode(payload)
    measurement = TargetMeasurement(
        metrics={
            col.ARTIFACT_BYTES: len(payload),
            col.ENCODED_BYTES: None if encoded is None else len(encoded),
        }
    )
    if data is not None:
        outputs = predict(runner, data.test.inputs)
        if not np.all(np.isfinite(outputs)):
            measurement.problem = "model outputs contain NaN or inf; accuracy not computed"
        else:
            measurement.outputs = outputs
            measurement.metrics[col.METRIC] = data.metric
            measurement.metrics[col.ACCURACY] = score(data.metric, outputs, data.test.labels)
    runtime_notes(runner)  # what the accuracy pass chose is not about the batch sizes below
    if probe is not None:
        measurement.windows = time_round(runner, data, example, settings, probe)
    return measurement


def runtime_notes(runner: Runner) -> list[str]:
    """The runner's notes since the last call (none from runners without the hook)."""
    notes = getattr(runner, "notes", None)
    return list(notes()) if callable(notes) else []
