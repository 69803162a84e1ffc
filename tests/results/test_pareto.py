"""Pareto marks: exact costs, measured costs with round intervals, and the noise margin."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squeezebench.results.pareto import Interval, beats, dominates, pareto_optimal


def test_exact_costs() -> None:
    sizes = [10.0, 5.0, 5.0, 20.0, None, 5.0]
    accuracy = [0.9, 0.8, 0.8, 0.95, 0.99, float("nan")]
    assert pareto_optimal(sizes, accuracy) == [True, True, True, True, False, False]
    assert pareto_optimal([1.0, 2.0], [0.9, 0.8]) == [True, False]  # smaller and better
    assert pareto_optimal([1.0, 1.0], [0.9, 0.8]) == [True, False]  # same size, better
    assert pareto_optimal([1.0, 1.0001], [0.9, 0.9]) == [True, False]  # sizes: no noise


def test_overlapping_intervals_tie() -> None:
    fast = Interval(0.065, 0.063, 0.070)
    slow = Interval(0.068, 0.066, 0.072)  # slower median, but the intervals overlap
    assert not beats(fast, slow) and not beats(slow, fast)
    assert pareto_optimal([fast, slow], [0.99, 0.99]) == [True, True]
    # A tie on latency still loses to a more accurate variant.
    assert pareto_optimal([fast, slow], [0.98, 0.99]) == [False, True]


def test_disjoint_intervals_dominate() -> None:
    fast = Interval(0.065, 0.063, 0.066)
    slow = Interval(0.068, 0.067, 0.070)  # lies entirely above: slower beyond the noise
    assert beats(fast, slow) and not beats(slow, fast)
    assert pareto_optimal([fast, slow], [0.99, 0.99]) == [True, False]
    assert pareto_optimal([fast, slow], [0.99, 0.995]) == [True, True]  # slower, more accurate
    touching = Interval(0.068, 0.066, 0.070)  # high == low is not entirely below
    assert not beats(Interval(0.065, 0.063, 0.066), touching)


def test_intervals_are_used_even_when_wide() -> None:
    """The margin only applies without intervals: a far lower median in a wide interval ties."""
    wide = Interval(0.050, 0.040, 0.100)
    assert not beats(wide, Interval(0.090, 0.085, 0.095), margin=0.1)
    assert beats(0.050, 0.090, margin=0.1)


def test_without_intervals_the_margin_decides() -> None:
    assert not beats(0.100, 0.109, margin=0.1)  # 9 % slower: within the noise threshold
    assert beats(0.100, 0.111, margin=0.1)  # 11 % slower: beyond
    assert beats(0.100, 0.109)  # no margin: plain comparison
    assert pareto_optimal([0.100, 0.109], [0.9, 0.9], margin=0.1) == [True, True]
    assert pareto_optimal([0.100, 0.109], [0.9, 0.9]) == [True, False]
    # One round only (no interval on one side): falls back to the margin.
    one_round = Interval(0.109)
    assert pareto_optimal([Interval(0.100, 0.099, 0.101), one_round], [0.9, 0.9], 0.1) == [
        True,
        True,
    ]
    with pytest.raises(ValueError, match="margin"):
        pareto_optimal([1.0], [1.0], margin=-0.1)


def test_missing_values_are_never_optimal_and_never_dominate() -> None:
    costs = [None, Interval(float("nan")), Interval(0.1, 0.09, 0.11), 0.2, 0.05]
    gains = [0.99, 0.99, 0.9, None, float("nan")]
    assert pareto_optimal(costs, gains) == [False, False, True, False, False]
    assert not beats(None, 0.1) and not beats(0.1, None)
    assert not Interval(0.1, None, 0.2).bounded and not Interval(0.1, 0.3, 0.2).bounded
    with pytest.raises(ValueError, match="same length"):
        pareto_optimal([1.0], [])


def test_dominates_needs_no_loss_anywhere() -> None:
    assert dominates((1.0, 0.9), (2.0, 0.9))
    assert not dominates((1.0, 0.8), (2.0, 0.9))  # faster but less accurate
    assert not dominates((1.0, 0.9), (1.0, 0.9))  # identical


costs = st.one_of(
    st.none(),
    st.floats(0.01, 10),
    st.builds(
        lambda low, width, at: Interval(low + width * at, low, low + width),
        st.floats(0.01, 10),
        st.floats(0, 2),
        st.floats(0, 1),
    ),
)


@given(
    st.lists(st.tuples(costs, st.one_of(st.none(), st.floats(0, 1))), min_size=1, max_size=12),
    st.sampled_from([0.0, 0.05, 0.1, 0.5]),
)
def test_some_usable_point_is_always_optimal(points, margin) -> None:
    """Dominance with ties never cycles: a usable point survives, and marks are consistent."""
    cost_list = [c for c, _ in points]
    gain_list = [g for _, g in points]
    marks = pareto_optimal(cost_list, gain_list, margin)
    usable = [
        c is not None and g is not None and not (isinstance(c, float) and math.isnan(c))
        for c, g in points
    ]
    assert any(marks) == any(usable)
    for i, mark in enumerate(marks):
        if mark:
            assert usable[i]
            assert not any(
                usable[j] and dominates(points[j], points[i], margin) for j in range(len(points))
            )
