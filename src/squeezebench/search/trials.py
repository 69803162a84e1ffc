"""One trial as the harness sees it: an ordinary job, run in phases.

Cheap first: a trial is *evaluated* (compressed and scored, no timing) when a constraint
can be checked without latency; only a trial that passes is timed, in the benchmark's
rounds, each in a fresh worker like any other job (``time`` mode, the artifact from the
cache). A search that needs no latency never times; one whose every constraint needs
latency measures the first round with the evaluation (``measure`` mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from squeezebench.harness.identity import job_versions
from squeezebench.harness.job_record import JobRecord
from squeezebench.harness.jobs import Job, job_identity
from squeezebench.search.candidates import Candidate
from squeezebench.spec.load import ResolvedSpec
from squeezebench.spec.resolve import Variant
from squeezebench.spec.search_terms import COLUMNS

EVALUATE, MEASURE, TIME = "evaluate", "measure", "time"


def first_phase(resolved: ResolvedSpec) -> str:
    """``evaluate`` when an untimed constraint can fail a trial before timing (or nothing
    needs timing), else ``measure`` (score and time the first round in one worker)."""
    search = resolved.search
    untimed = any(not COLUMNS[c.reference.column].timed for c in search.constraints)
    return EVALUATE if untimed or not search.timed else MEASURE


def trial_job(resolved: ResolvedSpec, registry: Any, fingerprint: str, variant: Variant) -> Job:
    """The job of a trial's variant on the search's target (the spec's first seed)."""
    target = resolved.search.target
    seed = resolved.spec.seeds[0]
    versions = job_versions(registry, [s.method for s in variant.steps], target.backend)
    identity = job_identity(fingerprint, resolved.dataset, variant, target, seed, versions)
    return Job(
        identity,
        resolved.spec.model,
        resolved.dataset,
        variant,
        target,
        resolved.spec.benchmark,
        seed,
    )


@dataclass
class TrialRun:
    """A trial in flight: its Optuna trial, candidate, job, record and phase."""

    trial: Any  # optuna.Trial
    candidate: Candidate
    job: Job
    phase: str
    record: JobRecord | None = None
    rounds_left: int = 0
    duplicates: list[Any] = field(default_factory=list)  # later trials that asked the same

    @property
    def number(self) -> int:
        """The trial number (unique in the study, in results and in the variant's name)."""
        return self.trial.number

    @property
    def timed(self) -> bool:
        """Whether the record has timing rounds."""
        return self.record is not None and self.record.measured
