"""Judging one metric of one matched row: regression, improvement, or neither.

Latency needs both the threshold and a one-sided Welch t-test on the logarithms of the
per-round medians (``latency_round_p50_ms``; each round is a fresh process, so the rounds are
independent where the samples inside one process are not). Fewer than two rounds on a side,
a row measured under contention or drift, or rows measured on different hardware (CPU
model or GPU), make a latency change *inconclusive*, never a regression; the last three do so
whatever the change, since a timing that cannot be trusted can neither convict nor clear.
Size and quality are deterministic and judged on the threshold alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from squeezebench.results import columns as col
from squeezebench.results.compare.model import (
    IMPROVEMENT,
    INCONCLUSIVE,
    INFO,
    NOT_SIGNIFICANT,
    REGRESSION,
    UNCHANGED,
    WITHIN,
    Change,
    Metric,
)
from squeezebench.results.formatting import number_or_none

_EPSILON = 1e-12


def rounds_p_value(new: Sequence[float], baseline: Sequence[float], alternative: str) -> float:
    """One-sided Welch t-test of log(new) against log(baseline) round medians.

    ``alternative`` is ``greater`` (new slower) or ``less`` (new faster). Logarithms make
    a slowdown of x% the same shift for fast and slow variants. When neither side varies at
    all the test is undefined: equal sides give 1, different ones 0.
    """
    new_logs = [math.log(v) for v in new]
    base_logs = [math.log(v) for v in baseline]
    if len(set(new_logs)) == 1 and len(set(base_logs)) == 1:
        shift = new_logs[0] - base_logs[0]
        holds = shift > 0 if alternative == "greater" else shift < 0
        return 0.0 if holds else 1.0
    from scipy.stats import ttest_ind

    result = ttest_ind(new_logs, base_logs, equal_var=False, alternative=alternative)
    return float(result.pvalue)


def _round_medians(row: dict[str, Any]) -> list[float]:
    values = row.get(col.LATENCY_ROUND_P50_MS)
    return [float(v) for v in values if v and v > 0] if values is not None else []


def hardware_difference(base_row: dict[str, Any], new_row: dict[str, Any]) -> str | None:
    """How the hardware that measured two rows differs (CPU model, GPU), or None."""
    differences = []
    for column, what in (("cpu_model", "CPU"), ("gpu_name", "GPU")):
        before, after = base_row.get(column), new_row.get(column)
        if before and after and before != after:
            differences.append(f"{what} {before} vs {after}")
    return ", ".join(differences) or None


def _conditions(base_row: dict[str, Any], new_row: dict[str, Any]) -> str | None:
    """Why the rows' latencies cannot be trusted for a verdict, or None."""
    hardware = hardware_difference(base_row, new_row)
    reasons = [f"different hardware: {hardware}"] if hardware else []
    for side, row in (("baseline", base_row), ("new", new_row)):
        if row.get(col.CONTENDED):
            reasons.append(f"{side} measured under contention")
        if row.get(col.DRIFTED):
            reasons.append(f"machine speed drifted during the {side} run")
    return "; ".join(reasons) or None


def judge(
    metric: Metric,
    base_row: dict[str, Any],
    new_row: dict[str, Any],
    threshold: float | None,
    alpha: float,
) -> Change | None:
    """The change of ``metric`` between two rows and its verdict; None when both lack it."""
    baseline = number_or_none(base_row.get(metric.column))
    new = number_or_none(new_row.get(metric.column))
    if baseline is None and new is None:
        return None
    change = Change(
        job_id=str(new_row[col.JOB_ID]),
        variant=str(new_row[col.VARIANT]),
        target=str(new_row[col.TARGET]),
        batch_size=int(new_row[col.BATCH_SIZE]) if metric.per_batch else None,
        metric=metric,
        baseline=math.nan if baseline is None else baseline,
        new=math.nan if new is None else new,
        threshold=threshold,
        verdict=INFO,
    )
    if baseline is None or new is None:
        change.note = "missing on one side"
        return change
    if metric.kind == "info" and threshold is None:
        return change
    if metric.column.startswith("latency_"):
        untrusted = _conditions(base_row, new_row)
        if untrusted:  # an untrusted timing can neither clear nor convict, however it moved
            change.verdict = INCONCLUSIVE
            change.note = untrusted
            return change
    worse_by = (new - baseline) if metric.lower_is_better else (baseline - new)
    if metric.relative:
        worse = (worse_by / abs(new) if new else 0.0) if baseline == 0 else worse_by / abs(baseline)
    else:
        worse = worse_by
    limit = threshold or 0.0
    if abs(worse) <= _EPSILON:
        change.verdict = UNCHANGED
        return change
    beyond = abs(worse) > limit + _EPSILON
    if not beyond:
        change.verdict = WITHIN
        return change
    direction = REGRESSION if worse > 0 else IMPROVEMENT
    if metric.column.startswith("latency_"):
        return _judge_latency(change, metric, base_row, new_row, direction, alpha)
    change.verdict = direction
    return change


def _judge_latency(
    change: Change,
    metric: Metric,
    base_row: dict[str, Any],
    new_row: dict[str, Any],
    direction: str,
    alpha: float,
) -> Change:
    """A latency change beyond the threshold: regression or improvement only when the
    rounds say so, else inconclusive or not significant (the conditions held: see judge)."""
    if metric.column != "latency_p50_ms":
        change.verdict = direction
        change.note = "judged on the threshold alone (tail latency has no per-round test)"
        return change
    base_rounds, new_rounds = _round_medians(base_row), _round_medians(new_row)
    if len(base_rounds) < 2 or len(new_rounds) < 2:
        change.verdict = INCONCLUSIVE
        change.note = (
            f"fewer than 2 independent rounds (baseline {len(base_rounds)}, new "
            f"{len(new_rounds)}): set benchmark.rounds >= 2"
        )
        return change
    alternative = "greater" if direction == REGRESSION else "less"
    change.p_value = rounds_p_value(new_rounds, base_rounds, alternative)
    change.verdict = direction if change.p_value < alpha else NOT_SIGNIFICANT
    noisy = [side for side, row in (("baseline", base_row), ("new", new_row)) if row.get(col.NOISY)]
    if noisy:
        change.note = f"noisy ({', '.join(noisy)})"
    return change
