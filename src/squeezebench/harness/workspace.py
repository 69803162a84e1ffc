"""One process's view of a run: the model, the data, compressed variants, measurement.

The same code serves the in-process executor (one workspace for the whole run) and the
worker processes (one workspace per job): ``measure(job)`` never raises, it returns a
:class:`JobResult` whose status says what happened.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from squeezebench.errors import (
    BackendUnavailable,
    ConversionError,
    SqueezebenchError,
    UserError,
    first_line,
)
from squeezebench.harness.artifact_cache import ArtifactCache, artifact_key
from squeezebench.harness.compress import CompressedArtifact, compress
from squeezebench.harness.environment import cpu_model, gpu_name
from squeezebench.harness.identity import job_versions, model_fingerprint
from squeezebench.harness.jobs import Job
from squeezebench.harness.measure.conditions import (
    condition_probe,
    cpu_cores_available,
)
from squeezebench.harness.measure.flops import count_flops
from squeezebench.harness.measure.size import count_parameters, sparse_tensor_bytes
from squeezebench.harness.measure.window import Window
from squeezebench.harness.measure_job import latency_batch, measure_on_target, time_round
from squeezebench.harness.model_inputs import model_inputs
from squeezebench.plugins.contracts import (
    TORCH_MODULE,
    Backend,
    DatasetSplits,
    LoadedModel,
    MethodContext,
    Runner,
)
from squeezebench.plugins.conversion import (
    ConverterUnavailable,
    chain_label,
    find_chain,
    no_path_reason,
    run_chain,
)
from squeezebench.plugins.registry import Registry
from squeezebench.results import columns as col
from squeezebench.results.status import ERROR, OK, SKIPPED, Status


@dataclass
class JobResult:
    """What a worker measured: a status, shared metrics, one timing round, test outputs.

    A full measurement (:meth:`Workspace.measure`) fills everything; a timing round
    (:meth:`Workspace.time_job`) only the status and ``windows``.
    """

    status: Status
    reason: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)
    outputs: np.ndarray | None = None
    details: str | None = None  # the full story behind a one-line reason (a traceback)
    node: str | None = None  # the cluster node that ran it (a Ray node id); None locally


@dataclass
class Prepared:
    """A job ready to time: its compressed and runnable artifacts and a backend runner."""

    compressed: CompressedArtifact
    runnable: CompressedArtifact  # in a format the backend runs (after any conversions)
    conversions: tuple[str, ...]
    runner: Runner
    prepare_seconds: float


def describe_failure(error: BaseException, *, with_traceback: bool = False) -> str:
    """``Type: message`` of an exception, plus its traceback for unexpected ones.

    squeezebench's own errors (a method refusing a model, a user mistake) are explained by
    their message; anything else is a bug somewhere, and its traceback is kept.
    """
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    if with_traceback and not isinstance(error, SqueezebenchError):  # ours need no traceback
        text += "\n" + "".join(traceback.format_exception(error)).strip()
    return text


def failure_result(error: BaseException, prefix: str = "") -> JobResult:
    """An ``error`` result: a one-line reason, and the traceback apart in ``details``.

    The reason (``prefix`` + ``Type: first line of the message``) goes into the results
    table and the terminal; the run keeps ``details`` in a log file next to the results
    (see :meth:`squeezebench.results.store.RunStore.write_log`). squeezebench's own errors
    carry no traceback, only their full message when it runs over one line.
    """
    whole = describe_failure(error, with_traceback=True)
    first = first_line(whole)
    reason = prefix + (first or type(error).__name__)
    return JobResult(ERROR, reason, details=whole if whole.strip() != first else None)


def load_model_source(
    registry: Registry, source: str, base_dir: Path, seed: int, trusted: bool = False
) -> LoadedModel:
    """Resolve ``<scheme>:<reference>`` with the registered model source."""
    scheme, _, reference = source.partition(":")
    model_source = registry.get("model source", scheme)()
    problem = model_source.check(reference, base_dir)
    if problem:
        raise UserError(f"{source}: {problem}")
    return model_source.load(reference, base_dir, seed, trusted=trusted)


class Workspace:
    """Loads the model and data once, compresses each variant once, measures jobs."""

    def __init__(
        self,
        registry: Registry,
        base_dir: Path,
        model_source: str,
        dataset: str | None,
        seed: int,
        artifact_cache: ArtifactCache | None = None,
        trusted: bool = False,
    ) -> None:
        self.registry = registry
        self.base_dir = Path(base_dir)
        self.model_source = model_source
        self.dataset = dataset
        self.seed = seed
        self.artifact_cache = artifact_cache
        self.trusted = trusted
        self._model: LoadedModel | None = None
        self._fingerprint: str | None = None
        self._data: DatasetSplits | None = None
        self._compressed: dict[tuple[str, int], CompressedArtifact] = {}
        self._metrics: dict[tuple[str, int], dict[str, Any]] = {}
        # (variant, seed, converter names) -> converted artifact, or the ConversionError
        self._converted: dict[tuple[str, int, tuple[str, ...]], Any] = {}

    # -- inputs ---------------------------------------------------------------------------

    @property
    def data(self) -> DatasetSplits | None:
        """The dataset's splits (loaded on first use), or None without a dataset."""
        if self._data is None and self.dataset is not None:
            splits = self.registry.get("dataset", self.dataset)().load()
            # model-specific input step (a tokenizer for text datasets): see model_inputs.py
            self._data = model_inputs(splits, self.model, self.dataset, self.model_source)
        return self._data

    @property
    def model(self) -> LoadedModel:
        """The spec's model (loaded on first use)."""
        if self._model is None:
            self._model = self.load_model(self.model_source)
        return self._model

    @property
    def fingerprint(self) -> str:
        """Content fingerprint of the spec's model."""
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.model.artifact)
        return self._fingerprint

    def load_model(self, source: str) -> LoadedModel:
        """Resolve a model source string relative to the spec's folder."""
        return load_model_source(self.registry, source, self.base_dir, self.seed, self.trusted)

    # -- compression ------------------------------------------------------------------------

    def compressed(self, job: Job) -> CompressedArtifact:
        """The job's variant, compressed once (in memory, or through the artifact cache)."""
        name = (job.variant.name, job.seed)
        if name in self._compressed:
            return self._compressed[name]
        key = self._cache_key(job) if job.variant.steps else None
        result = self.artifact_cache.get(key) if key is not None else None
        if result is None:
            context = MethodContext(
                seed=job.seed,
                data=self.data,
                example_input=self.model.example_input,
                teacher=self.model.artifact,
                load_model=self.load_model,
            )
            result = compress(job.variant, self.model, context, self.registry)
            if key is not None:
                self.artifact_cache.put(key, result)
        self._compressed[name] = result
        return result

    def artifact_metrics(self, job: Job) -> dict[str, Any]:
        """Size, sparsity and FLOPs of the job's compressed variant (computed once)."""
        name = (job.variant.name, job.seed)
        if name not in self._metrics:
            self._metrics[name] = self._artifact_metrics(self.compressed(job))
        return self._metrics[name]

    def _cache_key(self, job: Job) -> str | None:
        """The artifact-cache key of the job's compressed variant (None without a cache)."""
        if self.artifact_cache is None:
            return None
        versions = job_versions(
            self.registry, [s.method for s in job.variant.steps], job.target.backend
        )
        versions.pop(f"backend:{job.target.backend}", None)
        return artifact_key(
            self.fingerprint, job.variant.steps_json(), job.seed, self.dataset, versions
        )

    # -- conversion -------------------------------------------------------------------------

    def converted(
        self, job: Job, compressed: CompressedArtifact, backend: Backend
    ) -> tuple[CompressedArtifact, tuple[str, ...]]:
        """``compressed`` in a format ``backend`` runs, and the converters used (maybe none).

        Conversions are done once per variant, seed and converter chain (in memory, and
        through the artifact cache when there is one), so two targets of the same backend
        share one export. Raises :class:`ConversionError` (:class:`ConverterUnavailable`
        when a converter cannot run here), remembered like a success.
        """
        chain = find_chain(self.registry, compressed.format, backend.formats)
        if chain is None:
            raise ConversionError(
                no_path_reason(compressed.format, backend.formats, f"backend {backend.name}")
            )
        if not chain:
            return compressed, ()
        names = tuple(converter.name for converter in chain)
        memory_key = (job.variant.name, job.seed, names)
        if memory_key not in self._converted:
            self._converted[memory_key] = self._convert(job, compressed, chain)
        result = self._converted[memory_key]
        if isinstance(result, ConversionError):
            raise result
        return result, names

    def _convert(self, job: Job, compressed: CompressedArtifact, chain: tuple) -> Any:
        base_key = self._cache_key(job)
        key = None
        if base_key is not None:
            key = hashlib.sha256(f"{base_key}:{chain_label(chain)}".encode()).hexdigest()
            cached = self.artifact_cache.get(key)
            if cached is not None:
                return cached
        try:
            example = self.model.example_input
            done = run_chain(chain, compressed.artifact, compressed.format, example)
        except ConversionError as error:
            return error
        # the converted artifact replaces the compressed one; ``seconds`` is the conversion's
        result = CompressedArtifact(
            done.artifact,
            done.format,
            done.seconds,
            compressed.simulated,
            compressed.encoders,
            compressed.notes,
        )
        if key is not None:
            self.artifact_cache.put(key, result)
        return result

    def _artifact_metrics(self, result: CompressedArtifact) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            col.COMPRESS_SECONDS: result.seconds,
            col.SIMULATED: result.simulated,
            col.METHOD_LOG: json.dumps(list(result.notes)),
        }
        if result.format == TORCH_MODULE:
            import torch

            metrics[col.PARAMS], metrics[col.NONZERO_PARAMS] = count_parameters(result.artifact)
            metrics[col.SPARSE_BYTES] = sparse_tensor_bytes(result.artifact)
            example = torch.from_numpy(latency_batch(self.data, self.model.example_input, 1))
            flops = count_flops(result.artifact, example)
            if flops is not None:
                metrics[col.FLOPS_PER_SAMPLE] = flops.dense
                metrics[col.NONZERO_FLOPS_PER_SAMPLE] = flops.nonzero
        return metrics

    # -- measurement ------------------------------------------------------------------------

    def measure(self, job: Job, *, timed: bool = True) -> JobResult:
        """Compress (if needed), convert, prepare, score and time ``job``; never raises.

        A target that cannot run here (backend or converter check, ``BackendUnavailable``)
        is ``skipped``, or an ``error`` when the target says ``if_unavailable: fail``; an
        artifact no converter can bring to the backend's formats is ``skipped``. With
        ``timed=False`` nothing is timed (an evaluation: sizes and accuracy only); the
        timing rounds come later from :meth:`time_job`.
        """
        prepared = self._prepare(job)
        if isinstance(prepared, JobResult):
            return prepared
        runner, runnable, conversions = prepared.runner, prepared.runnable, prepared.conversions
        prepare_seconds = prepared.prepare_seconds
        try:
            metrics = self.artifact_metrics(job)
            measured = measure_on_target(
                prepared.compressed,
                runner,
                self.data,
                self.model.example_input,
                job.benchmark,
                condition_probe(job.target.device) if timed else None,
            )
            lazy = getattr(runner, "lazy_prepare_seconds", None)
            prepare_seconds += lazy() if lazy is not None else 0.0
        except Exception as error:
            return failure_result(error)
        finally:
            runner.close()
        target_metrics = {
            col.ARTIFACT_FORMAT: runnable.format,
            col.CONVERSIONS: ", ".join(conversions) or None,
            col.CONVERT_SECONDS: runnable.seconds if conversions else None,
            col.PREPARE_SECONDS: prepare_seconds,
            **host_metrics(job.target.device),
        }
        return JobResult(
            ERROR if measured.problem else OK,
            measured.problem,
            {**metrics, **target_metrics, **measured.metrics},
            measured.windows,
            measured.outputs,
        )

    def time_job(self, job: Job) -> JobResult:
        """One more timing round of ``job`` (no scoring); never raises."""
        prepared = self._prepare(job)
        if isinstance(prepared, JobResult):
            return prepared
        runner = prepared.runner
        try:
            windows = time_round(
                runner,
                self.data,
                self.model.example_input,
                job.benchmark,
                condition_probe(job.target.device),
            )
        except Exception as error:
            return failure_result(error)
        finally:
            runner.close()
        # the host that timed this round: on a cluster it may differ from the first's
        return JobResult(OK, metrics=host_metrics(job.target.device), windows=windows)

    def _prepare(
        self, job: Job
    ) -> tuple[CompressedArtifact, CompressedArtifact, tuple, Any, float] | JobResult:
        """The compressed and runnable artifacts, the converters, a runner and its
        preparation time; or the result that says why the job cannot run."""
        try:
            compressed = self.compressed(job)
        except ConverterUnavailable as error:
            return unavailable_result(job.target, str(error))
        except ConversionError as error:
            return JobResult(SKIPPED, f"compressing {job.variant.name}: {error}")
        except Exception as error:
            return failure_result(error, f"compressing {job.variant.name} failed: ")
        backend = self.registry.get("backend", job.target.backend)()
        try:
            reason = backend.check(job.target)
            if reason is not None:
                return unavailable_result(job.target, reason)
            runnable, conversions = self.converted(job, compressed, backend)
            start = time.perf_counter()
            runner = backend.prepare(runnable.artifact, job.target)
            prepare_seconds = time.perf_counter() - start
        except (BackendUnavailable, ConverterUnavailable) as error:
            return unavailable_result(job.target, str(error))
        except ConversionError as error:
            return JobResult(SKIPPED, str(error))
        except Exception as error:
            return failure_result(error, f"backend {backend.name} rejected the artifact: ")
        return Prepared(compressed, runnable, conversions, runner, prepare_seconds)


