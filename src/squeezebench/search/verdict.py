"""Judging a trial from its result rows: objective values, and how each constraint fared.

A constraint's *violation* is what Optuna sees (0 or less: it holds; it ranks infeasible
trials by the sum of the positive ones): the shortfall in percentage points for shares
(accuracy, fidelity), else as a share of the bound, so that constraints on bytes and on
accuracy weigh alike. People see the shortfall in the column's own units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from squeezebench.results import columns as col
from squeezebench.spec.search_resolve import ResolvedSearch
from squeezebench.spec.search_terms import (
    COLUMNS,
    DELTA,
    FRACTION,
    SHIPPED_BYTES,
    ColumnReference,
    Constraint,
    format_amount,
)

Rows = Sequence[dict[str, Any]]


@dataclass
class ConstraintCheck:
    """One constraint on one trial: the value, the bound, and whether it holds."""

    constraint: Constraint
    value: float | None
    bound: float | None
    pending: bool = False  # a timed constraint of a trial not timed yet

    @property
    def known(self) -> bool:
        """Whether both the value and the bound were measured."""
        return self.value is not None and self.bound is not None

    @property
    def holds(self) -> bool | None:
        """True or False; None while pending. A value or bound never measured fails: the
        trial cannot be shown to meet the constraint."""
        if self.pending:
            return None
        if not self.known:
            return False
        return self.constraint.holds(self.value, self.bound)

    @property
    def violation(self) -> float:
        """The shortfall, normalized (see the module docstring); 0.0 while pending, 1.0
        (as far off as a bound missed by its own size) when never measured."""
        if self.pending:
            return 0.0
        if not self.known:
            return 1.0
        shortfall = self.constraint.shortfall(self.value, self.bound)
        if not self.holds and shortfall <= 0:
            shortfall = 1e-9  # a strict bound met exactly: violated, if only just
        if COLUMNS[self.constraint.reference.column].kind in (FRACTION, DELTA):
            return shortfall * 100
        return shortfall / max(abs(self.bound), 1e-12)

    def failure(self) -> str:
        """``accuracy_delta -1.37 pp, needs >= -1.00 pp (0.37 pp short)``."""
        reference = self.constraint.reference
        kind = COLUMNS[reference.column].kind
        if self.value is None:
            return f"{reference.label} was not measured"
        if self.bound is None:
            return f"{reference.label}: the baseline's value (the bound) was not measured"
        signed = kind == DELTA
        short = abs(self.constraint.shortfall(self.value, self.bound))
        short_text = format_amount(short, DELTA if kind in (FRACTION, DELTA) else kind)
        return (
            f"{reference.label} {format_amount(self.value, kind, signed=signed)}, needs "
            f"{self.constraint.op} {format_amount(self.bound, kind, signed=signed)} "
            f"({short_text} {'short' if self.constraint.op in ('>=', '>') else 'over'})"
        )


@dataclass
class Verdict:
    """What a trial's rows say about it."""

    values: list[float] | None  # one per objective; None: the trial failed
    checks: list[ConstraintCheck] = field(default_factory=list)
    reason: str | None = None  # why the trial failed (an error or skipped job)

    @property
    def failed(self) -> bool:
        """The job failed or an objective was not measured: the trial has no values."""
        return self.values is None

    @property
    def feasible(self) -> bool:
        """Measured, and every constraint known to hold."""
        return not self.failed and all(check.holds for check in self.checks)

    @property
    def violated(self) -> list[ConstraintCheck]:
        """The constraints known not to hold (never measured counts as not holding)."""
        return [check for check in self.checks if check.holds is False]

    @property
    def total_violation(self) -> float:
        """Sum of the positive violations (how far from feasible)."""
        return sum(max(0.0, check.violation) for check in self.checks)


def column_value(rows: Rows, reference: ColumnReference) -> float | None:
    """The value of ``reference`` in a job's rows (one per batch size), or None."""
    row = next(
        (r for r in rows if reference.batch_size in (None, r.get(col.BATCH_SIZE))),
        None,
    )
    if row is None or row.get(col.STATUS) != "ok":
        return None
    if reference.column == SHIPPED_BYTES:
        value = row.get(col.ENCODED_BYTES) or row.get(col.ARTIFACT_BYTES)
    else:
        value = row.get(reference.column)
    return None if value is None or not math.isfinite(value) else float(value)


def check_constraints(
    rows: Rows, baseline: Rows, constraints: Sequence[Constraint], *, timed: bool
) -> list[ConstraintCheck]:
    """Each constraint against ``rows`` (timed ones stay unknown until ``timed``)."""
    checks = []
    for constraint in constraints:
        reference = constraint.reference
        if COLUMNS[reference.column].timed and not timed:
            checks.append(ConstraintCheck(constraint, None, None, pending=True))
            continue
        base = column_value(baseline, reference) if constraint.needs_baseline else None
        checks.append(
            ConstraintCheck(constraint, column_value(rows, reference), constraint.bound(base))
        )
    return checks


def judge(rows: Rows, baseline: Rows, search: ResolvedSearch, *, timed: bool) -> Verdict:
    """The verdict on a trial's rows, compared with the baseline's on the same target.

    Before timing (``timed`` False), timed objectives are the worst value (infinity the
    wrong way: the trial was not timed because a constraint already failed) and timed
    constraints are unknown.
    """
    status = rows[0].get(col.STATUS) if rows else "error"
    if status != "ok":
        reason = rows[0].get(col.REASON) if rows else "no result"
        return Verdict(None, reason=f"{status}: {reason}")
    checks = check_constraints(rows, baseline, search.constraints, timed=timed)
    values = []
    for objective in search.objectives:
        reference = objective.reference
        if COLUMNS[reference.column].timed and not timed:
            values.append(math.inf if objective.minimize else -math.inf)
            continue
        value = column_value(rows, reference)
        if value is None:
            return Verdict(None, checks, reason=f"objective {reference.label} was not measured")
        values.append(value)
    return Verdict(values, checks)


def goals_met(rows: Rows, baseline: Rows, goals: Sequence[Constraint]) -> bool:
    """Whether a trial meets every stop_when goal."""
    checks = check_constraints(rows, baseline, goals, timed=True)
    return bool(goals) and all(check.holds for check in checks)
