"""``RayExecutor``: the jobs of a run as Ray tasks on the nodes that have their hardware.

The same :class:`~squeezebench.harness.dispatch.Executor` protocol as the local executors,
with ``slots > 1``: ``submit`` returns a future at once and Ray runs the task where the
routing rules of :mod:`~squeezebench.harness.ray_routing` allow. Each task runs the job in a
fresh local worker on its node (:mod:`~squeezebench.harness.ray_node`).

- **Untimed** requests (``evaluate``: compression, conversion, accuracy) go to any node with
  the target's resources, as many at once as the nodes have CPUs.
- **Timed** requests (``measure``, ``time``) go to the target's timing node (chosen at its
  first timed request, pinned with node affinity) and hold that node's timing slot and all
  its CPUs: never two timed jobs, nor other squeezebench work, on one node's cores.
- **Artifacts**: a task that compressed or converted returns the new cache files as a second
  object; later tasks of the same variant get them as arguments (Ray waits for a variant's
  first task and moves the bytes between nodes), unless a shared folder holds them.
- **Failures**: a task lost to the infrastructure (a node or worker died) runs again, up to
  ``max_task_retries`` times, then its future raises :class:`~squeezebench.harness.dispatch.
  TaskLost`; a timed task whose node died moves, with its target, to another able node. A
  job that fails by itself is an ``error`` result as on one machine (never retried).
- ``close`` cancels every task still queued or running, and stops the Ray instance the run
  started (without an address), so Ctrl-C leaves nothing running.

``ray`` is imported when the executor is built, never before (``squeezebench[ray]``).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.errors import error_line
from squeezebench.harness.dispatch import TaskLost
from squeezebench.harness.ray_artifacts import ArtifactBundles
from squeezebench.harness.ray_connection import connect, import_ray
from squeezebench.harness.ray_routing import (
    TIMED_MODES,
    Demand,
    Node,
    choose_timing_node,
    demand,
    nodes_from_ray,
    task_resources,
    unservable_reason,
)
from squeezebench.harness.worker import JobRequest
from squeezebench.results.status import ERROR
from squeezebench.spec.models import TargetSpec

logger = logging.getLogger(__name__)


@dataclass
class _Attempt:
    request: JobRequest
    timeout: float | None
    future: Future
    target: TargetSpec
    need: Demand
    tries: int = 0
    ref: Any = None  # the outcome's ObjectRef while the task is queued or running


class RayExecutor:
    """Runs job requests as Ray tasks (see the module docstring)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        artifact_dir: Path | None = None,
        share_artifacts: bool = True,
        max_task_retries: int = 2,
        expected_versions: dict[str, str | None] | None = None,
        local_cpus: int | None = None,
    ) -> None:
        self._ray = import_ray()
        self.started_here = address is None
        connect(self._ray, address, local_cpus)
        from squeezebench.harness.ray_node import run_on_node

        self._remote = self._ray.remote(num_returns=2, max_retries=0)(run_on_node)
        self.artifact_dir = artifact_dir  # a folder every node sees, or None
        self.shared_artifacts = artifact_dir is not None
        self.share_artifacts = share_artifacts
        self.max_task_retries = max_task_retries
        self.expected = expected_versions or {}
        self.hosts: dict[str, dict[str, Any]] = {}  # node id -> that host's environment
        self.moves: list[dict[str, str]] = []  # targets moved off a dead node
        self.retried: list[dict[str, str]] = []  # tasks lost to the infrastructure
        self._lock = threading.Lock()
        self._nodes: list[Node] = []
        self._timing_nodes: dict[str, Node] = {}  # target label -> its timing node
        self._bundles = ArtifactBundles(self._ray)
        self._pending: dict[int, _Attempt] = {}
        self._closed = False
        self._outcomes: queue.Queue = queue.Queue()
        self._handler = threading.Thread(
            target=self._handle_outcomes, name="squeezebench-ray-outcomes", daemon=True
        )
        self._handler.start()
        self._initial_nodes = self.refresh_nodes()  # what "no node can serve it" is judged on

    # -- the cluster ------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The address of the cluster (its GCS), or "?" where Ray cannot say (Ray Client)."""
        try:
            return str(self._ray.get_runtime_context().gcs_address)
        except Exception:
            return "?"

    def refresh_nodes(self) -> list[Node]:
        """The live nodes, read again from the cluster."""
        self._nodes = nodes_from_ray(self._ray.nodes())
        return self._nodes

    @property
    def nodes(self) -> list[Node]:
        """The live nodes as last read."""
        return self._nodes

    @property
    def slots(self) -> int:
        """How many tasks may run at once: the cluster's CPUs (untimed work packs them;
        timed work runs one task per node that declares a timing slot)."""
        return max(1, int(sum(node.cpus for node in self._nodes)))

    def unservable(self, target: TargetSpec) -> str | None:
        """Why no node can run ``target``'s jobs, or None."""
        return unservable_reason(demand(target.resources, target.device), self._nodes)

    def timing_node(self, target: TargetSpec) -> Node | None:
        """The node that times ``target`` (chosen on first use; again if it died)."""
        with self._lock:
            label = target.label
            current = self._timing_nodes.get(label)
            alive = {node.node_id for node in self._nodes}
            if current is not None and current.node_id in alive:
                return current
            load: dict[str, int] = {}
            for node in self._timing_nodes.values():
                load[node.node_id] = load.get(node.node_id, 0) + 1
            chosen = choose_timing_node(demand(target.resources, target.device), self._nodes, load)
            if chosen is None:
                self._timing_nodes.pop(label, None)
                return None
            if current is not None:
                self.moves.append({"target": label, "from": current.node_id, "to": chosen.node_id})
            self._timing_nodes[label] = chosen
            return chosen

    def placement(self) -> dict[str, str]:
        """Target label -> the host and node that times it, for the manifest."""
        return {
            label: f"{node.hostname} ({node.node_id})"
            for label, node in sorted(self._timing_nodes.items())
        }

    # -- submitting -------------------------------------------------------------------

    def submit(self, request: JobRequest, timeout: float | None = None) -> Future:
        """Start ``request`` as a Ray task; the future gives its ``JobResult`` (or raises
        ``TaskLost`` once the infrastructure lost it more often than allowed)."""
        target = TargetSpec.model_validate(request.job["target"])
        need = demand(target.resources, target.device)
        attempt = _Attempt(request, timeout, Future(), target, need)
        self._launch(attempt)
        return attempt.future

    def execute(self, request: JobRequest, timeout: float | None = None) -> Any:
        """Run ``request`` and wait; a lost task is an ``error`` result."""
        from squeezebench.harness.workspace import JobResult

        try:
            return self.submit(request, timeout).result()
        except TaskLost as lost:
            return JobResult(ERROR, str(lost))

    def _launch(self, attempt: _Attempt) -> None:
        from squeezebench.harness.workspace import unavailable_result

        if self._closed:
            attempt.future.set_exception(CancelledError())
            return
        timed = attempt.request.mode in TIMED_MODES
        if attempt.tries:
            self.refresh_nodes()
        node = self.timing_node(attempt.target) if timed else None
        reason = self.unservable(attempt.target) if node is None else None
        if reason is not None and (
            attempt.tries or unservable_reason(attempt.need, self._initial_nodes) is None
        ):  # the nodes that could run it died: not the target's fault, --resume runs it
            attempt.future.set_exception(TaskLost(f"no live node can run it any more: {reason}"))
            return
        if reason is not None:
            attempt.future.set_result(unavailable_result(attempt.target, reason))
            return
        options = task_resources(attempt.need, timed, node)
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                node.node_id, soft=False
            )
        key = (attempt.request.job["variant"]["name"], int(attempt.request.job["seed"]))
        sharing = self.share_artifacts and not self.shared_artifacts
        bundles = self._bundles.of(key) if sharing else []
        outcome_ref, bundle_ref = self._remote.options(**options).remote(
            attempt.request,
            attempt.timeout,
            self.expected,
            self.shared_artifacts,
            *bundles,
            send_back=sharing,
        )
        attempt.ref = outcome_ref
        logger.debug(
            "submitted %s %s (try %d) to %s with %d bundle(s)",
            attempt.request.job["job_id"], attempt.request.mode, attempt.tries,
            node.hostname if node else "any node", len(bundles),
        )  # fmt: skip
        produces = sharing and attempt.request.mode != "time"
        if produces:  # later tasks of the variant wait for this one's artifacts
            self._bundles.add(key, bundle_ref)
        with self._lock:
            self._pending[id(attempt)] = attempt
        handover = (attempt, key, bundle_ref if produces else None)
        # Ray calls this on its own thread, where a blocking Ray call would deadlock: the
        # outcome is handled on the executor's thread instead (see _handle_outcomes)
        outcome_ref.future().add_done_callback(lambda done: self._outcomes.put((*handover, done)))

    def _handle_outcomes(self) -> None:
        """Resolve each finished task's future (retrying lost ones) until ``close``. An
        exception here must not leave a future unresolved: the sweep would wait forever."""
        while True:
            item = self._outcomes.get()
            if item is None:
                return
            attempt = item[0]
            try:
                self._finished(*item)
            except BaseException as error:
                if not attempt.future.done():
                    attempt.future.set_exception(error)

    def _finished(self, attempt: _Attempt, key: tuple[str, int], bundle: Any, done: Future) -> None:
        with self._lock:
            self._pending.pop(id(attempt), None)
        try:
            outcome = done.result()
        except BaseException as error:
            logger.debug(
                "%s %s failed: %r", attempt.request.job["job_id"], attempt.request.mode, error
            )
            self._failed(attempt, key, bundle, error)
            return
        logger.debug("%s %s done", attempt.request.job["job_id"], attempt.request.mode)
        if bundle is not None and not outcome.new_files:
            self._bundles.forget(key, bundle)  # nothing to hand on: keep the lists short
        if outcome.node_id:
            self.hosts[outcome.node_id] = outcome.host
        result = outcome.result
        result.node = outcome.node_id
        attempt.future.set_result(result)

    def _failed(
        self, attempt: _Attempt, key: tuple[str, int], bundle: Any, error: BaseException
    ) -> None:
        from squeezebench.harness.workspace import failure_result

        if bundle is not None:
            self._bundles.forget(key, bundle)
        if self._closed or isinstance(error, self._ray.exceptions.TaskCancelledError):
            attempt.future.set_exception(CancelledError())
            return
        if not self.infrastructure_failure(error):  # our task code raised: a bug, not luck
            attempt.future.set_result(failure_result(error, "the Ray task failed: "))
            return
        self.retried.append(
            {"job_id": attempt.request.job["job_id"], "mode": attempt.request.mode,
             "error": error_line(error)}
        )  # fmt: skip
        if attempt.tries < self.max_task_retries:
            attempt.tries += 1
            with contextlib.suppress(Exception):  # artifacts that died with their node
                self._bundles.drop_lost({node.node_id for node in self.refresh_nodes()})
            self._launch(attempt)
            return
        lost = TaskLost(
            f"lost {attempt.tries + 1} time(s) to infrastructure failures, last: "
            f"{error_line(error)}"
        )
        attempt.future.set_exception(lost)

    def infrastructure_failure(self, error: BaseException) -> bool:
        """Whether ``error`` is the cluster's doing (a dead node, worker or object) rather
        than the task's own code."""
        exceptions = self._ray.exceptions
        if isinstance(error, exceptions.RayTaskError):
            cause = getattr(error, "cause", None)
            return cause is not None and cause is not error and self.infrastructure_failure(cause)
        deterministic = (
            exceptions.TaskCancelledError,
            exceptions.RuntimeEnvSetupError,
            exceptions.UserCodeException,
        )
        return isinstance(error, exceptions.RayError) and not isinstance(error, deterministic)

    # -- stopping ---------------------------------------------------------------------

    def cancel_all(self) -> int:
        """Cancel every task still queued or running (their workers are killed)."""
        with self._lock:
            attempts = list(self._pending.values())
            self._pending.clear()
        for attempt in attempts:
            with contextlib.suppress(Exception):  # finished meanwhile, or the cluster is gone
                self._ray.cancel(attempt.ref, force=False)
            if not attempt.future.done():
                attempt.future.set_exception(CancelledError())
        return len(attempts)

    def close(self) -> None:
        """Cancel what is left and leave the cluster (stopping a local instance)."""
        if self._closed:
            return
        self._closed = True  # first: a failure handled meanwhile is not retried
        self.cancel_all()
        self._outcomes.put(None)
        self._handler.join(timeout=10)
        self._ray.shutdown()