HOST_METRICS = ("hostname", "cpu_model", "gpu_name", "cpu_cores_available")
"""Columns that say which machine timed a row (every timing round reports them)."""


def host_metrics(device: str) -> dict[str, Any]:
    """This host's provenance columns for a job on ``device``."""
    return {
        col.HOSTNAME: socket.gethostname(),
        col.CPU_MODEL: cpu_model(),
        col.GPU_NAME: gpu_name(device),
        col.CPU_CORES_AVAILABLE: cpu_cores_available(),
    }


def workspace_for_request(request: Any, registry: Registry) -> Workspace:
    """The workspace a worker request asks for (its model, data, seed and artifact cache).

    The one place workers and the in-process executor build a workspace from a request;
    :meth:`Workspace.key` says which requests may share one.
    """
    job = request.job
    cache = ArtifactCache(Path(request.artifact_cache_dir)) if request.artifact_cache_dir else None
    return Workspace(
        registry,
        Path(request.base_dir),
        job["model"],
        job["dataset"],
        job["seed"],
        cache,
        trusted=request.trust_model_files,
    )


def workspace_key(request: Any) -> tuple[Any, ...]:
    """What makes two requests' workspaces the same one."""
    job = request.job
    return (
        request.base_dir,
        job["model"],
        job["dataset"],
        job["seed"],
        request.artifact_cache_dir,
        request.trust_model_files,
    )


def unavailable_result(target: Any, reason: str) -> JobResult:
    """A target that cannot run here: skipped, or an error if the spec says so."""
    if getattr(target, "if_unavailable", "skip") == "fail":
        return JobResult(ERROR, f"{reason} (the target says if_unavailable: fail)")
    return JobResult(SKIPPED, reason)
