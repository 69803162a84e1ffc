"""Static plots: only the front and the baseline are named, the baseline drawn on top."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from squeezebench.results.plot.figure import BASELINE_STYLE, draw_figure, figure_png
from squeezebench.results.plot.panels import Panel, Point

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _panel(count: int) -> Panel:
    """A baseline, a front of three, and ``count`` dominated variants (some collapsed)."""
    points = [
        Point("baseline", 600.0, 99.3, None, None, True, True, "baseline"),
        Point("small", 40.0, 97.0, None, None, False, True, "cluster"),
        Point("mid", 80.0, 99.0, None, None, False, True, "prune+quantize"),
        Point("same-as-mid", 80.0, 99.0, None, None, False, True, "prune+quantize"),
    ]
    for i in range(count):
        y = 20.0 + (i * 37) % 79
        points.append(Point(f"dominated-{i}", 90.0 + 5 * i, y, (1.0, 2.0), None, False, False,
                            ("prune", "quantize", "cluster")[i % 3]))  # fmt: skip
    return Panel("size vs accuracy", "size (KiB)", "top-1 accuracy (%)", points, "size")


def _labels(ax) -> list[str]:
    return sorted(text.get_text() for text in ax.texts)


def test_only_the_front_and_the_baseline_are_named() -> None:
    figure = draw_figure([_panel(100)], ncols=1)
    (ax,) = [a for a in figure.axes if a.get_visible()]
    # Coincident front points share one label; no dominated variant is named.
    assert _labels(ax) == ["baseline", "mid\nsame-as-mid", "small"]
    low, high = ax.get_ylim()
    assert low >= 0 and high <= 100
    # 100 variants between 20 and 99 %: the axis focuses on the front and says so.
    assert low > 90 and "less accurate variants" in ax.get_xlabel()
    # The baseline's star is drawn above the labels' boxes.
    assert BASELINE_STYLE["zorder"] > max(text.get_zorder() for text in ax.texts)


def test_png_and_legend_by_family() -> None:
    png = figure_png([_panel(5), _panel(5)], ncols=2, suptitle="latency")
    assert png.startswith(PNG_MAGIC)
    figure = draw_figure([_panel(5)], ncols=1)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend[:3] == ["cluster", "prune+quantize", "prune"]  # order of appearance
    assert "baseline" in legend and "Pareto front" in legend
