"""Report plots: size vs accuracy and latency vs accuracy, per model and target.

matplotlib is imported only when a plot is drawn, and only its object-oriented API with the
Agg canvas (no pyplot, no global backend switch), so the CLI starts without it and a report
can be drawn from a program that uses another backend. Install it with
``pip install squeezebench[report]``.

Every plot marks the baseline with a black star, the Pareto-optimal variants filled (blue),
dominated ones hollow (grey), and draws the Pareto front as a staircase. Variant labels are
placed greedily where they overlap neither each other nor the points; variants at the very
same point share one label.
"""

from __future__ import annotations

import importlib.util
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.results.pareto import front

FRONT_COLOR = "#1f5fa8"
DOMINATED_COLOR = "#8a8f98"
DPI = 110


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


@dataclass
class PlotImage:
    """A PNG written next to the report."""

    group: str
    kind: str
    path: Path
    png: bytes
    alt: str
    caption: str


@dataclass
class _Point:
    label: str
    x: float
    y: float
    xerr: float | None
    yerr: float | None
    baseline: bool
    pareto: bool


def _size_unit(values: Sequence[float]) -> tuple[str, float]:
    return ("MiB", 1024.0**2) if max(values) >= 10 * 1024**2 else ("KiB", 1024.0)


def _accuracy_label(metric: str | None) -> str:
    name = {"top1": "top-1 accuracy"}.get(
        metric or "", f"{metric} accuracy" if metric else "accuracy"
    )
    return f"{name} (%)"


def render_plots(report: Any, directory: Path, stem: str) -> list[PlotImage]:
    """Draw every group's plots, write them as ``<stem>-<group>-<kind>.png`` in ``directory``."""
    images = []
    for group in report.groups:
        if not group.has_accuracy:
            continue
        measured = [v for v in group.variants if v.measured and v.accuracy.mean is not None]
        if not measured:
            continue
        skipped = [v.name for v in group.variants if not v.measured]
        left_out = f" Not plotted (failed or skipped): {', '.join(skipped)}." if skipped else ""
        accuracy_label = _accuracy_label(group.metric)

        sizes = [v.shipped.mean for v in measured if v.shipped.mean is not None]
        if sizes:
            unit, scale = _size_unit(sizes)
            points = [
                _Point(
                    v.name,
                    v.shipped.mean / scale,
                    100 * v.accuracy.mean,
                    None if v.shipped.std is None else v.shipped.std / scale,
                    None if v.accuracy.std is None else 100 * v.accuracy.std,
                    v.is_baseline,
                    v.pareto_size,
                )
                for v in measured
                if v.shipped.mean is not None
            ]
            encoded = any(v.encoded.n for v in measured)
            xlabel = f"{'shipped (encoded)' if encoded else 'artifact'} size ({unit})"
            png = _figure(
                [(f"size vs accuracy: {group.title}", xlabel, accuracy_label, points)], ncols=1
            )
            images.append(
                _save(
                    directory,
                    stem,
                    group.slug,
                    "size-accuracy",
                    png,
                    f"size vs accuracy, {group.title}",
                    "Size vs accuracy: smaller (left) and more accurate (up) is better; the line"
                    " is the Pareto front." + left_out,
                )
            )

        panels = []
        for batch in group.batch_sizes:
            points = []
            for v in measured:
                at = v.batches.get(batch)
                if at is None or at.p50.mean is None:
                    continue
                points.append(
                    _Point(
                        v.name,
                        at.p50.mean,
                        100 * v.accuracy.mean,
                        at.p50.std,
                        None if v.accuracy.std is None else 100 * v.accuracy.std,
                        v.is_baseline,
                        at.pareto,
                    )
                )
            if points:
                panels.append(
                    (
                        f"batch size {batch}",
                        f"p50 latency per batch of {batch} (ms)",
                        accuracy_label,
                        points,
                    )
                )
        if panels:
            png = _figure(
                panels, ncols=min(2, len(panels)), suptitle=f"latency vs accuracy: {group.title}"
            )
            images.append(
                _save(
                    directory,
                    stem,
                    group.slug,
                    "latency-accuracy",
                    png,
                    f"latency vs accuracy, {group.title}",
                    "Median latency vs accuracy per batch size: faster (left) and more accurate"
                    " (up) is better; the line is the Pareto front." + left_out,
                )
            )
    return images


def _save(
    directory: Path, stem: str, slug: str, kind: str, png: bytes, alt: str, caption: str
) -> PlotImage:
    path = directory / f"{stem}-{slug}-{kind}.png"
    path.write_bytes(png)
    return PlotImage(slug, kind, path, png, alt, caption)


def _figure(
    panels: Sequence[tuple[str, str, str, list[_Point]]], ncols: int, suptitle: str = ""
) -> bytes:
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
        _place_labels(ax, points, renderer)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def _scatter(ax: Any, points: list[_Point], title: str, xlabel: str, ylabel: str) -> None:
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
    optimal = [p for p in points if p.pareto and not p.baseline]
    dominated = [p for p in points if not p.pareto and not p.baseline]
    baseline = [p for p in points if p.baseline]
    if optimal:
        ax.scatter(
            [p.x for p in optimal],
            [p.y for p in optimal],
            s=56,
            color=FRONT_COLOR,
            edgecolors="white",
            linewidths=0.8,
            zorder=3,
            label="Pareto-optimal",
        )
    if dominated:
        ax.scatter(
            [p.x for p in dominated],
            [p.y for p in dominated],
            s=52,
            facecolors="white",
            edgecolors=DOMINATED_COLOR,
            linewidths=1.5,
            zorder=3,
            label="dominated",
        )
    if baseline:
        # Slightly transparent, so that a variant at (almost) the same point stays visible.
        ax.scatter(
            [p.x for p in baseline],
            [p.y for p in baseline],
            s=170,
            marker="*",
            color="black",
            alpha=0.8,
            edgecolors="white",
            linewidths=0.5,
            zorder=4,
            label="baseline",
        )


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


