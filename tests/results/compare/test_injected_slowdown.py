"""``compare`` flags a real 30% slowdown injected into the workers, not clean reruns."""

from __future__ import annotations

from pathlib import Path

from squeezebench.harness.run import run_spec
from squeezebench.plugins.manager import PLUGINS_ENV
from squeezebench.results.compare import CompareExit, compare
from squeezebench.spec.load import load_spec

SPEC = """
name: injected
model: builtin:digits-mlp
dataset: builtin:digits
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
benchmark:
  batch_sizes: [32]
  warmup_seconds: 0.1
  min_repeats: 300
  min_seconds: 0.5
  # the machine running the tests is shared: its contention and drift would (rightly) make
  # the verdicts inconclusive; this test is about the verdict on a real slowdown
  contention: {threshold: 1000, on_contention: warn}
  drift_check: false
"""


def test_injected_slowdown_is_flagged_and_a_clean_rerun_is_not(
    write_spec, registry, tmp_path, monkeypatch
) -> None:
    resolved = load_spec(write_spec(SPEC), registry)
    clean = run_spec(resolved, registry, tmp_path / "clean").directory
    rerun = run_spec(resolved, registry, tmp_path / "rerun").directory
    monkeypatch.setenv(PLUGINS_ENV, str(Path(__file__).with_name("slowdown_plugin.py")))
    monkeypatch.setenv("SQUEEZEBENCH_TEST_SLOWDOWN", "0.3")
    slowed = run_spec(resolved, registry, tmp_path / "slowed").directory

    flagged = compare(clean, slowed)
    assert flagged.exit_code == CompareExit.REGRESSION
    (regression,) = flagged.regressions
    assert regression.metric.column == "latency_p50_ms"
    assert regression.relative > 0.15  # about +30%, measured

    assert compare(clean, rerun).exit_code == CompareExit.OK
