"""What a search shares with the run around it: the sweep's records, the store, the
manifest, the dispatcher and the progress reporter.

Trials join the sweep's jobs and records, so the run's last phases treat them like any
other job (the drift check marks their rows, the final rewrite gives them the final
baseline figures), and ``report`` and ``compare`` read them as ordinary rows; their extra
columns say which search and trial they belong to, with the params it chose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from squeezebench.harness.dispatch import JobDispatcher
from squeezebench.harness.job_record import JobRecord
from squeezebench.harness.jobs import Job
from squeezebench.harness.manifest import RunManifest
from squeezebench.harness.sweep import Sweep, call_optional
from squeezebench.harness.workspace import JobResult
from squeezebench.plugins.registry import Registry
from squeezebench.results import columns as col
from squeezebench.results.store import RunStore
from squeezebench.search.candidates import Candidate
from squeezebench.spec.load import ResolvedSpec


@dataclass
class SearchContext:
    """The run's pieces a search works with."""

    resolved: ResolvedSpec
    registry: Registry
    sweep: Sweep
    dispatcher: JobDispatcher
    store: RunStore
    manifest: RunManifest
    reporter: Any
    identity: Callable[[Job], dict[str, Any]]
    fingerprint: str
    optuna: Any = None
    excluded: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    """Layer patterns the sensitivity pass leaves out, by pipeline and step index."""
    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Identity columns of each trial job, taken when it was submitted (``started_at``)."""

    def call(self, name: str, *args: Any) -> None:
        """An optional progress callback of the reporter."""
        call_optional(self.reporter, name, *args)

    def register_job(self, job: Job, trial: int) -> None:
        """List a trial's job in the manifest, pending."""
        self.manifest.data.setdefault("jobs", {}).setdefault(
            job.job_id,
            {
                "variant": job.variant.name,
                "target": job.target.label,
                "status": "pending",
                "trial": trial,
            },
        )
        self.manifest.job(job.job_id, status="running")
        self.started[job.job_id] = self.identity(job)

    def new_record(
        self, job: Job, result: JobResult, trial: int, candidate: Candidate
    ) -> JobRecord:
        """The record of a trial's first result, with the trial's identity columns."""
        identity = (self.started.pop(job.job_id, None) or self.identity(job)) | {
            "search_id": self.resolved.search.search_id,
            "trial": trial,
            "trial_params": candidate.params_json(),
        }
        record = JobRecord.from_result(job, identity, result)
        self.adopt(job, record)
        return record

    def adopt(self, job: Job, record: JobRecord) -> None:
        """Make a trial one of the sweep's jobs (its rows are rewritten at the end)."""
        if job.job_id not in self.sweep.records:
            self.sweep.jobs.append(job)
        self.sweep.records[job.job_id] = record

    def save(self, job: Job, record: JobRecord, feasible: bool) -> list[dict[str, Any]]:
        """Write a finished trial's outputs and rows; its manifest entry says how it went."""
        record.identity[col.TRIAL_FEASIBLE] = feasible
        if record.outputs is not None:
            self.store.write_outputs(job.job_id, record.outputs)
        rows = self.sweep.rows(job)
        self.store.write_job(job.job_id, rows)
        self.manifest.job(job.job_id, status=record.status, rounds=len(record.rounds))
        return rows
