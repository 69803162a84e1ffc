"""A run during which another process keeps a core busy: never a silent ``ok``."""

from __future__ import annotations

from helpers.cpu_burner import cpu_burner

from squeezebench.harness.run import run_spec
from squeezebench.results import load
from squeezebench.spec.load import load_spec

SPEC = """
name: burned
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  int8: [quantize.dynamic_int8]
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
benchmark:
  batch_sizes: [1, 8]
  warmup_seconds: 0.02
  min_repeats: 20
  min_seconds: 0.3
  rounds: 2
  drift_check: false
  contention: {threshold: 0.25, retries: 1, wait_seconds: 0.05}
"""


def test_rows_timed_beside_a_cpu_burner_are_retried_or_marked(
    write_spec, registry, tmp_path
) -> None:
    resolved = load_spec(write_spec(SPEC), registry)
    with cpu_burner(seconds=120):  # one other process, one core busy, for the whole run
        outcome = run_spec(resolved, registry, tmp_path / "out")
    frame = load(tmp_path / "out")
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    # every round spent its one re-measurement (2 jobs x 2 rounds), then kept and marked
    assert frame["contention_retries"].sum() == 4
    for row in frame.itertuples():
        assert row.contended, row
        assert row.other_cpu_cores > 0.25, row
        assert "measured under contention" in row.conditions, row
    assert outcome.status == "complete"
