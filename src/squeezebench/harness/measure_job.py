"""Measuring one compressed artifact on one target: every metric of a result row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squeezebench.harness.compress import CompressedArtifact
from squeezebench.harness.jobs import Job
from squeezebench.harness.measure.latency import time_calls
from squeezebench.harness.measure.memory import PeakMemory
from squeezebench.harness.measure.quality import agreement, predict, top1
from squeezebench.plugins.contracts import DatasetSplits, Runner


@dataclass
class BaselineReference:
    """What later variants on the same target are compared with."""

    artifact_bytes: int | None = None
    accuracy: float | None = None
    outputs: np.ndarray | None = None
    p50_ms: dict[int, float] = field(default_factory=dict)


def latency_batch(data: DatasetSplits | None, example: Any, batch_size: int) -> np.ndarray:
    """A batch of real test inputs (repeated if the split is smaller), else the example."""
    source = data.test.inputs if data is not None else _as_numpy(example)
    if source is None:
        raise ValueError("no dataset and no example input: cannot build a batch to time")
    repeats = -(-batch_size // len(source))
    return np.ascontiguousarray(np.concatenate([source] * repeats)[:batch_size])


def _as_numpy(example: Any) -> np.ndarray | None:
    if example is None:
        return None
    if isinstance(example, tuple | list):
        example = example[0]
    return np.asarray(example.detach().cpu() if hasattr(example, "detach") else example)


def measure_on_target(
    job: Job,
    compressed: CompressedArtifact,
    runner: Runner,
    data: DatasetSplits | None,
    example: Any,
    baseline: BaselineReference,
) -> list[dict[str, Any]]:
    """Rows (one per batch size) of metrics that depend on the target."""
    payload = runner.artifact_bytes()
    artifact_bytes = len(payload)
    encoded = compressed.encode(payload)
    common: dict[str, Any] = {
        "artifact_bytes": artifact_bytes,
        "encoded_bytes": None if encoded is None else len(encoded),
    }
    if job.variant.steps == ():
        baseline.artifact_bytes = artifact_bytes
    if baseline.artifact_bytes:
        common["compression_ratio"] = baseline.artifact_bytes / artifact_bytes
    status, reason = "ok", None
    if data is not None:
        outputs = predict(runner, data.test.inputs)
        if not np.all(np.isfinite(outputs)):
            status, reason = "error", "model outputs contain NaN or inf; accuracy not computed"
        else:
            accuracy = top1(outputs, data.test.labels)
            if job.variant.steps == ():
                baseline.accuracy, baseline.outputs = accuracy, outputs
            common["metric"] = data.metric
            common["accuracy"] = accuracy
            if baseline.accuracy is not None:
                common["accuracy_delta"] = accuracy - baseline.accuracy
            if baseline.outputs is not None:
                common["fidelity"] = agreement(outputs, baseline.outputs)
    rows = []
    settings = job.benchmark
    for batch_size in settings.batch_sizes:
        placed = runner.place(latency_batch(data, example, batch_size))
        with PeakMemory() as peak:
            stats = time_calls(
                lambda placed=placed: runner.run(placed),
                runner.synchronize,
                warmup_seconds=settings.warmup_seconds,
                min_repeats=settings.min_repeats,
                min_seconds=settings.min_seconds,
            )
        if job.variant.steps == ():
            baseline.p50_ms[batch_size] = stats.p50
        reference = baseline.p50_ms.get(batch_size)
        rows.append(
            {
                **common,
                "status": status,
                "reason": reason,
                "batch_size": batch_size,
                "latency_p50_ms": stats.p50,
                "latency_p90_ms": stats.p90,
                "latency_p99_ms": stats.p99,
                "latency_mean_ms": stats.mean,
                "latency_std_ms": stats.std,
                "latency_iqr_ms": stats.iqr,
                "latency_spread": stats.spread,
                "noisy": stats.spread > settings.noise_threshold,
                "repeats": len(stats.samples_ms),
                "latency_samples_ms": stats.samples_ms,
                "throughput_per_s": batch_size / (stats.p50 / 1e3) if stats.p50 > 0 else None,
                "speedup": reference / stats.p50 if reference and stats.p50 > 0 else None,
                "peak_memory_bytes": peak.growth_bytes,
            }
        )
    return rows
