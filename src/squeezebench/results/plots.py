"""Report plots: size vs accuracy and latency vs accuracy, per model and target.

matplotlib is imported only when a plot is drawn, and only its object-oriented API with the
Agg canvas (no pyplot, no global backend switch), so the CLI starts without it and a report
can be drawn from a program that uses another backend. Install it with
``pip install 'squeezebench[report]'``.

Every plot marks the baseline with a black star, the Pareto-optimal variants filled (blue),
dominated ones hollow (grey), and draws the Pareto front as a staircase. Variant labels are
placed greedily where they overlap neither each other nor the points; variants at the very
same point share one label.

This module chooses what to plot; :mod:`~squeezebench.results.plot_figure` draws it and
:mod:`~squeezebench.results.plot_labels` places the labels.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.results.formatting import KIB, MIB, accuracy_name
from squeezebench.results.plot_figure import (
    DOMINATED_COLOR,
    DPI,
    FRONT_COLOR,
    Panel,
    Point,
    figure_png,
)

__all__ = [
    "DOMINATED_COLOR",
    "DPI",
    "FRONT_COLOR",
    "PlotImage",
    "matplotlib_available",
    "render_plots",
]


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


def _size_unit(values: Sequence[float]) -> tuple[str, float]:
    return ("MiB", MIB) if max(values) >= 10 * MIB else ("KiB", KIB)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


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
        ylabel = f"{accuracy_name(group.metric)} (%)"
        size = _size_panel(group, measured, ylabel)
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
                    "Size vs accuracy: smaller (left) and more accurate (up) is better; the line"
                    " is the Pareto front." + left_out,
                )
            )
        panels = _latency_panels(group, measured, ylabel)
        if panels:
            png = figure_png(
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


def _size_panel(group: Any, measured: Sequence[Any], ylabel: str) -> Panel | None:
    """Shipped size vs accuracy, None when no variant has a size."""
    sizes = [v.shipped.mean for v in measured if v.shipped.mean is not None]
    if not sizes:
        return None
    unit, scale = _size_unit(sizes)
    points = [
        Point(
            v.name,
            v.shipped.mean / scale,
            100 * v.accuracy.mean,
            None if v.shipped.std is None else v.shipped.std / scale,
            _scaled(v.accuracy.std, 100),
            v.is_baseline,
            v.pareto_size,
        )
        for v in measured
        if v.shipped.mean is not None
    ]
    encoded = any(v.encoded.n for v in measured)
    xlabel = f"{'shipped (encoded)' if encoded else 'artifact'} size ({unit})"
    return (f"size vs accuracy: {group.title}", xlabel, ylabel, points)


def _latency_panels(group: Any, measured: Sequence[Any], ylabel: str) -> list[Panel]:
    """p50 latency vs accuracy, one panel per batch size that has any latency."""
    panels: list[Panel] = []
    for batch in group.batch_sizes:
        points = []
        for v in measured:
            at = v.batches.get(batch)
            if at is None or at.p50.mean is None:
                continue
            points.append(
                Point(
                    v.name,
                    at.p50.mean,
                    100 * v.accuracy.mean,
                    at.p50.std,
                    _scaled(v.accuracy.std, 100),
                    v.is_baseline,
                    at.pareto,
                )
            )
        if points:
            xlabel = f"p50 latency per batch of {batch} (ms)"
            panels.append((f"batch size {batch}", xlabel, ylabel, points))
    return panels


def _save(
    directory: Path, stem: str, slug: str, kind: str, png: bytes, alt: str, caption: str
) -> PlotImage:
    path = directory / f"{stem}-{slug}-{kind}.png"
    path.write_bytes(png)
    return PlotImage(slug, kind, path, png, alt, caption)
