"""The phases of a run: first measurements, more timing rounds, the drift check.

1. **Measure** every job once, in plan order (baseline first on every target): compress,
   convert, prepare, score, and time the first round. Its rows are written at once.
2. **More rounds**: rounds 2..N time every measured job again, each in a fresh worker (or
   re-warmed in-process with ``--inline``), interleaved across jobs and in alternating order,
   so that a slow drift of the machine's speed hits every variant alike. A job's file is
   rewritten after each of its rounds.
3. **Drift check**: each target's baseline is timed once more at the end; the change from
   its first round says how much the machine's speed moved during the run.
4. **Finish**: every row is rebuilt with the final baseline figures (speedups) and drift,
   and rewritten.

A crash or kill loses at most the work in flight: every finished measurement is on disk, and
a resumed run picks up the missing rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from squeezebench.harness.baseline import BaselineReference
from squeezebench.harness.job_record import JobRecord
from squeezebench.harness.jobs import Job
from squeezebench.harness.manifest import RunManifest
from squeezebench.harness.measure.window import Window
from squeezebench.harness.workspace import JobResult
from squeezebench.results import columns as col
from squeezebench.results.status import ERROR, OK
from squeezebench.results.store import RunStore

Execute = Callable[[Job, str], JobResult]
"""Runs a job in a worker: ``execute(job, mode)`` with mode ``measure`` or ``time``."""


class Sweep:
    """Runs the phases over a run's jobs and keeps their records, files and manifest."""

    def __init__(
        self,
        jobs: list[Job],
        execute: Execute,
        store: RunStore,
        manifest: RunManifest,
        reporter: Any,
        identity: Callable[[Job], dict[str, Any]],
    ) -> None:
        self.jobs = jobs
        self.execute = execute
        self.store = store
        self.manifest = manifest
        self.reporter = reporter
        self.identity = identity
        self.records: dict[str, JobRecord] = {}
        self.lost: dict[str, str] = {}  # job id: why (executors that can lose a job)
        self.resumed_jobs = 0
        self.in_flight: Job | None = None
        self._timed_now = False  # whether this invocation timed anything

    # -- phase 1 ------------------------------------------------------------------------

    def measure_all(self, finished: dict[str, list[dict[str, Any]]], retry_errors: bool) -> None:
        """First measurement of every job, or its record rebuilt from an earlier run."""
        self.reporter.run_started(self.jobs)
        for job in self.jobs:
            if self.resume(job, finished, retry_errors):
                continue
            self.in_flight = job
            self.reporter.job_started(job)
            self.manifest.job(job.job_id, status="running")
            begin = time.perf_counter()
            identity = self.identity(job)  # before the work: it records when the job started
            result = self.execute(job, "measure")
            record = JobRecord.from_result(job, identity, result)
            self.records[job.job_id] = record
            self._timed_now = True
            if record.outputs is not None:
                self.store.write_outputs(job.job_id, record.outputs)
            rows = self._write(job)
            self.manifest.job(
                job.job_id,
                status=record.status,
                rounds=len(record.rounds),
                seconds=round(time.perf_counter() - begin, 3),
            )
            self.in_flight = None
            self.reporter.job_finished(job, rows)

    def resume(
        self, job: Job, finished: dict[str, list[dict[str, Any]]], retry_errors: bool
    ) -> bool:
        """Rebuild ``job``'s record from an earlier run's rows, if it has any to keep."""
        previous = finished.get(job.job_id)
        if previous is None or (retry_errors and _has_errors(previous)):
            return False
        outputs = self.store.read_outputs(job.job_id)
        record = JobRecord.from_rows(job, previous, outputs)
        if record.status == OK and not record.measured:
            return False  # its saved rounds cannot be rebuilt (a batch size missing): again
        self.records[job.job_id] = record
        self.resumed_jobs += 1
        self.reporter.job_finished(job, self.rows(job))
        return True

    def jobs_in_flight(self) -> list[Job]:
        """Jobs started but not saved (marked ``interrupted`` if the run stops now)."""
        return [self.in_flight] if self.in_flight is not None else []

    # -- phase 2 ------------------------------------------------------------------------

    def more_rounds(self) -> None:
        """Rounds 2..N of every measured job, interleaved, alternating the order."""
        schedule = self._round_schedule()
        self._timed_now = self._timed_now or bool(schedule)
        drift_checks = sum(1 for job in self.jobs if self._needs_drift_check(job))
        call_optional(self.reporter, "rounds_started", len(schedule) + drift_checks)
        for number, job in schedule:
            record = self.records[job.job_id]
            if not record.measured:  # an earlier round of this job failed
                call_optional(self.reporter, "round_finished", job, number)
                continue
            self.in_flight = job
            call_optional(self.reporter, "round_started", job, number)
            record.add_round(self.execute(job, "time"))
            self._timed_now = True
            self._write(job)
            self.manifest.job(job.job_id, status=record.status, rounds=len(record.rounds))
            self.in_flight = None
            call_optional(self.reporter, "round_finished", job, number)

    def _round_schedule(self) -> list[tuple[int, Job]]:
        """(round number, job) for every round still to time, in the order to time them."""
        total = max((job.benchmark.rounds for job in self.jobs), default=1)
        schedule = []
        for number in range(2, total + 1):
            order = self.jobs if number % 2 else list(reversed(self.jobs))
            for job in order:
                record = self.records.get(job.job_id)  # none: lost on a cluster
                if (
                    record is not None
                    and record.measured
                    and len(record.rounds) < number <= job.benchmark.rounds
                ):
                    schedule.append((number, job))
        return schedule

    def _needs_drift_check(self, job: Job) -> bool:
        record = self.records.get(job.job_id)
        if (
            job.variant.steps
            or record is None
            or not record.measured
            or not job.benchmark.drift_check
        ):
            return False
        done = (self.manifest.data.get("drift") or {}).get(job.target.label)
        return self._timed_now or not done

    # -- phase 3 ------------------------------------------------------------------------

    def drift_check(self) -> None:
        """Time each target's baseline once more; record how much the machine's speed moved."""
        drift: dict[str, Any] = dict(self.manifest.data.get("drift") or {})
        for job in self.jobs:
            if not self._needs_drift_check(job):
                continue  # no baseline, no check asked for, or a finished run's own check
            self.in_flight = job
            call_optional(self.reporter, "drift_check_started", job)
            entry = self.drift_entry(job, self.execute(job, "time"))
            if needs_confirmation(entry, job.benchmark.noise_threshold):
                entry = confirmed(entry, self.drift_entry(job, self.execute(job, "time")))
            self.in_flight = None
            call_optional(self.reporter, "drift_check_finished", job)
            drift[job.target.label] = entry
        self.record_drift(drift)

    def drift_entry(self, job: Job, result: JobResult) -> dict[str, Any]:
        """The drift of ``job``'s target: its baseline's first round against ``result``."""
        if result.status != OK:
            return {"error": result.reason}
        record = self.records[job.job_id]
        return {
            f"b={window.batch_size}": _drift_entry(start, window)
            for start, window in zip(record.rounds[0], result.windows, strict=True)
        }

    def record_drift(self, drift: dict[str, Any]) -> None:
        """Save the drift per target in the manifest and mark every record with it."""
        if drift:
            self.manifest.set("drift", drift)
        for record in self.records.values():
            measured = drift.get(record.job.target.label) or {}
            record.drift = {
                int(key[2:]): entry["change"]
                for key, entry in measured.items()
                if key.startswith("b=") and entry.get("change") is not None
            }

    # -- phase 4 ------------------------------------------------------------------------

    def finish(self) -> list[dict[str, Any]]:
        """Every job's final rows (with the final baseline figures), rewritten to disk."""
        return [row for job in self.jobs for row in self._write(job)]

    # -- rows ---------------------------------------------------------------------------

    def rows(self, job: Job) -> list[dict[str, Any]]:
        """The job's rows, compared with its target's baseline as known now."""
        baseline = self._baseline(job.target.label)
        return [
            row | baseline.compare(row, self.records[job.job_id].outputs)
            for row in self.records[job.job_id].rows()
        ]

    def _baseline(self, target: str) -> BaselineReference:
        reference = BaselineReference()
        for record in self.records.values():
            if record.job.target.label == target and not record.job.variant.steps:
                if record.status == OK:
                    reference.learn(record.rows(), record.outputs)
                break
        return reference

    def _write(self, job: Job) -> list[dict[str, Any]]:
        rows = self.rows(job)
        self.store.write_job(job.job_id, rows)  # a job file means the job was measured
        return rows


