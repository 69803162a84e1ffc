"""Relating a variant's rows to the baseline's: fidelity for classes and for embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from squeezebench.harness.baseline import BaselineReference

EMBEDDINGS = np.array(
    [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1], [0, 0.1, 0.9]]
)


def _baseline(metric: str, outputs: np.ndarray) -> BaselineReference:
    reference = BaselineReference()
    row = {"status": "ok", "batch_size": 1, "latency_p50_ms": 4.0, "metric": metric}
    reference.learn([row | {"accuracy": 0.9, "artifact_bytes": 100}], outputs)
    return reference


def test_embedding_rows_get_cosine_and_retrieval_agreement_not_fidelity() -> None:
    reference = _baseline("embedding", EMBEDDINGS)
    moved = EMBEDDINGS.copy()
    moved[5] = [0.9, 0.0, 0.2]  # the last row's nearest neighbour changes, no other's
    row = {"metric": "embedding", "batch_size": 1, "latency_p50_ms": 2.0, "accuracy": 0.5}
    found = reference.compare(row, moved)
    assert "fidelity" not in found
    assert found["retrieval_agreement"] == pytest.approx(5 / 6)
    unit = EMBEDDINGS[5] / np.linalg.norm(EMBEDDINGS[5])
    expected_cosine = (5 + float(moved[5] @ unit / np.linalg.norm(moved[5]))) / 6
    assert found["embedding_cosine"] == pytest.approx(expected_cosine)
    assert found["speedup"] == 2.0 and found["accuracy_delta"] == pytest.approx(-0.4)
    same = reference.compare(row, EMBEDDINGS.copy())
    assert same["embedding_cosine"] == pytest.approx(1.0) and same["retrieval_agreement"] == 1.0


def test_class_score_rows_keep_argmax_fidelity() -> None:
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    reference = _baseline("top1", logits)
    found = reference.compare({"metric": "top1", "batch_size": 1}, logits[:, ::-1].copy())
    assert found["fidelity"] == 0.0
    assert "embedding_cosine" not in found and "retrieval_agreement" not in found
