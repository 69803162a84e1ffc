"""Pareto optimality of variants: smaller (or faster) and more accurate is better.

Costs (size, latency) are minimised, gains (accuracy) maximised. A cost is either exact (a
plain number: bytes are deterministic) or measured (an :class:`Interval`: a latency with the
lowest and highest median of its independent timing rounds). Measured costs that differ by less
than their noise are ties, not wins:

- both have an interval: A beats B only when A's interval lies entirely below B's
  (``A.high < B.low``);
- otherwise (older results, a single round): A beats B when B's value is more than ``margin``
  (relative, e.g. the spec's ``noise_threshold``) above A's: ``B.value > A.value * (1 + margin)``;
  with ``margin`` 0 this is the plain ``A.value < B.value``.

A dominates B when it is not beaten by B on cost, at least as accurate, and beats B on cost
or is strictly more accurate. Gains are compared exactly. With every value inside its interval
(a median of all samples lies between the lowest and highest per-round median), dominance
never forms a cycle, so among usable points at least one is optimal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A measured cost: its central value (median) and, when known, the range it moved in."""

    value: float
    low: float | None = None
    high: float | None = None

    @property
    def bounded(self) -> bool:
        """Whether it has a usable interval (both ends, low <= high)."""
        return _usable(self.low) and _usable(self.high) and self.low <= self.high  # type: ignore[operator]


Cost = float | Interval | None


def _usable(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _interval(cost: Cost) -> Interval | None:
    if isinstance(cost, Interval):
        return cost if _usable(cost.value) else None
    return Interval(float(cost)) if _usable(cost) else None


def beats(a: Cost, b: Cost, margin: float = 0.0) -> bool:
    """Whether cost ``a`` is lower than cost ``b`` by more than their noise (see the module)."""
    first, second = _interval(a), _interval(b)
    if first is None or second is None:
        return False
    if first.bounded and second.bounded:
        return first.high < second.low  # type: ignore[operator]
    return second.value > first.value * (1 + margin)


def dominates(a: tuple[Cost, float], b: tuple[Cost, float], margin: float = 0.0) -> bool:
    """Whether point ``a`` = (cost, gain) dominates point ``b`` (see the module)."""
    (cost_a, gain_a), (cost_b, gain_b) = a, b
    if beats(cost_b, cost_a, margin) or gain_a < gain_b:
        return False
    return beats(cost_a, cost_b, margin) or gain_a > gain_b


def pareto_optimal(
    costs: Sequence[Cost], gains: Sequence[float | None], margin: float = 0.0
) -> list[bool]:
    """For each point, whether no other point dominates it.

    ``costs`` are plain numbers (compared exactly, or within ``margin``) or :class:`Interval`
    (compared by their intervals where both have one). Points with a missing (None or NaN)
    cost or gain are never optimal. Identical points are all optimal.
    """
    if len(costs) != len(gains):
        raise ValueError("costs and gains must have the same length")
    if margin < 0:
        raise ValueError("margin must not be negative")
    points = [
        (cost, float(gain)) if _interval(cost) is not None and _usable(gain) else None
        for cost, gain in zip(costs, gains, strict=True)
    ]
    return [
        point is not None
        and not any(
            other is not None and j != i and dominates(other, point, margin)
            for j, other in enumerate(points)
        )
        for i, point in enumerate(points)
    ]
