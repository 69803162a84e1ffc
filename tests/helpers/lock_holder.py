"""Another process holding a run folder's lock, as a second ``squeezebench run`` would."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

HOLDER = """
import sys, time
from squeezebench.harness.run_lock import lock_run_folder
lock = lock_run_folder(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


@contextlib.contextmanager
def lock_held_elsewhere(folder: Path) -> Iterator[subprocess.Popen]:
    """A process that holds ``folder``'s lock until the block ends (it is then killed)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.communicate()
