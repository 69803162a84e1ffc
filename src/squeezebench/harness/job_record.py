"""A job's results as the run accumulates them: the first measurement, then more rounds.

The parent keeps one :class:`JobRecord` per job. Its rows (one per batch size) are derived
from it whenever it changes, so they can be written again after every timing round and once
more at the end (final speedups, drift), and a record can be rebuilt from rows on disk when a
run is resumed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from squeezebench.harness.jobs import Job
from squeezebench.harness.measure.conditions import thread_problem
from squeezebench.harness.measure.rounds import (
    condition_columns,
    contention_note,
    energy_columns,
    latency_columns,
)
from squeezebench.harness.measure.window import ConditionReading, Window
from squeezebench.harness.workspace import HOST_METRICS, JobResult
from squeezebench.results import columns as col
from squeezebench.results.status import ERROR, OK, Status


@dataclass
class JobRecord:
    """Identity, status, shared metrics, test outputs and timing rounds of one job."""

    job: Job
    identity: dict[str, Any]
    status: Status
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    outputs: np.ndarray | None = None
    rounds: list[list[Window]] = field(default_factory=list)
    drift: dict[int, float] = field(default_factory=dict)  # batch size -> change of speed

    @classmethod
    def from_result(cls, job: Job, identity: dict[str, Any], result: JobResult) -> JobRecord:
        """The record of a job's first (full) measurement."""
        record = cls(job, identity, result.status, result.reason, dict(result.metrics))
        record.outputs = result.outputs
        if result.status == OK and result.windows:
            record.rounds.append(list(result.windows))
        record.apply_contention_policy()
        return record

    @property
    def measured(self) -> bool:
        """Whether the job has timing rounds (it ran and was not skipped or failed)."""
        return self.status == OK and bool(self.rounds)

    def add_round(self, result: JobResult) -> None:
        """Add one more timing round; a failed round makes the job an error, with its reason."""
        if result.status != OK:
            self.status = ERROR
            self.reason = f"timing round {len(self.rounds) + 1} failed: {result.reason}"
            return
        self.rounds.append(list(result.windows))
        # the timing host's provenance (on a cluster, the evaluation may have run elsewhere)
        self.metrics.update({k: result.metrics[k] for k in HOST_METRICS if k in result.metrics})
        self.apply_contention_policy()

    def apply_contention_policy(self) -> None:
        """``on_contention: fail`` turns a job with a contended window into an error."""
        contention = self.job.benchmark.contention
        if self.status != OK or contention.on_contention != "fail":
            return
        if any(w.contended for windows in self.rounds for w in windows):
            self.status = ERROR
            self.reason = (
                "measured under contention (benchmark.contention.on_contention: fail): "
                "other processes were busy on our cores or GPU while timing"
            )

    def rows(self) -> list[dict[str, Any]]:
        """One row per batch size (without the baseline comparison)."""
        batch_sizes = self.job.benchmark.batch_sizes
        base = self.identity | self.metrics | {col.STATUS: self.status, "reason": self.reason}
        if not self.measured:
            return [base | {col.BATCH_SIZE: b} for b in batch_sizes]
        threshold = self.job.benchmark.noise_threshold
        rows = []
        for index, batch_size in enumerate(batch_sizes):
            windows = [windows[index] for windows in self.rounds]
            row = base | {col.BATCH_SIZE: batch_size}
            row |= latency_columns(windows, threshold)
            row |= condition_columns(windows)
            row |= energy_columns(windows, batch_size)
            drift = self.drift.get(batch_size)
            if drift is not None:
                row |= {col.DRIFT: drift, "drifted": abs(drift) > threshold}
            row[col.CONDITIONS] = _conditions(row)
            rows.append(row)
        return rows

    @classmethod
    def from_rows(cls, job: Job, rows: list[dict[str, Any]], outputs: Any) -> JobRecord:
        """Rebuild a record from the rows a previous (interrupted) run wrote."""
        first = rows[0]
        identity_keys = set(first) - _DERIVED
        identity = {k: first[k] for k in identity_keys if k not in _SHARED_METRICS}
        record = cls(job, identity, first[col.STATUS], first.get(col.REASON))
        record.metrics = {k: first[k] for k in _SHARED_METRICS if first.get(k) is not None}
        record.outputs = outputs
        by_batch = {row[col.BATCH_SIZE]: row for row in rows}
        if record.status == OK and all(by_batch.get(b) for b in job.benchmark.batch_sizes):
            record.rounds = _rounds_from_rows([by_batch[b] for b in job.benchmark.batch_sizes])
        return record


