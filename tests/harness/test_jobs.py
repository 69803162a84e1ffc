from __future__ import annotations

from squeezebench.harness.jobs import job_identity, plan_jobs
from squeezebench.spec.load import load_spec
from squeezebench.spec.models import TargetSpec
from squeezebench.spec.resolve import Variant


def test_plan_is_variants_times_targets_baseline_first(write_spec, registry) -> None:
    path = write_spec(
        """
        name: t
        model: builtin:digits-mlp
        variants:
          a: [quantize.dynamic_int8]
        targets: [torch:cpu, {backend: torch, device: cpu, options: {threads: 1}, name: one}]
        """
    )
    jobs = plan_jobs(load_spec(path, registry))
    assert [(j.variant.name, j.target.label) for j in jobs] == [
        ("baseline", "torch:cpu"),
        ("baseline", "one"),
        ("a", "torch:cpu"),
        ("a", "one"),
    ]
    assert len({j.job_id for j in jobs}) == 4


def test_job_identity_is_stable_and_sensitive(registry) -> None:
    target = TargetSpec(backend="torch", options={"threads": 1})
    base = job_identity("builtin:digits-mlp", "digits", Variant("baseline"), target, 0)
    assert base == job_identity("builtin:digits-mlp", "digits", Variant("baseline"), target, 0)
    assert base != job_identity("builtin:digits-mlp", "digits", Variant("other"), target, 0)
    assert base != job_identity("builtin:digits-cnn", "digits", Variant("baseline"), target, 0)
    assert base != job_identity("builtin:digits-mlp", "digits", Variant("baseline"), target, 1)
    other_target = TargetSpec(backend="torch", options={"threads": 2})
    assert base != job_identity(
        "builtin:digits-mlp", "digits", Variant("baseline"), other_target, 0
    )
    # what is done when the target cannot run here does not change what is measured
    strict = TargetSpec(backend="torch", options={"threads": 1}, if_unavailable="fail")
    assert base == job_identity("builtin:digits-mlp", "digits", Variant("baseline"), strict, 0)


def test_stochastic_pipelines_run_once_per_seed(write_spec, registry) -> None:
    import types

    from squeezebench import hookimpl
    from squeezebench.plugins import Method
    from squeezebench.plugins.manager import build_plugin_manager, build_registry

    class Shuffle(Method):
        name = "test.shuffle"
        stochastic = True

    plugin = types.ModuleType("stochastic_plugin")
    plugin.squeezebench_register = hookimpl(lambda registry: registry.add_method(Shuffle))
    local = build_registry(build_plugin_manager(autoload=False, extra_plugins=[plugin]))
    path = write_spec(
        """
        name: seeds
        seed: [3, 1, 3]
        model: builtin:digits-mlp
        variants:
          random: [test.shuffle]
          int8: [quantize.dynamic_int8]
        """
    )
    jobs = plan_jobs(load_spec(path, local), local)
    assert [(j.variant.name, j.seed) for j in jobs] == [
        ("baseline", 3),
        ("random", 3),
        ("random", 1),
        ("int8", 3),
    ]
    assert len({j.job_id for j in jobs}) == 4
