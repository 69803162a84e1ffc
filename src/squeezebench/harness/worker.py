"""The worker process: measures one job in a fresh process and sends back its result.

Like optimum-benchmark's process launcher: the parent starts a process per job and waits
on a pipe; the child sends a :class:`JobResult` (or the formatted error). A child that dies
(segfault, ``os._exit``, out-of-memory kill) or hangs is handled by the parent
(:mod:`squeezebench.harness.executor`), so one job's crash, memory or JIT state can never
leak into the next.
"""

from __future__ import annotations

import faulthandler
import os
from dataclasses import dataclass, field
from typing import Any

from squeezebench.harness.lifeline import die_with_parent, ignore_stop_signals, watch_parent
from squeezebench.results.status import ERROR


@dataclass(frozen=True)
class JobRequest:
    """Everything a worker needs, as plain data: the job and where to find its inputs.

    The job travels as :func:`~squeezebench.harness.jobs.job_to_payload` data: the worker
    loads its plugins first (with the parent's ``SQUEEZEBENCH_*`` environment), then
    validates the params again, so plugin classes never need unpickling.
    """

    job: dict[str, Any]
    base_dir: str
    model_fingerprint: str | None = None
    artifact_cache_dir: str | None = None
    memory_limit_mb: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    log_path: str | None = None  # the worker's stdout and stderr go there
    trust_model_files: bool = False
    # "measure": the whole job; "evaluate": all but timing; "time": one more timing round
    mode: str = "measure"


def apply_memory_limit(megabytes: int | None) -> None:
    """Cap this process's address space (RLIMIT_AS) so a runaway job fails, not the host."""
    if not megabytes:
        return
    import resource

    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def measure_request(request: JobRequest, workspace: Any = None, registry: Any = None) -> Any:
    """Measure the request's job (in this process); never raises for job failures.

    Without ``workspace`` and ``registry`` (a worker process), both are built here from
    the installed plugins.
    """
    from squeezebench.harness.jobs import job_from_payload
    from squeezebench.harness.workspace import JobResult, workspace_for_request
    from squeezebench.plugins.manager import default_registry

    registry = registry or default_registry()
    job = job_from_payload(request.job, registry)
    if workspace is None:
        workspace = workspace_for_request(request, registry)
    if request.model_fingerprint and workspace.fingerprint != request.model_fingerprint:
        return JobResult(
            ERROR,
            f"{job.model} gave different weights in the worker than in the parent process "
            "(is the model source deterministic?)",
        )
    if request.mode == "time":
        return workspace.time_job(job)
    return workspace.measure(job, timed=request.mode != "evaluate")


def worker_main(request: JobRequest, connection: Any) -> None:
    """Entry point of a worker process: measure, send the result, exit."""
    # Ctrl-C, SIGTERM and SIGHUP may reach the whole process group; the parent decides
    # what to do with them (it kills this worker). If the parent dies, so does this worker.
    ignore_stop_signals()
    die_with_parent()  # Linux: the fork server (the main process with spawn) is our parent
    watch_parent()  # every platform: the main process's pipe to us closes when it dies
    if request.log_path:  # keep the terminal clean; the parent quotes this if we die
        log = os.open(request.log_path, os.O_WRONLY | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
    faulthandler.enable()  # a segfault leaves its Python stack in the log
    os.environ.update(request.environment)
    try:
        apply_memory_limit(request.memory_limit_mb)
        result = measure_request(request)
    except BaseException as error:  # MemoryError, a plugin's SystemExit...: report, do not die
        from squeezebench.harness.workspace import failure_result

        result = failure_result(error)
    try:
        connection.send(result)
    finally:
        connection.close()
