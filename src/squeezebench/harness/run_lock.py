"""One process at a time per run folder: an advisory lock on ``<run>/.lock``.

Two ``squeezebench run --resume`` of the same spec would otherwise both run the pending
jobs. The lock is ``flock`` on a file in the run folder: the kernel drops it when its holder
exits or dies (``kill -9`` included), so a dead process never keeps a folder locked and there
is nothing stale to clean up. The file also says who holds the lock (pid, host, since when),
for the message the second process prints. Workers never inherit the lock: they are
started by the fork server (or ``spawn``), not forked from the process that holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
from pathlib import Path

from squeezebench.errors import UserError
from squeezebench.results.storage import ResultsNotWritable

LOCK_NAME = ".lock"  # readers skip "." files
logger = logging.getLogger(__name__)


class RunFolderLocked(UserError):
    """Another process is running (or resuming) this run folder."""


class RunLock:
    """A held lock on a run folder; :meth:`release` it (or let the process end)."""

    def __init__(self, path: Path, descriptor: int | None) -> None:
        self.path = path
        self._descriptor = descriptor

    def release(self) -> None:
        """Give the folder back (idempotent)."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)  # nobody holds it now
        os.close(descriptor)  # closing the file drops the lock

    def __del__(self) -> None:  # a run that failed before its ``finally``
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run_folder(directory: Path) -> RunLock:
    """Lock ``directory`` for this process, or raise :class:`RunFolderLocked` saying who
    holds it. Where the platform or file system has no ``flock``, runs unlocked (warning).
    """
    path = Path(directory) / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks of this kind
        return RunLock(path, None)
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ResultsNotWritable(
            f"cannot write to the run folder {directory}: {error.strerror or error}"
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(descriptor)
        os.close(descriptor)
        raise RunFolderLocked(
            f"{directory} is in use by another squeezebench process ({holder}); "
            "wait for it to finish (or stop it), then run again"
        ) from None
    except OSError as error:  # e.g. a network file system without flock
        os.close(descriptor)
        logger.warning("warning: cannot lock %s (%s); running without a lock", directory, error)
        return RunLock(path, None)
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps(holder).encode("utf-8"), 0)
    return RunLock(path, descriptor)


def _read_holder(descriptor: int) -> str:
    """``pid 1234 on host, since 2026-11-30T09:15:00+00:00``, or why it is unknown."""
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0).decode("utf-8"))
        return f"pid {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its pid is not recorded yet"
