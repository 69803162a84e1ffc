"""CPU time used by this process tree: the process, its threads and its children.

The contention probe subtracts this from the busy time of our CPUs, so that only *other*
processes' work remains.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def own_tree_cpu_seconds(proc_root: Path = PROC) -> float:
    """User + system seconds of this process (all threads), its children and descendants.

    Reaped children come from ``getrusage(RUSAGE_CHILDREN)``; live descendants from the
    ``/proc/<pid>/task/<tid>/children`` lists, where the kernel has them
    (``CONFIG_PROC_CHILDREN``; without them a live child's time is not counted as ours).
    """
    try:
        import resource
    except ImportError:  # Windows: this process only
        times = os.times()
        return times.user + times.system
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total + live_descendants_cpu_seconds(proc_root)


def live_descendants_cpu_seconds(proc_root: Path = PROC, ticks_per_second: int = 0) -> float:
    """User + system seconds of the live descendants of this process (0.0 where unknown).

    Each descendant's own time plus that of its reaped children (``cutime``, ``cstime``), so
    a grandchild is counted once: live through its own line, reaped through its parent's.
    """
    hz = ticks_per_second or clock_ticks()
    ticks, pending, seen = 0, _children(proc_root, "self"), set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            text = (proc_root / str(pid) / "stat").read_text()
        except OSError:
            continue  # exited since it was listed: its time is now in getrusage's children
        # fields after the command name "(...)": state is field 3, utime..cstime 14..17
        fields = text[text.rindex(")") + 2 :].split()
        ticks += sum(int(value) for value in fields[11:15])
        pending.extend(_children(proc_root, str(pid)))
    return ticks / hz


def _children(proc_root: Path, pid: str) -> list[int]:
    try:
        threads = list((proc_root / pid / "task").iterdir())
    except OSError:
        return []
    children = []
    for thread in threads:
        try:
            children.extend(int(child) for child in (thread / "children").read_text().split())
        except FileNotFoundError:
            if thread.exists():
                return children  # the kernel keeps no children lists
        except (OSError, ValueError):
            continue
    return children


def clock_ticks() -> int:
    """Clock ticks per second of ``/proc`` counters (``SC_CLK_TCK``, 100 on most kernels)."""
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100
