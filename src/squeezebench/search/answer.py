"""The answer of a search: the best feasible variant (or the Pareto front of several
objectives), or, when nothing is feasible, the closest trials and by how much each
constraint failed.

Latency objectives come with their noise: feasible trials whose per-round interval overlaps
the best one's are named as ties, since the order between them is not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from squeezebench.results import columns as col
from squeezebench.search.verdict import Verdict
from squeezebench.spec.search_resolve import ResolvedSearch
from squeezebench.spec.search_terms import COLUMNS, DELTA, format_amount

FOUND, NONE_FEASIBLE, NO_TRIALS, NO_BASELINE = "found", "none feasible", "no trials", "no baseline"
CLOSEST = 3


@dataclass
class TrialSummary:
    """A finished trial: what it tried and what came of it."""

    number: int
    params: dict[str, Any]
    verdict: Verdict
    variant: str | None = None
    job_id: str | None = None
    steps: str | None = None  # the pipeline as JSON
    rows: list[dict[str, Any]] = field(default_factory=list)
    same_as: int | None = None  # a repeat of an earlier trial's params: not run again


@dataclass
class Answer:
    """What the search found."""

    status: str
    objectives: list[str]
    best: list[TrialSummary] = field(default_factory=list)  # one, or the front
    ties: list[TrialSummary] = field(default_factory=list)  # within the best's noise
    closest: list[TrialSummary] = field(default_factory=list)
    trials: int = 0
    feasible: int = 0
    failed: int = 0
    repeats: int = 0
    note: str | None = None

    @property
    def found(self) -> bool:
        """Whether a feasible variant was found."""
        return self.status == FOUND


def choose(
    summaries: list[TrialSummary], search: ResolvedSearch, note: str | None = None
) -> Answer:
    """The answer over every finished trial (repeats count as trials, not as variants)."""
    objectives = [objective.text for objective in search.objectives]
    measured = [s for s in summaries if s.same_as is None]
    answer = Answer(
        NO_TRIALS,
        objectives,
        trials=len(summaries),
        feasible=sum(1 for s in measured if s.verdict.feasible),
        failed=sum(1 for s in measured if s.verdict.failed),
        repeats=len(summaries) - len(measured),
        note=note,
    )
    feasible = [s for s in measured if s.verdict.feasible]
    if feasible:
        answer.status = FOUND
        answer.best = _front(feasible, search)
        if len(search.objectives) == 1:
            answer.ties = _ties(answer.best[0], feasible, search)
        return answer
    judged = [s for s in measured if not s.verdict.failed]
    if judged:
        answer.status = NONE_FEASIBLE
        answer.closest = sorted(judged, key=lambda s: (s.verdict.total_violation, s.number))[
            :CLOSEST
        ]
    return answer


def _signed(summary: TrialSummary, search: ResolvedSearch) -> list[float]:
    """Objective values, all to be minimized."""
    values = summary.verdict.values or []
    return [v if o.minimize else -v for v, o in zip(values, search.objectives, strict=True)]


def _room(summary: TrialSummary) -> float:
    """The smallest margin to any constraint (normalized like violations; 0 without any)."""
    return min((-check.violation for check in summary.verdict.checks), default=0.0)


def _front(feasible: list[TrialSummary], search: ResolvedSearch) -> list[TrialSummary]:
    if len(search.objectives) == 1:  # equal values: the most room under the constraints
        return [min(feasible, key=lambda s: (_signed(s, search), -_room(s), s.number))]
    points = [(_signed(s, search), s) for s in feasible]
    front = []
    for values, summary in points:
        dominated = any(
            all(o <= v for o, v in zip(other, values, strict=True)) and other != values
            for other, _ in points
        )
        repeated = any(_signed(f, search) == values for f in front)  # equal points: the first
        if not dominated and not repeated:
            front.append(summary)
    return sorted(front, key=lambda s: _signed(s, search))


def _ties(best: TrialSummary, feasible: list[TrialSummary], search: ResolvedSearch) -> list:
    """Feasible trials as good as the best: the same value, or (a median latency) a
    per-round interval that overlaps the best's."""
    reference = search.objectives[0].reference
    low, high = (None, None)
    if reference.column == "latency_p50_ms":
        low, high = _interval(best, reference.batch_size)
    ties = []
    for other in feasible:
        if other is best:
            continue
        if other.verdict.values == best.verdict.values:
            ties.append(other)
            continue
        other_low, other_high = _interval(other, reference.batch_size)
        if low is not None and other_low is not None and other_low <= high and low <= other_high:
            ties.append(other)
    return sorted(ties, key=lambda s: (_signed(s, search), -_room(s), s.number))


