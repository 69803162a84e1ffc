"""Interactive figures: valid plotly.js JSON, hover with everything, families to toggle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from squeezebench.results.plot.interactive import InteractiveFigure, group_figures
from squeezebench.results.report import build_report
from squeezebench.results.runs import RunSelection

go = pytest.importorskip("plotly.graph_objects")


def _group(rows):
    manifests = {"run-1": {"spec": {"benchmark": {"noise_threshold": 0.1}}}}
    return build_report(rows, RunSelection(Path("results"), [], manifests)).groups[0]


def test_figures_are_valid_plotly_with_families_and_hover(make_rows) -> None:
    group = _group(make_rows(40))
    size, latency = group_figures(group)
    assert (size.kind, latency.kind) == ("size-accuracy", "latency-accuracy")
    for figure in (size, latency):
        go.Figure(data=figure.data, layout=figure.layout)  # raises on an unknown property
    # One trace per family (and the baseline, and the front) per panel; one legend entry each.
    names = {t["name"] for t in size.data}
    assert names == {"Pareto front", "prune", "quantize", "prune+quantize", "cluster", "baseline"}
    shown = [t["name"] for t in latency.data if t["showlegend"]]
    assert sorted(shown) == sorted(names)
    assert {t["xaxis"] for t in latency.data} == {"x", "x2"}  # batch sizes 1 and 32
    # Every variant appears once per panel, with its hover.
    markers = [t for t in size.data if t["mode"] != "lines"]
    assert sum(len(t["x"]) for t in markers) == 41
    prune = next(t for t in markers if t["name"] == "prune")
    hover = prune["hovertext"][0]
    assert "family: prune" in hover and "target: torch:cpu" in hover
    assert "step: prune.magnitude(sparsity=0.5)" in hover and "KiB" in hover
    assert "p50 b=1:" in hover and "p50 b=32:" in hover and "over 3 rounds" in hover
    # Only the front and the baseline are named on the plot.
    entries = {v.name: v for v in group.variants}
    for trace in markers:
        for text, hovertext in zip(trace["text"], trace["hovertext"], strict=True):
            name = hovertext.split("<br>")[0]
            if text:
                assert entries[name].pareto_size or entries[name].is_baseline
    layout = size.layout
    assert layout["yaxis"]["range"][0] >= 0 and layout["yaxis"]["range"][1] <= 100


def test_latency_error_bars_are_the_round_interval(make_rows) -> None:
    rows = make_rows(8)
    group = _group(rows)
    _, latency = group_figures(group)
    baseline = next(t for t in latency.data if t["name"] == "baseline" and t["xaxis"] == "x")
    row = next(r for r in rows if r["variant"] == "baseline" and r["batch_size"] == 1)
    p50 = row["latency_p50_ms"]
    assert baseline["error_x"]["arrayminus"][0] == pytest.approx(p50 - row["latency_p50_low_ms"])
    assert baseline["error_x"]["array"][0] == pytest.approx(row["latency_p50_high_ms"] - p50)


def test_html_snippet_cannot_break_out_of_its_script() -> None:
    figure = InteractiveFigure(
        "g", "size-accuracy", "t", "c", [{"type": "scatter", "name": "</script><b>x"}],
        {"height": 400}, {},
    )  # fmt: skip
    snippet = figure.to_html("plot-1")
    assert snippet.count("</script>") == 1 and "<b>" not in snippet
    payload = snippet.split('Plotly.newPlot("plot-1", ', 1)[1].rsplit(");</script>", 1)[0]
    data = json.loads(f"[{payload}]")  # data, layout, config
    assert data[0][0]["name"] == "</script><b>x"
