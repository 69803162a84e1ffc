"""Jobs: one variant on one target, self-contained and serializable.

A job carries everything needed to run it anywhere (a worker process today, a pool of
hosts tomorrow): the model and dataset references, the pipeline and the target, the
benchmark settings and the seed. Its identity covers what defines its results: the model's
content, the pipeline and params, the target, the seed and the relevant package versions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from squeezebench.harness.identity import job_versions
from squeezebench.plugins.registry import Registry
from squeezebench.spec.load import ResolvedSpec
from squeezebench.spec.models import BenchmarkSpec, TargetSpec
from squeezebench.spec.resolve import Step, Variant


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


def job_to_payload(job: Job) -> dict[str, Any]:
    """The job as plain JSON-able data, so that no plugin class needs unpickling to read it."""
    return {
        "job_id": job.job_id,
        "model": job.model,
        "dataset": job.dataset,
        "variant": {
            "name": job.variant.name,
            "steps": [step.to_json() for step in job.variant.steps],
            "sweep_values": job.variant.sweep_values,
        },
        "target": job.target.model_dump(mode="json"),
        "benchmark": job.benchmark.model_dump(mode="json"),
        "seed": job.seed,
    }


def job_from_payload(payload: dict[str, Any], registry: Registry) -> Job:
    """Rebuild a job, validating each step's params with this process's registry."""
    steps = tuple(
        Step(
            step["method"],
            registry.get("method", step["method"]).Params.model_validate(step["params"]),
        )
        for step in payload["variant"]["steps"]
    )
    variant = Variant(payload["variant"]["name"], steps, payload["variant"]["sweep_values"])
    return Job(
        payload["job_id"],
        payload["model"],
        payload["dataset"],
        variant,
        TargetSpec.model_validate(payload["target"]),
        BenchmarkSpec.model_validate(payload["benchmark"]),
        payload["seed"],
    )


def job_identity(
    model: str,
    dataset: str | None,
    variant: Variant,
    target: TargetSpec,
    seed: int,
    versions: dict[str, str] | None = None,
) -> str:
    """A stable id from what defines the job's results (not from the run or the time).

    ``model`` should be the model's content fingerprint; ``versions`` the versions of the
    packages involved (see :func:`squeezebench.harness.identity.job_versions`).
    """
    payload = {
        "model": model,
        "dataset": dataset,
        "variant": variant.name,
        "steps": json.loads(variant.steps_json()),
        # resources name the hardware when set (two targets alike but for the nodes they
        # need measure different machines); unset, they leave the identity as it was
        "target": target.model_dump(
            mode="json",
            exclude={"name", "if_unavailable", *(() if target.resources else ("resources",))},
        ),
        "seed": seed,
        "versions": versions or {},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def is_stochastic(variant: Variant, registry: Registry | None) -> bool:
    """Whether any step of ``variant`` depends on the seed."""
    if registry is None:
        return False
    return any(registry.get("method", step.method).stochastic for step in variant.steps)


def plan_jobs(
    resolved: ResolvedSpec, registry: Registry | None = None, model_fingerprint: str | None = None
) -> list[Job]:
    """Variants x seeds x targets, baseline first so every target's reference comes first.

    A pipeline runs once per seed of the spec if one of its methods is stochastic, else
    once with the first seed.
    """
    spec = resolved.spec
    jobs = []
    for variant in resolved.variants:
        seeds = spec.seeds if is_stochastic(variant, registry) else spec.seeds[:1]
        for seed in seeds:
            for target in resolved.targets:
                versions = (
                    job_versions(registry, [s.method for s in variant.steps], target.backend)
                    if registry is not None
                    else None
                )
                identity = job_identity(
                    model_fingerprint or spec.model,
                    resolved.dataset,
                    variant,
                    target,
                    seed,
                    versions,
                )
                jobs.append(
                    Job(
                        identity,
                        spec.model,
                        resolved.dataset,
                        variant,
                        target,
                        spec.benchmark,
                        seed,
                    )
                )
    return jobs
