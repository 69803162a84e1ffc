"""``squeezebench report``: one page per results folder, in Markdown or self-contained HTML.

Per model and target, a table of the variants (size, compression ratio, accuracy and its
delta to the baseline, fidelity, then per batch size the p50/p99 latency and the speedup over
the baseline), with:

- the Pareto-optimal variants marked ★ (size vs accuracy, and latency vs accuracy per batch
  size: no other variant is at least as small (fast) and at least as accurate, and strictly
  better in one of the two);
- noisy latencies (the ``noisy`` column) marked ``~``, and failed or skipped jobs flagged with
  their reason, in the table and again in a list under it;
- ``mean ± std`` across measurements when several runs (seeds) measured the same variant,
  target and batch size (``--all-runs`` or several ``--run``).

Plots (matplotlib, imported lazily; :mod:`squeezebench.results.plots`) are written as PNG
files next to the report and embedded (base64) in the HTML, which needs no other file.

This module is the entry point (:func:`write_report`); the work is done by
:mod:`~squeezebench.results.report_model` (what a report holds),
:mod:`~squeezebench.results.report_data` (building it from rows),
:mod:`~squeezebench.results.report_table` (the tables' cells and notes), and
:mod:`~squeezebench.results.report_markdown` / :mod:`~squeezebench.results.report_html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from squeezebench.errors import UserError
from squeezebench.results.report_data import BASELINE, build_report
from squeezebench.results.report_html import render_html
from squeezebench.results.report_markdown import render_markdown
from squeezebench.results.report_model import (
    BatchEntry,
    Group,
    Problem,
    Report,
    RunInfo,
    Stat,
    VariantEntry,
)
from squeezebench.results.report_table import (
    LEGEND,
    NOISY_MARK,
    PARETO_MARK,
    Cell,
    Flag,
    short_reason,
)
from squeezebench.results.runs import select_runs

__all__ = [
    "BASELINE",
    "FORMATS",
    "LEGEND",
    "NOISY_MARK",
    "PARETO_MARK",
    "REPORT_HINT",
    "BatchEntry",
    "Cell",
    "Flag",
    "Group",
    "Problem",
    "Report",
    "ReportOutcome",
    "RunInfo",
    "Stat",
    "VariantEntry",
    "build_report",
    "default_output",
    "render_html",
    "render_markdown",
    "short_reason",
    "write_report",
]

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

    ``fmt`` None means HTML when matplotlib is installed, else Markdown. HTML with plots
    needs matplotlib; without it the error says how to install it.
    """
    from squeezebench.results.plots import matplotlib_available, render_plots

    results = Path(results)
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r} (valid: {', '.join(FORMATS)})")
    available = matplotlib_available()
    note = ""
    if fmt is None:
        fmt = "html" if available or not plots else "md"
        if not available and plots:
            note = f"Plots and the HTML report need matplotlib: {REPORT_HINT}"
    elif plots and not available:
        if fmt == "html":
            raise UserError(
                f"the HTML report draws its plots with matplotlib, which is not installed: "
                f"{REPORT_HINT} (or use --format md, or --no-plots)"
            )
        note = f"Plots need matplotlib: {REPORT_HINT}"
    selection = select_runs(results, runs, all_runs)
    report = build_report(selection.rows(), selection)
    path = Path(output) if output is not None else default_output(results, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = render_plots(report, path.parent, path.stem) if plots and available else []
    render = render_html if fmt == "html" else render_markdown
    path.write_text(render(report, images, note), encoding="utf-8")
    return ReportOutcome(path, fmt, [image.path for image in images], selection.names, note)
