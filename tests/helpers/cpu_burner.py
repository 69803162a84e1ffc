"""A process that keeps one CPU busy, outside our process tree, for contention tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# the burner stops by itself after `seconds` even if the test dies before killing it
_BURNER = (
    "import pathlib, sys, time\n"
    "end = time.monotonic() + float(sys.argv[2])\n"
    "pathlib.Path(sys.argv[1]).touch()\n"
    "while time.monotonic() < end:\n"
    "    pass\n"
)
# a launcher that starts the burner in a new session and exits at once: the burner is then
# re-parented away from us, so probes that subtract our own process tree still see it
_LAUNCHER = (
    "import subprocess, sys\n"
    "burner = subprocess.Popen([sys.executable, '-c', sys.argv[1], *sys.argv[2:]],"
    " start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
    " stderr=subprocess.DEVNULL)\n"
    "print(burner.pid)\n"
)


@contextlib.contextmanager
def cpu_burner(cpus: set[int] | None = None, seconds: float = 30.0) -> Iterator[int]:
    """Run a busy loop (one core's worth) pinned to ``cpus``; yields its pid once it spins."""
    with tempfile.TemporaryDirectory() as folder:
        ready = Path(folder) / "spinning"
        launched = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, _BURNER, str(ready), str(seconds)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        pid = int(launched.stdout.strip())
        try:
            if cpus is not None and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(pid, cpus)
            deadline = time.monotonic() + 30
            while not ready.exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the CPU burner did not start within 30 s")
                time.sleep(0.01)
            yield pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
