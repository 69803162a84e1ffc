"""Relating a job's rows to the baseline measured on the same target."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squeezebench.harness.measure.quality import (
    EMBEDDING,
    agreement,
    embedding_cosine,
    retrieval_agreement,
)
from squeezebench.results.status import OK


@dataclass
class BaselineReference:
    """The baseline's figures on one target, as later variants are compared with them."""

    artifact_bytes: int | None = None
    accuracy: float | None = None
    flops_per_sample: int | None = None
    outputs: np.ndarray | None = None
    p50_ms: dict[int, float] = field(default_factory=dict)

    def learn(self, rows: list[dict[str, Any]], outputs: np.ndarray | None) -> None:
        """Take the reference values from the baseline job's rows."""
        ok = [row for row in rows if row.get("status") == OK]
        if not ok:
            return
        self.artifact_bytes = ok[0].get("artifact_bytes")
        self.accuracy = ok[0].get("accuracy")
        self.flops_per_sample = ok[0].get("flops_per_sample")
        self.outputs = outputs
        self.p50_ms = {
            row["batch_size"]: row["latency_p50_ms"] for row in ok if row.get("latency_p50_ms")
        }

    def compare(self, row: dict[str, Any], outputs: np.ndarray | None) -> dict[str, Any]:
        """Ratio, accuracy delta, fidelity, speedup and theoretical speedup of ``row``.

        Fidelity is ``fidelity`` (argmax agreement) for class scores, and
        ``embedding_cosine`` with ``retrieval_agreement`` for the ``embedding`` metric.
        """
        found: dict[str, Any] = {}
        if self.artifact_bytes and row.get("artifact_bytes"):
            found["compression_ratio"] = self.artifact_bytes / row["artifact_bytes"]
        if self.accuracy is not None and row.get("accuracy") is not None:
            found["accuracy_delta"] = row["accuracy"] - self.accuracy
        if self.outputs is not None and outputs is not None:
            if row.get("metric") == EMBEDDING:  # embeddings: no classes to agree on
                found["embedding_cosine"] = embedding_cosine(outputs, self.outputs)
                found["retrieval_agreement"] = retrieval_agreement(outputs, self.outputs)
            else:
                found["fidelity"] = agreement(outputs, self.outputs)
        reference = self.p50_ms.get(row.get("batch_size"))
        if reference and row.get("latency_p50_ms"):
            found["speedup"] = reference / row["latency_p50_ms"]
        if self.flops_per_sample and row.get("nonzero_flops_per_sample"):
            found["theoretical_speedup"] = self.flops_per_sample / row["nonzero_flops_per_sample"]
        return found
