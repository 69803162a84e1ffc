"""A run's cluster, when its jobs run on Ray: joined before any work, described in the manifest.

``open_cluster`` returns None for the local executor (nothing changes), else a connected
:class:`~squeezebench.harness.ray_executor.RayExecutor`, after telling the reporter which
targets no node can serve (their jobs are skipped with that reason, before any work).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from squeezebench.harness.environment import package_versions
from squeezebench.harness.sweep import call_optional
from squeezebench.spec.load import ResolvedSpec
from squeezebench.spec.models import ExecutionSpec


def open_cluster(execution: ExecutionSpec, resolved: ResolvedSpec, reporter: Any) -> Any:
    """The Ray executor ``execution`` asks for (None: run here); raises ``UserError`` when
    Ray is missing or the cluster cannot be joined."""
    if execution.executor != "ray":
        return None
    from squeezebench.harness.ray_executor import RayExecutor

    artifact_dir = Path(execution.artifact_dir).resolve() if execution.artifact_dir else None
    cluster = RayExecutor(
        execution.address,
        artifact_dir=artifact_dir,
        share_artifacts=execution.share_artifacts,
        max_task_retries=execution.max_task_retries,
        expected_versions=dict(package_versions(("squeezebench", "torch"))),
    )
    unservable = [
        (target, reason)
        for target in resolved.targets
        if (reason := cluster.unservable(target)) is not None
    ]
    if unservable:
        call_optional(reporter, "targets_unavailable", unservable)
    return cluster


def cluster_facts(cluster: Any) -> dict[str, Any]:
    """What the manifest records about the cluster: nodes, where each target was timed,
    the environment of every host that ran a job, and targets moved off dead nodes."""
    return {
        "executor": "ray",
        "address": cluster.address,
        "started_here": cluster.started_here,
        "artifacts": str(cluster.artifact_dir) if cluster.artifact_dir else "object store",
        "nodes": [node.describe() for node in cluster.nodes],
        "timing_nodes": cluster.placement(),
        "hosts": dict(cluster.hosts),
        "moves": list(cluster.moves),
        "lost_tasks": list(cluster.retried),
    }
