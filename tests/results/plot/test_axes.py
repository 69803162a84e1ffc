"""Axis ranges: padded, clamped to the metric's range, focused on the Pareto front."""

from __future__ import annotations

import pytest

from squeezebench.results.plot.axes import (
    ACCURACY_BOUNDS,
    COST_BOUNDS,
    accuracy_focus,
    axis_range,
    log_scale,
    y_limits,
)
from squeezebench.results.plot.panels import Point


def _point(y: float, pareto: bool = False, baseline: bool = False, yerr: float | None = None):
    return Point("v", 1.0, y, None, yerr, baseline, pareto)


def test_accuracy_never_beyond_0_or_100() -> None:
    low, high = axis_range([20.0, 99.6], [20.0, 99.9], ACCURACY_BOUNDS)
    assert 0 <= low < 20 and 99.9 < high <= 100
    assert axis_range([100.0], [100.0], ACCURACY_BOUNDS)[1] == 100  # no 110 %
    low, high = axis_range([0.0, 3.0], [0.5, 4.0], ACCURACY_BOUNDS)
    assert low == 0 and high > 4


def test_costs_never_below_zero_and_log_stays_positive() -> None:
    low, high = axis_range([0.01, 5.0], [0.01, 5.0], COST_BOUNDS)
    assert low == 0 and high > 5
    low, high = axis_range([0.01, 5.0], [0.01, 5.0], COST_BOUNDS, log=True)
    assert 0 < low < 0.01 and high > 5
    assert log_scale([1.0, 20.0]) and not log_scale([1.0, 19.0]) and not log_scale([0.0, 50.0])
    with pytest.raises(ValueError):
        axis_range([], [])


def test_single_value_gets_room() -> None:
    low, high = axis_range([50.0], [50.0], ACCURACY_BOUNDS)
    assert low < 50 < high


def test_focus_on_the_front_when_collapsed_variants_squash_it() -> None:
    points = [
        _point(99.3, baseline=True),
        _point(98.7, pareto=True),
        _point(99.0),
        *(_point(y) for y in (20.0, 35.0, 60.0)),
    ]
    low, high, cut = y_limits(points)
    assert cut == low and 95 < cut < 98.7  # at least 2 pp below the lowest named point
    assert high <= 100
    # A named point far down (a tiny, inaccurate variant on the front): everything shown.
    points.append(_point(19.0, pareto=True))
    low, high, cut = y_limits(points)
    assert cut is None and 0 <= low < 19
    # Nothing far below: no focus.
    assert accuracy_focus([99.3, 98.7], [99.3, 98.7, 97.0]) is None
    assert accuracy_focus([], [1.0]) is None


def test_error_bars_stay_inside_the_clamped_range() -> None:
    points = [_point(99.8, baseline=True, yerr=0.5), _point(60.0, pareto=True, yerr=70.0)]
    low, high, cut = y_limits(points)
    assert cut is None and low == 0 and high == 100
