"""From timing rounds to result columns: medians of rounds, intervals, conditions, energy.

Samples inside one process are not independent (the same memory layout, the same thread
placement, the same frequency state), so the figures that judge a row rest on the rounds,
each timed in a fresh process: the p50 is the median of the rounds' medians, the interval is
their range and the spread is that range relative to the p50. The pooled samples (in round
order, with each round's count) are kept for whoever wants them, and give the tail
percentiles.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

from squeezebench.harness.measure.energy import EnergyReading, energy_per_inference
from squeezebench.harness.measure.window import Window
from squeezebench.results import columns as col


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def latency_columns(windows: Sequence[Window], noise_threshold: float) -> dict[str, Any]:
    """Latency statistics of one batch size over its rounds (one window per round)."""
    pooled = np.asarray([s for w in windows for s in w.samples_ms], dtype=np.float64)
    round_p50s = [_median(w.samples_ms) for w in windows]
    p50 = _median(round_p50s)
    q25, q75, p90, p99 = np.percentile(pooled, [25, 75, 90, 99])
    low, high = min(round_p50s), max(round_p50s)
    if len(windows) > 1:
        spread = (high - low) / p50 if p50 > 0 else float("inf")
    else:
        spread = float(q75 - q25) / p50 if p50 > 0 else float("inf")
    batch_size = windows[0].batch_size
    return {
        col.LATENCY_P50_MS: p50,
        col.LATENCY_P90_MS: float(p90),
        col.LATENCY_P99_MS: float(p99),
        col.LATENCY_MEAN_MS: float(pooled.mean()),
        col.LATENCY_STD_MS: float(pooled.std(ddof=1)) if len(pooled) > 1 else 0.0,
        col.LATENCY_IQR_MS: float(q75 - q25),
        col.LATENCY_SPREAD: spread,
        col.NOISY: spread > noise_threshold,
        col.REPEATS: len(pooled),
        col.ROUNDS: len(windows),
        col.LATENCY_SAMPLES_MS: pooled.tolist(),
        col.LATENCY_ROUND_P50_MS: round_p50s,
        col.LATENCY_ROUND_REPEATS: [len(w.samples_ms) for w in windows],
        col.LATENCY_P50_LOW_MS: low,
        col.LATENCY_P50_HIGH_MS: high,
        col.THROUGHPUT_PER_S: batch_size / (p50 / 1e3) if p50 > 0 else None,
    }


def _maximum(values: Sequence[float | int | None]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def condition_columns(windows: Sequence[Window]) -> dict[str, Any]:
    """Worst conditions over the rounds: contention, retries, GPU sharing, throttling."""
    readings = [w.conditions for w in windows]
    throttles = sorted({r.gpu_throttle for r in readings if r.gpu_throttle})
    return {
        col.CONTENDED: any(w.contended for w in windows),
        col.OTHER_CPU_CORES: _maximum([r.other_cpu_cores for r in readings]),
        col.STEAL_CORES: _maximum([r.steal_cores for r in readings]),
        col.CONTENTION_RETRIES: sum(w.retries for w in windows),
        col.GPU_OTHER_PROCESSES: _maximum([r.gpu_other_processes for r in readings]),
        col.GPU_THROTTLE: ", ".join(throttles) or None,
        col.PEAK_MEMORY_BYTES: _maximum([w.peak_memory_bytes for w in windows]),
        col.RUNTIME_NOTES: _notes(windows),
    }


def _notes(windows: Sequence[Window]) -> str | None:
    """The runtime's notes of every round, each once, in order (JSON), or None."""
    notes = list(dict.fromkeys(note for w in windows for note in w.notes))
    return json.dumps(notes) if notes else None


def energy_columns(windows: Sequence[Window], batch_size: int) -> dict[str, Any]:
    """Joules per batch and per sample over every timed call with an energy reading."""
    readings = [w.conditions for w in windows]
    measured = [r for r in readings if r.energy_joules is not None and r.calls > 0]
    if not measured:
        reasons = [r.energy_reason for r in readings if r.energy_reason]
        return {col.ENERGY_REASON: reasons[0] if reasons else "no energy counter was read"}
    total = EnergyReading(
        sum(r.energy_joules or 0.0 for r in measured), measured[0].energy_source, None, 0.0
    )
    energy = energy_per_inference(total, sum(r.calls for r in measured), batch_size)
    return {
        col.ENERGY_SOURCE: energy.source,
        col.ENERGY_J_PER_BATCH: energy.joules_per_batch,
        col.ENERGY_J_PER_SAMPLE: energy.joules_per_sample,
    }


def contention_note(row: dict[str, Any], cores: int | None) -> str | None:
    """The human sentence for a contended row, or None."""
    if not row.get(col.CONTENDED):
        return None
    parts = []
    other = row.get(col.OTHER_CPU_CORES)
    if other is not None:
        of = f" of our {cores}" if cores else ""
        parts.append(f"other processes used up to {other:.2f} cores{of}")
    if row.get(col.STEAL_CORES):
        parts.append(f"the hypervisor stole up to {row['steal_cores']:.2f} cores")
    if row.get(col.GPU_OTHER_PROCESSES):
        parts.append(f"{row['gpu_other_processes']} other process(es) on the GPU")
    retries = row.get(col.CONTENTION_RETRIES) or 0
    after = f" (still after {retries} retries)" if retries else ""
    return "measured under contention: " + ", ".join(parts or ["busy machine"]) + after
