"""A search's section of the report: answer, progress plot, sensitivity table and plot."""

from __future__ import annotations

import itertools
import json

import pytest

from squeezebench.results.report import write_report
from squeezebench.results.report.search_data import search_sections, sensitivity_rows
from squeezebench.results.runs import select_runs

LINES = [
    "search: 100 trials (60 feasible, 2 failed, 5 repeats of earlier params); objectives: ...",
    "best:",
    "  #40 v040: shipped_bytes 20.00 KiB, accuracy_delta -0.50 pp",
]
SENSITIVITY = {
    "constraint": "accuracy_delta >= -1.0 pp",
    "bound": -0.01,
    "column": "accuracy_delta",
    "kind": "fraction delta",
    "entries": [
        {
            "pipeline": "wo",
            "corner": corner,
            "params": {"quantize.weight_only.bits": bits},
            "layer": layer,
            "parameters": size,
            "status": "ok",
            "reason": None,
            "value": value,
            "breaks": value < -0.01,
            "decision": decision,
        }
        for corner, bits in (("low", 8), ("high", 2))
        for layer, size, value, decision in (
            ("0", 320, 0.0 if bits == 8 else -0.002, "kept"),
            ("6", 131200, 0.0 if bits == 8 else -0.107, "sensitive"),
            ("8", 1290, 0.0 if bits == 8 else -0.072, "left out"),
        )
    ],
    "excluded": {"wo": ["8"]},
    "notes": ["wo: left out 8", "wo: kept 6 (sensitive at one corner only, and too large)"],
}


@pytest.fixture
def search_run(make_rows, save_run):
    """A 100-trial search: synthetic rows with trial columns, and the manifest's entry."""
    rows = make_rows(100, batch_sizes=(1,))
    for row in rows:
        if row["variant"] != "baseline":
            number = int(row["variant"][1:4])
            row |= {
                "search_id": "abc123",
                "trial": number,
                "trial_params": json.dumps({"pipeline": "wo", "bits": number % 3}),
                "trial_feasible": row["accuracy_delta"] >= -0.01,
                "encoded_bytes": row["artifact_bytes"] // 2,
            }
    folder = save_run(rows)
    manifest = json.loads((folder / "_manifest.json").read_text())
    manifest["search"] = {
        "search_id": "abc123",
        "target": "torch:cpu",
        "sampler": "tpe",
        "seed": 0,
        "objectives": [
            {
                "text": "minimize shipped_bytes",
                "column": "shipped_bytes",
                "batch_size": None,
                "minimize": True,
            },
        ],
        "answer": {"lines": LINES},
        "sensitivity": SENSITIVITY,
    }
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    return folder, rows


def test_the_section_holds_the_answer_and_the_progress(search_run) -> None:
    folder, rows = search_run
    selection = select_runs(folder)
    (section,) = search_sections(selection.rows(), selection)
    assert section.heading == "Search abc123 on torch:cpu (tpe, seed 0)"
    assert section.lines == LINES and section.trials == 100
    (progress,) = section.progress
    assert len(progress.points) == 100
    feasible = [p for p in progress.points if p.feasible]
    steps = progress.best_so_far()
    assert steps[0] == (feasible[0].trial, feasible[0].value)
    assert steps[-1][1] == min(p.value for p in feasible)
    assert all(b[1] < a[1] for a, b in itertools.pairwise(steps))
    assert all(
        p.value == r["encoded_bytes"] for p, r in zip(progress.points, rows[1:], strict=True)
    )


def test_the_sensitivity_table_reads_per_layer() -> None:
    header, rows = sensitivity_rows(SENSITIVITY)
    assert header[3:5] == ["accuracy_delta at low", "accuracy_delta at high"]
    assert rows[1] == ["wo", "6", "131,200", "+0.00 pp", "-10.70 pp ✗", "sensitive"]
    assert rows[2][-1] == "left out"


def test_markdown_and_html_reports_show_the_search_first(search_run, tmp_path) -> None:
    folder, _ = search_run
    markdown = write_report(folder, "md", tmp_path / "md" / "report.md")
    text = markdown.path.read_text()
    assert text.index("## Search abc123") < text.index("## builtin:digits-cnn")
    assert "  #40 v040: shipped_bytes 20.00 KiB" in text
    assert "| wo | 8 | 1,290 | +0.00 pp | -7.20 pp ✗ | left out |" in text
    names = {path.name for path in markdown.images}
    assert {
        "report-search-run-1-progress-shipped_bytes.png",
        "report-search-run-1-sensitivity.png",
    } <= names
    page = write_report(folder, "html", tmp_path / "html" / "report.html")
    html = page.path.read_text()
    assert 'id="plot-search-run-1-0"' in html  # the interactive progress figure
    assert "search progress: minimize shipped_bytes" in html
    assert "<h3>Sensitivity (accuracy_delta &gt;= -1.0 pp)</h3>" in html
    assert html.count("data:image/png;base64") >= 1  # the sensitivity plot
