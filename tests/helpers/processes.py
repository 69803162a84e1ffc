"""Processes seen through Linux's /proc: who descends from whom, and who is still running.

A process is identified by its pid *and* its start time, so a pid reused by an unrelated
process after ours exited never counts as a survivor. Zombies (exited, not yet reaped by
whoever adopted them) count as gone: they run nothing and hold no resources.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import NamedTuple

import pytest

PROC = Path("/proc")
needs_proc = pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="needs Linux's /proc")


class Process(NamedTuple):
    pid: int
    started: int  # clock ticks after boot (field 22 of /proc/<pid>/stat)
    command: str


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of ``pid``, or None if it does not exist."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _command(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def descendants(pid: int) -> list[Process]:
    """Every living process below ``pid`` (children, grandchildren...)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        stat = _stat(child)
        if stat is not None and stat[0] != "Z":
            found.append(Process(child, stat[2], _command(child)))
        todo.extend(children.get(child, []))
    return found


def process(pid: int) -> Process | None:
    """``pid`` as a :class:`Process`, if it is running."""
    stat = _stat(pid)
    return Process(pid, stat[2], _command(pid)) if stat and stat[0] != "Z" else None


def running(process: Process) -> bool:
    """Whether this very process still runs (not exited, not a zombie, pid not reused)."""
    stat = _stat(process.pid)
    return stat is not None and stat[0] != "Z" and stat[2] == process.started


def wait_until_gone(processes: list[Process], timeout: float) -> list[Process]:
    """Poll until none of ``processes`` runs; the ones still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in processes if running(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def kill_leftovers(processes: list[Process]) -> None:
    """SIGKILL those of ``processes`` (started by the test) that still run, by pid."""
    for leftover in processes:
        if running(leftover):
            os.kill(leftover.pid, signal.SIGKILL)
