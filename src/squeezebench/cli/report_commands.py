"""``squeezebench report`` and ``squeezebench compare``.

Both import their dependencies (pyarrow, scipy, matplotlib) when they run, so that
``squeezebench --help`` stays fast. ``register(app)`` adds them to the typer app.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from squeezebench.cli.failure import fail
from squeezebench.errors import UserError

ResultsArgument = Annotated[
    Path,
    typer.Argument(
        help="A run folder, a folder of runs (the latest is used) or a result file.",
        show_default=False,
    ),
]


def report(
    results: ResultsArgument,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="md or html (default: html, or md when matplotlib is not installed).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Report file (default: RESULTS/report.html or .md); PNGs go next to it.",
            show_default=False,
        ),
    ] = None,
    run: Annotated[
        list[str] | None,
        typer.Option(
            "--run",
            help="Run id in a folder of runs (repeat to aggregate runs, e.g. seeds).",
            show_default=False,
        ),
    ] = None,
    all_runs: Annotated[
        bool, typer.Option("--all-runs", help="Every run in the folder (mean ± std).")
    ] = False,
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Draw the plots (needs matplotlib).")
    ] = True,
) -> None:
    """Tables of every variant per model and target, Pareto marks and plots, as md or HTML."""
    from rich.markup import escape

    from squeezebench.cli.console import console
    from squeezebench.results.report import write_report

    if run and all_runs:
        fail(UserError("--run and --all-runs cannot be combined"))
    try:
        outcome = write_report(results, format, output, run or (), all_runs, plots)
    except UserError as error:
        fail(error)
    if outcome.note:  # escaped: the install hint's [report] is not rich markup
        console().print(f"[yellow]note:[/] {escape(outcome.note)}", highlight=False)
    for image in outcome.images:
        console().print(f"plot: {image}", highlight=False, soft_wrap=True)
    console().print(
        f"report ({', '.join(outcome.runs)}): {outcome.path}", highlight=False, soft_wrap=True
    )


def compare(
    baseline: Annotated[
        Path,
        typer.Argument(help="Baseline results (run folder or folder of runs).", show_default=False),
    ],
    new: Annotated[
        Path,
        typer.Argument(help="New results (run folder or folder of runs).", show_default=False),
    ],
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Relative p50 latency change that counts (0.10 or 10%); default: the new "
            "run's spec (compare.threshold), else 0.10.",
            show_default=False,
        ),
    ] = None,
    threshold_for: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold-for",
            help="METRIC=VALUE, repeatable: a threshold for one metric (e.g. accuracy=0.005,"
            " artifact_bytes=2%); size and latency relative, accuracy/fidelity absolute.",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            help="Significance level of the test on per-round medians; default: the new "
            "run's spec (compare.alpha), else 0.05.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="md or text.")] = "md",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout.", show_default=False),
    ] = None,
) -> None:
    """Compare two results: exit 1 on a regression (size, accuracy, significant slowdown)."""
    from squeezebench.results.compare import compare as run_compare
    from squeezebench.results.compare import parse_threshold, parse_threshold_for, render

    try:
        comparison = run_compare(
            baseline,
            new,
            threshold=None if threshold is None else parse_threshold(threshold),
            thresholds=parse_threshold_for(threshold_for or []),
            alpha=alpha,
        )
        text = render(comparison, format)
    except UserError as error:
        fail(error)
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        typer.echo(f"comparison: {output}", err=True)
    raise typer.Exit(int(comparison.exit_code))


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``compare`` to ``app``."""
    app.command("report")(report)
    app.command("compare")(compare)