def needs_confirmation(entry: dict[str, Any], threshold: float) -> bool:
    """Whether a drift check saw a change above ``threshold`` (a second re-time confirms it)."""
    return any(
        isinstance(value, dict) and value.get("change") is not None
        and abs(value["change"]) > threshold
        for value in entry.values()
    )  # fmt: skip


def confirmed(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The drift both re-times agree on: per batch size, the smaller measured change.

    One slow window (a neighbour's burst the probes did not catch) is not a machine that
    changed speed; a machine that did is slower (or faster) in both re-times.
    """
    if "error" in second:
        return first
    entry = {}
    for key, value in first.items():
        other = second.get(key)
        measured = [
            e for e in (value, other) if isinstance(e, dict) and e.get("change") is not None
        ]
        chosen = min(measured, key=lambda e: abs(e["change"])) if measured else value
        entry[key] = dict(chosen) | {"retimed": True}
    return entry


def _drift_entry(start: Window, end: Window) -> dict[str, Any]:
    """The baseline's first window against its re-timing at the end of the run.

    A drift is only measured between two clean windows: when either was timed under
    contention, the change says more about the other processes than about the machine's
    speed, so it is recorded as unknown (``change`` None, ``contended`` true).
    """
    start_ms = float(statistics.median(start.samples_ms))
    end_ms = float(statistics.median(end.samples_ms))
    contended = start.contended or end.contended
    change = None if contended else end_ms / start_ms - 1.0
    return {"start_ms": start_ms, "end_ms": end_ms, "change": change, "contended": contended}


def _has_errors(rows: list[dict[str, Any]]) -> bool:
    return any(row.get(col.STATUS) == ERROR for row in rows)


def call_optional(reporter: Any, name: str, *args: Any) -> None:
    """Call an optional progress callback (reporters written for older versions lack it)."""
    method = getattr(reporter, name, None)
    if method is not None:
        method(*args)
