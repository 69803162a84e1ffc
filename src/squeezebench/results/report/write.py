"""``squeezebench report``: one page per results folder, in Markdown or self-contained HTML.

Per model and target, a table of the variants (size, compression ratio, accuracy and its
delta to the baseline, fidelity, then per batch size the p50/p99 latency and the speedup over
the baseline), with:

- the Pareto-optimal variants marked ★ (size vs accuracy, and latency vs accuracy per batch
  size: no other variant is at least as small (fast) and at least as accurate, and strictly
  better in one of the two; latencies within their measured noise are ties, see
  :mod:`squeezebench.results.pareto`), and the p50's per-round interval where timed in rounds;
- noisy latencies (the ``noisy`` column) marked ``~``, and failed or skipped jobs flagged with
  their reason, in the table and again in a list under it;
- ``mean ± std`` across measurements when several runs (seeds) measured the same variant,
  target and batch size (``--all-runs`` or several ``--run``).

Plots (:mod:`squeezebench.results.plot`, libraries imported lazily): PNG files (matplotlib)
next to the report, linked from the Markdown; the HTML shows interactive Plotly figures
(plotly.js inlined) or, without plotly, embeds the PNGs (base64). It needs no other file.

This module is the entry point (:func:`write_report`); the work is done by
:mod:`~squeezebench.results.report.model` (what a report holds),
:mod:`~squeezebench.results.report.data` (building it from rows),
:mod:`~squeezebench.results.report.table` (the tables' cells and notes), and
:mod:`~squeezebench.results.report.markdown` / :mod:`~squeezebench.results.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.results.report.data import build_report
from squeezebench.results.report.html import render_html
from squeezebench.results.report.markdown import render_markdown
from squeezebench.results.report.model import (
    Report,
)
from squeezebench.results.runs import select_runs

FORMATS = ("md", "html")
REPORT_HINT = "pip install 'squeezebench[report]'"


@dataclass
class ReportOutcome:
    """What ``write_report`` wrote."""

    path: Path
    format: str
    images: list[Path]
    runs: list[str]
    note: str = ""
    interactive: int = 0
    """How many interactive figures the HTML holds (0: static images, or none)."""


def default_output(results: Path, fmt: str) -> Path:
    """``<RESULTS>/report.<fmt>`` (next to the file when RESULTS is a Parquet file)."""
    folder = results.parent if results.is_file() else results
    return folder / f"report.{fmt}"


def write_report(
    results: str | Path,
    fmt: str | None = None,
    output: str | Path | None = None,
    runs: Sequence[str] = (),
    all_runs: bool = False,
    plots: bool = True,
) -> ReportOutcome:
    """Read ``results``, write the report (and its PNGs) and say what was written.

    ``fmt`` None means HTML when matplotlib or plotly is installed, else Markdown. HTML with
    plots needs one of them (interactive figures with plotly, else PNGs); without either the
    error says how to install them.
    """
    from squeezebench.results.plot import matplotlib_available, plotly_available, render_plots

    results = Path(results)
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r} (valid: {', '.join(FORMATS)})")
    static, interactive = matplotlib_available(), plotly_available()
    note = ""
    if fmt is None:
        fmt = "html" if static or interactive or not plots else "md"
    if plots and fmt == "md" and not static:
        note = f"Plots need matplotlib: {REPORT_HINT}"
    elif plots and fmt == "html":
        if not static and not interactive:
            raise UserError(
                f"the HTML report's plots need plotly or matplotlib, neither is installed: "
                f"{REPORT_HINT} (or use --format md, or --no-plots)"
            )
        if not interactive:
            note = f"Interactive plots need plotly ({REPORT_HINT}): static images shown."
    selection = select_runs(results, runs, all_runs)
    report = build_report(selection.rows(), selection)
    path = Path(output) if output is not None else default_output(results, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = render_plots(report, path.parent, path.stem) if plots and static else []
    figures: list[Any] = []
    if fmt == "html":
        figures = interactive_figures(report) if plots and interactive else []
        text = render_html(report, images, note, figures)
    else:
        text = render_markdown(report, images, note)
    path.write_text(text, encoding="utf-8")
    return ReportOutcome(
        path, fmt, [image.path for image in images], selection.names, note, len(figures)
    )


def interactive_figures(report: Report) -> list[Any]:
    """Every group's interactive figures (needs nothing but the report; plotly.js comes later)."""
    from squeezebench.results.plot.interactive import group_figures

    return [figure for group in report.groups for figure in group_figures(group)]
