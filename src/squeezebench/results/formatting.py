"""How the report, compare and the plots write numbers: bytes, milliseconds, percentages."""

from __future__ import annotations

import math
import re
from typing import Any

from squeezebench.errors import first_line

MISSING = "—"
"""A value that is not there (not measured, failed, NaN)."""

BYTE_UNITS = ("B", "KiB", "MiB", "GiB")
KIB = 1024.0
MIB = 1024.0**2


def number_or_none(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing (None) or NaN."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def human_bytes(value: float) -> str:
    """``512 B``, ``1.5 KiB``, ``3.2 MiB``: binary units, one decimal above bytes."""
    for unit in BYTE_UNITS:
        if abs(value) < 1024 or unit == BYTE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def byte_unit_scale(unit: str) -> float:
    """How many bytes one ``unit`` (of :data:`BYTE_UNITS`) holds."""
    return 1024.0 ** BYTE_UNITS.index(unit)


def ms_digits(value: float, below_one: int = 3) -> int:
    """Decimals for a latency of ``value`` ms (not negative): fewer the larger it is.

    ``below_one`` is how many between 0.1 and 1 ms (the report shows 3, compare 4); below
    0.1 ms always 4.
    """
    if value >= 100:
        return 0
    if value >= 10:
        return 1
    if value >= 1:
        return 2
    return below_one if value >= 0.1 else 4


def percent(fraction: float, spec: str = ".2f") -> str:
    """A fraction as a percentage: ``0.9512`` -> ``95.12%`` (``spec`` formats the number)."""
    return f"{100 * fraction:{spec}}%"


def percentage_points(fraction: float, spec: str = "+.2f") -> str:
    """A difference of fractions in percentage points: ``-0.01`` -> ``-1.00 pp``."""
    return f"{100 * fraction:{spec}} pp"


def accuracy_name(metric: str | None) -> str:
    """What the accuracy column or axis is called: ``top-1 accuracy``, ``f1 accuracy``."""
    return {"top1": "top-1 accuracy", "embedding": "paraphrase top-1"}.get(
        metric or "", f"{metric} accuracy" if metric else "accuracy"
    )


def short_reason(reason: Any, limit: int = 160) -> str:
    """A reason's first non-empty line, shortened: a table cell never shows a traceback.

    Runs keep a failed job's traceback in ``_logs/`` and say so in the reason; results
    written before that (or by another tool) may still hold one in the reason itself.
    """
    return first_line(str(reason or ""), limit)


_LOG_REFERENCE = re.compile(r" \(see (_logs/[^()\s]+\.log)\)$")
"""The end of a failed job's reason that names its log (``harness.run`` writes it)."""


def without_log_reference(reason: str) -> tuple[str, str | None]:
    """``reason`` without its ``(see _logs/<job>.log)`` ending, and that log's path.

    Jobs failing for the same cause then share one note under a table.
    """
    match = _LOG_REFERENCE.search(reason)
    if match is None:
        return reason, None
    return reason[: match.start()], match.group(1)


def md_escape(text: str) -> str:
    """``text`` safe in a Markdown table cell (backslashes, pipes, line breaks)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def slugify(text: str, empty: str = "group") -> str:
    """``text`` as a lowercase file-name and anchor fragment (``empty`` when nothing is left)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or empty
