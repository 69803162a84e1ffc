"""Ctrl-C and SIGTERM stop a run cleanly: the exit code says which, the manifest says
'interrupted', finished jobs are kept, and no worker or helper process is left running."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from helpers.hung_run import start_hung_run
from helpers.processes import descendants, kill_leftovers, needs_proc, wait_until_gone

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


@needs_proc
def test_sigterm_stops_the_run_like_ctrl_c_and_leaves_no_process_behind(write_spec, tmp_path):
    """What ``timeout``, systemd, CI runners and Kubernetes do: SIGTERM to the main pid."""
    run = start_hung_run(write_spec, tmp_path)
    family = descendants(run.process.pid)  # the fork server, the resource tracker, the worker
    try:
        assert run.worker_pid in {p.pid for p in family}
        began = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        stdout, stderr = run.process.communicate(timeout=120)
        stopped_after = time.monotonic() - began
        assert run.process.returncode == ExitCode.TERMINATED == 143, stdout + stderr
        assert stopped_after < 30  # a second or two on an idle machine
        assert "Traceback" not in stdout + stderr
        assert "stopped by SIGTERM" in stdout and "--resume" in stdout
        assert not wait_until_gone(family, timeout=20)
        (run_directory,) = run.output.iterdir()
        manifest = json.loads((run_directory / MANIFEST_NAME).read_text())
        assert manifest["status"] == "interrupted" and manifest["stopped_by"] == "SIGTERM"
        statuses = {job["variant"]: job["status"] for job in manifest["jobs"].values()}
        assert statuses == {"baseline": "ok", "hangs": "interrupted"}
    finally:
        if run.process.poll() is None:
            run.process.kill()
        kill_leftovers(family)
