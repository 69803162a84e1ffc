"""Resuming a search: the trials of earlier sessions, and the ones a kill left running.

A trial's rows are written before Optuna is told (see :mod:`squeezebench.search.loop`), so
after a kill a trial that Optuna still sees running either has rows (killed between the two:
it is told from them) or not (killed in flight: it is failed, marked ``interrupted``, not
counted against the budget, and asked again once under a new number). Every finished trial
becomes a summary again, and its job joins the sweep, so the run's last phases rewrite it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from squeezebench.harness.job_record import JobRecord
from squeezebench.search.answer import TrialSummary
from squeezebench.search.candidates import from_params
from squeezebench.search.loop import INTERRUPTED, RETRY_OF, SAME_AS, SearchLoop
from squeezebench.search.trials import trial_job
from squeezebench.search.verdict import Verdict, judge


def recover(loop: SearchLoop, finished: dict[str, list[dict[str, Any]]]) -> None:
    """Rebuild ``loop``'s summaries from the study and the rows on disk (``finished``)."""
    optuna = loop.context.optuna
    states = optuna.trial.TrialState
    by_trial = {}
    for rows in finished.values():
        if rows and rows[0].get("search_id") == loop.search.search_id:
            by_trial[rows[0]["trial"]] = rows
    for frozen in sorted(loop.study.get_trials(deepcopy=False), key=lambda t: t.number):
        if frozen.state == states.WAITING:
            continue  # a retry, asked again by the next ask()
        rows = by_trial.get(frozen.number)
        if frozen.state == states.RUNNING and rows is None:
            _interrupted(loop, frozen)
            continue
        if frozen.user_attrs.get(INTERRUPTED):
            continue
        loop.counted += 1
        _rebuild(loop, frozen, rows)


def _interrupted(loop: SearchLoop, frozen: Any) -> None:
    """Fail a trial killed in flight, ask for its params again once, say so in the manifest."""
    optuna = loop.context.optuna
    trial = optuna.Trial(loop.study, frozen._trial_id)
    trial.set_user_attr(INTERRUPTED, True)
    loop.study.tell(trial, state=optuna.trial.TrialState.FAIL)
    if RETRY_OF not in frozen.user_attrs:
        loop.study.enqueue_trial(frozen.params, user_attrs={RETRY_OF: frozen.number})
    manifest = loop.context.manifest
    for entry in manifest.data.get("jobs", {}).values():
        if entry.get("trial") == frozen.number and entry.get("status") == "running":
            entry["status"] = "interrupted"
    manifest.save()


def _rebuild(loop: SearchLoop, frozen: Any, rows: list[dict[str, Any]] | None) -> None:
    """The summary of a finished trial (told now if the kill came before the telling)."""
    context = loop.context
    candidate = from_params(frozen.params, loop.search.pipelines)
    same_as = frozen.user_attrs.get(SAME_AS)
    if same_as is not None and same_as in loop.summaries:
        earlier = loop.summaries[same_as]
        loop.record(
            dataclasses.replace(
                earlier, number=frozen.number, params=candidate.params, same_as=same_as
            )
        )
        return
    if rows is None:  # params that did not fit together: no job ran
        name = candidate.variant_name(frozen.number)
        verdict = Verdict(None, reason=frozen.user_attrs.get("reason"))
        loop.record(TrialSummary(frozen.number, candidate.params, verdict, name))
        return
    variant = candidate.pipeline.variant(
        candidate.variant_name(frozen.number),
        candidate.values,
        context.registry,
        context.excluded.get(candidate.pipeline.name),
    )
    job = trial_job(context.resolved, context.registry, context.fingerprint, variant)
    job = dataclasses.replace(job, job_id=rows[0]["job_id"])  # as measured
    record = JobRecord.from_rows(job, rows, context.store.read_outputs(job.job_id))
    context.adopt(job, record)
    timed = record.measured
    rows = context.sweep.rows(job)
    verdict = judge(rows, loop.baseline_rows, loop.search, timed=timed)
    if frozen.state == context.optuna.trial.TrialState.RUNNING:
        loop.tell(context.optuna.Trial(loop.study, frozen._trial_id), verdict, timed=timed)
    steps = variant.steps_json()
    summary = TrialSummary(
        frozen.number, candidate.params, verdict, variant.name, job.job_id, steps, rows
    )
    loop.done.setdefault(steps, summary)
    loop.record(summary)
