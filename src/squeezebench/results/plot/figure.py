"""Drawing a figure of scatter panels (points, error bars, the Pareto front) as PNG bytes.

Only matplotlib's object-oriented API with the Agg canvas (no pyplot, no global backend
switch), imported when a figure is drawn.

Each method family has its colour; Pareto-optimal variants are filled, dominated ones hollow,
the baseline is a black star drawn above everything else, and only the baseline and the front
are named, so that a grid of hundreds of variants stays readable.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from squeezebench.results.plot.axes import log_scale, x_limits, y_limits
from squeezebench.results.plot.labels import place_labels
from squeezebench.results.plot.panels import Panel, Point, families

FRONT_COLOR = "#1f5fa8"
DOMINATED_COLOR = "#8a8f98"
DPI = 110

# Okabe-Ito, colour-blind safe; black is the baseline's.
FAMILY_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#F0E442",
    "#999999",
)

BASELINE_STYLE: dict[str, Any] = {
    "s": 190,
    "marker": "*",
    "color": "black",
    "edgecolors": "white",
    "linewidths": 0.7,
    "zorder": 7,  # above the labels' boxes (zorder 5): never hidden
    "clip_on": False,
}


def family_colors(names: Sequence[str]) -> dict[str, str]:
    """A colour per family, in the order given (cycling after eight)."""
    return {name: FAMILY_COLORS[i % len(FAMILY_COLORS)] for i, name in enumerate(names)}


def draw_figure(panels: Sequence[Panel], ncols: int, suptitle: str = "") -> Any:
    """The panels side by side (``ncols`` a row) with one legend under them (a Figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    nrows = math.ceil(len(panels) / ncols)
    figure = Figure(figsize=(7.6 * ncols, 5.8 * nrows + (0.4 if suptitle else 0)), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    colors = family_colors(families(panels))
    drawn = [_scatter(ax, panel, colors) for ax, panel in zip(axes, panels, strict=False)]
    if suptitle:
        figure.suptitle(suptitle, fontsize=13, fontweight="bold")
    handles = [
        Line2D([], [], marker="o", ls="", color=color, markersize=7, label=name)
        for name, color in colors.items()
    ]
    handles += [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            mfc="white",
            mec=DOMINATED_COLOR,
            mew=1.4,
            markersize=7,
            label="hollow: dominated",
        ),
        Line2D([], [], color=FRONT_COLOR, ls="--", alpha=0.6, label="Pareto front"),
        Line2D([], [], marker="*", ls="", color="black", markersize=12, label="baseline"),
    ]
    ncol = min(len(handles), 4 * ncols)
    rows = math.ceil(len(handles) / ncol)
    figure.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False, fontsize=9.5)
    legend_height = (0.045 + 0.035 * rows) / nrows
    figure.tight_layout(rect=(0, legend_height, 1, 1))
    renderer = canvas.get_renderer()
    for ax, points in zip(axes, drawn, strict=False):
        place_labels(ax, points, renderer)
    return figure


def figure_png(panels: Sequence[Panel], ncols: int, suptitle: str = "") -> bytes:
    """:func:`draw_figure` as PNG bytes."""
    figure = draw_figure(panels, ncols, suptitle)
    buffer = io.BytesIO()
    figure.canvas.print_png(buffer)
    return buffer.getvalue()


def log_axis(ax: Any, which: str = "x") -> None:
    """A log axis (``x`` or ``y``) with plain numbers (20, 50, 100), not 2x10^1."""
    from matplotlib.ticker import FuncFormatter

    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(  # only 2 and 5 of each decade: the others would collide
        FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else "")
    )


def _scatter(ax: Any, panel: Panel, colors: dict[str, str]) -> list[Point]:
    """Draw the panel; the points where they were drawn (the ones below a focused axis moved
    onto its lower edge)."""
    ax.set_title(panel.title, fontsize=11.5)
    ax.set_xlabel(panel.xlabel, fontsize=10.5)
    ax.set_ylabel(panel.ylabel, fontsize=10.5)
    ax.grid(True, color="#e6e8eb", linewidth=0.8)
    ax.set_axisbelow(True)
    log = log_scale([p.x for p in panel.points])
    if log:
        log_axis(ax)
    ax.set_xlim(*x_limits(panel.points, log))
    low, high, cut = y_limits(panel.points)
    ax.set_ylim(low, high)
    below = [p for p in panel.points if cut is not None and p.y < cut]
    points = [p for p in panel.points if cut is None or p.y >= cut]
    frontier = sorted({(p.x, p.y) for p in points if p.pareto})
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
        )
    for point in points:
        if point.xerr or point.yerr:
            ax.errorbar(
                point.x,
                point.y,
                xerr=[[point.xerr[0]], [point.xerr[1]]] if point.xerr else None,
                yerr=point.yerr or None,
                fmt="none",
                ecolor="#b5bac2",
                elinewidth=1,
                capsize=2,
                zorder=1.5,
            )
    dominated = [p for p in points if not p.baseline and not p.pareto]
    optimal = [p for p in points if not p.baseline and p.pareto]
    if dominated:  # hollow, under the front's filled points
        ax.scatter(
            [p.x for p in dominated],
            [p.y for p in dominated],
            s=34,
            facecolors="white",
            edgecolors=[colors[p.family] for p in dominated],
            linewidths=1.2,
            alpha=0.85,
            zorder=3,
            clip_on=False,
        )
    if optimal:
        ax.scatter(
            [p.x for p in optimal],
            [p.y for p in optimal],
            s=58,
            color=[colors[p.family] for p in optimal],
            edgecolors="black",
            linewidths=0.6,
            zorder=4,
            clip_on=False,
        )
    baseline = [p for p in points if p.baseline]
    if baseline:
        ax.scatter([p.x for p in baseline], [p.y for p in baseline], **BASELINE_STYLE)
    if below:
        ax.scatter(
            [p.x for p in below],
            [low] * len(below),
            s=30,
            marker="v",
            facecolors="white",
            edgecolors=[colors[p.family] for p in below],
            linewidths=1.1,
            zorder=3,
            clip_on=False,
        )
        plural = "s" if len(below) > 1 else ""
        ax.set_xlabel(
            f"{panel.xlabel}\n▼ {len(below)} less accurate variant{plural} (below {low:.1f}%)"
            " drawn on the lower edge",
            fontsize=10.5,
        )
    return points + [replace(p, y=low) for p in below]
