"""Interactive report figures: Plotly, embedded offline in the self-contained HTML.

Each figure is plain JSON for plotly.js (built here from the report's panels, no Plotly
Python objects), and plotly.js itself comes from the ``plotly`` package
(``plotly.offline.get_plotlyjs``), inlined once per page: the page loads nothing from
anywhere. Hovering shows everything about a variant (family, target, batch size, pipeline
with its parameters, size, accuracy, latency with its round interval); the toolbar zooms and
pans; clicking a family in the legend hides or shows it in every panel.

``plotly`` is optional (``pip install 'squeezebench[report]'``) and imported only for the
script; without it the HTML shows the static PNGs.
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from squeezebench.results.plot.axes import log_scale, x_limits, y_limits
from squeezebench.results.plot.figure import FRONT_COLOR, family_colors
from squeezebench.results.plot.interactive_labels import PANEL_HEIGHT, label_texts
from squeezebench.results.plot.panels import Panel, Point, families, group_panels
from squeezebench.results.plot.render import LATENCY_CAPTION, SIZE_CAPTION


def plotly_available() -> bool:
    """Whether plotly can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("plotly") is not None
    except (ImportError, ValueError):
        return False


def plotly_js() -> str:
    """plotly.js (minified) from the installed ``plotly`` package, to inline in the page."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@dataclass
class InteractiveFigure:
    """A figure for plotly.js: its traces, layout and config, and where it goes."""

    group: str
    kind: str
    title: str
    caption: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]
    config: dict[str, Any]

    def to_html(self, element_id: str) -> str:
        """A ``<div>`` and the inline script drawing the figure in it (plotly.js loaded)."""
        payload = ", ".join(_script_json(x) for x in (self.data, self.layout, self.config))
        height = self.layout["height"]
        return (
            f'<div id="{html.escape(element_id)}" class="plot" style="height:{height}px"'
            f' aria-label="{html.escape(self.title)}"></div>\n'
            f'<script>Plotly.newPlot("{html.escape(element_id)}", {payload});</script>'
        )


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no HTML comment)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def group_figures(group: Any) -> list[InteractiveFigure]:
    """A group's size and latency figures (none without accuracy or measurements)."""
    size, latency = group_panels(group)
    figures = []
    if size is not None:
        figures.append(
            _figure(
                group, "size-accuracy", f"size vs accuracy: {group.title}", SIZE_CAPTION, [size]
            )
        )
    if latency:
        title = f"latency vs accuracy: {group.title}"
        figures.append(_figure(group, "latency-accuracy", title, LATENCY_CAPTION, latency))
    return figures


def _figure(
    group: Any, kind: str, title: str, caption: str, panels: Sequence[Panel]
) -> InteractiveFigure:
    colors = family_colors(families(panels))
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "title": {"text": html.escape(title), "x": 0.01, "font": {"size": 15}},
        "height": PANEL_HEIGHT * nrows + 90,
        "margin": {"l": 64, "r": 16, "t": 56, "b": 96},
        "hovermode": "closest",
        "hoverlabel": {"align": "left", "font": {"size": 12}},
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 0,
            "yref": "container",
            "yanchor": "bottom",
            "title": {"text": "click: hide or show, double-click: only this "},
        },
        "plot_bgcolor": "white",
        "annotations": [],
    }
    for index, panel in enumerate(panels):
        suffix = "" if index == 0 else str(index + 1)
        row, col = divmod(index, ncols)
        gap = 0.07
        width = (1 - gap * (ncols - 1)) / ncols
        height = (1 - 0.12 * (nrows - 1)) / nrows
        x0 = col * (width + gap)
        y1 = 1 - row * (height + 0.12)
        log = log_scale([p.x for p in panel.points])
        low, high = x_limits(panel.points, log)
        y_low, y_high, cut = y_limits(panel.points)
        axis = {"gridcolor": "#e6e8eb", "zeroline": False, "linecolor": "#888", "mirror": True}
        layout[f"xaxis{suffix}"] = {
            **axis,
            "domain": [x0, x0 + width],
            "anchor": f"y{suffix}",
            "title": {"text": html.escape(panel.xlabel)},
            "type": "log" if log else "linear",
            "range": [math.log10(low), math.log10(high)] if log else [low, high],
        }
        layout[f"yaxis{suffix}"] = {
            **axis,
            "domain": [y1 - height, y1],
            "anchor": f"x{suffix}",
            "title": {"text": html.escape(panel.ylabel)},
            "range": [y_low, y_high],
        }
        if len(panels) > 1:
            layout["annotations"].append(_note(panel.title, suffix, 0.5, 1.0, "bottom", 13))
        hidden = sum(1 for p in panel.points if cut is not None and p.y < cut)
        if hidden:
            text = (
                f"{hidden} less accurate variant{'s' if hidden > 1 else ''} (below {cut:.1f}%)"
                " out of view: double-click or Autoscale to see all"
            )
            layout["annotations"].append(_note(text, suffix, 1.0, 0.0, "bottom", 11, "right"))
        texts = label_texts(panel.points, (low, high), (y_low, y_high), log, 1000 / ncols)
        data += _traces(panel, texts, suffix, colors, first=index == 0, right=high)
    return InteractiveFigure(
        group.slug,
        kind,
        title,
        caption,
        data,
        layout,
        {
            "responsive": True,
            "displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": f"{group.slug}-{kind}"},
        },
    )


