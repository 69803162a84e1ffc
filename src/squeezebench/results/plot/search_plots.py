"""A search's plots: its progress (each objective over the trials, the best feasible so far
as a staircase) and its sensitivity table (each layer's cost when compressed alone).

PNGs (matplotlib, object-oriented API, imported when drawn) for Markdown, and figures for
plotly.js in the HTML (hover names each trial's variant and params; the legend toggles
feasible and infeasible trials).
"""

from __future__ import annotations

import html
import io
from typing import Any

from squeezebench.results.plot.axes import log_scale
from squeezebench.results.plot.figure import DOMINATED_COLOR, DPI, FRONT_COLOR, log_axis
from squeezebench.results.plot.interactive import InteractiveFigure
from squeezebench.results.report.search_data import ObjectiveProgress, SearchSection
from squeezebench.spec.search_terms import BYTES, DELTA, FRACTION

PROGRESS_CAPTION = (
    "Search progress: each trial's value of the objective (filled: feasible, hollow grey: "
    "a constraint failed); the line is the best feasible value so far. Trials a constraint "
    "failed before timing have no latency and are not drawn."
)
SENSITIVITY_CAPTION = (
    "Sensitivity: each layer compressed alone at the space's two corners; bars below the "
    "dashed bound break the constraint (✗ in the table). Layers left out of the trials are red."
)
FEASIBLE_COLOR = "#0072B2"
LEFT_OUT_COLOR = "#D55E00"


def _scale(progress: ObjectiveProgress) -> tuple[float, str]:
    """Divide values by this to plot them in the returned unit."""
    if progress.kind == BYTES:
        return 1024.0, "KiB"
    if progress.kind in (FRACTION, DELTA):
        return 0.01, "%" if progress.kind == FRACTION else "pp"
    return 1.0, ""


def _label(progress: ObjectiveProgress) -> str:
    unit = _scale(progress)[1]
    return (
        f"{progress.column}"
        + (f"@b={progress.batch_size}" if progress.batch_size else "")
        + (f" ({unit})" if unit else "")
    )


