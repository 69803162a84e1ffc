"""A sweep survives crashing, hanging, memory-hungry and NaN-producing jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from squeezebench.harness.run import run_spec
from squeezebench.plugins.manager import PLUGINS_ENV, build_plugin_manager, build_registry
from squeezebench.results import load
from squeezebench.spec.load import load_spec

FAULT_PLUGIN = Path(__file__).with_name("fault_plugin.py")


@pytest.fixture
def fault_registry(monkeypatch):
    monkeypatch.setenv(PLUGINS_ENV, str(FAULT_PLUGIN))
    return build_registry(build_plugin_manager(autoload=False))


def test_every_fault_is_recorded_and_every_other_job_measured(
    write_spec, fault_registry, tmp_path
) -> None:
    path = write_spec(
        """
        name: faults
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          segfault: [{fault.crash: {how: segfault}}]
          exits: [{fault.crash: {how: exit}}]
          raises: [{fault.crash: {how: raise}}]
          hangs: [fault.hang]
          hungry: [fault.allocate]
          nan: [fault.nan]
          int8: [quantize.dynamic_int8]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        benchmark:
          batch_sizes: [1]
          warmup_seconds: 0.01
          min_repeats: 3
          min_seconds: 0.01
          timeout_seconds: 12
          memory_limit_mb: 3072
        """
    )
    outcome = run_spec(load_spec(path, fault_registry), fault_registry, tmp_path / "out")
    assert outcome.status == "complete"
    frame = load(outcome.directory).set_index("variant")
    assert len(frame) == 8  # every job has its row
    assert frame.loc["baseline", "status"] == "ok"
    assert frame.loc["int8", "status"] == "ok" and frame.loc["int8", "fidelity"] > 0.95
    reasons = frame["reason"]
    assert all("\n" not in reason for reason in reasons.dropna())  # one line each
    assert "killed by SIGSEGV" in reasons["segfault"]
    assert "exited with code 3" in reasons["exits"]
    assert "RuntimeError: fault.crash raised on purpose" in reasons["raises"]

    def log_of(variant: str) -> str:  # issue 12, bug 8: tracebacks go to the run folder
        job_id = frame.loc[variant, "job_id"]
        assert reasons[variant].endswith(f"(see _logs/{job_id}.log)")
        return (outcome.directory / "_logs" / f"{job_id}.log").read_text(encoding="utf-8")

    assert "fault_plugin.py" in log_of("segfault")  # the crash's Python stack is kept
    raised = log_of("raises")
    assert "Traceback" in raised and "fault.crash raised on purpose" in raised
    assert "timed out after 12 s" in reasons["hangs"]
    assert "MemoryError" in reasons["hungry"]
    assert "NaN" in reasons["nan"]
    assert frame.loc["nan", "accuracy"] != frame.loc["nan", "accuracy"]  # null, not computed
    for variant in ("segfault", "exits", "raises", "hangs", "hungry", "nan"):
        assert frame.loc[variant, "status"] == "error"
    assert outcome.failed_jobs == 6
