"""Which node may run which target's work, and what each task asks of Ray (no cluster)."""

from __future__ import annotations

import pytest

from squeezebench.harness.ray_routing import (
    Demand,
    Node,
    choose_timing_node,
    demand,
    nodes_from_ray,
    task_resources,
    unservable_reason,
)
from squeezebench.spec.models import TIMING_RESOURCE, TargetResources

CPU_BOX = Node("a" * 40, "cpu-box", {"CPU": 8.0, TIMING_RESOURCE: 1.0})
GPU_BOX = Node(
    "b" * 40,
    "gpu-box",
    {"CPU": 16.0, "GPU": 1.0, "accelerator_type:H100": 1.0, TIMING_RESOURCE: 1.0},
)
EDGE = Node("c" * 40, "orin", {"CPU": 4.0, "jetson-orin": 1.0, TIMING_RESOURCE: 1.0})
UNTIMED = Node("d" * 40, "shared", {"CPU": 32.0})


def test_the_node_table_keeps_live_nodes_with_their_resources() -> None:
    table = [
        {"NodeID": "n1", "Alive": True, "NodeManagerHostname": "h1", "Resources": {"CPU": 2.0}},
        {"NodeID": "n2", "Alive": False, "NodeManagerHostname": "h2", "Resources": {}},
    ]
    (node,) = nodes_from_ray(table)
    assert (node.node_id, node.hostname, node.cpus, node.times) == ("n1", "h1", 2.0, False)


def test_targets_demand_their_resources_and_cuda_a_gpu() -> None:
    assert demand(None, "cpu") == Demand()
    assert demand(None, "cuda:0").num_gpus == 1.0
    resources = TargetResources.model_validate({"accelerator_type": "H100", "jetson-orin": 1})
    need = demand(resources, "cuda")
    assert need.accelerator_type == "H100" and need.custom == {"jetson-orin": 1.0}
    assert demand({"num_gpus": 2, "num_cpus": 4}, "cuda").num_gpus == 2.0


@pytest.mark.parametrize(
    ("resources", "device", "able"),
    [
        (None, "cpu", {"cpu-box", "gpu-box", "orin"}),
        ({"accelerator_type": "H100"}, "cuda", {"gpu-box"}),
        ({"jetson-orin": 1}, "cpu", {"orin"}),
        (None, "cuda", {"gpu-box"}),
    ],
)
def test_only_nodes_with_the_resources_and_a_timing_slot_time_a_target(
    resources, device, able
) -> None:
    need = demand(resources, device)
    nodes = [CPU_BOX, GPU_BOX, EDGE, UNTIMED]
    assert {n.hostname for n in nodes if not need.missing(n, timed=True)} == able
    assert not need.missing(UNTIMED, timed=False) or need.num_gpus or need.custom


def test_a_target_no_node_serves_gets_a_reason_naming_what_is_missing() -> None:
    need = demand({"jetson-orin": 1}, "cpu")
    reason = unservable_reason(need, [CPU_BOX, UNTIMED])
    assert "no node of the Ray cluster can time this target" in reason
    assert "jetson-orin: 1" in reason and "cpu-box" in reason
    assert unservable_reason(need, [CPU_BOX, EDGE]) is None
    assert "no live node" in unservable_reason(need, [])
    # a node without the timing slot never times, whatever it has
    assert TIMING_RESOURCE in unservable_reason(Demand(), [UNTIMED])


def test_each_target_goes_to_the_least_loaded_able_node() -> None:
    nodes = [CPU_BOX, GPU_BOX, EDGE]
    assert choose_timing_node(Demand(), nodes, {}) is CPU_BOX
    assert choose_timing_node(Demand(), nodes, {CPU_BOX.node_id: 1}) is EDGE  # fewer extras
    assert choose_timing_node(demand({"jetson-orin": 1}, "cpu"), [CPU_BOX], {}) is None
    # a plain target leaves the special nodes to the targets that need them
    assert choose_timing_node(Demand(), [EDGE, GPU_BOX, CPU_BOX], {}) is CPU_BOX
    assert choose_timing_node(demand(None, "cuda"), [EDGE, GPU_BOX], {}) is GPU_BOX


def test_a_timed_task_holds_the_timing_slot_and_all_its_nodes_cpus() -> None:
    need = demand({"accelerator_type": "H100", "num_cpus": 2}, "cuda")
    timed = task_resources(need, True, GPU_BOX)
    assert timed["num_cpus"] == 16.0 and timed["num_gpus"] == 1.0
    assert timed["resources"] == {TIMING_RESOURCE: 1.0}
    assert timed["accelerator_type"] == "H100"
    untimed = task_resources(need, False, None)
    assert untimed["num_cpus"] == 2.0 and untimed["resources"] == {}
