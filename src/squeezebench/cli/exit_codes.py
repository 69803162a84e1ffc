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
    WRITE_FAILED = 4
    """Results could not be written mid-run (disk full...); finished jobs are saved, and
    ``--resume`` continues once there is room."""
    NO_FEASIBLE = 5
    """A search ran, but no trial met every constraint; the output names the closest trials
    and by how much each constraint failed."""
    HANGUP = 129
    """Stopped by SIGHUP (a closed terminal); like ``INTERRUPTED``."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C; jobs finished before it are saved and the manifest says so."""
    TERMINATED = 143
    """Stopped by SIGTERM (``timeout``, systemd, a CI runner, Kubernetes); like ``INTERRUPTED``."""
