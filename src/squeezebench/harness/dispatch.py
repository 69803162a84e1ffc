"""From a job to its result through an executor: the one place that builds worker requests.

:class:`JobDispatcher` knows what every request of a run shares (the spec's folder, the
model fingerprint, the artifact cache, the workers' environment) and what happens to every
result (a traceback goes to ``_logs/`` of the run folder, the reason stays one line). The
sweep, and anything else that runs jobs (a search), asks it to ``execute`` a job (blocking)
or to ``submit`` one (a future): executors that run several jobs at once (a cluster) say so
with ``slots``; the local ones run one job at a time, and their futures are done at once.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from squeezebench.harness.jobs import Job, job_to_payload
from squeezebench.harness.worker import JobRequest
from squeezebench.harness.workspace import JobResult
from squeezebench.results.store import RunStore


class TaskLost(Exception):
    """A job's task was lost to the infrastructure (a node or worker died) more often than
    the executor retries; the job was not measured and runs again on ``--resume``."""


class Executor(Protocol):
    """Runs job requests: in this process, in worker processes, or on a cluster."""

    slots: int
    """How many submitted requests may run at the same time."""

    def execute(self, request: JobRequest, timeout: float | None = None) -> JobResult:
        """Run one request and return its result (errors become results)."""

    def submit(self, request: JobRequest, timeout: float | None = None) -> Future[JobResult]:
        """Start one request; its future gives the result (or raises :class:`TaskLost`)."""

    def close(self) -> None:
        """Release workers and connections."""


class JobDispatcher:
    """Builds the requests of one run, hands them to its executor, files the tracebacks."""

    def __init__(
        self,
        executor: Executor,
        store: RunStore,
        *,
        base_dir: Path,
        fingerprint: str | None,
        artifact_dir: Path | None,
        trusted: bool,
        environment: dict[str, str],
    ) -> None:
        self.executor = executor
        self.store = store
        self.base_dir = base_dir
        self.fingerprint = fingerprint
        self.artifact_dir = artifact_dir
        self.trusted = trusted
        self.environment = environment

    @property
    def slots(self) -> int:
        """How many jobs may run at once (1 for the local executors)."""
        return getattr(self.executor, "slots", 1)

    def request(self, job: Job, mode: str) -> JobRequest:
        """The worker request of ``job`` in ``mode`` (measure, evaluate or time)."""
        return JobRequest(
            job=job_to_payload(job),
            base_dir=str(self.base_dir),
            model_fingerprint=self.fingerprint,
            artifact_cache_dir=str(self.artifact_dir) if self.artifact_dir else None,
            memory_limit_mb=job.benchmark.memory_limit_mb,
            environment=self.environment,
            trust_model_files=self.trusted,
            mode=mode,
        )

    def execute(self, job: Job, mode: str) -> JobResult:
        """Run ``job`` in ``mode`` and wait for its result."""
        result = self.executor.execute(self.request(job, mode), job.benchmark.timeout_seconds)
        return self.file_details(job, result)

    def submit(self, job: Job, mode: str) -> Future[JobResult]:
        """Start ``job`` in ``mode``; the future's result has its traceback filed."""
        inner = self.executor.submit(self.request(job, mode), job.benchmark.timeout_seconds)
        outer: Future[JobResult] = Future()

        def forward(done: Future[JobResult]) -> None:
            try:
                outer.set_result(self.file_details(job, done.result()))
            except BaseException as error:  # an executor failure, not a job's
                outer.set_exception(error)

        inner.add_done_callback(forward)
        return outer

    def file_details(self, job: Job, result: JobResult) -> JobResult:
        """Move a result's traceback to ``_logs/<job>.log``; the reason says where."""
        if result.details:
            where = self.store.write_log(job.job_id, result.details)
            result.reason = f"{result.reason} (see {where})"
            result.details = None
        return result

    def close(self) -> None:
        """Close the executor."""
        self.executor.close()