def _conditions(row: dict[str, Any]) -> str | None:
    """Every measurement condition that did not hold for the row, as one sentence each."""
    oversubscribed = thread_problem(row.get(col.THREADS), row.get(col.CPU_CORES_AVAILABLE))
    notes = [oversubscribed] if oversubscribed else []
    contended = contention_note(row, row.get(col.CPU_CORES_AVAILABLE))
    if contended:
        notes.append(contended)
    if row.get(col.DRIFTED):
        notes.append(f"the machine's speed changed by {row['drift']:+.0%} during the run")
    return "; ".join(notes) or None


def _rounds_from_rows(rows: list[dict[str, Any]]) -> list[list[Window]]:
    """Windows per round, rebuilt from the pooled samples and each round's count.

    The conditions of the earlier rounds survive only as their worst values, so they are
    carried by the first round; the aggregates (maximum, any, sum) come out unchanged.
    """
    rounds: list[list[Window]] = []
    for row in rows:
        counts = row.get(col.LATENCY_ROUND_REPEATS) or [len(row.get(col.LATENCY_SAMPLES_MS) or [])]
        samples = list(row.get(col.LATENCY_SAMPLES_MS) or [])
        start = 0
        for index, count in enumerate(counts):
            if index == len(rounds):
                rounds.append([])
            window = Window(row[col.BATCH_SIZE], samples[start : start + count])
            start += count
            if index == 0:
                window.notes = (
                    json.loads(row[col.RUNTIME_NOTES]) if row.get(col.RUNTIME_NOTES) else []
                )
                window.contended = bool(row.get(col.CONTENDED))
                window.retries = int(row.get(col.CONTENTION_RETRIES) or 0)
                window.peak_memory_bytes = row.get(col.PEAK_MEMORY_BYTES)
                calls = sum(counts)
                energy = row.get(col.ENERGY_J_PER_BATCH)
                window.conditions = ConditionReading(
                    other_cpu_cores=row.get(col.OTHER_CPU_CORES),
                    steal_cores=row.get(col.STEAL_CORES),
                    gpu_other_processes=row.get(col.GPU_OTHER_PROCESSES),
                    gpu_throttle=row.get(col.GPU_THROTTLE),
                    energy_joules=None if energy is None else energy * calls,
                    energy_source=row.get(col.ENERGY_SOURCE),
                    energy_reason=row.get(col.ENERGY_REASON),
                    calls=calls if energy is not None else 0,
                )
            rounds[index].append(window)
    if any(len(windows) != len(rows) for windows in rounds):
        return []  # rows of different round counts: treat as unmeasured, time it again
    return [w for w in rounds if all(x.samples_ms for x in w)]


# Columns derived from the rounds or from the baseline: never part of a rebuilt identity.
_DERIVED = {
    "batch_size",
    "status",
    "reason",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_std_ms",
    "latency_iqr_ms",
    "latency_spread",
    "noisy",
    "repeats",
    "rounds",
    "latency_samples_ms",
    "latency_round_p50_ms",
    "latency_round_repeats",
    "latency_p50_low_ms",
    "latency_p50_high_ms",
    "throughput_per_s",
    "peak_memory_bytes",
    "contended",
    "other_cpu_cores",
    "steal_cores",
    "contention_retries",
    "gpu_other_processes",
    "gpu_throttle",
    "drift",
    "drifted",
    "energy_source",
    "energy_reason",
    "energy_j_per_batch",
    "energy_j_per_sample",
    "runtime_notes",
    "compression_ratio",
    "accuracy_delta",
    "fidelity",
    "embedding_cosine",
    "retrieval_agreement",
    "speedup",
    "theoretical_speedup",
    "conditions",
    "schema_version",
}

# Metrics a worker measured once per job (repeated on each batch size's row).
_SHARED_METRICS = (
    "simulated",
    "params",
    "nonzero_params",
    "artifact_bytes",
    "encoded_bytes",
    "sparse_bytes",
    "metric",
    "accuracy",
    "flops_per_sample",
    "nonzero_flops_per_sample",
    "compress_seconds",
    "artifact_format",
    "conversions",
    "convert_seconds",
    "prepare_seconds",
    "method_log",
    "cpu_cores_available",
    "hostname",
    "cpu_model",
    "gpu_name",
)
