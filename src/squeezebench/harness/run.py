"""``run_spec``: plan the jobs, compress each variant once, measure it on every target.

Jobs run in this process, one after the other; each job's rows are written atomically as
soon as it finishes, so an interrupted run keeps everything already measured. A failing
method or backend turns into ``error`` rows for the jobs it touches, never a crash.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from squeezebench._version import __version__
from squeezebench.errors import BackendUnavailable, UserError
from squeezebench.harness.compress import CompressedArtifact, compress
from squeezebench.harness.environment import capture_environment
from squeezebench.harness.jobs import Job, plan_jobs
from squeezebench.harness.measure.flops import count_flops
from squeezebench.harness.measure.size import count_parameters, sparse_tensor_bytes
from squeezebench.harness.measure_job import BaselineReference, latency_batch, measure_on_target
from squeezebench.plugins.contracts import TORCH_MODULE, DatasetSplits, LoadedModel, MethodContext
from squeezebench.plugins.registry import Registry
from squeezebench.results.store import RunStore
from squeezebench.spec.load import ResolvedSpec
from squeezebench.spec.resolve import BASELINE


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

    @property
    def failed_jobs(self) -> int:
        """Jobs with at least one ``error`` row."""
        return len({r["job_id"] for r in self.rows if r["status"] == "error"})


def new_run_id() -> str:
    """``20261123T091500Z-3fa2``: sortable by time, unique across concurrent runs."""
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _failure(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


class _Session:
    """State shared by the jobs of one run: model, data, compressed variants, baselines."""

    def __init__(self, resolved: ResolvedSpec, registry: Registry) -> None:
        self.resolved = resolved
        self.registry = registry
        self.model: LoadedModel | None = None
        self.data: DatasetSplits | None = None
        self.setup_error: str | None = None
        self.compressed: dict[str, CompressedArtifact | str] = {}
        self.variant_metrics: dict[str, dict[str, Any]] = {}
        self.baselines: dict[str, BaselineReference] = {}

    def setup(self) -> None:
        try:
            if self.resolved.dataset is not None:
                self.data = self.registry.get("dataset", self.resolved.dataset)().load()
            self.model = self.load_model(self.resolved.spec.model)
        except Exception as error:
            self.setup_error = f"loading the model or dataset failed: {_failure(error)}"

    def load_model(self, source: str) -> LoadedModel:
        """Resolve a model source string relative to the spec, as the spec's model is."""
        scheme, _, reference = source.partition(":")
        model_source = self.registry.get("model source", scheme)()
        problem = model_source.check(reference, self.resolved.base_dir.resolve())
        if problem:
            raise UserError(f"{source}: {problem}")
        return model_source.load(
            reference, self.resolved.base_dir.resolve(), self.resolved.spec.seed
        )

    def compressed_variant(self, job: Job) -> CompressedArtifact | str:
        """The variant's artifact (compressed on first use), or why it could not be made."""
        name = job.variant.name
        if name not in self.compressed:
            assert self.model is not None
            context = MethodContext(
                seed=job.seed,
                data=self.data,
                example_input=self.model.example_input,
                teacher=self.model.artifact,
                load_model=self.load_model,
            )
            try:
                result = compress(job.variant, self.model, context, self.registry)
                self.compressed[name] = result
                self.variant_metrics[name] = self._artifact_metrics(result)
            except Exception as error:
                self.compressed[name] = f"{job.variant.name} failed to compress: {_failure(error)}"
        return self.compressed[name]

    def _artifact_metrics(self, result: CompressedArtifact) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            "compress_seconds": result.seconds,
            "simulated": result.simulated,
            "method_log": json.dumps(list(result.notes)),
        }
        if result.format == TORCH_MODULE:
            import torch

            metrics["params"], metrics["nonzero_params"] = count_parameters(result.artifact)
            metrics["sparse_bytes"] = sparse_tensor_bytes(result.artifact)
            example = torch.from_numpy(latency_batch(self.data, self.model.example_input, 1))
            flops = count_flops(result.artifact, example)
            if flops is not None:
                metrics["flops_per_sample"] = flops.dense
                metrics["nonzero_flops_per_sample"] = flops.nonzero
                reference = self.variant_metrics.get(BASELINE, metrics).get("flops_per_sample")
                if reference and flops.nonzero:
                    metrics["theoretical_speedup"] = reference / flops.nonzero
        return metrics

    def run_job(self, job: Job) -> tuple[str, str | None, list[dict[str, Any]]]:
        """Measure one job; returns (status, reason, per-batch-size metric rows)."""
        if self.setup_error is not None:
            return "error", self.setup_error, []
        compressed = self.compressed_variant(job)
        if isinstance(compressed, str):
            return "error", compressed, []
        backend = self.registry.get("backend", job.target.backend)()
        reason = backend.check(job.target)
        if reason is None and compressed.format not in backend.formats:
            reason = (
                f"backend {backend.name} runs {', '.join(backend.formats)}; "
                f"the pipeline gives {compressed.format}"
            )
        if reason is not None:
            return "skipped", reason, []
        baseline = self.baselines.setdefault(job.target.label, BaselineReference())
        try:
            runner = backend.prepare(compressed.artifact, job.target)
        except BackendUnavailable as error:
            return "skipped", str(error), []
        try:
            example = self.model.example_input if self.model else None
            rows = measure_on_target(job, compressed, runner, self.data, example, baseline)
        finally:
            runner.close()
        return "ok", None, [{**self.variant_metrics[job.variant.name], **row} for row in rows]


