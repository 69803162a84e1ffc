"""The run manifest: what was run, where, how it ended, and each job's state.

``<run>/_manifest.json`` is rewritten atomically whenever a job's state changes, so a run
killed at any point leaves a manifest that says how far it got. A resumed run reads it back
and keeps its history (``started_at``, ``resumed_at``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from squeezebench._version import __version__
from squeezebench.harness.jobs import Job
from squeezebench.results.store import RunStore
from squeezebench.spec.load import ResolvedSpec


def now() -> str:
    """The current UTC time, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat()


class RunManifest:
    """The manifest of one run folder, kept in memory and saved after every change."""

    def __init__(self, store: RunStore, resumed: bool) -> None:
        self.store = store
        self.data: dict[str, Any] = store.read_manifest() if resumed else {}
        self.data.setdefault("started_at", now())
        if resumed:
            self.data.setdefault("resumed_at", []).append(now())

    def start(
        self,
        resolved: ResolvedSpec,
        fingerprint: str,
        jobs: list[Job],
        *,
        isolate: bool,
        environment: dict[str, Any],
        plugins: list[dict[str, Any]],
    ) -> None:
        """Record the spec, the environment and every job as pending; save."""
        self.data.update(
            {
                "run_id": self.store.directory.name,
                "spec_name": resolved.spec.name,
                "spec_path": str(resolved.path),
                "spec_hash": resolved.spec_hash,
                "spec_text": resolved.path.read_text(encoding="utf-8"),
                "spec": resolved.spec.model_dump(mode="json"),
                "model_fingerprint": fingerprint,
                "squeezebench_version": __version__,
                "status": "running",
                "stopped_by": None,
                "isolated": isolate,
                "environment": environment,
                "plugins": plugins,
            }
        )
        jobs_state = self.data.setdefault("jobs", {})
        for job in jobs:
            jobs_state.setdefault(
                job.job_id,
                {"variant": job.variant.name, "target": job.target.label, "status": "pending"},
            )
        self.save()

    def job(self, job_id: str, **state: Any) -> None:
        """Update one job's entry (status, seconds, rounds...) and save."""
        self.data["jobs"][job_id].update(state)
        self.save()

    def set(self, key: str, value: Any) -> None:
        """Record a run-level fact (drift, conditions) and save."""
        self.data[key] = value
        self.save()

    def finish(self, status: str) -> None:
        """Record how the run ended; save."""
        self.data["status"] = status
        self.data["finished_at"] = now()
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        self.store.write_manifest(self.data)
