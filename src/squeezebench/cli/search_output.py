"""What ``squeezebench run`` prints about a search: fewer table rows, then the answer."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

TABLE_TRIALS = 5
"""Trials the summary table shows besides the answer (every trial is in the results)."""


def table_rows(outcome: Any) -> list[dict[str, Any]]:
    """The rows of the summary table: every row outside the search, the answer's trials,
    and the last few trials (a search of hundreds of trials would bury the table)."""
    search = outcome.search
    if search is None:
        return outcome.rows
    chosen = {summary.number for summary in search.answer.best + search.answer.closest}
    trials = sorted({row["trial"] for row in outcome.rows if row.get("trial") is not None})
    chosen.update(trials[-TABLE_TRIALS:])
    return [row for row in outcome.rows if row.get("trial") is None or row["trial"] in chosen]


def print_search(console: Console, outcome: Any) -> None:
    """The answer, where its spec is, and how to see every trial."""
    search = outcome.search
    shown = len(table_rows(outcome)) < len(outcome.rows)
    if shown:
        console.print(
            f"(the table shows the answer and the last {TABLE_TRIALS} trials; "
            "`squeezebench report` shows them all)",
            highlight=False,
        )
    style = "green" if search.answer.found else "red"
    console.print(Text(search.lines[0], style="bold"))
    for line in search.lines[1:]:
        console.print(Text(line, style=style if not line.startswith("  constraint") else ""))
    if search.best_spec is not None:
        console.print(f"best spec: {search.best_spec}", highlight=False)
