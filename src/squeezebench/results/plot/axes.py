"""Axis ranges of the report plots: every point visible, padded, never beyond the metric's range.

Pure arithmetic (no matplotlib, no plotly), shared by the static and the interactive plots.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from squeezebench.results.plot.panels import Point

ACCURACY_BOUNDS = (0.0, 100.0)
"""An accuracy axis (in %) never shows less than 0 or more than 100."""

COST_BOUNDS = (0.0, None)
"""Sizes and latencies are never negative."""

LOG_RATIO = 20.0
"""A cost axis is logarithmic when its largest value is at least this many times its smallest."""


def log_scale(values: Sequence[float]) -> bool:
    """Whether the values (all positive) spread over so many times that a log axis reads better."""
    return bool(values) and min(values) > 0 and max(values) / min(values) >= LOG_RATIO


def axis_range(
    lows: Sequence[float],
    highs: Sequence[float],
    bounds: tuple[float | None, float | None] = (None, None),
    log: bool = False,
    pad: float = 0.08,
) -> tuple[float, float]:
    """Limits showing every ``[low, high]`` (a value with its error bar), ``pad`` of the span
    added on each side, then clamped to ``bounds`` (None: open).

    A single value (no span) gets room proportional to its size. On a log axis the padding is
    in decades and the limits stay positive.
    """
    if not lows or not highs:
        raise ValueError("no values to show")
    low_bound, high_bound = bounds
    low, high = min(lows), max(highs)
    if log:
        positive = [x for x in lows if x > 0] or [x for x in highs if x > 0] or [1.0]
        low, high = math.log10(max(low, min(positive))), math.log10(max(high, min(positive)))
        span = max(high - low, 0.2)
        start, end = 10 ** (low - pad * span), 10 ** (high + pad * span)
    else:
        span = high - low or max(abs(high) * 0.02, 0.5)
        start, end = low - pad * span, high + pad * span
    if low_bound is not None:
        start = max(start, low_bound) if not log or low_bound > 0 else start
    if high_bound is not None:
        end = min(end, high_bound)
    if end <= start:  # cannot happen for values inside the bounds; stay drawable anyway
        end = start + 1.0
    return start, end


FOCUS_MIN_PP = 2.0
"""Least room, in percentage points, left below the lowest named point when focusing."""


def accuracy_focus(named: Sequence[float], values: Sequence[float]) -> float | None:
    """Where a focused accuracy axis starts, None when it should show every value.

    Variants far less accurate than the Pareto front squash the front into a sliver at the
    top of the axis. The axis then starts below the lowest named point (front or baseline) by
    the named points' span, at least :data:`FOCUS_MIN_PP`; the static plots draw the variants
    below it on the axis' lower edge, the interactive ones leave them to a zoom out.
    """
    if not named or not values:
        return None
    span = max(named) - min(named)
    cut = min(named) - max(span, FOCUS_MIN_PP)
    low, high = min(values), max(values)
    # Only worth it when the hidden part would take most of the axis.
    if low >= cut or (high - cut) > 0.5 * (high - low):
        return None
    return max(cut, ACCURACY_BOUNDS[0])


def x_limits(points: Sequence[Point], log: bool) -> tuple[float, float]:
    """Every point and its error bar, padded for labels, never below 0."""
    lows = [p.x - (p.xerr[0] if p.xerr else 0.0) for p in points]
    highs = [p.x + (p.xerr[1] if p.xerr else 0.0) for p in points]
    return axis_range(lows, highs, COST_BOUNDS, log=log, pad=0.1)


def y_limits(points: Sequence[Point]) -> tuple[float, float, float | None]:
    """Accuracy limits within 0-100% and where a focused axis cuts (None: all shown).

    Every accuracy and its error bar, padded; or, when the variants far below the Pareto front
    would squash it (:func:`~squeezebench.results.plot.axes.accuracy_focus`), from the cut up.
    """
    cut = accuracy_focus([p.y for p in points if p.labelled], [p.y for p in points])
    shown = [p for p in points if cut is None or p.y >= cut]
    lows = [p.y - (p.yerr or 0.0) for p in shown]
    highs = [p.y + (p.yerr or 0.0) for p in shown]
    low, high = axis_range(lows, highs, ACCURACY_BOUNDS, pad=0.08)
    return (low if cut is None else cut), high, cut
