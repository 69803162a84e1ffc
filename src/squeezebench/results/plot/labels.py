"""Naming the baseline and the Pareto front where labels overlap neither each other nor points.

Only those points are named (hundreds of labels cannot be read); variants at the very same
point share one label; a label away from its point gets a leader line. Needs matplotlib
(imported when labels are placed).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from squeezebench.results.plot.panels import Point

_DIRECTIONS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
_RADII = (7, 16, 28, 42, 60)


def place_labels(ax: Any, points: list[Point], renderer: Any) -> None:
    """Name the baseline and the Pareto-optimal points (coincident ones share a label).

    Every point, named or not, is an obstacle. Candidate places around each named point,
    nearest first, are scored by how much the label overlaps other labels, points and the
    outside of the axes, whether it could be mistaken for another point's label (no leader
    line), and whether its leader line crosses points or labels; the first place without any
    of these wins, else the cheapest. The baseline is placed first, then the most crowded.
    """
    from matplotlib.transforms import Bbox

    display = ax.transData.transform([(p.x, p.y) for p in points])
    clusters: list[list[int]] = []
    for index, (px, py) in enumerate(display):
        if not points[index].labelled:
            continue
        for cluster in clusters:
            cx, cy = display[cluster[0]]
            if abs(cx - px) < 4 and abs(cy - py) < 4:
                cluster.append(index)
                break
        else:
            clusters.append([index])
    obstacles = [
        Bbox.from_extents(x - r, y - r, x + r, y + r)
        for (x, y), r in zip(display, (_radius(p, ax) for p in points), strict=True)
    ]
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []

    def priority(cluster: list[int]) -> tuple[bool, float]:  # baseline, then fewest free places
        x, y = display[cluster[0]]
        crowd = sum(1 for ox, oy in display if abs(ox - x) < 120 and abs(oy - y) < 60)
        return (not any(points[i].baseline for i in cluster), -crowd)

    for cluster in sorted(clusters, key=priority):
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


def _radius(point: Point, ax: Any) -> float:
    """Half the marker's size in display pixels (the baseline's star is larger)."""
    size_points = 13.0 if point.baseline else 8.0
    return size_points / 2 * ax.figure.dpi / 72 + 2


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
