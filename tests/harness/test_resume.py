"""Nothing is lost: a killed run resumes, keeping every finished job exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from squeezebench.harness.run import run_spec
from squeezebench.results import load
from squeezebench.spec.load import load_spec

SPEC = """
name: resumable
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  int8: [quantize.dynamic_int8]
  pruned:
    - prune.magnitude: {sparsity: 0.5}
sweep:
  pruned:
    prune.magnitude.sparsity: [0.3, 0.5, 0.7, 0.9]
targets: [{backend: torch, device: cpu, options: {threads: 1}}]
benchmark:
  batch_sizes: [1]
  warmup_seconds: 0.05
  min_repeats: 3
  min_seconds: 0.3
  rounds: 2  # kills land in first measurements, later rounds and the drift check
  contention: {on_contention: warn}  # a busy test machine: mark, do not wait and retry
"""

DETERMINISTIC = [
    "job_id",
    "variant",
    "batch_size",
    "status",
    "params",
    "nonzero_params",
    "artifact_bytes",
    "compression_ratio",
    "accuracy",
    "accuracy_delta",
    "fidelity",
]


def _deterministic(frame):
    return frame.sort_values("job_id").reset_index(drop=True)[DETERMINISTIC]


def test_sigkill_mid_sweep_then_resume_gives_each_job_once(write_spec, registry, tmp_path):
    spec = write_spec(SPEC)
    output = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "squeezebench", "run", str(spec), "-o", str(output), "-q"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list(output.glob("*/*.parquet"))) >= 2:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run: parent and worker
    process.wait()
    survivors = list(output.glob("*/*.parquet"))
    assert 2 <= len(survivors) < 6, "the run should have been killed mid-sweep"
    partial = load(output)  # every finished job's rows are intact and readable
    assert len(partial) == len(survivors)

    resumed = run_spec(load_spec(spec, registry), registry, output, resume=True)
    assert resumed.resumed_jobs == len(survivors)
    assert len(list(output.iterdir())) == 1  # the same run folder, not a new one
    frame = load(output)
    assert len(frame) == 6 and frame["job_id"].is_unique
    assert set(frame["status"]) == {"ok"}

    fresh = run_spec(load_spec(spec, registry), registry, tmp_path / "fresh")
    assert _deterministic(frame).equals(_deterministic(load(fresh.directory)))


def test_resume_retries_errors_only_when_asked(write_spec, registry, tmp_path, monkeypatch):
    from squeezebench.harness.workspace import JobResult, Workspace

    spec = load_spec(write_spec(SPEC), registry)
    original = Workspace.measure

    def fail_int8(self, job, **options):
        if job.variant.name == "int8":
            return JobResult("error", "flaky on purpose")
        return original(self, job, **options)

    monkeypatch.setattr(Workspace, "measure", fail_int8)
    first = run_spec(spec, registry, tmp_path / "out", isolate=False)
    assert first.failed_jobs == 1
    monkeypatch.setattr(Workspace, "measure", original)

    again = run_spec(spec, registry, tmp_path / "out", isolate=False, resume=True)
    assert again.resumed_jobs == 6 and again.failed_jobs == 1

    retried = run_spec(
        spec, registry, tmp_path / "out", isolate=False, resume=True, retry_errors=True
    )
    assert retried.resumed_jobs == 5 and retried.failed_jobs == 0
    frame = load(tmp_path / "out")
    assert len(frame) == 6 and set(frame["status"]) == {"ok"}
    int8 = frame[frame["variant"] == "int8"].iloc[0]
    assert int8["fidelity"] > 0.95  # the baseline's outputs were reloaded for the comparison


def test_resume_without_an_earlier_run_starts_a_new_one(write_spec, registry, tmp_path):
    spec = load_spec(write_spec(SPEC.replace("[0.3, 0.5, 0.7, 0.9]", "[0.5]")), registry)
    outcome = run_spec(spec, registry, tmp_path / "out", isolate=False, resume=True)
    assert outcome.resumed_jobs == 0 and outcome.status == "complete"


def test_variant_names_never_become_paths(write_spec, registry, tmp_path):
    spec = load_spec(
        write_spec(
            """
            name: paths
            model: builtin:digits-mlp
            variants:
              "../../escaped": [quantize.dynamic_int8]
            benchmark: {batch_sizes: [1], warmup_seconds: 0, min_repeats: 1, min_seconds: 0}
            """
        ),
        registry,
    )
    output = tmp_path / "inside" / "out"
    run_spec(spec, registry, output, isolate=False)
    written = {p for p in tmp_path.rglob("*") if p.is_file() and p.name != "spec.yaml"}
    assert written and all(output in p.parents for p in written)
