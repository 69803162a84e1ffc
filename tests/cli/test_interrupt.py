"""Ctrl-C stops a run cleanly: exit code 130, manifest 'interrupted', finished jobs kept."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from squeezebench.cli.exit_codes import ExitCode
from squeezebench.results import MANIFEST_NAME, load


def test_sigint_marks_the_run_interrupted_and_keeps_finished_jobs(write_spec, tmp_path):
    spec = write_spec(
        """
        name: interrupted
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          int8: [quantize.dynamic_int8]
          slow: [quantize.dynamic_int8]
        targets: [{backend: torch, device: cpu, options: {threads: 1}}]
        benchmark: {batch_sizes: [1], warmup_seconds: 0.05, min_repeats: 3, min_seconds: 4}
        """
    )
    output = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "squeezebench", "run", str(spec), "-o", str(output), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(output.glob("*/*.parquet")):
        time.sleep(0.05)
    time.sleep(0.5)  # the second job is now in flight
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert "interrupted" in stdout
    (run_directory,) = output.iterdir()
    manifest = json.loads((run_directory / MANIFEST_NAME).read_text())
    assert manifest["status"] == "interrupted"
    assert "interrupted" in {job["status"] for job in manifest["jobs"].values()}
    frame = load(run_directory)
    assert list(frame["variant"]) == ["baseline"] and list(frame["status"]) == ["ok"]
