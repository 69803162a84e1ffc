from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from squeezebench.harness.measure.own_cpu_time import (
    live_descendants_cpu_seconds,
    own_tree_cpu_seconds,
)


def stat_line(pid: int, comm: str, utime: int, stime: int, cutime: int, cstime: int) -> str:
    # fields 3..13 (state .. majflt), then utime stime cutime cstime, then the rest
    return f"{pid} ({comm}) S 1 1 1 0 -1 0 0 0 0 0 {utime} {stime} {cutime} {cstime} 20 0 1 0\n"


def make_process(proc: Path, pid: str, stat: str | None, children: dict[str, str]) -> None:
    folder = proc / pid
    for tid, listed in children.items():
        (folder / "task" / tid).mkdir(parents=True)
        (folder / "task" / tid / "children").write_text(listed)
    if stat is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "stat").write_text(stat)


def test_live_descendants_are_walked_and_each_counted_once(tmp_path) -> None:
    proc = tmp_path / "proc"
    make_process(proc, "self", None, {"100": "200 300 ", "101": "500"})
    make_process(proc, "200", stat_line(200, "python (worker) x", 10, 5, 3, 2), {"200": "400"})
    make_process(proc, "400", stat_line(400, "burn", 50, 0, 0, 0), {"400": ""})
    make_process(proc, "500", stat_line(500, "sh", 1, 1, 0, 0), {"500": ""})
    # 300 is listed but has exited since: its time is in getrusage's children, not here
    ticks = (10 + 5 + 3 + 2) + 50 + (1 + 1)
    assert live_descendants_cpu_seconds(proc, ticks_per_second=100) == pytest.approx(ticks / 100)


def test_kernels_without_children_lists_count_no_live_descendants(tmp_path) -> None:
    proc = tmp_path / "proc"
    (proc / "self" / "task" / "100").mkdir(parents=True)  # no "children" file in it
    assert live_descendants_cpu_seconds(proc, ticks_per_second=100) == 0.0
    assert live_descendants_cpu_seconds(tmp_path / "absent", ticks_per_second=100) == 0.0


def test_a_reaped_childs_cpu_time_is_ours() -> None:
    before = own_tree_cpu_seconds()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time\nwhile time.process_time() < 0.2:\n    pass\nprint(time.process_time())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    used_by_child = float(child.stdout)
    assert own_tree_cpu_seconds() - before >= 0.9 * used_by_child
