"""What a Ray task does on its node, called directly (real worker processes, no Ray)."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import FAST_BENCHMARK

from squeezebench.harness.dispatch import JobDispatcher
from squeezebench.harness.jobs import plan_jobs
from squeezebench.harness.ray_node import host_environment, run_on_node, version_problem
from squeezebench.harness.workspace import Workspace
from squeezebench.results.store import RunStore
from squeezebench.spec.load import load_spec

SPEC = """
name: node
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  pruned:
    - prune.magnitude: {sparsity: 0.5}
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
"""


@pytest.fixture(scope="module")
def pruned(tmp_path_factory, registry):
    """The pruned job's dispatcher and job, and the versions the driver expects."""
    folder = tmp_path_factory.mktemp("node")
    (folder / "spec.yaml").write_text(SPEC + FAST_BENCHMARK)
    resolved = load_spec(folder / "spec.yaml", registry)
    fingerprint = Workspace(registry, folder, resolved.spec.model, None, 0).fingerprint
    job = plan_jobs(resolved, registry, fingerprint)[1]
    dispatcher = JobDispatcher(
        None,
        RunStore(folder, "run"),
        base_dir=folder,
        fingerprint=fingerprint,
        artifact_dir=None,
        trusted=False,
        environment={},
    )
    expected = {k: host_environment()["packages"][k] for k in ("squeezebench", "torch")}
    return dispatcher, job, expected


def test_artifacts_come_back_and_a_later_task_reuses_them(pruned) -> None:
    dispatcher, job, expected = pruned
    outcome, bundle = run_on_node(dispatcher.request(job, "evaluate"), 120, expected, False)
    assert outcome.result.status == "ok", outcome.result.reason
    assert outcome.new_files == len(bundle) == 1 and next(iter(bundle)).endswith(".pt")
    assert outcome.hostname == host_environment()["hostname"] and outcome.node_id is None
    assert outcome.result.windows == []  # evaluate times nothing

    timed, added = run_on_node(dispatcher.request(job, "time"), 120, expected, False, bundle)
    assert timed.result.status == "ok" and len(timed.result.windows) == 2
    assert added == {}  # it found the compressed variant in what it was given
    assert timed.result.metrics["hostname"] == outcome.hostname

    unshared, nothing = run_on_node(
        dispatcher.request(job, "evaluate"), 120, expected, False, send_back=False
    )
    assert unshared.result.status == "ok" and nothing == {}  # no sharing: nothing shipped


def test_a_shared_folder_is_used_as_it_is(pruned, tmp_path) -> None:
    dispatcher, job, expected = pruned
    dispatcher.artifact_dir = tmp_path
    try:
        outcome, bundle = run_on_node(dispatcher.request(job, "evaluate"), 120, expected, True)
    finally:
        dispatcher.artifact_dir = None
    assert outcome.result.status == "ok" and bundle == {}
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_a_node_with_other_versions_refuses_the_job(pruned) -> None:
    dispatcher, job, expected = pruned
    other = dict(expected, torch="1.0.0")
    outcome, bundle = run_on_node(dispatcher.request(job, "evaluate"), 120, other, False)
    assert outcome.result.status == "error" and bundle == {}
    assert "torch" in outcome.result.reason and "1.0.0 on the driver" in outcome.result.reason
    assert version_problem(expected) is None


def test_rays_thread_count_does_not_reach_the_jobs_worker(pruned, monkeypatch) -> None:
    dispatcher, job, expected = pruned
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what Ray sets for a one-CPU task
    run_on_node(dispatcher.request(job, "evaluate"), 120, expected, False)
    assert "OMP_NUM_THREADS" not in os.environ


def test_job_workers_do_not_import_the_ray_workers_main_module(pruned, tmp_path, monkeypatch):
    # A Ray worker's __main__ is Ray's worker script: multiprocessing imported it (and Ray)
    # in every job's worker, 0.16 s a job (measured) before the task hid it.
    marker = tmp_path / "imported"
    script = tmp_path / "ray_worker_main.py"
    script.write_text(f"open({str(marker)!r}, 'a').write('imported\\n')\n")
    monkeypatch.setattr(sys.modules["__main__"], "__file__", str(script), raising=False)
    dispatcher, job, expected = pruned
    outcome, _ = run_on_node(dispatcher.request(job, "evaluate"), 120, expected, False)
    assert outcome.result.status == "ok"
    assert not marker.exists()
    assert sys.modules["__main__"].__file__ == str(script)  # put back
