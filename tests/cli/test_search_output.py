"""``squeezebench run`` on a search: the answer, and exit code 5 when nothing is feasible."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from squeezebench.cli.exit_codes import ExitCode

pytest.importorskip("optuna", reason="needs squeezebench[search]")

SPEC = """
name: impossible
model: builtin:digits-cnn
dataset: builtin:digits
targets: [{backend: torch, device: cpu, options: {threads: 1}}]
benchmark: {batch_sizes: [1], warmup_seconds: 0.01, min_repeats: 3, min_seconds: 0.01,
            rounds: 1, drift_check: false}
search:
  objectives: minimize shipped_bytes
  constraints:
    - accuracy_delta >= -0.5 pp
    - shipped_bytes <= 10 KiB
  sampler: grid  # every combination (three), in a seeded order
  budget: {trials: 4}
  space:
    wo:
      steps: [quantize.weight_only]
      params:
        quantize.weight_only.bits: [2, 4, 8]
"""


def run(spec: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "squeezebench",
            "run",
            str(spec),
            "-o",
            str(output),
            "--inline",
            "-q",
        ],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"} | _cache_env(),
    )


def _cache_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith(("SQUEEZEBENCH_", "HOME"))}


def test_an_impossible_constraint_names_the_closest_trials(tmp_path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    done = run(spec, tmp_path / "out")
    assert done.returncode == ExitCode.NO_FEASIBLE == 5, done.stdout + done.stderr
    out = done.stdout
    assert "no trial meets every constraint; the closest:" in out
    assert "shipped_bytes <= 10 KiB" in out and "(an absolute value)" in out
    closest = out.split("the closest:")[1].strip().splitlines()
    assert closest[0].startswith("#") and "KiB over" in closest[0]
    assert len(closest) == 3 and "pp short" in closest[2]  # 2-bit: accuracy fails too
    assert "stopped: every combination of the space was tried (grid)" in out
    assert "best spec:" not in out
    (run_folder,) = (tmp_path / "out").iterdir()
    assert not (run_folder / "best.yaml").exists()
