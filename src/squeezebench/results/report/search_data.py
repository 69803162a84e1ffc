"""A search's part of a report: its answer, its progress and its sensitivity table.

Built from what any reader of the results has: the rows (each trial's ``trial``,
``trial_feasible`` and measured columns) and the run manifest's ``search`` entry (the
objectives, the constraints in words, the answer, the sensitivity table). Nothing here
imports Optuna or the search engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from squeezebench.results import columns as col
from squeezebench.results.formatting import slugify
from squeezebench.results.runs import RunSelection
from squeezebench.spec.search_terms import COLUMNS, DELTA, PLAIN, SHIPPED_BYTES, format_amount


@dataclass
class ProgressPoint:
    """One trial's value of an objective."""

    trial: int
    value: float
    feasible: bool
    variant: str
    params: str


@dataclass
class ObjectiveProgress:
    """An objective over the trials: every trial's value and the best feasible so far."""

    text: str
    column: str
    batch_size: int | None
    minimize: bool
    points: list[ProgressPoint] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The column's kind (bytes, milliseconds...), for formatting."""
        column = COLUMNS.get(self.column)
        return column.kind if column is not None else PLAIN

    def best_so_far(self) -> list[tuple[int, float]]:
        """(trial, best feasible value up to it) at each trial that improved it."""
        steps: list[tuple[int, float]] = []
        for point in sorted(self.points, key=lambda p: p.trial):
            if not point.feasible:
                continue
            if not steps:
                steps.append((point.trial, point.value))
                continue
            best = steps[-1][1]
            if (point.value < best) if self.minimize else (point.value > best):
                steps.append((point.trial, point.value))
        return steps

    def format(self, value: float) -> str:
        """A value of this objective for people."""
        return format_amount(value, self.kind)


@dataclass
class SearchSection:
    """Everything the report shows about one run's search."""

    run_id: str
    slug: str
    heading: str
    lines: list[str]
    progress: list[ObjectiveProgress]
    trials: int
    sensitivity: dict[str, Any] | None = None


def search_sections(rows: Sequence[dict[str, Any]], selection: RunSelection) -> list[SearchSection]:
    """One section per selected run that holds a search (none for ordinary runs)."""
    sections = []
    for run_id, manifest in selection.manifests.items():
        search = manifest.get("search")
        if not search:
            continue
        mine = [
            row
            for row in rows
            if row.get(col.RUN_ID) == run_id and row.get(col.SEARCH_ID) == search.get("search_id")
        ]
        answer = search.get("answer") or {}
        lines = answer.get("lines") or [f"search {search.get('status', 'unfinished')}"]
        slug = "search-" + slugify(run_id, empty="")
        heading = (
            f"Search {search.get('search_id')} on {search.get('target')} "
            f"({search.get('sampler')}, seed {search.get('seed')})"
        )
        progress = [_progress(objective, mine) for objective in search.get("objectives", [])]
        trials = len({row[col.TRIAL] for row in mine if row.get(col.TRIAL) is not None})
        sections.append(
            SearchSection(
                run_id, slug, heading, list(lines), progress, trials, search.get("sensitivity")
            )
        )
    return sections


def _progress(objective: dict[str, Any], rows: list[dict[str, Any]]) -> ObjectiveProgress:
    progress = ObjectiveProgress(
        objective["text"],
        objective["column"],
        objective.get("batch_size"),
        bool(objective.get("minimize", True)),
    )
    by_trial: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.get(col.TRIAL) is None or row.get(col.STATUS) != "ok":
            continue
        if progress.batch_size is not None and row.get(col.BATCH_SIZE) != progress.batch_size:
            continue
        by_trial.setdefault(row[col.TRIAL], row)
    for trial, row in sorted(by_trial.items()):
        if progress.column == SHIPPED_BYTES:
            value = row.get(col.ENCODED_BYTES) or row.get(col.ARTIFACT_BYTES)
        else:
            value = row.get(progress.column)
        if value is None or not math.isfinite(value):
            continue  # not timed (a constraint failed first) or not measured
        progress.points.append(
            ProgressPoint(
                trial,
                float(value),
                bool(row.get(col.TRIAL_FEASIBLE)),
                str(row.get(col.VARIANT)),
                str(row.get(col.TRIAL_PARAMS) or ""),
            )
        )
    return progress


def sensitivity_rows(table: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The sensitivity table as a header and text cells: one row per pipeline and layer."""
    kind = table.get("kind", PLAIN)
    column = table.get("column", "value")
    header = [
        "pipeline",
        "layer",
        "parameters",
        f"{column} at low",
        f"{column} at high",
        "decision",
    ]
    cells: dict[tuple[str, str], list[str]] = {}
    for entry in table.get("entries", []):
        key = (entry["pipeline"], entry["layer"])
        row = cells.setdefault(
            key,
            [entry["pipeline"], entry["layer"], f"{entry['parameters']:,}", "—", "—", ""],
        )
        value = entry.get("value")
        text = "n/a" if value is None else format_amount(value, kind, signed=kind == DELTA)
        if entry.get("breaks"):
            text += " ✗"
        row[3 if entry["corner"] == "low" else 4] = text
        row[5] = entry.get("decision", "")
    return header, list(cells.values())
