"""Synthetic result folders for report tests: many variants, rows written like a real run's."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from squeezebench.results.schema import arrow_schema

FAMILIES = (
    [{"method": "prune.magnitude", "params": {"sparsity": 0.5}}],
    [{"method": "quantize.weight_only", "params": {"bits": 4, "group_size": 32}}],
    [
        {"method": "prune.magnitude", "params": {"sparsity": 0.7}},
        {"method": "quantize.weight_only", "params": {"bits": 8}},
    ],
    [{"method": "cluster.kmeans", "params": {"k": 16}}],
)


def synthetic_rows(
    variants: int, batch_sizes: tuple[int, ...] = (1, 32), rounds: int = 3, seed: int = 0
) -> list[dict[str, Any]]:
    """``variants`` compressed variants plus the baseline, on torch:cpu, with made-up numbers.

    Sizes shrink and accuracies fall with the variant index (a few collapse to ~20 %), and
    latencies get per-round medians around the p50 (a 4 % spread) when ``rounds`` > 1.
    """
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = []
    for index in range(variants + 1):
        steps = [] if index == 0 else FAMILIES[index % len(FAMILIES)]
        accuracy = 0.993 if index == 0 else max(0.1, 0.995 - rng.random() ** 3 * 0.8)
        size = 600_000 if index == 0 else int(600_000 * rng.uniform(0.05, 1.0))
        for batch in batch_sizes:
            p50 = 0.08 * batch**0.8 * rng.uniform(0.9, 4.0)
            medians = sorted(p50 * rng.uniform(0.96, 1.04) for _ in range(rounds))
            rows.append(
                {
                    "schema_version": 3,
                    "run_id": "run-1",
                    "spec_name": "synthetic",
                    "job_id": f"job-{index}",
                    "model": "builtin:digits-cnn",
                    "dataset": "digits",
                    "variant": "baseline" if index == 0 else f"v{index:03d}[step={index}]",
                    "steps": json.dumps(steps),
                    "target": "torch:cpu",
                    "batch_size": batch,
                    "seed": 0,
                    "started_at": start + timedelta(seconds=index),
                    "status": "ok",
                    "metric": "top1",
                    "artifact_bytes": size,
                    "compression_ratio": 600_000 / size,
                    "accuracy": accuracy,
                    "accuracy_delta": accuracy - 0.993,
                    "latency_p50_ms": p50,
                    "latency_p99_ms": p50 * 1.3,
                    "latency_spread": 0.02,
                    "noisy": False,
                    "rounds": rounds,
                    "latency_round_p50_ms": medians,
                    "latency_p50_low_ms": medians[0] if rounds > 1 else None,
                    "latency_p50_high_ms": medians[-1] if rounds > 1 else None,
                }
            )
    return rows


def write_run(folder: Path, rows: list[dict[str, Any]], noise_threshold: float = 0.1) -> Path:
    """A run folder holding ``rows`` (one Parquet file) and a manifest with the threshold."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), folder / "rows.parquet")
    manifest = {
        "spec_name": "synthetic",
        "started_at": "2026-01-01T00:00:00+00:00",
        "status": "complete",
        "spec": {"benchmark": {"noise_threshold": noise_threshold}},
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def synthetic_run(tmp_path: Path) -> Callable[..., Path]:
    """Write a synthetic run folder: ``synthetic_run(variants, **synthetic_rows options)``."""

    def make(variants: int = 40, **options: Any) -> Path:
        return write_run(tmp_path / "results" / "run-1", synthetic_rows(variants, **options))

    return make


@pytest.fixture
def make_rows() -> Callable[..., list[dict[str, Any]]]:
    """:func:`synthetic_rows`, for tests that change rows before writing them."""
    return synthetic_rows


@pytest.fixture
def save_run(tmp_path: Path) -> Callable[..., Path]:
    """:func:`write_run` into ``tmp_path/results/run-1``."""

    def save(rows: list[dict[str, Any]], noise_threshold: float = 0.1) -> Path:
        return write_run(tmp_path / "results" / "run-1", rows, noise_threshold)

    return save
