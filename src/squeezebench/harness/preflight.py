"""Checks before any work: what a run will do, and what stops it or skips part of it.

The CLI and library callers of :func:`~squeezebench.harness.run.run_spec` get the same
checks: a spec that expands to too many jobs or a results folder that cannot be written is a
:class:`~squeezebench.errors.UserError` (nothing runs); targets that cannot run on this
machine are listed with the reason, once, before the first job.
"""

from __future__ import annotations

from typing import Any

from squeezebench.errors import UserError
from squeezebench.plugins.contracts import TORCH_MODULE
from squeezebench.plugins.conversion import check_chain, find_chain
from squeezebench.plugins.registry import Registry


def check_job_count(resolved: Any, max_jobs: int | None) -> None:
    """Refuse a spec that expands to more than ``max_jobs`` jobs (None: no limit)."""
    jobs = len(resolved.variants) * len(resolved.targets)
    if max_jobs is not None and jobs > max_jobs:
        raise UserError(
            f"{resolved.path} expands to {jobs} jobs ({len(resolved.variants)} variants x "
            f"{len(resolved.targets)} targets), more than --max-jobs {max_jobs}; "
            "pass a larger --max-jobs to run it anyway"
        )


def unavailable_targets(resolved: Any, registry: Registry) -> list[tuple[Any, str]]:
    """``(target, reason)`` for each target of ``resolved`` that cannot run here.

    Cheap, before any work: the backend's ``check``, then the converters the spec's
    pipelines will need to reach the backend's formats (pipelines start as torch modules).
    """
    final_formats = set()
    for variant in resolved.variants:
        current = TORCH_MODULE
        for step in variant.steps:
            current = registry.get("method", step.method).gives
        final_formats.add(current)
    found = []
    for target in resolved.targets:
        backend = registry.get("backend", target.backend)
        reason = backend().check(target)
        if reason is None:
            for source in sorted(final_formats):
                chain = find_chain(registry, source, backend.formats)
                reason = check_chain(chain) if chain else None
                if reason:
                    break
        if reason:
            found.append((target, reason))
    return found