_DIRECTIONS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
_RADII = (7, 16, 28, 42, 60)


def _place_labels(ax: Any, points: list[_Point], renderer: Any) -> None:
    """Annotate every point (coincident points share one label) without overlaps.

    Candidate places around each point, nearest first, are scored by how much the label
    overlaps other labels, other points and the outside of the axes, whether it could be
    mistaken for another point's label (no leader line), and whether its leader line crosses
    other points or labels; the first place without any of these wins, else the cheapest.
    """
    from matplotlib.transforms import Bbox

    display = ax.transData.transform([(p.x, p.y) for p in points])
    clusters: list[list[int]] = []
    for index, (px, py) in enumerate(display):
        for cluster in clusters:
            cx, cy = display[cluster[0]]
            if abs(cx - px) < 4 and abs(cy - py) < 4:
                cluster.append(index)
                break
        else:
            clusters.append([index])
    marker = 8.0
    obstacles = [
        Bbox.from_extents(x - marker, y - marker, x + marker, y + marker) for x, y in display
    ]
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []

    def crowding(cluster: list[int]) -> float:  # crowded points first: fewest free places
        x, y = display[cluster[0]]
        return -sum(1 for ox, oy in display if abs(ox - x) < 120 and abs(oy - y) < 60)

    for cluster in sorted(clusters, key=crowding):
        names = [points[i].label for i in cluster]
        text = "\n".join(sorted(names, key=lambda n: (n != "baseline", n)))
        anchor = (points[cluster[0]].x, points[cluster[0]].y)
        target = (float(display[cluster[0]][0]), float(display[cluster[0]][1]))
        others = [o for i, o in enumerate(obstacles) if i not in cluster]
        best: tuple[float, Any, Any] | None = None
        for radius in _RADII:
            leader = radius > _RADII[0]
            for dx, dy in _DIRECTIONS:
                annotation = ax.annotate(
                    text,
                    anchor,
                    xytext=(dx * radius, dy * radius),
                    textcoords="offset points",
                    ha={1: "left", -1: "right", 0: "center"}[dx],
                    va={1: "bottom", -1: "top", 0: "center"}[dy],
                    fontsize=8.5,
                    color="#1d1d1f",
                    zorder=5,
                    bbox={"boxstyle": "round,pad=0.18", "fc": "white", "ec": "none", "alpha": 0.85},
                    arrowprops=(
                        {
                            "arrowstyle": "-",
                            "color": "#8a9099",
                            "lw": 0.8,
                            "shrinkA": 0,
                            "shrinkB": 2,
                        }
                        if leader
                        else None
                    ),
                )
                box = _text_box(annotation, renderer)
                cost = sum(_overlap(box, other) for other in placed)
                cost += sum(_overlap(box, o) for o in others)
                cost += 4 * (box.width * box.height - _overlap(box, frame)) + radius * 0.5
                cost += 300.0 * sum(_crosses(segment, box) for segment in leaders)
                if leader:
                    segment = (_nearest_corner(box, target), target)
                    cost += 300.0 * sum(_crosses(segment, o) for o in others + placed)
                else:  # without a leader line the label must be nearest to its own point
                    own_distance = min(_distance(box, display[i]) for i in cluster)
                    cost += sum(
                        200.0
                        for j, other in enumerate(display)
                        if j not in cluster and _distance(box, other) < own_distance + 14
                    )
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, annotation, box)
                else:
                    annotation.remove()
            if best is not None and best[0] <= radius * 0.5 + 1e-6:
                break
        assert best is not None
        placed.append(best[2])
        if best[1].arrow_patch is not None:
            leaders.append((_nearest_corner(best[2], target), target))


def _nearest_corner(box: Any, point: tuple[float, float]) -> tuple[float, float]:
    """Where a leader line leaves the label: the box's point nearest the target."""
    return (min(max(point[0], box.x0), box.x1), min(max(point[1], box.y0), box.y1))


def _crosses(segment: tuple[tuple[float, float], tuple[float, float]], box: Any) -> bool:
    """Whether the segment passes through the box (Liang-Barsky clipping)."""
    (x0, y0), (x1, y1) = segment
    dx, dy = x1 - x0, y1 - y0
    low, high = 0.0, 1.0
    for p, q in ((-dx, x0 - box.x0), (dx, box.x1 - x0), (-dy, y0 - box.y0), (dy, box.y1 - y0)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return high - low > 0.02


def _text_box(annotation: Any, renderer: Any) -> Any:
    """The label's own box (``Annotation.get_window_extent`` includes the arrow)."""
    from matplotlib.text import Text

    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer).expanded(1.06, 1.12)


def _distance(box: Any, point: Any) -> float:
    """Distance from a display point to a box (0 inside)."""
    dx = max(box.x0 - point[0], 0.0, point[0] - box.x1)
    dy = max(box.y0 - point[1], 0.0, point[1] - box.y1)
    return math.hypot(dx, dy)


def _overlap(a: Any, b: Any) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width * height if width > 0 and height > 0 else 0.0
