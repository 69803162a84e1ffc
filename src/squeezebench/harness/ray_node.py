"""What a Ray task does on its node: run one job request in a fresh local worker.

The Ray task is only a shell around the local :class:`~squeezebench.harness.executor.
ProcessExecutor`: each job still runs in a fresh process forked from a warm fork server (kept
for the life of the Ray worker), with its timeout, memory limit and crash capture, so a
cluster measures exactly as one machine does. Around it the task:

- refuses to run when the node's squeezebench or torch differs from the driver's (the
  job's identity names the driver's versions);
- clears ``OMP_NUM_THREADS``, which Ray sets to a task's CPU count, before the fork server
  starts, so a job's threads follow the target's ``threads`` option as on a local run, and
  hands the task's ``CUDA_VISIBLE_DEVICES`` (its GPUs) to the job's worker;
- moves compressed artifacts in and out: without a shared folder, it writes the artifact
  files it was given (``bundles``, from Ray's object store) into a private cache folder,
  runs the job there and returns the files the job added, for later tasks on any node.

Nothing here imports Ray at module level; the executor wraps :func:`run_on_node` as a task.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import platform
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squeezebench.harness.worker import JobRequest
from squeezebench.results.status import ERROR

Bundle = dict[str, bytes]
"""Artifact cache files (name -> bytes) that travel between nodes through the object store."""

# Environment a Ray worker carries for Ray's sake that must not reach a job's worker.
RAY_THREAD_VARIABLES = ("OMP_NUM_THREADS",)
# The devices Ray gave this task; the job's worker must see the same.
DEVICE_VARIABLES = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


@dataclass
class NodeOutcome:
    """A job's result and where it ran: the node, its host and that host's environment."""

    result: Any  # JobResult
    node_id: str | None
    hostname: str
    host: dict[str, Any] = field(default_factory=dict)
    new_files: int = 0  # artifact files in the returned bundle


def _without_rays_main_module() -> contextlib.AbstractContextManager[None]:
    """Hide the Ray worker's ``__main__`` file while job workers start: multiprocessing would
    import it (and with it Ray) in the fork server and again in every job's worker."""
    from squeezebench.harness.executor import main_module_file_hidden

    return main_module_file_hidden(lambda path: True)


@functools.lru_cache(maxsize=1)
def _executor() -> Any:
    from squeezebench.harness.executor import ProcessExecutor

    return ProcessExecutor()  # one fork server per Ray worker process, kept warm


@functools.lru_cache(maxsize=1)
def host_environment() -> dict[str, Any]:
    """This host's hardware, driver and library versions (once per process)."""
    from squeezebench.harness.environment import cpu_model, gpu_driver, package_versions

    return {
        "hostname": socket.gethostname(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "gpu_driver": gpu_driver(),
        "packages": package_versions((*_CHECKED, "numpy", "onnxruntime", "ray")),
    }


_CHECKED = ("squeezebench", "torch")


def version_problem(expected: dict[str, str | None]) -> str | None:
    """Why this node cannot run the driver's jobs (other versions), or None."""
    here = host_environment()["packages"]
    different = [
        f"{name} {here.get(name)} here, {expected[name]} on the driver"
        for name in _CHECKED
        if name in expected and here.get(name) != expected[name]
    ]
    if not different:
        return None
    return (
        f"node {socket.gethostname()} has other versions than the driver ("
        + "; ".join(different)
        + "): install the same squeezebench and torch on every node"
    )


def _current_node_id() -> str | None:
    ray = sys.modules.get("ray")  # asking a Ray that is not running would start one
    if ray is None or not ray.is_initialized():
        return None  # outside a Ray task (tests call run_on_node directly)
    return str(ray.get_runtime_context().get_node_id())


def run_on_node(
    request: JobRequest,
    timeout: float | None,
    expected: dict[str, str | None],
    shared: bool,
    *bundles: Bundle,
    send_back: bool = True,
) -> tuple[NodeOutcome, Bundle]:
    """Run ``request`` here in a fresh worker; returns the outcome and the artifacts added.

    ``shared``: the request's artifact folder is one every node sees (used as it is); else
    ``bundles`` seed a private folder and the files the job adds come back (unless
    ``send_back`` is false: artifacts are not shared between nodes at all).
    """
    from squeezebench.harness.workspace import JobResult

    node_id, hostname = _current_node_id(), socket.gethostname()
    problem = version_problem(expected)
    if problem:
        return NodeOutcome(JobResult(ERROR, problem), node_id, hostname), {}
    for name in RAY_THREAD_VARIABLES:
        os.environ.pop(name, None)  # before the fork server starts (see the module docstring)
    devices = {name: os.environ[name] for name in DEVICE_VARIABLES if name in os.environ}
    request = dataclasses.replace(request, environment={**request.environment, **devices})
    if shared and request.artifact_cache_dir:
        with _without_rays_main_module():
            result = _executor().execute(request, timeout)
        return NodeOutcome(result, node_id, hostname, host_environment()), {}
    folder = Path(tempfile.mkdtemp(prefix="squeezebench-node-artifacts-"))
    try:
        given = set()
        for bundle in bundles:
            for name, data in bundle.items():
                if name not in given:
                    (folder / name).write_bytes(data)
                    given.add(name)
        request = dataclasses.replace(request, artifact_cache_dir=str(folder))
        with _without_rays_main_module():
            result = _executor().execute(request, timeout)
        added = (
            {
                path.name: path.read_bytes()
                for path in sorted(folder.iterdir())
                if path.is_file() and path.name not in given and path.name.endswith(".pt")
            }
            if send_back
            else {}
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    outcome = NodeOutcome(result, node_id, hostname, host_environment(), len(added))
    return outcome, added
