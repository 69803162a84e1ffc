"""What running on Ray costs and gains: per-job overhead on tiny jobs, and a 12-job CPU sweep
on a two-node simulated cluster, each against the local executor.

1. **Overhead per job.** A spec of tiny jobs (digits MLP, pruning sweep, one batch size, one
   short round, no drift check) runs with the local executor, then on a one-node Ray cluster
   that is already up (``ray.cluster_utils.Cluster``, 2 CPUs, one timing slot): the extra wall
   time divided by the jobs is what each job pays for Ray (task submission, the artifact hand-
   over, one more worker process per job for the untimed part). Goal: under 0.5 s per job. The
   start of a run's own local instance (``--executor ray`` without ``--address``) is printed
   apart: it is paid once per run.
2. **A 12-job CPU sweep** (6 variants x 2 targets, 3 rounds, drift check) with the local
   executor, then on two simulated nodes of one CPU each (each target asks for its own node's
   custom resource, so the two are timed side by side), with ``on_contention: retry`` (the
   default) and ``warn``.

Both nodes of the simulation share this machine's cores, so the cluster figure shows the
overlap of untimed and timed work, not the gain of two real machines. Figures taken while the
machine is busy (other processes, a shared CI runner) are not representative: run it on a quiet
machine, ``python benchmarks/ray_overhead.py [--jobs 12]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # nodes on 127.0.0.1 only

TINY = """
name: tiny-jobs
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  pruned:
    - prune.magnitude: {{sparsity: 0.5}}
sweep:
  pruned:
    prune.magnitude.sparsity: {sparsities}
targets:
  - {{backend: torch, device: cpu, options: {{threads: 1}}}}
benchmark:
  batch_sizes: [1]
  warmup_seconds: 0.0
  min_repeats: 5
  min_seconds: 0.0
  rounds: 1
  drift_check: false
"""

SWEEP = """
name: cpu-sweep
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  pruned:
    - prune.magnitude: {sparsity: 0.5}
  int8: [quantize.dynamic_int8]
  lowrank: [{lowrank.svd: {rank_ratio: 0.5}}]
sweep:
  pruned:
    prune.magnitude.sparsity: [0.3, 0.5, 0.7]
targets:
  - {backend: torch, device: cpu, name: box-a, options: {threads: 1}, resources: {box-a: 1}}
  - {backend: torch, device: cpu, name: box-b, options: {threads: 1}, resources: {box-b: 1}}
benchmark:
  batch_sizes: [1, 8]
  warmup_seconds: 0.05
  min_repeats: 10
  min_seconds: 0.1
  rounds: 3
  contention: {on_contention: ON_CONTENTION}
"""


def _run(spec: Path, output: Path, address: str | None, ray: bool) -> tuple[float, int, str]:
    """Wall seconds of one run, its job count, and how contended its timing windows were."""
    from squeezebench.harness.run import run_spec
    from squeezebench.plugins.manager import default_registry
    from squeezebench.spec.load import load_spec
    from squeezebench.spec.models import ExecutionSpec

    registry = default_registry()
    resolved = load_spec(spec, registry)
    execution = ExecutionSpec(executor="ray", address=address) if ray else ExecutionSpec()
    start = time.perf_counter()
    outcome = run_spec(resolved, registry, output, execution=execution)
    seconds = time.perf_counter() - start
    assert outcome.status == "complete", outcome.status
    assert all(row["status"] == "ok" for row in outcome.rows), "a job failed"
    retries = sum(row.get("contention_retries") or 0 for row in outcome.rows)
    contended = sum(bool(row.get("contended")) for row in outcome.rows)
    conditions = f"{retries} contention retries, {contended}/{len(outcome.rows)} rows contended"
    return seconds, len({row["job_id"] for row in outcome.rows}), conditions


def _cluster(*node_resources: dict, cpus: int) -> object:
    from ray.cluster_utils import Cluster

    from squeezebench.harness.ray_connection import KEEP_WORKERS
    from squeezebench.spec.models import TIMING_RESOURCE

    first, *others = node_resources
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": cpus,
            "resources": {TIMING_RESOURCE: 1, **first},
            "node_ip_address": "127.0.0.1",
            "include_dashboard": False,
            "_system_config": KEEP_WORKERS,  # as a run's own instance does
        },
    )
    for resources in others:
        cluster.add_node(
            num_cpus=cpus,
            resources={TIMING_RESOURCE: 1, **resources},
            node_ip_address="127.0.0.1",
        )
    cluster.wait_for_nodes()
    return cluster


def overhead(folder: Path, jobs: int) -> None:
    """Part 1: the Ray path's cost per tiny job."""
    sparsities = [round(0.05 + 0.9 * i / max(1, jobs - 2), 3) for i in range(jobs - 1)]
    spec = folder / "tiny.yaml"
    spec.write_text(TINY.format(sparsities=sparsities))
    _run(spec, folder / "warm", None, ray=False)  # warms the file caches
    local, count, _ = _run(spec, folder / "local", None, ray=False)
    cluster = _cluster({}, cpus=2)
    try:
        on_ray, _, _ = _run(spec, folder / "ray", cluster.address, ray=True)
    finally:
        cluster.shutdown()
    own, _, _ = _run(spec, folder / "own", None, ray=True)
    print(f"tiny jobs: {count}")
    print(f"  local executor:               {local:7.2f} s  ({local / count:.2f} s/job)")
    print(f"  Ray, cluster already up:      {on_ray:7.2f} s  ({on_ray / count:.2f} s/job)")
    print(f"  overhead per job on Ray:      {(on_ray - local) / count:+7.2f} s  (goal < 0.5 s)")
    print(f"  Ray, its own local instance:  {own:7.2f} s  (+{own - on_ray:.1f} s once per run)")


def sweep(folder: Path) -> None:
    """Part 2: a 12-job CPU sweep, local against two simulated nodes."""
    specs = {}
    for policy in ("retry", "warn"):
        specs[policy] = folder / f"sweep-{policy}.yaml"
        specs[policy].write_text(SWEEP.replace("ON_CONTENTION", policy))
    local, count, here = _run(specs["retry"], folder / "sweep-local", None, ray=False)
    print(f"CPU sweep: {count} jobs, 3 rounds each, drift check")
    print(f"  local executor:                     {local:7.2f} s  ({here})")
    cluster = _cluster({"box-a": 1}, {"box-b": 1}, cpus=1)
    try:
        for policy, spec in specs.items():
            seconds, _, there = _run(spec, folder / f"sweep-ray-{policy}", cluster.address, True)
            print(
                f"  two simulated nodes, {policy + ':':6}       {seconds:7.2f} s  ({there}; "
                f"{local / seconds:.2f}x the local speed)"
            )
    finally:
        cluster.shutdown()
    print(
        "  (the simulated nodes share this machine's cores: each node's timing sees the other"
        " node's work as contention; with retry it waits and re-times, as a real run must;"
        " warn keeps the first measurement, marked, which shows the overlap the executor gets)"
    )


def main() -> None:
    """Parse the arguments and print both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12, help="tiny jobs in part 1")
    parser.add_argument("--part", choices=["overhead", "sweep", "both"], default="both")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="squeezebench-ray-bench-") as temporary:
        folder = Path(temporary)
        if arguments.part in ("overhead", "both"):
            overhead(folder, arguments.jobs)
        if arguments.part in ("sweep", "both"):
            sweep(folder)


if __name__ == "__main__":
    main()
