"""Which node of a Ray cluster may run which target's work, and with what resource requests.

Pure functions over the cluster's node table (``ray.nodes()``), so the rules are tested
without a cluster:

- **Untimed work** (compression, conversion, accuracy: an ``evaluate`` request) may run on
  any live node that has the target's resources, several at once, wherever Ray finds room.
- **Timed work** (``measure`` and ``time`` requests, drift checks) runs only on a node that
  declares the timing slot (:data:`~squeezebench.spec.models.TIMING_RESOURCE`), holds that
  slot *and every CPU of the node*, so no other squeezebench task shares its cores or GPU
  while it times. Each target is timed on one node for the whole run (the node chosen for it
  at its first timed request), so its rows, speedups and drift check compare like with like.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from squeezebench.spec.models import TIMING_RESOURCE, TargetResources

TIMED_MODES = frozenset({"measure", "time"})
"""Request modes that time something (``evaluate`` does not)."""
ACCELERATOR_PREFIX = "accelerator_type:"
ACCELERATOR_LABEL = "ray.io/accelerator-type"


@dataclass(frozen=True)
class Node:
    """One live node of the cluster: its id, host and declared resources."""

    node_id: str
    hostname: str
    resources: Mapping[str, float]
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def times(self) -> bool:
        """Whether the node declared the timing slot (takes timed work)."""
        return self.resources.get(TIMING_RESOURCE, 0.0) >= 1

    @property
    def cpus(self) -> float:
        """The node's logical CPUs."""
        return float(self.resources.get("CPU", 0.0))

    def describe(self) -> str:
        """``host (a1b2c3d4): CPU 2, squeezebench_timing 1`` for messages."""
        shown = {k: v for k, v in self.resources.items() if not _internal(k)}
        text = ", ".join(f"{k} {v:g}" for k, v in sorted(shown.items()))
        return f"{self.hostname} ({self.node_id[:8]}): {text or 'no resources'}"


def _internal(resource: str) -> bool:
    return resource.startswith("node:") or resource in {"memory", "object_store_memory"}


def nodes_from_ray(table: Iterable[Mapping[str, Any]]) -> list[Node]:
    """The live nodes of ``ray.nodes()``, in the cluster's order."""
    return [
        Node(
            str(entry["NodeID"]),
            str(entry.get("NodeManagerHostname") or entry.get("NodeManagerAddress") or "?"),
            dict(entry.get("Resources") or {}),
            dict(entry.get("Labels") or {}),
        )
        for entry in table
        if entry.get("Alive", entry.get("alive", False))
    ]


@dataclass(frozen=True)
class Demand:
    """What one task of a target asks of its node."""

    num_cpus: float = 1.0  # untimed tasks; a timed one holds all its node's CPUs
    num_gpus: float = 0.0
    accelerator_type: str | None = None
    custom: Mapping[str, float] = field(default_factory=dict)

    def missing(self, node: Node, *, timed: bool) -> list[str]:
        """What ``node`` lacks to run this demand (empty: it can)."""
        lacks = []
        if timed and not node.times:
            lacks.append(f"{TIMING_RESOURCE}: 1")
        if node.cpus < (1.0 if timed else self.num_cpus):
            lacks.append(f"CPU: {self.num_cpus:g}")
        if node.resources.get("GPU", 0.0) < self.num_gpus:
            lacks.append(f"GPU: {self.num_gpus:g}")
        if self.accelerator_type and not _has_accelerator(node, self.accelerator_type):
            lacks.append(f"accelerator_type: {self.accelerator_type}")
        for name, amount in sorted(self.custom.items()):
            if node.resources.get(name, 0.0) < amount:
                lacks.append(f"{name}: {amount:g}")
        return lacks


def _has_accelerator(node: Node, kind: str) -> bool:
    return ACCELERATOR_PREFIX + kind in node.resources or node.labels.get(ACCELERATOR_LABEL) == kind


def demand(resources: TargetResources | Mapping[str, Any] | None, device: str) -> Demand:
    """The demand of a target with ``resources`` (from the spec) on ``device``.

    A ``cuda`` target asks for one GPU unless it says otherwise, so Ray hands its task a
    GPU of its own (``CUDA_VISIBLE_DEVICES``).
    """
    if resources is not None and not isinstance(resources, TargetResources):
        resources = TargetResources.model_validate(resources)
    gpus = 1.0 if device.split(":")[0] == "cuda" else 0.0
    if resources is None:
        return Demand(num_gpus=gpus)
    return Demand(
        num_cpus=resources.num_cpus or 1.0,
        num_gpus=gpus if resources.num_gpus is None else resources.num_gpus,
        accelerator_type=resources.accelerator_type,
        custom=resources.custom,
    )


def unservable_reason(need: Demand, nodes: list[Node]) -> str | None:
    """Why no node of ``nodes`` can time this demand, or None when one can."""
    if any(not need.missing(node, timed=True) for node in nodes):
        return None
    if not nodes:
        return "the Ray cluster has no live node"
    closest = min(nodes, key=lambda node: len(need.missing(node, timed=True)))
    lacks = ", ".join(need.missing(closest, timed=True))
    others = f" (and {len(nodes) - 1} other node(s))" if len(nodes) > 1 else ""
    return (
        f"no node of the Ray cluster can time this target: the closest, {closest.hostname} "
        f"({closest.node_id[:8]}){others}, lacks {lacks}; a node offers a resource when it "
        "joins (ray start --resources, see docs/distributed.md)"
    )


def choose_timing_node(need: Demand, nodes: list[Node], load: Mapping[str, int]) -> Node | None:
    """The node that times a target: able to, with the fewest targets already given to it
    (``load``: node id -> targets), then the one with the fewest special resources the
    target does not use (a plain CPU target leaves the edge device and the GPU box to the
    targets that need them), then first in the cluster's order."""
    able = [node for node in nodes if not need.missing(node, timed=True)]
    if not able:
        return None
    return min(able, key=lambda node: (load.get(node.node_id, 0), _surplus(need, node)))


def _surplus(need: Demand, node: Node) -> int:
    special = {k for k in node.resources if not _internal(k) and k not in _COMMON}
    wanted = set(need.custom) | ({"GPU"} if need.num_gpus else set())
    if need.accelerator_type:
        wanted.add(ACCELERATOR_PREFIX + need.accelerator_type)
    return len(special - wanted)


_COMMON = {"CPU", TIMING_RESOURCE}


def task_resources(need: Demand, timed: bool, node: Node | None) -> dict[str, Any]:
    """Keyword arguments of ``.options()`` for one task (the scheduling strategy apart).

    A timed task holds its node's timing slot and every CPU of it (``node``: the target's
    timing node), so neither another timed task nor untimed work shares the cores it times.
    """
    options: dict[str, Any] = {
        "num_cpus": node.cpus if timed and node is not None else need.num_cpus,
        "num_gpus": need.num_gpus,
        "resources": dict(need.custom) | ({TIMING_RESOURCE: 1.0} if timed else {}),
    }
    if need.accelerator_type:
        options["accelerator_type"] = need.accelerator_type
    return options
