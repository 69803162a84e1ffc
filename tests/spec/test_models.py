"""Spec models of where jobs run: targets' ``resources`` and the ``execution`` section."""

from __future__ import annotations

import pytest

from squeezebench.harness.jobs import job_identity
from squeezebench.spec import SpecError, TargetSpec, load_spec
from squeezebench.spec.models import ExecutionSpec, TargetResources
from squeezebench.spec.resolve import Variant

BASE = "name: t\nmodel: builtin:digits-mlp\n"


def test_resources_take_named_fields_and_custom_amounts() -> None:
    resources = TargetResources.model_validate(
        {"accelerator_type": "H100", "num_gpus": 1, "jetson-orin": 1}
    )
    assert resources.accelerator_type == "H100" and resources.custom == {"jetson-orin": 1.0}
    target = TargetSpec.model_validate({"backend": "torch", "resources": {"edge": 2}})
    assert target.resources.custom == {"edge": 2.0}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            "{num_gpu: x}",
            "custom resource 'num_gpu' must be a positive amount, got 'x'; "
            "did you mean 'num_gpus'?",
        ),
        ("{edge: 0}", "custom resource 'edge' must be a positive amount, got 0"),
        ("{squeezebench_timing: 1}", "squeezebench_timing is squeezebench's own timing slot"),
        ("{num_cpus: 0}", "num_cpus"),
    ],
)
def test_bad_resources_are_located_spec_errors(spec_file, registry, resources, message) -> None:
    text = BASE + f"targets:\n  - backend: torch\n    resources: {resources}\n"
    with pytest.raises(SpecError) as caught:
        load_spec(spec_file(text), registry)
    assert message in str(caught.value) and "targets[0].resources" in str(caught.value)


def test_execution_defaults_to_the_local_executor_and_rejects_others(spec_file, registry) -> None:
    assert load_spec(spec_file(BASE), registry).spec.execution == ExecutionSpec()
    with pytest.raises(SpecError, match=r"execution\.executor"):
        load_spec(spec_file(BASE + "execution: {executor: dask}\n"), registry)


def test_where_jobs_run_changes_neither_the_spec_hash_nor_job_ids(spec_file, registry) -> None:
    # ... but the hardware a target asks for is part of what its jobs measure
    plain = load_spec(spec_file(BASE, "a.yaml"), registry)
    on_ray = load_spec(
        spec_file(BASE + "execution: {executor: ray, address: auto}\n", "b.yaml"), registry
    )
    assert plain.spec_hash == on_ray.spec_hash  # --resume works across executors
    variant = Variant("baseline", (), {})
    here = TargetSpec(backend="torch")
    routed = TargetSpec(backend="torch", resources={"edge": 1})
    unset = TargetSpec(backend="torch", resources=None)
    assert job_identity("m", None, variant, here, 0) == job_identity("m", None, variant, unset, 0)
    assert job_identity("m", None, variant, here, 0) != job_identity("m", None, variant, routed, 0)
    other = TargetSpec(backend="torch", resources={"farm": 1})
    assert job_identity("m", None, variant, other, 0) != job_identity("m", None, variant, routed, 0)
