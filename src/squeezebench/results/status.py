"""Job statuses: the values of the ``status`` column, and the type that says so.

A row's status is one of three strings, written to Parquet as they are (readers of the files
need nothing from squeezebench); code compares with these constants, never with literals.
"""

from __future__ import annotations

from typing import Final, Literal

Status = Literal["ok", "skipped", "error"]
"""A job's status: measured, not runnable here (with the reason), or failed (with it)."""

OK: Final = "ok"
"""The job was measured."""

SKIPPED: Final = "skipped"
"""The job cannot run here (a missing package or device, no conversion); the reason says why."""

ERROR: Final = "error"
"""The job failed (an exception, a crash, a timeout, unusable outputs); the reason says why."""

STATUSES: Final = (OK, SKIPPED, ERROR)
