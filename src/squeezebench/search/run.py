"""``run_search``: the search phase of a run, between the sweep's timing and its drift check.

The baseline (and any listed variant) is measured first by the sweep; the search then runs
its trials against that baseline, chooses the answer, writes ``best.yaml`` and records
everything in the manifest's ``search`` entry, which ``squeezebench report`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squeezebench.search.answer import (
    NO_BASELINE,
    Answer,
    TrialSummary,
    answer_json,
    answer_lines,
    choose,
)
from squeezebench.search.best_spec import write_best_spec
from squeezebench.search.context import SearchContext
from squeezebench.search.loop import SearchLoop
from squeezebench.search.study import import_optuna, open_study


@dataclass
class SearchOutcome:
    """What a search found, every finished trial, and the spec of its answer."""

    answer: Answer
    lines: list[str]
    summaries: list[TrialSummary] = field(default_factory=list)
    best_spec: Path | None = None


def run_search(context: SearchContext) -> SearchOutcome:
    """Run (or continue) the spec's search; see the module docstring."""
    search = context.resolved.search
    context.optuna = import_optuna()
    entry = _describe(context)
    context.manifest.set("search", entry | {"status": "running"})
    baseline_rows = _baseline_rows(context)
    if baseline_rows is None:
        answer = Answer(NO_BASELINE, [o.text for o in search.objectives])
        return _conclude(context, entry, answer, [])
    if search.settings.sensitivity:
        from squeezebench.search.sensitivity import run_sensitivity

        context.excluded, entry["sensitivity"] = run_sensitivity(context, baseline_rows)
        context.manifest.set("search", entry | {"status": "running"})
    study = open_study(context.store.directory, search)
    loop = SearchLoop(context, study, baseline_rows)
    loop.recover(context.store.finished_jobs())
    context.call("search_started", search.settings.budget.trials, loop.counted)
    loop.run()
    summaries = [loop.summaries[number] for number in sorted(loop.summaries)]
    answer = choose(summaries, search, loop.stop_note)
    entry["elapsed_seconds"] = round(loop.elapsed(), 1)
    return _conclude(context, entry, answer, summaries)


def _conclude(
    context: SearchContext,
    entry: dict[str, Any],
    answer: Answer,
    summaries: list[TrialSummary],
) -> SearchOutcome:
    search = context.resolved.search
    best = None
    if answer.found:
        best = write_best_spec(
            context.store.directory, context.resolved, answer, context.store.directory.name
        )
    entry |= {
        "status": "finished",
        "answer": answer_json(answer, search),
        "best_spec": best.name if best else None,
    }
    context.manifest.set("search", entry)
    return SearchOutcome(answer, answer_lines(answer, search), summaries, best)


def _baseline_rows(context: SearchContext) -> list[dict[str, Any]] | None:
    """The baseline's rows on the search's target, None when it did not measure."""
    label = context.resolved.search.target.label
    for job in context.sweep.jobs:
        if not job.variant.steps and job.target.label == label:
            rows = context.sweep.rows(job)
            return rows if rows and rows[0].get("status") == "ok" else None
    return None


def _describe(context: SearchContext) -> dict[str, Any]:
    """The search's settings, as the report and the manifest show them."""
    search = context.resolved.search
    settings = search.settings
    sampler = search.sampler
    return {
        "search_id": search.search_id,
        "target": search.target.label,
        "sampler": sampler,
        "seed": search.seed,
        "budget": settings.budget.model_dump(mode="json"),
        "objectives": [
            {
                "text": o.text,
                "column": o.reference.column,
                "batch_size": o.reference.batch_size,
                "minimize": o.minimize,
            }
            for o in search.objectives
        ],
        "constraints": [{"text": c.text, "meaning": c.meaning()} for c in search.constraints],
    }
