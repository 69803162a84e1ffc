"""Objectives and constraints of a search, as written in a spec, and what they mean.

A column reference is ``<column>`` or ``<column>@b=<batch size>`` (latency, speedup and
the other columns measured per batch size). An objective is ``minimize <column>`` or
``maximize <column>``. A constraint compares a column with a bound that says, in its own
words, whether it is absolute or relative to the baseline (the unmodified model on the same
target and batch size) -- the confusion of INC #498 cannot be written:

- ``artifact_bytes <= 2 MiB``: an absolute value, in the column's units;
- ``latency_p50_ms@b=1 <= 0.5 x baseline``: a ratio to the baseline's value;
- ``accuracy >= baseline - 1.0 pp``: an absolute difference from the baseline's value;
- ``accuracy_delta >= -1.0 pp``: the delta column, in percentage points.

``%`` is refused wherever it could be read two ways (any difference from the baseline):
``pp`` says percentage points, ``x baseline`` a ratio.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from squeezebench.suggest import unknown_name_message

# -- columns -------------------------------------------------------------------------------

FRACTION = "fraction"  # a share from 0 to 1 (accuracy): bare fraction, % or pp
DELTA = "fraction delta"  # a difference of shares (accuracy_delta): pp only
BYTES = "bytes"
MILLISECONDS = "milliseconds"
SECONDS = "seconds"
JOULES = "joules"
PLAIN = "plain number"

_UNITS: dict[str, dict[str, float]] = {
    FRACTION: {"": 1.0, "%": 0.01},
    DELTA: {"pp": 0.01},
    BYTES: {
        "": 1.0,
        "b": 1.0,
        "kb": 1e3,
        "kib": 1024.0,
        "mb": 1e6,
        "mib": 1024.0**2,
        "gb": 1e9,
        "gib": 1024.0**3,
    },
    MILLISECONDS: {"": 1.0, "ms": 1.0, "us": 1e-3, "µs": 1e-3, "s": 1e3},
    SECONDS: {"": 1.0, "s": 1.0, "ms": 1e-3, "min": 60.0},
    JOULES: {"": 1.0, "j": 1.0, "mj": 1e-3},
    PLAIN: {"": 1.0},
}
# A difference from the baseline: a share's difference is in percentage points.
_OFFSET_UNITS = {FRACTION: {"pp": 0.01}} | {k: v for k, v in _UNITS.items() if k != FRACTION}


@dataclass(frozen=True)
class Column:
    """A numeric result column a search can optimize or constrain."""

    name: str
    kind: str
    per_batch: bool = False  # one value per batch size (latency...): needs @b=
    timed: bool = False  # only known once the variant is timed

    @property
    def needs_dataset(self) -> bool:
        """Whether the column is only measured with a dataset."""
        return self.name in _NEEDS_DATASET


def _timed(name: str, kind: str) -> Column:
    return Column(name, kind, per_batch=True, timed=True)


SHIPPED_BYTES = "shipped_bytes"
"""Not a stored column: ``encoded_bytes`` when the pipeline encodes, else ``artifact_bytes``
(the bytes one ships; what the report's size column shows)."""

COLUMNS: dict[str, Column] = {
    column.name: column
    for column in [
        Column("artifact_bytes", BYTES),
        Column("encoded_bytes", BYTES),
        Column("sparse_bytes", BYTES),
        Column(SHIPPED_BYTES, BYTES),
        Column("params", PLAIN),
        Column("nonzero_params", PLAIN),
        Column("compression_ratio", PLAIN),
        Column("accuracy", FRACTION),
        Column("accuracy_delta", DELTA),
        Column("fidelity", FRACTION),
        Column("embedding_cosine", PLAIN),
        Column("retrieval_agreement", FRACTION),
        Column("flops_per_sample", PLAIN),
        Column("nonzero_flops_per_sample", PLAIN),
        Column("theoretical_speedup", PLAIN),
        Column("compress_seconds", SECONDS),
        _timed("latency_p50_ms", MILLISECONDS),
        _timed("latency_p90_ms", MILLISECONDS),
        _timed("latency_p99_ms", MILLISECONDS),
        _timed("latency_mean_ms", MILLISECONDS),
        _timed("latency_p50_high_ms", MILLISECONDS),
        _timed("latency_spread", PLAIN),
        _timed("throughput_per_s", PLAIN),
        _timed("speedup", PLAIN),
        _timed("peak_memory_bytes", BYTES),
        _timed("energy_j_per_batch", JOULES),
        _timed("energy_j_per_sample", JOULES),
    ]
}
_NEEDS_DATASET = {
    "accuracy",
    "accuracy_delta",
    "fidelity",
    "embedding_cosine",
    "retrieval_agreement",
}
# Columns that are a comparison with the baseline already: "x baseline" would compare twice.
_RELATIVE_ALREADY = {
    "accuracy_delta",
    "compression_ratio",
    "speedup",
    "fidelity",
    "embedding_cosine",
    "retrieval_agreement",
    "theoretical_speedup",
}

# -- grammar -------------------------------------------------------------------------------

_UNSIGNED = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_REFERENCE = r"(?P<column>[A-Za-z_][A-Za-z0-9_]*)(?:\s*@\s*b\s*=\s*(?P<batch>\d+))?"
_OBJECTIVE = re.compile(rf"^\s*(?P<direction>minimize|maximize)\s+{_REFERENCE}\s*$")
_CONSTRAINT = re.compile(rf"^\s*{_REFERENCE}\s*(?P<op><=|>=|<|>)\s*(?P<bound>.+?)\s*$")
_RATIO = re.compile(rf"^(?P<factor>[+-]?{_UNSIGNED})\s*(?:x|\*|\u00d7)\s*baseline$", re.I)
_OFFSET = re.compile(rf"^baseline\s*(?P<sign>[+-])\s*(?P<amount>{_UNSIGNED})\s*(?P<unit>\S*)$")
_ABSOLUTE = re.compile(rf"^(?P<value>[+-]?{_UNSIGNED})\s*(?P<unit>\S*)$")

OBJECTIVE_FORM = "'minimize <column>' or 'maximize <column>' (per batch size: '<column>@b=1')"
CONSTRAINT_FORM = (
    "'<column> <op> <bound>' with op <=, >=, < or >, and bound '<number> [unit]' (absolute), "
    "'<factor> x baseline' (a ratio) or 'baseline - <number> [unit]' (a difference), e.g. "
    "'accuracy_delta >= -1.0 pp', 'latency_p50_ms@b=1 <= 0.5 x baseline', "
    "'artifact_bytes <= 2 MiB'"
)
ABSOLUTE, RATIO, OFFSET = "absolute", "ratio", "offset"


class TermError(ValueError):
    """An objective or constraint that cannot be read (the message says how to write it)."""


@dataclass(frozen=True)
class ColumnReference:
    """``column`` at ``batch_size`` (None: a column that is not per batch size)."""

    column: str
    batch_size: int | None = None

    @property
    def label(self) -> str:
        """How the spec writes it: ``latency_p50_ms@b=1``."""
        return self.column + (f"@b={self.batch_size}" if self.batch_size is not None else "")


@dataclass(frozen=True)
class Objective:
    """``minimize`` or ``maximize`` one column."""

    direction: str
    reference: ColumnReference
    text: str

    @property
    def minimize(self) -> bool:
        """Whether smaller is better."""
        return self.direction == "minimize"


@dataclass(frozen=True)
class Constraint:
    """A bound on one column: absolute, a ratio to the baseline, or a difference from it.

    ``amount`` is in the column's own units (a fraction for accuracy, bytes, milliseconds):
    the absolute bound, the ratio's factor, or the signed difference from the baseline.
    """

    reference: ColumnReference
    op: str
    kind: str
    amount: float
    text: str

    @property
    def needs_baseline(self) -> bool:
        """Whether the bound depends on the baseline's value."""
        return self.kind != ABSOLUTE

    def bound(self, baseline: float | None) -> float | None:
        """The bound in the column's units (None: relative, and no baseline value)."""
        if self.kind == ABSOLUTE:
            return self.amount
        if baseline is None:
            return None
        return baseline * self.amount if self.kind == RATIO else baseline + self.amount

    def holds(self, value: float, bound: float) -> bool:
        """Whether ``value`` satisfies the constraint with this ``bound``."""
        return {
            "<=": value <= bound,
            "<": value < bound,
            ">=": value >= bound,
            ">": value > bound,
        }[self.op]

    def shortfall(self, value: float, bound: float) -> float:
        """How far ``value`` is on the wrong side of ``bound`` (0 or less: it holds)."""
        return value - bound if self.op in ("<=", "<") else bound - value

    def meaning(self) -> str:
        """The constraint in words, saying whether it is absolute or relative."""
        column = self.reference.label
        words = {"<=": "at most", "<": "below", ">=": "at least", ">": "above"}[self.op]
        if self.kind == RATIO:
            return (
                f"{column} {words} {self.amount:g} x the baseline's "
                f"(a ratio: {self.amount:.0%} of the baseline's value)"
            )
        kind = COLUMNS[self.reference.column].kind
        if self.kind == OFFSET:
            return (
                f"{column} {words} the baseline's {format_amount(self.amount, kind, signed=True)}"
                " (an absolute difference)"
            )
        if kind == DELTA:
            return (
                f"{column} {words} {format_amount(self.amount, kind, signed=True)}: "
                "an absolute difference from the baseline's, in percentage points"
            )
        return f"{column} {words} {format_amount(self.amount, kind)} (an absolute value)"


def format_amount(value: float, kind: str, *, signed: bool = False) -> str:
    """A value of a column of ``kind`` for people: ``-1.0 pp``, ``2.00 MiB``, ``0.5 ms``."""
    sign = "+" if signed and value >= 0 else ""
    if kind in (DELTA,) or (kind == FRACTION and signed):
        return f"{sign}{value * 100:.2f} pp"
    if kind == FRACTION:
        return f"{value:.2%}"
    if kind == BYTES:
        size = abs(value)
        for unit, scale in (("GiB", 1024.0**3), ("MiB", 1024.0**2), ("KiB", 1024.0)):
            if size >= scale:
                return f"{sign if value >= 0 else '-'}{size / scale:.2f} {unit}"
        return f"{sign}{value:.0f} B"
    if kind == MILLISECONDS:
        return f"{sign}{value:.4g} ms"
    if kind == SECONDS:
        return f"{sign}{value:.4g} s"
    if kind == JOULES:
        return f"{sign}{value:.4g} J"
    return f"{sign}{value:.4g}"


# -- parsing -------------------------------------------------------------------------------


def parse_objective(text: str) -> Objective:
    """Read ``minimize <column>[@b=N]``; raises :class:`TermError` with the expected form."""
    match = _OBJECTIVE.match(text) if isinstance(text, str) else None
    if match is None:
        raise TermError(f"an objective is {OBJECTIVE_FORM}, got {text!r}")
    reference = _reference(match)
    return Objective(match["direction"], reference, text.strip())


def parse_constraint(text: str) -> Constraint:
    """Read ``<column>[@b=N] <op> <bound>``; raises :class:`TermError` saying what is wrong."""
    match = _CONSTRAINT.match(text) if isinstance(text, str) else None
    if match is None:
        raise TermError(f"a constraint is {CONSTRAINT_FORM}; got {text!r}")
    reference = _reference(match)
    column = COLUMNS[reference.column]
    bound = match["bound"]
    if "%" in bound and (column.kind == DELTA or "baseline" in bound):
        raise TermError(
            f"{text!r}: '%' is ambiguous here (1% of the baseline's value, or 1 percentage "
            "point?); write 'pp' for percentage points (an absolute difference) or "
            "'<factor> x baseline' for a ratio"
        )
    if ratio := _RATIO.match(bound):
        if reference.column in _RELATIVE_ALREADY:
            raise TermError(
                f"{text!r}: {reference.column} is already a comparison with the baseline; "
                "bound it with a plain number"
            )
        factor = float(ratio["factor"])
        if factor <= 0:
            raise TermError(f"{text!r}: the factor of 'x baseline' must be above 0")
        return Constraint(reference, match["op"], RATIO, factor, text.strip())
    if offset := _OFFSET.match(bound):
        if reference.column in _RELATIVE_ALREADY:
            raise TermError(
                f"{text!r}: {reference.column} is already a comparison with the baseline; "
                "bound it with a plain number"
            )
        amount = _number(offset["amount"], text) * _scale(
            offset["unit"], column, text, _OFFSET_UNITS
        )
        signed = amount if offset["sign"] == "+" else -amount
        return Constraint(reference, match["op"], OFFSET, signed, text.strip())
    absolute = _ABSOLUTE.match(bound)
    if absolute is None:
        raise TermError(f"a constraint is {CONSTRAINT_FORM}; got {text!r}")
    value = float(absolute["value"]) * _scale(absolute["unit"], column, text, _UNITS)
    if column.kind == FRACTION and not 0 <= value <= 1:
        raise TermError(
            f"{text!r}: {column.name} is a share from 0 to 1; write e.g. "
            f"'{column.name} >= 0.95' or '{column.name} >= 95 %'"
        )
    return Constraint(reference, match["op"], ABSOLUTE, value, text.strip())


def _reference(match: re.Match) -> ColumnReference:
    name = match["column"]
    if name not in COLUMNS:
        raise TermError(unknown_name_message("result column", name, COLUMNS))
    column = COLUMNS[name]
    batch = int(match["batch"]) if match["batch"] is not None else None
    if batch is not None and not column.per_batch:
        raise TermError(f"{name} does not depend on the batch size: leave out '@b={batch}'")
    if batch is not None and batch < 1:
        raise TermError(f"{name}@b={batch}: batch sizes start at 1")
    return ColumnReference(name, batch)


def _number(text: str, whole: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise TermError(f"a constraint is {CONSTRAINT_FORM}; got {whole!r}") from None


def _scale(unit: str, column: Column, text: str, table: dict[str, dict[str, float]]) -> float:
    units = table[column.kind]
    scale = units.get(unit.lower())
    if scale is not None:
        return scale
    written = [u for u in units if u]
    if not unit and "" not in units:
        raise TermError(
            f"{text!r}: {column.name} needs a unit: {' or '.join(written)}"
            + (" (percentage points, an absolute difference)" if "pp" in written else "")
        )
    if unit == "%":
        raise TermError(
            f"{text!r}: '%' is ambiguous here; write 'pp' for percentage points (an absolute "
            "difference) or '<factor> x baseline' for a ratio"
        )
    valid = ", ".join(written) if written else "none (a plain number)"
    raise TermError(f"{text!r}: unknown unit {unit!r} for {column.name} (valid: {valid})")