def _note(
    text: str, suffix: str, x: float, y: float, yanchor: str, size: int, xanchor: str = "center"
) -> dict[str, Any]:
    """Text placed relative to a panel (its axes' domain)."""
    return {
        "text": html.escape(text),
        "xref": f"x{suffix} domain",
        "yref": f"y{suffix} domain",
        "x": x,
        "y": y,
        "xanchor": xanchor,
        "yanchor": yanchor,
        "showarrow": False,
        "font": {"size": size, "color": "#555b63"},
        "bgcolor": "rgba(255,255,255,0.8)",
    }


def _traces(
    panel: Panel,
    texts: dict[int, tuple[str, str]],
    suffix: str,
    colors: dict[str, str],
    first: bool,
    right: float,
) -> list[dict[str, Any]]:
    """The front's staircase, one trace per family, and the baseline on top."""
    axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
    traces: list[dict[str, Any]] = []
    frontier = sorted({(p.x, p.y) for p in panel.points if p.pareto})
    if frontier:
        xs = [x for x, _ in frontier] + [right]
        ys = [y for _, y in frontier] + [frontier[-1][1]]
        traces.append(
            {
                **axes,
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": ys,
                "line": {"shape": "hv", "dash": "dash", "color": FRONT_COLOR, "width": 1.5},
                "opacity": 0.6,
                "name": "Pareto front",
                "legendgroup": "front",
                "showlegend": first,
                "hoverinfo": "skip",
            }
        )
    for family in colors:
        points = [p for p in panel.points if p.family == family and not p.baseline]
        if points:
            traces.append(_points(points, texts, family, colors[family], axes, first))
    baseline = [p for p in panel.points if p.baseline]
    if baseline:
        trace = _points(baseline, texts, "baseline", "black", axes, first)
        trace["marker"].update(symbol="star", size=17, line={"color": "white", "width": 1})
        traces.append(trace)
    return traces


def _points(
    points: Sequence[Point],
    texts: dict[int, tuple[str, str]],
    name: str,
    color: str,
    axes: dict[str, str],
    first: bool,
) -> dict[str, Any]:
    """A family's markers: filled on the Pareto front, hollow when dominated; named if on it."""
    trace: dict[str, Any] = {
        **axes,
        "type": "scatter",
        "mode": "markers+text",
        "name": name,
        "legendgroup": name,
        "showlegend": first,
        "x": [p.x for p in points],
        "y": [p.y for p in points],
        "text": [texts.get(id(p), ("", ""))[0] for p in points],
        "textposition": [texts.get(id(p), ("", "top right"))[1] for p in points],
        "textfont": {"size": 10, "color": "#333"},
        "hovertext": ["<br>".join(html.escape(line) for line in p.hover) for p in points],
        "hovertemplate": "%{hovertext}<extra></extra>",
        "marker": {
            "color": color,
            "size": [10 if p.pareto else 8 for p in points],
            "symbol": ["circle" if p.pareto else "circle-open" for p in points],
            "line": {
                "width": [1 if p.pareto else 1.6 for p in points],
                "color": ["#1d1d1f" if p.pareto else color for p in points],
            },
        },
    }
    if any(p.xerr for p in points):
        trace["error_x"] = {
            "type": "data",
            "symmetric": False,
            "array": [p.xerr[1] if p.xerr else 0 for p in points],
            "arrayminus": [p.xerr[0] if p.xerr else 0 for p in points],
            "color": "#b5bac2",
            "thickness": 1,
            "width": 2,
        }
    if any(p.yerr for p in points):
        trace["error_y"] = {
            "type": "data",
            "array": [p.yerr or 0 for p in points],
            "color": "#b5bac2",
            "thickness": 1,
            "width": 2,
        }
    return trace
