"""Exit codes of the ``squeezebench`` command."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    """Everything ran (skipped targets are fine: their reasons are in the results)."""
    JOB_ERRORS = 1
    """The run finished, but at least one job recorded an error (see its ``reason``)."""
    USAGE_ERROR = 2
    """Bad command line, bad spec or unreadable input: nothing was run."""
    NOT_REPRODUCIBLE = 3
    """``run --repeat-check``: the second run's size, accuracy or fidelity differed."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C; jobs finished before it are saved and the manifest says so."""
