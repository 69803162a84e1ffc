"""A real ``squeezebench run`` whose second job hangs in its worker, for the signal tests.

The spec measures the baseline, then runs ``fault.hang`` (tests/harness/fault_plugin.py),
which writes its worker's pid to a flag file and hangs while that file exists: delete the
flag and the same job finishes at once (a resumed run measures it normally).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from squeezebench.plugins.manager import PLUGINS_ENV

FAULT_PLUGIN = Path(__file__).resolve().parents[1] / "harness" / "fault_plugin.py"


@dataclass
class HungRun:
    process: subprocess.Popen
    spec: Path
    output: Path
    flag: Path
    worker_pid: int


def hung_run_spec(write_spec: Callable[..., Path], flag: Path, hold_gil: bool = False) -> Path:
    """A spec whose ``hangs`` variant hangs while ``flag`` exists (its timeout: 10 min)."""
    hang = {"fault.hang": {"flag": str(flag), "hold_gil": hold_gil}}
    return write_spec(
        f"""
        name: hung
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          hangs: [{json.dumps(hang)}]
        targets: [{{backend: torch, device: cpu, options: {{threads: 1}}}}]
        benchmark:
          batch_sizes: [1]
          warmup_seconds: 0.01
          min_repeats: 3
          min_seconds: 0.01
          timeout_seconds: 600
        """
    )


def start_hung_run(
    write_spec: Callable[..., Path], tmp_path: Path, hold_gil: bool = False
) -> HungRun:
    """Start the run in a new session; return once the hanging job's worker is running."""
    flag = tmp_path / "hang.flag"
    flag.touch()
    spec = hung_run_spec(write_spec, flag, hold_gil)
    output = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "squeezebench", "run", str(spec), "-o", str(output), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {PLUGINS_ENV: str(FAULT_PLUGIN)},
        start_new_session=True,  # signals from the terminal running pytest never reach it
    )
    deadline = time.monotonic() + 300  # a torch import takes long on a busy machine
    while time.monotonic() < deadline:
        content = flag.read_text()
        if content.strip():
            return HungRun(process, spec, output, flag, int(content.split()[0]))
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            raise AssertionError(f"the run ended before its job hung:\n{stdout}\n{stderr}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the job never started hanging")