def progress_png(progress: ObjectiveProgress, title: str) -> bytes:
    """The progress of one objective as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    factor, _ = _scale(progress)
    figure = Figure(figsize=(8.4, 4.6), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    feasible = [p for p in progress.points if p.feasible]
    infeasible = [p for p in progress.points if not p.feasible]
    if infeasible:
        ax.scatter(
            [p.trial for p in infeasible],
            [p.value / factor for p in infeasible],
            s=30,
            facecolors="white",
            edgecolors=DOMINATED_COLOR,
            linewidths=1.1,
            label="infeasible",
            zorder=2,
        )
    if feasible:
        ax.scatter(
            [p.trial for p in feasible],
            [p.value / factor for p in feasible],
            s=38,
            color=FEASIBLE_COLOR,
            edgecolors="black",
            linewidths=0.5,
            label="feasible",
            zorder=3,
        )
    steps = progress.best_so_far()
    if steps:
        last = max(p.trial for p in progress.points)
        xs = [t for t, _ in steps] + [last]
        ys = [v / factor for _, v in steps] + [steps[-1][1] / factor]
        ax.step(xs, ys, where="post", color=FRONT_COLOR, linewidth=1.6, label="best so far")
    if log_scale([p.value for p in progress.points]):
        log_axis(ax, "y")
    ax.set_xlabel("trial")
    ax.set_ylabel(_label(progress))
    ax.set_title(title, fontsize=11.5)
    ax.grid(True, color="#e6e8eb", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(frameon=False, fontsize=9)
    figure.tight_layout()
    return _png(figure)


def sensitivity_png(table: dict[str, Any]) -> bytes:
    """The sensitivity table as grouped bars, one panel per pipeline, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pipelines = list(dict.fromkeys(e["pipeline"] for e in table["entries"]))
    figure = Figure(figsize=(8.4, 3.2 * max(1, len(pipelines))), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(pipelines), 1, squeeze=False).ravel()
    percent = table.get("kind") in (FRACTION, DELTA)
    for ax, pipeline in zip(axes, pipelines, strict=True):
        entries = [e for e in table["entries"] if e["pipeline"] == pipeline]
        layers = list(dict.fromkeys(e["layer"] for e in entries))
        for offset, corner in ((-0.2, "low"), (0.2, "high")):
            shown = [e for e in entries if e["corner"] == corner and e["value"] is not None]
            params = next((e["params"] for e in entries if e["corner"] == corner), {})
            setting = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in params.items())
            ax.bar(
                [layers.index(e["layer"]) + offset for e in shown],
                [e["value"] * (100 if percent else 1) for e in shown],
                width=0.38,
                color=[LEFT_OUT_COLOR if e.get("decision") == "left out" else FEASIBLE_COLOR
                       for e in shown],
                alpha=0.55 if corner == "low" else 0.95,
                label=f"{corner} corner" + (f" ({setting})" if setting else ""),
            )  # fmt: skip
        if table.get("bound") is not None:
            ax.axhline(
                table["bound"] * (100 if percent else 1),
                color="#555b63",
                linestyle="--",
                linewidth=1.1,
                label=f"bound: {table['constraint']}",
            )
        ax.set_xticks(range(len(layers)), layers)
        ax.set_xlabel("layer (its name, as include / exclude patterns match it)")
        ax.set_title(f"{pipeline}: {table['column']} with one layer compressed", fontsize=10.5)
        ax.set_ylabel(table["column"] + (" (pp)" if table.get("kind") == DELTA else ""))
        ax.grid(True, axis="y", color="#e6e8eb", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.legend(frameon=False, fontsize=8.5)
    figure.tight_layout()
    return _png(figure)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.canvas.print_png(buffer)
    return buffer.getvalue()


def progress_figure(section: SearchSection, progress: ObjectiveProgress) -> InteractiveFigure:
    """The progress of one objective for plotly.js."""
    factor, _ = _scale(progress)
    data: list[dict[str, Any]] = []
    for feasible, name in ((False, "infeasible"), (True, "feasible")):
        points = [p for p in progress.points if p.feasible == feasible]
        if not points:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": name,
                "x": [p.trial for p in points],
                "y": [p.value / factor for p in points],
                "hovertext": [
                    "<br>".join(
                        html.escape(line)
                        for line in (
                            p.variant,
                            p.params,
                            f"{progress.text}: {progress.format(p.value)}",
                        )
                    )
                    for p in points
                ],
                "hovertemplate": "%{hovertext}<extra></extra>",
                "marker": (
                    {"color": FEASIBLE_COLOR, "size": 9, "line": {"color": "black", "width": 0.6}}
                    if feasible
                    else {"color": DOMINATED_COLOR, "size": 8, "symbol": "circle-open"}
                ),
            }
        )
    steps = progress.best_so_far()
    if steps:
        last = max(p.trial for p in progress.points)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "best so far",
                "x": [t for t, _ in steps] + [last],
                "y": [v / factor for _, v in steps] + [steps[-1][1] / factor],
                "line": {"shape": "hv", "color": FRONT_COLOR, "width": 2},
                "hoverinfo": "skip",
            }
        )
    log = log_scale([p.value for p in progress.points])
    title = f"search progress: {progress.text}"
    layout = {
        "title": {"text": html.escape(title), "x": 0.01, "font": {"size": 15}},
        "height": 420,
        "margin": {"l": 70, "r": 16, "t": 56, "b": 56},
        "hovermode": "closest",
        "plot_bgcolor": "white",
        "xaxis": {"title": {"text": "trial"}, "gridcolor": "#e6e8eb", "zeroline": False},
        "yaxis": {
            "title": {"text": html.escape(_label(progress))},
            "gridcolor": "#e6e8eb",
            "type": "log" if log else "linear",
        },
        "legend": {"orientation": "h", "y": -0.18},
    }
    return InteractiveFigure(
        section.slug,
        f"progress-{progress.column}",
        title,
        PROGRESS_CAPTION,
        data,
        layout,
        {"responsive": True, "displaylogo": False},
    )
