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
from squeezebench.results import columns as col
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
        ok = [row for row in rows if row.get(col.STATUS) == OK]
        if not ok:
            return
        self.artifact_bytes = ok[0].get(col.ARTIFACT_BYTES)
        self.accuracy = ok[0].get(col.ACCURACY)
        self.flops_per_sample = ok[0].get(col.FLOPS_PER_SAMPLE)
        self.outputs = outputs
        self.p50_ms = {
            row[col.BATCH_SIZE]: row[col.LATENCY_P50_MS]
            for row in ok
            if row.get(col.LATENCY_P50_MS)
        }

    def compare(self, row: dict[str, Any], outputs: np.ndarray | None) -> dict[str, Any]:
        """Ratio, accuracy delta, fidelity, speedup and theoretical speedup of ``row``.

        Fidelity is ``fidelity`` (argmax agreement) for class scores, and
        ``embedding_cosine`` with ``retrieval_agreement`` for the ``embedding`` metric.
        """
        found: dict[str, Any] = {}
        if self.artifact_bytes and row.get(col.ARTIFACT_BYTES):
            found[col.COMPRESSION_RATIO] = self.artifact_bytes / row[col.ARTIFACT_BYTES]
        if self.accuracy is not None and row.get(col.ACCURACY) is not None:
            found[col.ACCURACY_DELTA] = row[col.ACCURACY] - self.accuracy
        if self.outputs is not None and outputs is not None:
            if row.get(col.METRIC) == EMBEDDING:  # embeddings: no classes to agree on
                found[col.EMBEDDING_COSINE] = embedding_cosine(outputs, self.outputs)
                found[col.RETRIEVAL_AGREEMENT] = retrieval_agreement(outputs, self.outputs)
            else:
                found[col.FIDELITY] = agreement(outputs, self.outputs)
        reference = self.p50_ms.get(row.get(col.BATCH_SIZE))
        if reference and row.get(col.LATENCY_P50_MS):
            found[col.SPEEDUP] = reference / row[col.LATENCY_P50_MS]
        if self.flops_per_sample and row.get(col.NONZERO_FLOPS_PER_SAMPLE):
            found[col.THEORETICAL_SPEEDUP] = (
                self.flops_per_sample / row[col.NONZERO_FLOPS_PER_SAMPLE]
            )
        return found
