"""Measuring one compressed artifact on one target: every target-dependent metric.

Nothing here compares with the baseline: a job is measured on its own (possibly in a
worker process), and :mod:`squeezebench.harness.baseline` relates it to the baseline after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squeezebench.harness.compress import CompressedArtifact
from squeezebench.harness.measure.latency import time_calls
from squeezebench.harness.measure.memory import PeakMemory
from squeezebench.harness.measure.quality import predict, score
from squeezebench.plugins.contracts import DatasetSplits, Runner
from squeezebench.spec.models import BenchmarkSpec


@dataclass
class TargetMeasurement:
    """What one job measured: shared metrics, one row per batch size, the test outputs."""

    metrics: dict[str, Any] = field(default_factory=dict)
    batch_rows: list[dict[str, Any]] = field(default_factory=list)
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


def measure_on_target(
    compressed: CompressedArtifact,
    runner: Runner,
    data: DatasetSplits | None,
    example: Any,
    settings: BenchmarkSpec,
) -> TargetMeasurement:
    """Artifact bytes, accuracy on the test split and latency per batch size."""
    payload = runner.artifact_bytes()
    encoded = compressed.encode(payload)
    measurement = TargetMeasurement(
        metrics={
            "artifact_bytes": len(payload),
            "encoded_bytes": None if encoded is None else len(encoded),
        }
    )
    if data is not None:
        outputs = predict(runner, data.test.inputs)
        if not np.all(np.isfinite(outputs)):
            measurement.problem = "model outputs contain NaN or inf; accuracy not computed"
        else:
            measurement.outputs = outputs
            measurement.metrics["metric"] = data.metric
            measurement.metrics["accuracy"] = score(data.metric, outputs, data.test.labels)
    runtime_notes(runner)  # what the accuracy pass chose is not about the batch sizes below
    for batch_size in settings.batch_sizes:
        placed = runner.place(latency_batch(data, example, batch_size))
        with PeakMemory() as peak:
            stats = time_calls(
                lambda placed=placed: runner.run(placed),
                runner.synchronize,
                warmup_seconds=settings.warmup_seconds,
                min_repeats=settings.min_repeats,
                min_seconds=settings.min_seconds,
                timer=runner.timer(),
            )
        measurement.batch_rows.append(
            {
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
                "peak_memory_bytes": peak.growth_bytes,
                "runtime_notes": json.dumps(notes) if (notes := runtime_notes(runner)) else None,
            }
        )
    return measurement


def runtime_notes(runner: Runner) -> list[str]:
    """The runner's notes since the last call (none from runners without the hook)."""
    notes = getattr(runner, "notes", None)
    return list(notes()) if callable(notes) else []