def _interval(summary: TrialSummary, batch_size: int | None) -> tuple[Any, Any]:
    row = next((r for r in summary.rows if r.get(col.BATCH_SIZE) == batch_size), None)
    if row is None or row.get(col.LATENCY_P50_LOW_MS) is None or (row.get(col.ROUNDS) or 0) < 2:
        return None, None
    return row[col.LATENCY_P50_LOW_MS], row[col.LATENCY_P50_HIGH_MS]


# -- words ---------------------------------------------------------------------------------


def describe(summary: TrialSummary, search: ResolvedSearch) -> str:
    """``#17 wo[bits=4] (trial 17): 41.2 KiB; accuracy_delta -0.28 pp``."""
    parts = []
    for objective, value in zip(search.objectives, summary.verdict.values or [], strict=False):
        kind = COLUMNS[objective.reference.column].kind
        parts.append(
            f"{objective.reference.label} {format_amount(value, kind)}"
            if math.isfinite(value)
            else f"{objective.reference.label} not timed"
        )
    shown = {o.reference for o in search.objectives}
    for check in summary.verdict.checks:
        reference = check.constraint.reference
        if reference in shown or check.value is None:
            continue
        shown.add(reference)
        kind = COLUMNS[reference.column].kind
        signed = kind == DELTA
        parts.append(f"{reference.label} {format_amount(check.value, kind, signed=signed)}")
    return f"{summary.variant}: " + ", ".join(parts)


def answer_lines(answer: Answer, search: ResolvedSearch) -> list[str]:
    """The answer in words, for the terminal and the report."""
    tried = (
        f"{answer.trials} trials ({answer.feasible} feasible, {answer.failed} failed, "
        f"{answer.repeats} repeats of earlier params)"
    )
    lines = [f"search: {tried}; objectives: {', '.join(answer.objectives)}"]
    for constraint in search.constraints:
        lines.append(f"  constraint {constraint.text}: {constraint.meaning()}")
    if answer.note:
        lines.append(f"  stopped: {answer.note}")
    if answer.status == FOUND:
        title = "best" if len(answer.best) == 1 else f"Pareto front ({len(answer.best)})"
        lines.append(f"{title}:")
        lines += [f"  {describe(s, search)}" for s in answer.best]
        if answer.ties:
            names = ", ".join(s.variant or f"#{s.number}" for s in answer.ties[:5])
            lines.append(f"  ties (the same value, or a latency within its noise): {names}")
    elif answer.status == NONE_FEASIBLE:
        lines.append("no trial meets every constraint; the closest:")
        for summary in answer.closest:
            failures = "; ".join(check.failure() for check in summary.verdict.violated)
            lines.append(f"  {summary.variant}: {failures}")
    elif answer.status == NO_BASELINE:
        lines.append(
            f"no search: the baseline did not measure on {search.target.label} (skipped or "
            "failed, see its row), and trials are judged against it"
        )
    else:
        lines.append("no trial finished")
    return lines


def answer_json(answer: Answer, search: ResolvedSearch) -> dict[str, Any]:
    """The answer as plain data (the run manifest's ``search.answer``)."""

    def entry(summary: TrialSummary) -> dict[str, Any]:
        return {
            "trial": summary.number,
            "variant": summary.variant,
            "job_id": summary.job_id,
            "params": summary.params,
            # a trial stopped before timing has an infinite timed value: null in JSON
            "values": None
            if summary.verdict.values is None
            else [v if math.isfinite(v) else None for v in summary.verdict.values],
            "failures": [check.failure() for check in summary.verdict.violated],
            "text": describe(summary, search),
        }

    return {
        "status": answer.status,
        "best": [entry(s) for s in answer.best],
        "ties": [s.number for s in answer.ties],
        "closest": [entry(s) for s in answer.closest],
        "trials": answer.trials,
        "feasible": answer.feasible,
        "failed": answer.failed,
        "repeats": answer.repeats,
        "note": answer.note,
        "lines": answer_lines(answer, search),
    }
