"""The Ray executor on a real local Ray instance: the run of one machine, on Ray.

These run by default (about half a minute); the multi-node ones (a simulated cluster, a
node killed mid-run, Ctrl-C) are in ``test_ray_cluster.py`` behind ``-m ray``.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from squeezebench.harness.run import run_spec
from squeezebench.plugins.manager import PLUGINS_ENV, build_plugin_manager, build_registry
from squeezebench.results import MANIFEST_NAME, load
from squeezebench.spec.load import load_spec
from squeezebench.spec.models import ExecutionSpec

ray = pytest.importorskip("ray")

FAULT_PLUGIN = Path(__file__).with_name("fault_plugin.py")
SPEC = """
name: on-ray
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  pruned:
    - prune.magnitude: {sparsity: 0.5}
  int8: [quantize.dynamic_int8]
  crash: [{fault.crash: {how: segfault}}]
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
  - {backend: torch, device: cpu, name: orin, resources: {jetson-orin: 1}}
benchmark:
  batch_sizes: [1, 4]
  warmup_seconds: 0.01
  min_repeats: 3
  min_seconds: 0.01
  rounds: 2
"""
DETERMINISTIC = [
    "job_id",
    "variant",
    "target",
    "batch_size",
    "status",
    "params",
    "nonzero_params",
    "artifact_bytes",
    "compression_ratio",
    "accuracy",
    "accuracy_delta",
    "fidelity",
    "flops_per_sample",
    "rounds",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The spec run on a local Ray instance, then with the local executor."""
    folder = tmp_path_factory.mktemp("on-ray")
    (folder / "spec.yaml").write_text(SPEC)
    orin = "  - {backend: torch, device: cpu, name: orin, resources: {jetson-orin: 1}}\n"
    (folder / "here.yaml").write_text(SPEC.replace(orin, ""))  # this machine has no orin
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PLUGINS_ENV, str(FAULT_PLUGIN))
        registry = build_registry(build_plugin_manager(autoload=False))
        resolved = load_spec(folder / "spec.yaml", registry)
        on_ray = run_spec(
            resolved, registry, folder / "ray", execution=ExecutionSpec(executor="ray")
        )
        assert not ray.is_initialized()  # the instance stopped with the run
        here = load_spec(folder / "here.yaml", registry)
        local = run_spec(here, registry, folder / "local")
    return on_ray, local


def _frame(outcome):
    return load(outcome.directory).sort_values(["job_id", "batch_size"]).reset_index(drop=True)


def test_deterministic_columns_equal_the_local_executors(runs) -> None:
    on_ray, local = runs
    assert on_ray.status == local.status == "complete"
    ray_frame, local_frame = _frame(on_ray), _frame(local)
    assert len(ray_frame) == 4 * 2 * 2 and len(local_frame) == 4 * 2
    ray_frame = ray_frame[ray_frame["target"] == "torch:cpu"].reset_index(drop=True)
    differences = ray_frame[DETERMINISTIC].compare(local_frame[DETERMINISTIC])
    assert differences.empty, differences
    assert ray_frame["accuracy"].notna().sum() == 6  # and they were measured


def test_a_target_no_node_serves_is_skipped_with_the_reason(runs) -> None:
    frame = _frame(runs[0])
    orin = frame[frame["target"] == "orin"]
    assert set(orin["status"]) == {"skipped"}
    assert orin["reason"].str.contains("no node of the Ray cluster can time this target").all()
    assert orin["reason"].str.contains("jetson-orin: 1").all()


def test_a_crash_is_an_error_row_and_not_retried(runs) -> None:
    frame = _frame(runs[0])
    crash = frame[(frame["variant"] == "crash") & (frame["target"] == "torch:cpu")]
    assert set(crash["status"]) == {"error"}
    assert crash["reason"].str.contains("killed by SIGSEGV").all()
    manifest = json.loads((runs[0].directory / MANIFEST_NAME).read_text())
    assert manifest["execution"]["lost_tasks"] == []  # no retry of a deterministic crash


def test_rows_carry_the_host_that_timed_them_and_the_manifest_the_cluster(runs) -> None:
    frame = _frame(runs[0])
    timed = frame[frame["status"] == "ok"]
    assert set(timed["hostname"]) == {socket.gethostname()} and timed["cpu_model"].notna().all()
    assert set(timed["rounds"]) == {2} and timed["gpu_name"].isna().all()
    manifest = json.loads((runs[0].directory / MANIFEST_NAME).read_text())
    execution = manifest["execution"]
    assert execution["executor"] == "ray" and execution["started_here"] is True
    assert execution["address"].startswith("127.0.0.1:")  # a run's own instance: loopback
    assert set(execution["timing_nodes"]) == {"torch:cpu"}
    (host,) = execution["hosts"].values()
    assert host["packages"]["torch"] and host["hostname"] == socket.gethostname()
    timed_jobs = [j for j in manifest["jobs"].values() if j["status"] == "ok"]
    assert timed_jobs and all(j["node"] for j in timed_jobs)
    assert manifest["drift"]["torch:cpu"]["b=1"]["start_ms"] > 0
