"""The sweep's phases with several jobs in flight, for executors with ``slots > 1`` (Ray).

The phases and what they write are those of :class:`~squeezebench.harness.sweep.Sweep`; what
changes is how the work is handed out, with the untimed and the timed part kept apart:

1. **Measure**: every job's untimed part (``evaluate``: compress, convert, score) is submitted
   at once and runs wherever the cluster has room. As each succeeds, its first timing round
   (``time``) is queued for its target. A job's file is written once its first round is in
   (a job file still means a measured job); an evaluation whose round never came is not
   saved, and the job runs again on ``--resume``.
2. **More rounds**: the same schedule as one machine's (interleaved, alternating order),
   one timed task in flight per target, so each target's node times its jobs in that order.
3. **Drift check**: every target's baseline at once (each on its own target's node).

The executor keeps each target's timed work on one node. Should that node die, the target
moves: a job whose rounds would then come from two hosts starts its rounds again on the new
one (the old rounds are dropped), so a row never mixes hardware. A task the infrastructure
lost more often than the executor retries leaves its job unsaved (``lost`` in the manifest)
and the run ``incomplete``; ``--resume`` finishes it.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from squeezebench.harness.dispatch import TaskLost
from squeezebench.harness.job_record import JobRecord
from squeezebench.harness.jobs import Job
from squeezebench.harness.manifest import RunManifest
from squeezebench.harness.sweep import Sweep, call_optional, confirmed, needs_confirmation
from squeezebench.harness.workspace import JobResult
from squeezebench.results import columns as col
from squeezebench.results.status import ERROR, OK
from squeezebench.results.store import RunStore

Submit = Callable[[Job, str], Future]
"""Starts a job in a worker: ``submit(job, mode)`` gives a future of its ``JobResult``."""

POLL_SECONDS = 0.5  # waits wake up this often, so Ctrl-C is handled at once


class ConcurrentSweep(Sweep):
    """A :class:`Sweep` that keeps several jobs in flight through ``submit``."""

    def __init__(
        self,
        jobs: list[Job],
        submit: Submit,
        store: RunStore,
        manifest: RunManifest,
        reporter: Any,
        identity: Callable[[Job], dict[str, Any]],
    ) -> None:
        super().__init__(
            jobs, lambda job, mode: submit(job, mode).result(), store, manifest, reporter, identity
        )
        self.submit = submit
        self._flying: dict[Future, tuple[str, Job, Any]] = {}  # future -> (phase, job, data)
        self._nodes: dict[str, str] = {}  # job id -> node that timed its rounds

    def jobs_in_flight(self) -> list[Job]:
        """Every job with a task queued or running."""
        return list({job.job_id: job for _, job, _ in self._flying.values()}.values())

    # -- phase 1 ------------------------------------------------------------------------

    def measure_all(self, finished: dict[str, list[dict[str, Any]]], retry_errors: bool) -> None:
        """Untimed part of every job at once; each job's first round as it becomes ready."""
        self.reporter.run_started(self.jobs)
        for job in self.jobs:
            if self.resume(job, finished, retry_errors):
                continue
            self.reporter.job_started(job)
            self.manifest.job(job.job_id, status="running")
            started = (self.identity(job), time.perf_counter())
            self._start(job, "evaluate", started)
        while self._flying:
            for future, (phase, job, data) in self._completed():
                if phase == "evaluate":
                    self._evaluated(job, future, data)
                else:
                    self._first_round(job, future, data)

    def _start(self, job: Job, phase: str, data: Any = None) -> None:
        mode = "evaluate" if phase == "evaluate" else "time"
        self._flying[self.submit(job, mode)] = (phase, job, data)

    def _completed(self) -> list[tuple[Future, tuple[str, Job, Any]]]:
        """Wait until at least one task is done; those done, in submission order."""
        done: set[Future] = set()
        while not done:
            done, _ = wait(list(self._flying), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        return [
            (future, self._flying.pop(future)) for future in list(self._flying) if future in done
        ]

    def _evaluated(self, job: Job, future: Future, started: Any) -> None:
        result = self._result(job, future)
        if result is None:
            return
        if result.status != OK:  # skipped or failed: nothing to time
            self._save_first(job, JobRecord.from_result(job, started[0], result), started)
            return
        self._start(job, "round 1", (started, result))

    def _first_round(self, job: Job, future: Future, data: Any) -> None:
        started, evaluated = data
        result = self._result(job, future)
        if result is None:
            return
        record = JobRecord.from_result(job, started[0], evaluated)
        record.add_round(result)
        if result.node:
            self._nodes[job.job_id] = result.node
            self.manifest.data["jobs"][job.job_id]["node"] = result.node  # saved just below
        self._save_first(job, record, started)

    def _save_first(self, job: Job, record: JobRecord, started: Any) -> None:
        self.records[job.job_id] = record
        self._timed_now = self._timed_now or record.measured
        if record.outputs is not None:
            self.store.write_outputs(job.job_id, record.outputs)
        rows = self._write(job)
        seconds = round(time.perf_counter() - started[1], 3)
        state = {"status": record.status, "rounds": len(record.rounds), "seconds": seconds}
        self.manifest.job(job.job_id, **state)
        self.reporter.job_finished(job, rows)

    def _result(self, job: Job, future: Future) -> JobResult | None:
        """The future's result, or None after recording the job as lost."""
        try:
            return future.result()
        except TaskLost as lost:
            self.lost[job.job_id] = str(lost)
            self.manifest.job(job.job_id, status="lost", reason=str(lost))
            return None

    # -- phase 2 ------------------------------------------------------------------------

    def more_rounds(self) -> None:
        """Rounds 2..N in one machine's order, one timed task in flight per target."""
        schedule = self._round_schedule()
        self._timed_now = self._timed_now or bool(schedule)
        drift_checks = sum(1 for job in self.jobs if self._needs_drift_check(job))
        call_optional(self.reporter, "rounds_started", len(schedule) + drift_checks)
        queues: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        for number, job in schedule:
            queues[job.target.label].append((number, job))
        busy: set[str] = set()
        while any(queues.values()) or self._flying:
            for label, queue in queues.items():
                while queue and label not in busy:
                    number, job = queue.popleft()
                    if not self.records[job.job_id].measured:  # an earlier round failed
                        call_optional(self.reporter, "round_finished", job, number)
                        continue
                    call_optional(self.reporter, "round_started", job, number)
                    self._start(job, "round", number)
                    busy.add(label)
            if not self._flying:
                continue
            for future, (_, job, number) in self._completed():
                queue = queues[job.target.label]
                busy.discard(job.target.label)
                if self._add_round(job, future):  # rounds started again on another host
                    queued = sum(1 for _, other in queue if other.job_id == job.job_id)
                    missing = job.benchmark.rounds - len(self.records[job.job_id].rounds)
                    queue.extend((number, job) for _ in range(max(0, missing - queued)))
                call_optional(self.reporter, "round_finished", job, number)

    def _add_round(self, job: Job, future: Future) -> bool:
        """Add a round to ``job``'s record; True when its earlier rounds came from another
        host and were dropped (the job is timed again from this round on)."""
        result = self._result(job, future)
        if result is None:
            return False
        record = self.records[job.job_id]
        moved = result.status == OK and self._other_host(record, result)
        if moved:
            record.rounds = []
            self.manifest.job(job.job_id, moved_hosts=True)
        if result.node:
            self._nodes[job.job_id] = result.node
        record.add_round(result)
        self._write(job)
        state = {"status": record.status, "rounds": len(record.rounds)}
        self.manifest.job(job.job_id, **state, **({"node": result.node} if result.node else {}))
        return moved

    def _other_host(self, record: JobRecord, result: JobResult) -> bool:
        before = self._nodes.get(record.job.job_id)
        if before is not None and result.node is not None:
            return before != result.node
        host, then = result.metrics.get(col.HOSTNAME), record.metrics.get(col.HOSTNAME)
        return bool(record.rounds and host and then and host != then)

    # -- phase 3 ------------------------------------------------------------------------

    def drift_check(self) -> None:
        """Every target's baseline timed once more, all targets at once."""
        drift: dict[str, Any] = dict(self.manifest.data.get("drift") or {})
        for job in self.jobs:
            if self._needs_drift_check(job):
                call_optional(self.reporter, "drift_check_started", job)
                self._start(job, "drift")
        while self._flying:
            for future, (_, job, _) in self._completed():
                call_optional(self.reporter, "drift_check_finished", job)
                try:
                    result = future.result()
                except TaskLost as lost:
                    drift[job.target.label] = {"error": str(lost)}
                    continue
                if result.status == OK and self._other_host(self.records[job.job_id], result):
                    where = result.metrics.get(col.HOSTNAME) or result.node
                    drift[job.target.label] = {
                        "error": f"the drift check ran on another host ({where}) than the "
                        "baseline's rounds: not comparable"
                    }
                    continue
                entry = self.drift_entry(job, result)
                if needs_confirmation(entry, job.benchmark.noise_threshold):
                    entry = self._confirmed(job, entry)
                drift[job.target.label] = entry
        self.record_drift(drift)

    def _confirmed(self, job: Job, entry: dict[str, Any]) -> dict[str, Any]:
        """A drift above the noise, confirmed by a second re-time on the same host."""
        try:
            again = self.submit(job, "time").result()
        except TaskLost:
            return entry
        if again.status == OK and self._other_host(self.records[job.job_id], again):
            return entry
        return confirmed(entry, self.drift_entry(job, again))

    # -- phase 4 ------------------------------------------------------------------------

    def finish(self) -> list[dict[str, Any]]:
        """Every saved job's final rows, rewritten; a lost job's rows only in memory."""
        rows = []
        for job in self.jobs:
            if job.job_id in self.records:
                rows.extend(self._write(job))
            elif job.job_id in self.lost:
                reason = f"{self.lost[job.job_id]}; not saved: --resume runs it again"
                base = self.identity(job) | {"status": ERROR, "reason": reason}
                rows.extend(base | {"batch_size": b} for b in job.benchmark.batch_sizes)
        return rows
