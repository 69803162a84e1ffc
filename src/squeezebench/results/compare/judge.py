"""Judging one metric of one matched row: regression, improvement, or neither.

Latency needs both the threshold and a one-sided Mann-Whitney U test on the raw samples
(scipy, imported when a test is run); size and quality are judged on the threshold alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from squeezebench.results.compare.model import (
    IMPROVEMENT,
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


def _mann_whitney(new: Sequence[float], baseline: Sequence[float], alternative: str) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(new, baseline, alternative=alternative).pvalue)


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
        job_id=str(new_row["job_id"]),
        variant=str(new_row["variant"]),
        target=str(new_row["target"]),
        batch_size=int(new_row["batch_size"]) if metric.per_batch else None,
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
        samples_base = base_row.get("latency_samples_ms") or []
        samples_new = new_row.get("latency_samples_ms") or []
        if len(samples_base) and len(samples_new):
            alternative = "greater" if direction == REGRESSION else "less"
            change.p_value = _mann_whitney(samples_new, samples_base, alternative)
            if not change.p_value < alpha:
                change.verdict = NOT_SIGNIFICANT
                return change
        else:
            change.note = "no raw samples: judged on the threshold alone"
    change.verdict = direction
    noisy = [side for side, row in (("baseline", base_row), ("new", new_row)) if row.get("noisy")]
    if noisy and metric.column.startswith("latency_"):
        change.note = (change.note + "; " if change.note else "") + f"noisy ({', '.join(noisy)})"
    return change
