"""``run_spec``: plan the jobs, measure each (in a fresh worker by default), store rows.

The parent process loads the model once to fingerprint it and to check it against the
dataset (bad input fails here, before anything runs), then hands the jobs to
:class:`~squeezebench.harness.sweep.Sweep`, which measures each, times the further rounds
and checks the machine's drift. Rows are written atomically as soon as they exist, so a
crash, a kill or Ctrl-C costs at most the work in flight; ``resume=True`` continues a run
where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from squeezebench._version import __version__
from squeezebench.errors import UserError
from squeezebench.harness.concurrent_sweep import ConcurrentSweep
from squeezebench.harness.dispatch import JobDispatcher
from squeezebench.harness.environment import capture_environment
from squeezebench.harness.executor import InlineExecutor, ProcessExecutor
from squeezebench.harness.jobs import Job, plan_jobs
from squeezebench.harness.manifest import RunManifest
from squeezebench.harness.measure.quality import EMBEDDING
from squeezebench.harness.measure_job import latency_batch
from squeezebench.harness.preflight import check_job_count, unavailable_targets
from squeezebench.harness.run_cluster import cluster_facts, open_cluster
from squeezebench.harness.run_lock import lock_run_folder
from squeezebench.harness.shutdown import stop_reason
from squeezebench.harness.sweep import Sweep, call_optional
from squeezebench.harness.workspace import Workspace, describe_failure
from squeezebench.paths import cache_dir
from squeezebench.plugins.registry import Registry
from squeezebench.results import columns as col
from squeezebench.results.status import ERROR
from squeezebench.results.storage import ResultsWriteError, check_writable
from squeezebench.results.store import RunStore, find_resumable_run
from squeezebench.spec.load import ResolvedSpec
from squeezebench.spec.models import ExecutionSpec, TargetSpec


class Reporter(Protocol):
    """Progress callbacks (the CLI draws a progress bar with them).

    The callbacks after ``job_finished`` are optional (a reporter without them still works):
    ``targets_unavailable`` comes first, before any work, when some targets cannot run here
    (each with the reason); ``rounds_started`` gives the number of steps of the later
    phases (timing rounds 2..N and drift checks), each announced by ``round_started`` /
    ``round_finished`` or ``drift_check_started`` / ``drift_check_finished``. A search adds
    ``search_started(trials, done)``, ``trial_started(job, phase)`` and
    ``trial_finished(summary, line)``.
    """

    def run_started(self, jobs: list[Job]) -> None: ...
    def job_started(self, job: Job) -> None: ...
    def job_finished(self, job: Job, rows: list[dict[str, Any]]) -> None: ...
    def rounds_started(self, steps: int) -> None: ...
    def round_started(self, job: Job, number: int) -> None: ...
    def round_finished(self, job: Job, number: int) -> None: ...
    def drift_check_started(self, job: Job) -> None: ...
    def drift_check_finished(self, job: Job) -> None: ...
    def targets_unavailable(self, targets: list[tuple[TargetSpec, str]]) -> None: ...


class SilentReporter:
    """A reporter that reports nothing."""

    def run_started(self, jobs: list[Job]) -> None:
        """Ignore."""

    def job_started(self, job: Job) -> None:
        """Ignore."""

    def job_finished(self, job: Job, rows: list[dict[str, Any]]) -> None:
        """Ignore."""


@dataclass
class RunOutcome:
    """What a run produced: its id and folder, every row, and how it ended."""

    run_id: str
    directory: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    resumed_jobs: int = 0
    search: Any = None  # a squeezebench.search.SearchOutcome when the spec searches

    @property
    def failed_jobs(self) -> int:
        """Jobs with at least one ``error`` row (a search's failed trials are part of its
        exploration, reported in its answer: they do not count)."""
        return len(
            {
                r[col.JOB_ID]
                for r in self.rows
                if r[col.STATUS] == ERROR and r.get(col.TRIAL) is None
            }
        )


def new_run_id() -> str:
    """``20261123T091500Z-3fa2``: sortable by time, unique across concurrent runs."""
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def check_model_against_data(workspace: Workspace) -> None:
    """Fail early, with a clear message, if the model cannot consume the dataset."""
    import torch

    loaded, data = workspace.model, workspace.data
    sample = latency_batch(data, loaded.example_input, 2)
    module = loaded.artifact.eval() if hasattr(loaded.artifact, "eval") else loaded.artifact
    try:
        with torch.inference_mode():
            output = module(torch.from_numpy(sample))
    except Exception as error:
        source = f"dataset {workspace.dataset}" if data is not None else "example input"
        raise UserError(
            f"{workspace.model_source} cannot run the {source}'s inputs of shape "
            f"{tuple(sample.shape)}: {describe_failure(error)}"
        ) from None
    if data is None:
        return
    shape = tuple(getattr(output, "shape", ()))
    if data.metric == EMBEDDING:  # one embedding per input, no classes to count
        if len(shape) != 2 or shape[0] != len(sample):
            raise UserError(
                f"{workspace.model_source} returns outputs of shape {shape} for a batch of "
                f"{len(sample)}, but dataset {workspace.dataset} needs one embedding per input"
            )
        return
    classes = int(data.test.labels.max()) + 1 if data.test.labels is not None else 0
    if len(shape) != 2 or shape[0] != len(sample) or shape[1] < classes:
        raise UserError(
            f"{workspace.model_source} returns outputs of shape {shape} for a batch of "
            f"{len(sample)}, but dataset {workspace.dataset} needs ({len(sample)}, {classes}) "
            "class scores"
        )


def _identity(job: Job, run_id: str, resolved: ResolvedSpec, git_sha: str | None) -> dict:
    import torch

    return {
        col.RUN_ID: run_id,
        col.SPEC_NAME: resolved.spec.name,
        col.SPEC_HASH: resolved.spec_hash,
        col.JOB_ID: job.job_id,
        col.MODEL: job.model,
        col.DATASET: job.dataset,
        col.VARIANT: job.variant.name,
        col.STEPS: job.variant.steps_json(),
        col.TARGET: job.target.label,
        col.BACKEND: job.target.backend,
        col.DEVICE: job.target.device,
        col.TARGET_OPTIONS: json.dumps(job.target.options, sort_keys=True),
        col.SEED: job.seed,
        col.THREADS: job.target.options.get("threads"),
        col.SQUEEZEBENCH_VERSION: __version__,
        col.TORCH_VERSION: torch.__version__,
        col.GIT_SHA: git_sha,
    }


def run_spec(
    resolved: ResolvedSpec,
    registry: Registry,
    output_dir: Path | None = None,
    reporter: Reporter | None = None,
    plugins: list[dict[str, Any]] | None = None,
    *,
    isolate: bool = True,
    resume: bool = False,
    retry_errors: bool = False,
    cache_artifacts: bool = False,
    max_jobs: int | None = None,
    execution: ExecutionSpec | None = None,
) -> RunOutcome:
    """Run every job of ``resolved``; write rows per job and the manifest under ``output_dir``.

    ``isolate`` runs each job in a fresh worker process (else all in this process).
    ``resume`` continues the latest run of the same spec in ``output_dir``: jobs with rows
    already on disk are kept as they are (``retry_errors`` re-runs those that failed).
    ``cache_artifacts`` keeps compressed artifacts in the user's cache across runs.
    ``max_jobs`` refuses a spec that expands to more jobs. Targets that cannot run here are
    told to the reporter (``targets_unavailable``) before any work.
    ``execution`` (default: the spec's) says where jobs run: here, or on a Ray cluster
    (a :class:`~squeezebench.harness.ray_executor.RayExecutor`, joined before any work).
    Raises :class:`UserError` (nothing run) if the model or data cannot be used, the output
    folder cannot be written or another process holds the run folder; re-raises
    ``KeyboardInterrupt`` (and ``StopRequested``: SIGTERM, SIGHUP) after recording the run
    as interrupted, and ``ResultsWriteError`` (a full disk) after recording it as failed.
    """
    reporter = reporter or SilentReporter()
    output_dir = Path(output_dir or resolved.spec.output.dir)
    check_job_count(resolved, max_jobs)
    check_writable(output_dir)  # before any work: a read-only folder is a one-line error
    execution = execution or resolved.spec.execution
    # on a cluster, each node checks for itself, and open_cluster says which no node serves
    local = execution.executor == "local"
    unavailable = unavailable_targets(resolved, registry) if local else []
    if unavailable:
        call_optional(reporter, "targets_unavailable", unavailable)
    base_dir = resolved.base_dir.resolve()
    trusted = resolved.spec.trust_model_files
    workspace = Workspace(
        registry,
        base_dir,
        resolved.spec.model,
        resolved.dataset,
        resolved.spec.seeds[0],
        trusted=trusted,
    )
    try:
        check_model_against_data(workspace)
        fingerprint = workspace.fingerprint
    except UserError:
        raise
    except Exception as error:
        raise UserError(
            f"loading {resolved.spec.model} failed: {describe_failure(error)}"
        ) from None
    jobs = plan_jobs(resolved, registry, fingerprint)
    cluster = open_cluster(execution, resolved, reporter)
    try:
        run_directory = find_resumable_run(output_dir, resolved.spec_hash) if resume else None
        run_id = run_directory.name if run_directory else new_run_id()
        store = RunStore(output_dir, run_id)
        lock = lock_run_folder(store.directory)
        try:  # from here on the lock is released however the run ends
            return _run_locked(
                resolved,
                registry,
                store,
                jobs,
                fingerprint,
                reporter,
                plugins or [],
                resumed=run_directory is not None,
                isolate=isolate,
                retry_errors=retry_errors,
                cache_artifacts=cache_artifacts,
                cluster=cluster,
            )
        finally:
            lock.release()
    finally:
        if cluster is not None:
            cluster.close()


def _run_locked(
    resolved: ResolvedSpec,
    registry: Registry,
    store: RunStore,
    jobs: list[Job],
    fingerprint: str,
    reporter: Reporter,
    plugins: list[dict[str, Any]],
    *,
    resumed: bool,
    isolate: bool,
    retry_errors: bool,
    cache_artifacts: bool,
    cluster: Any = None,
) -> RunOutcome:
    """The run itself, once its folder is locked: manifest, workers, the sweep's phases."""
    run_id = store.directory.name
    base_dir = resolved.base_dir.resolve()
    trusted = resolved.spec.trust_model_files
    manifest = RunManifest(store, resumed=resumed)
    environment = capture_environment()
    manifest.start(
        resolved,
        fingerprint,
        jobs,
        isolate=isolate,
        environment=environment,
        plugins=plugins,
    )
    outcome = RunOutcome(run_id, store.directory)
    git_sha = (environment.get("git") or {}).get("sha")
    if cluster is not None:
        executor: Any = cluster
        artifact_dir, temporary_dir = cluster.artifact_dir, None
        manifest.set("execution", cluster_facts(cluster))
    else:
        executor = ProcessExecutor() if isolate else InlineExecutor(registry)
        artifact_dir, temporary_dir = _artifact_directory(cache_artifacts, isolate)
    dispatcher = JobDispatcher(
        executor,
        store,
        base_dir=base_dir,
        fingerprint=fingerprint,
        artifact_dir=artifact_dir,
        trusted=trusted,
        environment={k: v for k, v in os.environ.items() if k.startswith("SQUEEZEBENCH_")},
    )

    def identity(job: Job) -> dict[str, Any]:
        started_at = dt.datetime.now(dt.timezone.utc)
        return _identity(job, run_id, resolved, git_sha) | {col.STARTED_AT: started_at}

    if cluster is not None or dispatcher.slots > 1:  # a cluster: jobs in flight, may be lost
        sweep: Sweep = ConcurrentSweep(jobs, dispatcher.submit, store, manifest, reporter, identity)
    else:
        sweep = Sweep(jobs, dispatcher.execute, store, manifest, reporter, identity)
    try:
        sweep.measure_all(store.finished_jobs(), retry_errors)
        sweep.more_rounds()
        if resolved.search is not None:  # trials join the sweep: the drift check covers them
            from squeezebench.search import SearchContext, run_search

            context = SearchContext(
                resolved, registry, sweep, dispatcher, store, manifest, reporter, identity,
                fingerprint,
            )  # fmt: skip
            outcome.search = run_search(context)
        sweep.drift_check()
        outcome.rows = sweep.finish()
        outcome.status = "incomplete" if sweep.lost else "complete"
    except BaseException as error:  # Ctrl-C, SIGTERM, a full disk...: say how it stopped
        outcome.status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        manifest.data["stopped_by"] = stop_reason(error)
        jobs = manifest.data["jobs"]
        for job in sweep.jobs_in_flight():  # not saved: it runs again on --resume
            jobs[job.job_id]["status"] = "interrupted"
        for entry in jobs.values():  # search trials in flight too
            if entry.get("status") == "running":
                entry["status"] = "interrupted"
        raise
    finally:
        outcome.resumed_jobs = sweep.resumed_jobs
        if cluster is not None:  # where every target was timed, and by which hosts
            manifest.data["execution"] = cluster_facts(cluster)
        dispatcher.close()
        if temporary_dir:
            shutil.rmtree(temporary_dir, ignore_errors=True)
        try:
            manifest.finish(outcome.status)
        except ResultsWriteError:
            if outcome.status == "complete":
                raise  # else the error that stopped the run is the one to report
    return outcome


def _artifact_directory(persistent: bool, isolate: bool) -> tuple[Path | None, str | None]:
    """Where workers share compressed artifacts: the user's cache, a private temporary
    folder (workers of several targets and timing rounds reuse a variant), or nowhere
    (one process keeps them in memory)."""
    if persistent:
        return cache_dir() / "artifacts", None
    if isolate:
        temporary = tempfile.mkdtemp(prefix="squeezebench-artifacts-")  # mode 0700
        return Path(temporary), temporary
    return None, None