def _identity(job: Job, run_id: str, resolved: ResolvedSpec, git_sha: str | None) -> dict:
    import torch

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
        "torch_version": torch.__version__,
        "squeezebench_version": __version__,
        "git_sha": git_sha,
    }


def run_spec(
    resolved: ResolvedSpec,
    registry: Registry,
    output_dir: Path | None = None,
    reporter: Reporter | None = None,
    plugins: list[dict[str, Any]] | None = None,
) -> RunOutcome:
    """Run every job of ``resolved``; write rows per job and the manifest under ``output_dir``.

    ``KeyboardInterrupt`` stops the run after recording the manifest as interrupted; the
    rows of finished jobs are already on disk.
    """
    reporter = reporter or SilentReporter()
    output_dir = Path(output_dir or resolved.spec.output.dir)
    run_id = new_run_id()
    store = RunStore(output_dir, run_id)
    outcome = RunOutcome(run_id, store.directory)
    environment = capture_environment()
    git_sha = (environment.get("git") or {}).get("sha")
    jobs = plan_jobs(resolved)
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "spec_name": resolved.spec.name,
        "spec_path": str(resolved.path),
        "spec_hash": resolved.spec_hash,
        "spec": resolved.spec.model_dump(mode="json"),
        "squeezebench_version": __version__,
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "status": "running",
        "jobs": {
            job.job_id: {
                "variant": job.variant.name,
                "target": job.target.label,
                "status": "pending",
            }
            for job in jobs
        },
        "environment": environment,
        "plugins": plugins or [],
    }
    store.write_manifest(manifest)
    reporter.run_started(jobs)
    session = _Session(resolved, registry)
    try:
        session.setup()
        for job in jobs:
            reporter.job_started(job)
            manifest["jobs"][job.job_id]["status"] = "running"
            started_at = dt.datetime.now(dt.timezone.utc)
            begin = time.perf_counter()
            try:
                status, reason, metric_rows = session.run_job(job)
            except Exception as error:
                status, reason, metric_rows = "error", _failure(error), []
            identity = _identity(job, run_id, resolved, git_sha) | {"started_at": started_at}
            rows = [identity | row for row in metric_rows] or [
                identity | {"batch_size": b, "status": status, "reason": reason}
                for b in job.benchmark.batch_sizes
            ]
            store.write_job(job.job_id, rows)
            outcome.rows.extend(rows)
            manifest["jobs"][job.job_id].update(
                status=rows[0]["status"], seconds=round(time.perf_counter() - begin, 3)
            )
            reporter.job_finished(job, rows)
        outcome.status = "complete"
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        raise
    finally:
        manifest["status"] = outcome.status
        manifest["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
        store.write_manifest(manifest)
    return outcome
