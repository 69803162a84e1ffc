"""Accuracy and fidelity of a prepared runner on a dataset split.

Two kinds of output are scored. Class scores (metric ``top1``): accuracy is the share of
argmax predictions equal to the label, fidelity the share equal to the baseline's argmax.
Sentence embeddings (metric ``embedding``, one row per sentence): accuracy is paraphrase
retrieval (:func:`paraphrase_retrieval`), and fidelity to the baseline is measured by
:func:`embedding_cosine` and :func:`retrieval_agreement`. Similarities are cosines, so
embeddings need not be normalised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

EMBEDDING = "embedding"
"""The metric of datasets whose model outputs are sentence embeddings."""


def predict(runner: Any, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run ``inputs`` through ``runner`` in batches; return the stacked outputs."""
    outputs = []
    for start in range(0, len(inputs), batch_size):
        placed = runner.place(np.ascontiguousarray(inputs[start : start + batch_size]))
        outputs.append(runner.fetch(runner.run(placed)))
    runner.synchronize()
    return np.concatenate(outputs)


def score(metric: str, outputs: np.ndarray, labels: np.ndarray | None) -> float | None:
    """Accuracy of ``outputs`` under the dataset's metric, or None without labels."""
    if labels is None:
        return None
    if metric == EMBEDDING:
        return paraphrase_retrieval(outputs, labels)
    return top1(outputs, labels)


def top1(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples whose highest logit is the label."""
    return float(np.mean(outputs.argmax(axis=-1) == labels))


def agreement(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Share of samples whose predicted class equals the reference's (fidelity)."""
    return float(np.mean(outputs.argmax(axis=-1) == reference.argmax(axis=-1)))


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    rows = np.asarray(embeddings, dtype=np.float64).reshape(len(embeddings), -1)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def embedding_cosine(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Mean cosine similarity of each embedding to the reference's embedding of the same
    input (1.0: same directions; a zero embedding counts as cosine 0)."""
    if outputs.shape != reference.shape:
        raise ValueError(f"embeddings of shape {outputs.shape} vs reference {reference.shape}")
    return float(np.mean(np.sum(_unit_rows(outputs) * _unit_rows(reference), axis=1)))


def nearest_neighbours(embeddings: np.ndarray) -> np.ndarray:
    """For each row, the index of the most cosine-similar *other* row (ties: lowest index)."""
    unit = _unit_rows(embeddings)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.argmax(axis=1)


def retrieval_agreement(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Share of inputs whose nearest neighbour (by cosine, among the other test inputs) is
    the same input as under the reference embeddings: top-1 retrieval agreement."""
    if outputs.shape != reference.shape:
        raise ValueError(f"embeddings of shape {outputs.shape} vs reference {reference.shape}")
    if len(outputs) < 2:
        return 1.0
    return float(np.mean(nearest_neighbours(outputs) == nearest_neighbours(reference)))


def paraphrase_retrieval(embeddings: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of inputs whose nearest neighbour among the others has the same label (is its
    paraphrase); inputs without another of their label are left out (None if all are)."""
    labels = np.asarray(labels)
    values, counts = np.unique(labels, return_counts=True)
    has_partner = np.isin(labels, values[counts > 1])
    if not has_partner.any():
        return None
    found = labels[nearest_neighbours(embeddings)] == labels
    return float(np.mean(found[has_partner]))
