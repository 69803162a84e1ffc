"""Two Ray nodes simulated on this machine (``ray.cluster_utils.Cluster``), and Ctrl-C.

Slow (Ray nodes start in seconds each): deselected by default, run with ``pytest -m ray``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from squeezebench.harness.run import run_spec
from squeezebench.plugins.manager import PLUGINS_ENV
from squeezebench.results import MANIFEST_NAME, load
from squeezebench.spec.load import load_spec
from squeezebench.spec.models import TIMING_RESOURCE, ExecutionSpec

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

FAULT_PLUGIN = Path(__file__).with_name("fault_plugin.py")
FAST = """
benchmark:
  batch_sizes: [1]
  warmup_seconds: 0.01
  min_repeats: 3
  min_seconds: 0.01
  rounds: 2
"""


@pytest.fixture
def cluster(monkeypatch):
    """A head node (1 CPU and the timing slot unless a test says otherwise), on 127.0.0.1."""
    from ray.cluster_utils import Cluster

    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
    made: list = []

    def make(head_resources: dict | None = None):
        resources = {TIMING_RESOURCE: 1} if head_resources is None else head_resources
        made.append(
            Cluster(
                initialize_head=True,
                head_node_args={
                    "num_cpus": 1,
                    "resources": resources,
                    "node_ip_address": "127.0.0.1",
                    "include_dashboard": False,
                    # a killed node is declared dead in about two seconds
                    "_system_config": {
                        "health_check_period_ms": 500,
                        "health_check_failure_threshold": 4,
                    },
                },
            )
        )
        return made[-1]

    yield make
    if ray.is_initialized():
        ray.shutdown()
    for each in made:
        each.shutdown()


def _add_node(cluster, **resources):
    return cluster.add_node(
        num_cpus=1, node_ip_address="127.0.0.1", resources={TIMING_RESOURCE: 1, **resources}
    )


def _manifest(outcome) -> dict:
    return json.loads((outcome.directory / MANIFEST_NAME).read_text())


def test_jobs_land_on_the_node_that_has_their_resource(
    cluster, write_spec, registry, tmp_path
) -> None:
    head = cluster()
    edge_node = _add_node(head, edge=1)
    head.wait_for_nodes()
    spec = write_spec(
        """
        name: routed
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          pruned:
            - prune.magnitude: {sparsity: 0.5}
        targets:
          - {backend: torch, device: cpu, options: {threads: 1}}
          - {backend: torch, device: cpu, name: edge, resources: {edge: 1}}
          - {backend: torch, device: cpu, name: farm, resources: {gpu-farm: 1}}
        """,
        FAST,
    )
    execution = ExecutionSpec(executor="ray", address=head.address)
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out", execution=execution)
    assert outcome.status == "complete"
    jobs = _manifest(outcome)["jobs"].values()
    nodes = {
        target: {j.get("node") for j in jobs if j["target"] == target}
        for target in ("torch:cpu", "edge")
    }
    assert nodes["edge"] == {edge_node.node_id}  # only it has the resource
    assert len(nodes["torch:cpu"]) == 1 and nodes["torch:cpu"] != nodes["edge"]  # the other
    frame = load(outcome.directory)
    assert set(frame[frame["target"] != "farm"]["status"]) == {"ok"}
    farm = frame[frame["target"] == "farm"]
    assert set(farm["status"]) == {"skipped"} and farm["reason"].str.contains("gpu-farm").all()


def test_a_node_killed_mid_run_loses_no_row_and_resume_runs_each_job_once(
    cluster, write_spec, registry, tmp_path
) -> None:
    head = cluster(head_resources={})  # untimed work only: every timing is on the worker
    worker = _add_node(head)
    head.wait_for_nodes()
    spec = write_spec(
        """
        name: killed
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          p3: [{prune.magnitude: {sparsity: 0.3}}]
          p5: [{prune.magnitude: {sparsity: 0.5}}]
          p7: [{prune.magnitude: {sparsity: 0.7}}]
          int8: [quantize.dynamic_int8]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        """,
        FAST,
    )
    resolved = load_spec(spec, registry)
    output = tmp_path / "out"
    execution = ExecutionSpec(executor="ray", address=head.address, max_task_retries=1)
    saved_at_kill: dict[str, bytes] = {}

    def kill_after_the_first_saved_job() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            files = [p for p in output.glob("*/*.parquet") if not p.name.startswith(".")]
            if files:
                head.remove_node(worker, allow_graceful=False)
                saved_at_kill.update({p.name: p.read_bytes() for p in files})
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_the_first_saved_job)
    killer.start()
    first = run_spec(resolved, registry, output, execution=execution)
    killer.join()
    assert saved_at_kill, "the worker was never killed"
    assert first.status == "incomplete"
    manifest = _manifest(first)
    lost = [j for j in manifest["jobs"].values() if j["status"] == "lost"]
    assert lost and manifest["execution"]["lost_tasks"]
    on_disk = {p.name for p in first.directory.glob("*.parquet")}
    assert set(saved_at_kill) <= on_disk  # nothing finished before the kill was lost

    _add_node(head)  # the machine is back
    head.wait_for_nodes()
    second = run_spec(resolved, registry, output, execution=execution, resume=True)
    assert second.status == "complete" and second.directory == first.directory
    assert second.resumed_jobs == len(on_disk)
    frame = load(second.directory)
    assert len(frame) == 5 and frame["job_id"].is_unique  # each job exactly once
    assert set(frame["status"]) == {"ok"}, frame[["variant", "reason"]].to_string()
    assert set(frame["rounds"]) == {2}


def test_ctrl_c_cancels_the_tasks_and_leaves_the_run_resumable(write_spec, tmp_path) -> None:
    flag = tmp_path / "hang.flag"
    flag.write_text("")
    spec = write_spec(
        f"""
        name: stopped
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          hangs: [{{fault.hang: {{flag: "{flag}"}}}}]
        targets: [{{backend: torch, device: cpu, options: {{threads: 1}}}}]
        """,
        FAST,
    )
    env = {**os.environ, PLUGINS_ENV: str(FAULT_PLUGIN), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    command = [sys.executable, "-m", "squeezebench", "run", str(spec), "-q", "--executor", "ray"]
    command += ["-o", str(tmp_path / "out")]
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while not flag.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    hung = int(flag.read_text().split()[0])  # the job's worker, deep inside a Ray task
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 130, output.decode()
    for _ in range(100):  # the worker dies with its cancelled task
        if not Path(f"/proc/{hung}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{hung}").exists()
    (manifest_path,) = (tmp_path / "out").glob(f"*/{MANIFEST_NAME}")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "interrupted" and manifest["stopped_by"] == "SIGINT"
    assert {j["status"] for j in manifest["jobs"].values() if j["variant"] == "hangs"} == {
        "interrupted"
    }
    flag.unlink()
    resumed = subprocess.run(
        [*command, "--resume"], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(load(manifest_path.parent)) == 2
