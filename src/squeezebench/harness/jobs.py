"""Jobs: one variant on one target, self-contained and serializable.

A job carries everything needed to run it anywhere (the same jobs could be shipped to a
pool of worker processes or hosts): the model and dataset references, the pipeline and the
target, the benchmark settings and the seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from squeezebench.spec.load import ResolvedSpec
from squeezebench.spec.models import BenchmarkSpec, TargetSpec
from squeezebench.spec.resolve import Variant


@dataclass(frozen=True)
class Job:
    """One variant measured on one target (one result row per batch size)."""

    job_id: str
    model: str
    dataset: str | None
    variant: Variant
    target: TargetSpec
    benchmark: BenchmarkSpec
    seed: int


def job_identity(
    model: str, dataset: str | None, variant: Variant, target: TargetSpec, seed: int
) -> str:
    """A stable id from what defines the job's results (not from the run or the time)."""
    payload = {
        "model": model,
        "dataset": dataset,
        "variant": variant.name,
        "steps": json.loads(variant.steps_json()),
        "target": target.model_dump(mode="json", exclude={"name"}),
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def plan_jobs(resolved: ResolvedSpec) -> list[Job]:
    """Variants x targets, baseline first so every target's reference is measured first."""
    spec = resolved.spec
    return [
        Job(
            job_id=job_identity(spec.model, resolved.dataset, variant, target, spec.seed),
            model=spec.model,
            dataset=resolved.dataset,
            variant=variant,
            target=target,
            benchmark=spec.benchmark,
            seed=spec.seed,
        )
        for variant in resolved.variants
        for target in resolved.targets
    ]
