"""Drawing a figure of scatter panels (points, error bars, the Pareto front) as PNG bytes.

Only matplotlib's object-oriented API with the Agg canvas (no pyplot, no global backend
switch), imported when a figure is drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from squeezebench.results.pareto import front
from squeezebench.results.plot.labels import place_labels

FRONT_COLOR = "#1f5fa8"
DOMINATED_COLOR = "#8a8f98"
DPI = 110


@dataclass
class Point:
    """A variant in a panel: its label, position, error bars, and how to mark it."""

    label: str
    x: float
    y: float
    xerr: float | None
    yerr: float | None
    baseline: bool
    pareto: bool


Panel = tuple[str, str, str, list[Point]]
"""A panel's title, x label, y label and points."""


def figure_png(panels: Sequence[Panel], ncols: int, suptitle: str = "") -> bytes:
    """The panels side by side (``ncols`` a row) with one legend under them, as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    nrows = math.ceil(len(panels) / ncols)
    figure = Figure(figsize=(7.6 * ncols, 5.6 * nrows + (0.4 if suptitle else 0)), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax, (title, xlabel, ylabel, points) in zip(axes, panels, strict=False):
        _scatter(ax, points, title, xlabel, ylabel)
    if suptitle:
        figure.suptitle(suptitle, fontsize=13, fontweight="bold")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=9.5
    )
    figure.tight_layout(rect=(0, 0.06 / nrows, 1, 1))
    renderer = canvas.get_renderer()
    for ax, (_, _, _, points) in zip(axes, panels, strict=False):
        place_labels(ax, points, renderer)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


# How each kind of point is drawn, in legend order: Pareto-optimal, dominated, baseline.
_MARKERS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "Pareto-optimal",
        {"s": 56, "color": FRONT_COLOR, "edgecolors": "white", "linewidths": 0.8, "zorder": 3},
    ),
    (
        "dominated",
        {
            "s": 52,
            "facecolors": "white",
            "edgecolors": DOMINATED_COLOR,
            "linewidths": 1.5,
            "zorder": 3,
        },
    ),
    (
        # Slightly transparent, so that a variant at (almost) the same point stays visible.
        "baseline",
        {
            "s": 170,
            "marker": "*",
            "color": "black",
            "alpha": 0.8,
            "edgecolors": "white",
            "linewidths": 0.5,
            "zorder": 4,
        },
    ),
)


def _kind(point: Point) -> str:
    if point.baseline:
        return "baseline"
    return "Pareto-optimal" if point.pareto else "dominated"


def _scatter(ax: Any, points: list[Point], title: str, xlabel: str, ylabel: str) -> None:
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    ax.set_title(title, fontsize=11.5)
    ax.set_xlabel(xlabel, fontsize=10.5)
    ax.set_ylabel(ylabel, fontsize=10.5)
    ax.grid(True, color="#e6e8eb", linewidth=0.8)
    ax.set_axisbelow(True)
    positive = [x for x in xs if x > 0]
    if positive and len(positive) == len(xs) and max(positive) / min(positive) >= 20:
        ax.set_xscale("log")
    _limits(ax, xs, ys)
    frontier = front(xs, ys)
    if frontier:
        # The staircase bounding the dominated region, run out to the plot's edges.
        (low_y, _), (_, high_x) = (ax.get_ylim(), ax.get_xlim())
        fx = [frontier[0][0]] + [x for x, _ in frontier] + [high_x]
        fy = [low_y] + [y for _, y in frontier] + [frontier[-1][1]]
        ax.step(
            fx,
            fy,
            where="post",
            color=FRONT_COLOR,
            alpha=0.5,
            linewidth=1.5,
            zorder=1,
            linestyle="--",
            label="Pareto front",
        )
    for point in points:
        if point.xerr or point.yerr:
            ax.errorbar(
                point.x,
                point.y,
                xerr=point.xerr or None,
                yerr=point.yerr or None,
                fmt="none",
                ecolor="#b5bac2",
                elinewidth=1,
                capsize=2,
                zorder=1.5,
            )
    for label, style in _MARKERS:
        chosen = [p for p in points if _kind(p) == label]
        if chosen:
            ax.scatter([p.x for p in chosen], [p.y for p in chosen], **style, label=label)


def _limits(ax: Any, xs: list[float], ys: list[float]) -> None:
    """Room around the points for their labels, then freeze the limits."""
    if ax.get_xscale() == "log":
        low, high = math.log10(min(xs)), math.log10(max(xs))
        pad = max(high - low, 0.2) * 0.22
        ax.set_xlim(10 ** (low - pad), 10 ** (high + pad))
    else:
        low, high = min(xs), max(xs)
        span = high - low or max(abs(high) * 0.2, 1e-9)
        ax.set_xlim(max(low - 0.25 * span, 0 if low >= 0 else -math.inf), high + 0.25 * span)
    low, high = min(ys), max(ys)
    span = high - low or max(abs(high) * 0.01, 0.5)
    ax.set_ylim(low - 0.22 * span, high + 0.22 * span)
