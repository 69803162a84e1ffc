"""``run_spec``: plan the jobs, measure each (in a fresh worker by default), store rows.

The parent process loads the model once to fingerprint it and to check it against the
dataset (bad input fails here, before anything runs), then hands each job to an executor.
Each job's rows are written atomically as soon as it finishes, so a crash, a kill or Ctrl-C
costs at most the job in flight; ``resume=True`` continues a run where it stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from squeezebench._version import __version__
from squeezebench.errors import UserError
from squeezebench.harness.baseline import BaselineReference
from squeezebench.harness.environment import capture_environment
from squeezebench.harness.executor import InlineExecutor, ProcessExecutor
from squeezebench.harness.jobs import Job, job_to_payload, plan_jobs
from squeezebench.harness.measure.quality import EMBEDDING
from squeezebench.harness.measure_job import latency_batch
from squeezebench.harness.run_lock import lock_run_folder
from squeezebench.harness.shutdown import stop_reason
from squeezebench.harness.worker import JobRequest
from squeezebench.harness.workspace import JobResult, Workspace, describe_failure
from squeezebench.paths import cache_dir
from squeezebench.plugins.registry import Registry
from squeezebench.results.storage import ResultsWriteError, check_writable
from squeezebench.results.store import RunStore, find_resumable_run
from squeezebench.spec.load import ResolvedSpec


class Reporter(Protocol):
    """Progress callbacks (the CLI draws a progress bar with them)."""

    def run_started(self, jobs: list[Job]) -> None: ...
    def job_started(self, job: Job) -> None: ...
    def job_finished(self, job: Job, rows: list[dict[str, Any]]) -> None: ...


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

    @property
    def failed_jobs(self) -> int:
        """Jobs with at least one ``error`` row."""
        return len({r["job_id"] for r in self.rows if r["status"] == "error"})


def new_run_id() -> str:
    """``20261123T091500Z-3fa2``: sortable by time, unique across concurrent runs."""
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


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
    return {
        "run_id": run_id,
        "spec_name": resolved.spec.name,
        "spec_hash": resolved.spec_hash,
        "job_id": job.job_id,
        "model": job.model,
        "dataset": job.dataset,
        "variant": job.variant.name,
        "steps": job.variant.steps_json(),
        "target": job.target.label,
        "backend": job.target.backend,
        "device": job.target.device,
        "target_options": json.dumps(job.target.options, sort_keys=True),
        "seed": job.seed,
        "threads": job.target.options.get("threads"),
        "squeezebench_version": __version__,
        "git_sha": git_sha,
    }


def assemble_rows(
    job: Job, identity: dict[str, Any], result: JobResult, baseline: BaselineReference
) -> list[dict[str, Any]]:
    """One row per batch size: identity, result, and the comparison with the baseline."""
    import torch

    identity = identity | {"torch_version": torch.__version__}
    if not result.batch_rows:
        return [
            identity
            | result.metrics
            | {"batch_size": b, "status": result.status, "reason": result.reason}
            for b in job.benchmark.batch_sizes
        ]
    rows = []
    for batch_row in result.batch_rows:
        row = identity | result.metrics | batch_row
        row |= {"status": result.status, "reason": result.reason}
        rows.append(row)
    if not job.variant.steps and result.status == "ok":
        baseline.learn(rows, result.outputs)
    return [row | baseline.compare(row, result.outputs) for row in rows]


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
) -> RunOutcome:
    """Run every job of ``resolved``; write rows per job and the manifest under ``output_dir``.

    ``isolate`` runs each job in a fresh worker process (else all in this process).
    ``resume`` continues the latest run of the same spec in ``output_dir``: jobs with rows
    already on disk are kept as they are (``retry_errors`` re-runs those that failed).
    ``cache_artifacts`` keeps compressed artifacts in the user's cache across runs.
    Raises :class:`UserError` (nothing run) if the model or data cannot be used, the output
    folder cannot be written or another process holds the run folder; re-raises
    ``KeyboardInterrupt`` (and ``StopRequested``: SIGTERM, SIGHUP) after recording the run
    as interrupted, and ``ResultsWriteError`` (a full disk) after recording it as failed.
    """
    reporter = reporter or SilentReporter()
    output_dir = Path(output_dir or resolved.spec.output.dir)
    check_writable(output_dir)  # before any work: a read-only folder is a one-line error
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

    run_directory = find_resumable_run(output_dir, resolved.spec_hash) if resume else None
    run_id = run_directory.name if run_directory else new_run_id()
    store = RunStore(output_dir, run_id)
    lock = lock_run_folder(store.directory)  # released in the ``finally`` below
    outcome = RunOutcome(run_id, store.directory)
    environment = capture_environment()
    git_sha = (environment.get("git") or {}).get("sha")
    manifest = store.read_manifest() if run_directory else {}
    manifest.update(
        {
            "run_id": run_id,
            "spec_name": resolved.spec.name,
            "spec_path": str(resolved.path),
            "spec_hash": resolved.spec_hash,
            "spec_text": resolved.path.read_text(encoding="utf-8"),
            "spec": resolved.spec.model_dump(mode="json"),
            "model_fingerprint": fingerprint,
            "squeezebench_version": __version__,
            "status": "running",
            "stopped_by": None,
            "isolated": isolate,
            "environment": environment,
            "plugins": plugins or [],
        }
    )
    manifest.setdefault("started_at", _now())
    if run_directory:
        manifest.setdefault("resumed_at", []).append(_now())
    jobs_state = manifest.setdefault("jobs", {})
    for job in jobs:
        jobs_state.setdefault(
            job.job_id,
            {"variant": job.variant.name, "target": job.target.label, "status": "pending"},
        )
    store.write_manifest(manifest)

    finished = store.finished_jobs()
    executor = ProcessExecutor() if isolate else InlineExecutor(registry)
    artifact_dir, temporary_dir = _artifact_directory(
        cache_artifacts, isolate, len(resolved.targets)
    )
    environment_for_workers = {k: v for k, v in os.environ.items() if k.startswith("SQUEEZEBENCH_")}
    baselines: dict[str, BaselineReference] = {}
    reporter.run_started(jobs)
    current: Job | None = None
    try:
        for job in jobs:
            baseline = baselines.setdefault(job.target.label, BaselineReference())
            previous = finished.get(job.job_id)
            if previous is not None and not (retry_errors and _has_errors(previous)):
                if not job.variant.steps:
                    baseline.learn(previous, store.read_outputs(job.job_id))
                outcome.rows.extend(previous)
                outcome.resumed_jobs += 1
                reporter.job_finished(job, previous)
                continue
            current = job
            reporter.job_started(job)
            jobs_state[job.job_id]["status"] = "running"
            started_at = dt.datetime.now(dt.timezone.utc)
            begin = time.perf_counter()
            request = JobRequest(
                job=job_to_payload(job),
                base_dir=str(base_dir),
                model_fingerprint=fingerprint,
                artifact_cache_dir=str(artifact_dir) if artifact_dir else None,
                memory_limit_mb=job.benchmark.memory_limit_mb,
                environment=environment_for_workers,
                trust_model_files=trusted,
            )
            result = executor.execute(request, job.benchmark.timeout_seconds)
            identity = _identity(job, run_id, resolved, git_sha) | {"started_at": started_at}
            rows = assemble_rows(job, identity, result, baseline)
            if result.outputs is not None:
                store.write_outputs(job.job_id, result.outputs)
            store.write_job(job.job_id, rows)  # last: a job file means the job is complete
            outcome.rows.extend(rows)
            jobs_state[job.job_id].update(
                status=result.status, seconds=round(time.perf_counter() - begin, 3)
            )
            store.write_manifest(manifest)
            current = None
            reporter.job_finished(job, rows)
        outcome.status = "complete"
    except BaseException as error:  # Ctrl-C, SIGTERM, a full disk...: say how it stopped
        outcome.status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        manifest["stopped_by"] = stop_reason(error)
        if current is not None:  # not saved: it runs again on --resume
            jobs_state[current.job_id]["status"] = "interrupted"
        raise
    finally:
        executor.close()
        if temporary_dir:
            shutil.rmtree(temporary_dir, ignore_errors=True)
        manifest["status"] = outcome.status if outcome.status != "running" else "failed"
        manifest["finished_at"] = _now()
        try:
            store.write_manifest(manifest)
        except ResultsWriteError:
            if outcome.status == "complete":
                raise  # else the error that stopped the run is the one to report
        finally:
            lock.release()
    return outcome


def _has_errors(rows: list[dict[str, Any]]) -> bool:
    return any(row.get("status") == "error" for row in rows)


def _artifact_directory(
    persistent: bool, isolate: bool, targets: int
) -> tuple[Path | None, str | None]:
    """Where workers share compressed artifacts: the user's cache, a private temporary
    folder (several targets per variant), or nowhere (one process, or one target)."""
    if persistent:
        return cache_dir() / "artifacts", None
    if isolate and targets > 1:
        temporary = tempfile.mkdtemp(prefix="squeezebench-artifacts-")  # mode 0700
        return Path(temporary), temporary
    return None, None
