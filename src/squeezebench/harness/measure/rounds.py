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
        "latency_p50_ms": p50,
        "latency_p90_ms": float(p90),
        "latency_p99_ms": float(p99),
        "latency_mean_ms": float(pooled.mean()),
        "latency_std_ms": float(pooled.std(ddof=1)) if len(pooled) > 1 else 0.0,
        "latency_iqr_ms": float(q75 - q25),
        "latency_spread": spread,
        "noisy": spread > noise_threshold,
        "repeats": len(pooled),
        "rounds": len(windows),
        "latency_samples_ms": pooled.tolist(),
        "latency_round_p50_ms": round_p50s,
        "latency_round_repeats": [len(w.samples_ms) for w in windows],
        "latency_p50_low_ms": low,
        "latency_p50_high_ms": high,
        "throughput_per_s": batch_size / (p50 / 1e3) if p50 > 0 else None,
    }


def _maximum(values: Sequence[float | int | None]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def condition_columns(windows: Sequence[Window]) -> dict[str, Any]:
    """Worst conditions over the rounds: contention, retries, GPU sharing, throttling."""
    readings = [w.conditions for w in windows]
    throttles = sorted({r.gpu_throttle for r in readings if r.gpu_throttle})
    return {
        "contended": any(w.contended for w in windows),
        "other_cpu_cores": _maximum([r.other_cpu_cores for r in readings]),
        "steal_cores": _maximum([r.steal_cores for r in readings]),
        "contention_retries": sum(w.retries for w in windows),
        "gpu_other_processes": _maximum([r.gpu_other_processes for r in readings]),
        "gpu_throttle": ", ".join(throttles) or None,
        "peak_memory_bytes": _maximum([w.peak_memory_bytes for w in windows]),
        "runtime_notes": _notes(windows),
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
        return {"energy_reason": reasons[0] if reasons else "no energy counter was read"}
    total = EnergyReading(
        sum(r.energy_joules or 0.0 for r in measured), measured[0].energy_source, None, 0.0
    )
    energy = energy_per_inference(total, sum(r.calls for r in measured), batch_size)
    return {
        "energy_source": energy.source,
        "energy_j_per_batch": energy.joules_per_batch,
        "energy_j_per_sample": energy.joules_per_sample,
    }


def contention_note(row: dict[str, Any], cores: int | None) -> str | None:
    """The human sentence for a contended row, or None."""
    if not row.get("contended"):
        return None
    parts = []
    other = row.get("other_cpu_cores")
    if other is not None:
        of = f" of our {cores}" if cores else ""
        parts.append(f"other processes used up to {other:.2f} cores{of}")
    if row.get("steal_cores"):
        parts.append(f"the hypervisor stole up to {row['steal_cores']:.2f} cores")
    if row.get("gpu_other_processes"):
        parts.append(f"{row['gpu_other_processes']} other process(es) on the GPU")
    retries = row.get("contention_retries") or 0
    after = f" (still after {retries} retries)" if retries else ""
    return "measured under contention: " + ", ".join(parts or ["busy machine"]) + after
