"""Names on the interactive figures: plotly.js draws text where it is told, so choose where.

Pure arithmetic on the axes' ranges (no plotly needed).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from squeezebench.results.plot.panels import Point

PANEL_HEIGHT = 460
"""Pixels per row of panels."""
CHAR_WIDTH = 6.2
"""Estimated pixels per character of a 10 px label."""
LINE_HEIGHT = 14 / (PANEL_HEIGHT - 60)
"""A label line's height as a share of a panel's."""


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def label_texts(
    points: Sequence[Point],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    log: bool,
    panel_width: float,
) -> dict[int, tuple[str, str]]:
    """Text and its position for the named points (baseline, front), by ``id`` of the point.

    plotly does not move labels apart: points closer than about a marker share one label,
    and each label takes the corner (above or below, left or right of its point) that
    overlaps the labels placed before it least, inside the plot (sizes estimated from the
    text length and ``panel_width``, the panel's expected width in pixels).
    """
    scale = math.log10 if log else float
    x0, x1 = scale(x_range[0]), scale(x_range[1])
    y0, y1 = y_range

    def where(point: Point) -> tuple[float, float]:
        return (scale(point.x) - x0) / ((x1 - x0) or 1.0), (point.y - y0) / ((y1 - y0) or 1.0)

    clusters: list[list[Point]] = []
    for point in (p for p in points if p.labelled):
        px, py = where(point)
        for cluster in clusters:
            cx, cy = where(cluster[0])
            if abs(cx - px) < 0.012 and abs(cy - py) < 0.02:
                cluster.append(point)
                break
        else:
            clusters.append([point])
    texts = {}
    boxes: list[tuple[float, float, float, float]] = []
    for cluster in clusters:
        names = sorted((p.label for p in cluster), key=lambda n: (n != "baseline", n))
        fx, fy = where(cluster[0])
        width = max(len(n) for n in names) * CHAR_WIDTH / panel_width
        height = len(names) * LINE_HEIGHT
        best: tuple[float, str, tuple[float, float, float, float]] | None = None
        for vertical in ("top", "bottom") if fy < 0.5 else ("bottom", "top"):
            for horizontal in ("right", "left") if fx < 0.7 else ("left", "right"):
                x0 = fx if horizontal == "right" else fx - width
                y0 = fy if vertical == "top" else fy - height
                box = (x0, y0, x0 + width, y0 + height)
                outside = max(0.0, -box[0]) + max(0.0, box[2] - 1) + max(0.0, box[3] - 1)
                cost = sum(_overlap(box, other) for other in boxes) + outside * height
                if best is None or cost < best[0] - 1e-12:
                    best = (cost, f"{vertical} {horizontal}", box)
        assert best is not None
        boxes.append(best[2])
        texts[id(cluster[0])] = ("<br>".join(html.escape(n) for n in names), best[1])
    return texts
