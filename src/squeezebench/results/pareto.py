"""Pareto optimality of variants: smaller (or faster) and more accurate is better."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _usable(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def pareto_optimal(costs: Sequence[float | None], gains: Sequence[float | None]) -> list[bool]:
    """For each point, whether no other point dominates it.

    A point dominates another when its cost (size, latency: minimised) is at most the other's
    and its gain (accuracy: maximised) at least the other's, one of them strictly. Points
    with a missing (None or NaN) value are never optimal. Identical points are all optimal.
    """
    if len(costs) != len(gains):
        raise ValueError("costs and gains must have the same length")
    points = [
        (cost, gain) if _usable(cost) and _usable(gain) else None
        for cost, gain in zip(costs, gains, strict=True)
    ]
    optimal = []
    for point in points:
        if point is None:
            optimal.append(False)
            continue
        cost, gain = point
        dominated = any(
            other is not None
            and other[0] <= cost
            and other[1] >= gain
            and (other[0] < cost or other[1] > gain)
            for other in points
        )
        optimal.append(not dominated)
    return optimal


def front(costs: Sequence[float], gains: Sequence[float]) -> list[tuple[float, float]]:
    """The Pareto-optimal points, by increasing cost (and gain), duplicates removed."""
    optimal = pareto_optimal(costs, gains)
    return sorted({(c, g) for c, g, o in zip(costs, gains, optimal, strict=True) if o})
