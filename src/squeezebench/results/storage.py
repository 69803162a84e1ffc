"""Writing to the results folder safely: checked before any work, atomic, durable, and
explained when it fails.

- :func:`check_writable` proves, before a run loads anything, that a file can be created
  where its results will go: a read-only file system, a missing permission or a path that is
  a file becomes one line (:class:`ResultsNotWritable`) instead of a traceback mid-run.
- :func:`atomic_write` writes to a hidden temporary file in the same folder, flushes it to
  the disk (``fsync``), renames it over the target and syncs the folder: a reader, a crash or
  a power cut sees the old file or the new one, never a part of one. A failed write removes
  its temporary file and raises :class:`ResultsWriteError`, which names the file, the folder
  and, when the disk is full, the space left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from squeezebench.errors import UserError
from squeezebench.results.formatting import human_bytes

SPACE_ERRORS = {errno.ENOSPC, errno.EDQUOT}


class ResultsNotWritable(UserError):
    """The results folder cannot be written (checked before anything runs)."""


class ResultsWriteError(UserError):
    """Writing a result file failed mid-run (disk full, quota, I/O error); files written
    before are intact, and the failed file was not left behind in part."""


def free_space(folder: Path) -> str:
    """Space left for us on ``folder``'s file system (``"unknown"`` if it cannot be read)."""
    try:
        return human_bytes(shutil.disk_usage(folder).free)
    except OSError:
        return "unknown"


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def check_writable(folder: Path) -> None:
    """Raise :class:`ResultsNotWritable` unless files can be created in ``folder``.

    A missing ``folder`` is fine when its nearest existing parent is writable (the run
    creates it). Nothing is left behind: the probe is an anonymous temporary file.
    """
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ResultsNotWritable(
            f"cannot write results to {folder}: {existing} is a file, not a folder"
        )
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".squeezebench-write-check-"):
            pass
    except OSError as error:
        where = "" if existing == folder else f" (in {existing})"
        raise ResultsNotWritable(
            f"cannot write results to {folder}: {_reason(error)}{where}"
        ) from None


def write_failure(path: Path, error: OSError) -> ResultsWriteError:
    """The error to raise when writing ``path`` failed with ``error``."""
    reason = _reason(error)
    if error.errno in SPACE_ERRORS:
        reason += f", {free_space(path.parent)} free there"
    return ResultsWriteError(f"cannot write {path.name} to {path.parent}: {reason}")


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``path`` whole or not at all: ``write(handle)`` fills a temporary file first.

    Creates ``path``'s folder if needed. Raises :class:`ResultsWriteError` when the file
    system refuses (the previous content of ``path``, if any, is untouched).
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # readers skip "." files
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except OSError as error:
        raise write_failure(path, error) from error
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not every platform can open a folder)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
