"""Report plots: size vs accuracy and latency vs accuracy, per model and target.

matplotlib is imported only when a plot is drawn, and only its object-oriented API with the
Agg canvas (no pyplot, no global backend switch), so the CLI starts without it and a report
can be drawn from a program that uses another backend. Install it with
``pip install 'squeezebench[report]'``.

Every plot marks the baseline with a black star (on top), colours variants by method family,
fills the Pareto-optimal ones and leaves dominated ones hollow, and draws the Pareto front as
a staircase. Only the baseline and the front are named, where the labels overlap neither
each other nor the points; axes are clamped to the metric's range (accuracy within 0-100%).

:mod:`~squeezebench.results.plot.panels` chooses what to plot,
:mod:`~squeezebench.results.plot.figure` draws it, :mod:`~squeezebench.results.plot.labels`
places the labels; :mod:`~squeezebench.results.plot.interactive` makes the HTML's figures.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.results.plot.figure import figure_png
from squeezebench.results.plot.panels import group_panels


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


SIZE_CAPTION = (
    "Size vs accuracy: smaller (left) and more accurate (up) is better; the dashed line is the"
    " Pareto front, filled points are on it, hollow ones dominated; only the front and the"
    " baseline are named."
)
LATENCY_CAPTION = (
    "Median latency vs accuracy per batch size: faster (left) and more accurate (up) is better;"
    " error bars span the lowest to highest per-round median where timed in rounds; filled"
    " points are Pareto-optimal (latencies within noise tie)."
)


@dataclass
class PlotImage:
    """A PNG written next to the report."""

    group: str
    kind: str
    path: Path
    png: bytes
    alt: str
    caption: str


def render_plots(report: Any, directory: Path, stem: str) -> list[PlotImage]:
    """Draw every group's plots, write them as ``<stem>-<group>-<kind>.png`` in ``directory``."""
    images = []
    for group in report.groups:
        size, latency = group_panels(group)
        skipped = [v.name for v in group.variants if not v.measured]
        left_out = f" Not plotted (failed or skipped): {', '.join(skipped)}." if skipped else ""
        if size is not None:
            png = figure_png([size], ncols=1)
            images.append(
                _save(
                    directory,
                    stem,
                    group.slug,
                    "size-accuracy",
                    png,
                    f"size vs accuracy, {group.title}",
                    SIZE_CAPTION + left_out,
                )
            )
        if latency:
            png = figure_png(
                latency, ncols=min(2, len(latency)), suptitle=f"latency vs accuracy: {group.title}"
            )
            images.append(
                _save(
                    directory,
                    stem,
                    group.slug,
                    "latency-accuracy",
                    png,
                    f"latency vs accuracy, {group.title}",
                    LATENCY_CAPTION + left_out,
                )
            )
    return images


def _save(
    directory: Path, stem: str, slug: str, kind: str, png: bytes, alt: str, caption: str
) -> PlotImage:
    path = directory / f"{stem}-{slug}-{kind}.png"
    path.write_bytes(png)
    return PlotImage(slug, kind, path, png, alt, caption)
