"""The search loop: ask Optuna for trials, run them as jobs, tell it what came of them.

Trials go to the run's :class:`~squeezebench.harness.dispatch.JobDispatcher`: up to
``parallel`` (default: the executor's slots) are in flight at once; the local executors run
them in turn. A trial's rows are written before Optuna is told, so a kill between the two
is recovered from the rows; a trial killed before its rows exist is failed and asked again
once, under a new number (:mod:`squeezebench.search.resume`). Trials whose pipeline (params
included) equals an earlier one's reuse its result instead of running again.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from pydantic import ValidationError

from squeezebench.harness.dispatch import TaskLost
from squeezebench.search.answer import TrialSummary, describe
from squeezebench.search.candidates import Candidate, suggest
from squeezebench.search.context import SearchContext
from squeezebench.search.trials import EVALUATE, MEASURE, TIME, TrialRun, first_phase, trial_job
from squeezebench.search.verdict import Verdict, goals_met, judge

RETRY_OF, INTERRUPTED, SAME_AS = "retry_of", "interrupted", "same_as"


class SearchLoop:
    """Runs trials until the budget is spent or a goal is met; keeps every summary."""

    def __init__(self, context: SearchContext, study: Any, baseline_rows: list[dict]) -> None:
        self.context = context
        self.study = study
        self.search = context.resolved.search
        self.baseline_rows = baseline_rows
        self.budget = self.search.settings.budget
        self.parallel = self.search.settings.parallel or max(1, context.dispatcher.slots)
        self.summaries: dict[int, TrialSummary] = {}
        self.done: dict[str, TrialSummary] = {}  # pipeline JSON -> first trial that ran it
        self.running: dict[str, TrialRun] = {}  # pipeline JSON -> trial in flight
        self.counted = 0  # trials that count against the budget
        self.elapsed_before = float(study.user_attrs.get("elapsed_seconds", 0.0))
        self.started = time.monotonic()
        self.stop_note: str | None = None
        self._best: list[float] | None = None
        self._since_best = 0
        self._quiet = False  # while recovering: earlier sessions' trials are not news

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Ask, run and tell until the budget is spent or a goal is met."""
        in_flight: dict[Future, TrialRun] = {}
        while True:
            while len(in_flight) < self.parallel and self._may_start():
                run = self._start()
                if run is not None:
                    in_flight[self._submit(run)] = run
            if not in_flight:
                break
            finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in finished:
                run = in_flight.pop(future)
                try:
                    result = future.result()
                except TaskLost as lost:  # a cluster lost it more often than it retries
                    self._lost(run, lost)
                    continue
                if self._advance(run, result):
                    in_flight[self._submit(run)] = run

    def elapsed(self) -> float:
        """Wall time of the search over every session, in seconds."""
        return self.elapsed_before + time.monotonic() - self.started

    def _may_start(self) -> bool:
        if self.stop_note is not None:
            return False
        if getattr(self.study.sampler, "exhausted", False):
            self.stop_note = "every combination of the space was tried (grid)"
            return False
        if self.counted >= self.budget.trials:
            self.stop_note = f"the budget of {self.budget.trials} trials is spent"
            return False
        if self.budget.minutes is not None and self.elapsed() >= self.budget.minutes * 60:
            self.stop_note = f"the budget of {self.budget.minutes:g} minutes is spent"
            return False
        return True

    # -- one trial -----------------------------------------------------------------------

    def _start(self) -> TrialRun | None:
        """Ask for a trial; a run to submit, or None when it finished at once."""
        trial = self.study.ask()
        self.counted += 1
        candidate = suggest(trial, self.search.pipelines)
        try:
            variant = candidate.pipeline.variant(
                candidate.variant_name(trial.number),
                candidate.values,
                self.context.registry,
                self.context.excluded.get(candidate.pipeline.name),
            )
        except ValidationError as error:
            reason = "the params do not fit together: " + "; ".join(
                e["msg"] for e in error.errors(include_url=False)
            )
            self._conclude_without_job(trial, candidate, Verdict(None, reason=reason))
            return None
        steps = variant.steps_json()
        if steps in self.done:
            self._repeat(trial, candidate, self.done[steps])
            return None
        if steps in self.running:
            self.running[steps].duplicates.append((trial, candidate))
            return None
        job = trial_job(
            self.context.resolved, self.context.registry, self.context.fingerprint, variant
        )
        run = TrialRun(trial, candidate, job, first_phase(self.context.resolved))
        self.running[steps] = run
        self.context.register_job(job, trial.number)
        return run

    def _submit(self, run: TrialRun) -> Future:
        self.context.call("trial_started", run.job, run.phase)
        return self.context.dispatcher.submit(run.job, run.phase)

    def _advance(self, run: TrialRun, result: Any) -> bool:
        """Take a phase's result; True when the trial has another phase to run."""
        timed_search = self.search.timed
        if run.phase in (EVALUATE, MEASURE):
            run.record = self.context.new_record(run.job, result, run.number, run.candidate)
            if run.record.status != "ok" or not timed_search:
                return self._finish(run)
            if run.phase == EVALUATE:
                verdict = judge(self._rows(run), self.baseline_rows, self.search, timed=False)
                if verdict.failed or verdict.violated:  # cheap first: not worth timing
                    return self._finish(run, verdict)
                run.rounds_left = run.job.benchmark.rounds
            else:
                run.rounds_left = run.job.benchmark.rounds - 1
        else:
            run.record.add_round(result)
            run.rounds_left -= 1
            if run.record.status != "ok":
                return self._finish(run)
        if run.rounds_left > 0:
            run.phase = TIME
            return True
        return self._finish(run)

    def _rows(self, run: TrialRun) -> list[dict[str, Any]]:
        return self.context.sweep.rows(run.job)

    def _finish(self, run: TrialRun, verdict: Verdict | None = None) -> bool:
        """Write the trial's rows, then tell Optuna (rows first: see the module docstring)."""
        rows = self._rows(run)
        if verdict is None:
            verdict = judge(rows, self.baseline_rows, self.search, timed=run.timed)
        rows = self.context.save(run.job, run.record, verdict.feasible)
        summary = TrialSummary(
            run.number,
            run.candidate.params,
            verdict,
            run.job.variant.name,
            run.job.job_id,
            run.job.variant.steps_json(),
            rows,
        )
        self.tell(run.trial, verdict, timed=run.timed)
        self.record(summary)
        steps = run.job.variant.steps_json()
        self.running.pop(steps, None)
        self.done[steps] = summary
        for trial, candidate in run.duplicates:
            self._repeat(trial, candidate, summary)
        return False

    def _repeat(self, trial: Any, candidate: Candidate, earlier: TrialSummary) -> None:
        """A trial whose pipeline an earlier trial ran: its result, not a new job.

        Optuna is told the repeat was *pruned*, not its value again: a repeated value is
        taken as new evidence, which makes TPE propose the same point over and over (on the
        digits example, half of 40 trials repeating one variant); a pruned trial counts as a
        poor one, so the sampler moves on (``benchmarks/search_samplers.py``).
        """
        trial.set_user_attr(SAME_AS, earlier.number)
        self.study.tell(trial, state=self.context.optuna.trial.TrialState.PRUNED)
        summary = dataclasses.replace(
            earlier, number=trial.number, params=candidate.params, same_as=earlier.number
        )
        self.record(summary)

    def _lost(self, run: TrialRun, lost: TaskLost) -> None:
        """A trial whose task the infrastructure lost: failed, without rows (never measured)."""
        self.running.pop(run.job.variant.steps_json(), None)
        self.context.manifest.job(run.job.job_id, status="lost", reason=str(lost))
        verdict = Verdict(None, reason=f"lost to the infrastructure: {lost}")
        self._conclude_without_job(run.trial, run.candidate, verdict)
        for trial, candidate in run.duplicates:
            self._conclude_without_job(trial, candidate, verdict)

    def _conclude_without_job(self, trial: Any, candidate: Candidate, verdict: Verdict) -> None:
        self.tell(trial, verdict, timed=False)
        name = candidate.variant_name(trial.number)
        self.record(TrialSummary(trial.number, candidate.params, verdict, name))

    def tell(self, trial: Any, verdict: Verdict, *, timed: bool) -> None:
        """Tell Optuna a trial's values and constraint violations (or that it failed)."""
        optuna = self.context.optuna
        for check in verdict.checks:
            trial.set_constraint(check.constraint.text, check.violation)
        trial.set_user_attr("timed", timed)
        if verdict.reason:
            trial.set_user_attr("reason", verdict.reason)
        if verdict.failed:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, verdict.values)
        self.study.set_user_attr("elapsed_seconds", round(self.elapsed(), 3))

    def record(self, summary: TrialSummary) -> None:
        """Keep a finished trial's summary, report it, check the goals and the patience."""
        self.summaries[summary.number] = summary
        verdict = summary.verdict
        goals = self.search.goals
        if (
            verdict.feasible
            and summary.same_as is None
            and goals
            and goals_met(summary.rows, self.baseline_rows, goals)
        ):
            self.stop_note = f"{summary.variant} meets every goal (budget.stop_when)"
        self._patience(summary)
        if not self._quiet:
            self.context.call("trial_finished", summary, self._line(summary))

    def _patience(self, summary: TrialSummary) -> None:
        if len(self.search.objectives) != 1:
            return
        verdict = summary.verdict
        value = None
        if verdict.feasible:
            value = verdict.values[0] if self.search.objectives[0].minimize else -verdict.values[0]
        if value is not None and (self._best is None or value < self._best[0]):
            self._best, self._since_best = [value], 0
            return
        self._since_best += 1
        patience = self.budget.patience
        if patience is not None and self._best is not None and self._since_best >= patience:
            self.stop_note = f"{patience} trials in a row without a better feasible one"

    def _line(self, summary: TrialSummary) -> str:
        verdict = summary.verdict
        if summary.same_as is not None:
            return f"#{summary.number} repeats #{summary.same_as}'s params: its result is reused"
        if verdict.failed:
            return f"{summary.variant}: failed ({verdict.reason})"
        state = "feasible" if verdict.feasible else "infeasible"
        violated = "; ".join(check.failure() for check in verdict.violated)
        text = describe(summary, self.search)
        return f"{text} -- {state}" + (f" ({violated})" if violated else "")

    # -- resume --------------------------------------------------------------------------

    def recover(self, finished: dict[str, list[dict[str, Any]]]) -> None:
        """Rebuild the trials of earlier sessions (see :mod:`squeezebench.search.resume`)."""
        from squeezebench.search.resume import recover

        self._quiet = True
        try:
            recover(self, finished)
        finally:
            self._quiet = False
