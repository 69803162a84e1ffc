"""The conformance kit: the built-in plugins pass it, and each broken rule is caught."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import broken_plugins as broken

from squeezebench.plugins.manager import build_plugin_manager, build_registry
from squeezebench.testing import (
    BackendCase,
    ConformanceFailure,
    MethodCase,
    ModelSourceCase,
    check_backend_declares_its_contract,
    check_dataset_is_fixed,
    check_method_changes_the_model,
    check_method_is_deterministic,
    check_method_params,
    check_method_result_runs_and_serializes,
    check_model_source,
    check_model_source_check_is_cheap,
    check_runner_close_releases,
    check_runner_runs_batches,
    conformance,
    conformance_checks,
)
from squeezebench.testing.cases import DatasetCase

# -- the built-ins conform (and this is how a plugin package uses the kit) --------------------

BUILTINS = build_registry(build_plugin_manager(autoload=False))  # at collection time

test_builtins_conform = conformance(
    methods=[
        MethodCase(BUILTINS.method("prune.magnitude"), params={"sparsity": 0.5}),
        BUILTINS.method("quantize.dynamic_int8"),
        MethodCase(BUILTINS.method("quantize.weight_only"), params={"bits": 4}),
        BUILTINS.method("encode.zstd"),
        BUILTINS.method("ort.quantize_dynamic"),
    ],
    backends=[
        BackendCase(BUILTINS.backend("torch"), options={"threads": 1}),
        BackendCase(BUILTINS.backend("onnxruntime"), options={"threads": 1}),
    ],
    datasets=[BUILTINS.dataset("digits")],
    model_sources=[ModelSourceCase(BUILTINS.model_source("builtin"), reference="digits-mlp")],
    converters=[BUILTINS.converter("torch-to-onnx")],
)


def test_every_rule_is_one_named_check() -> None:
    ids = [
        check.id for check in conformance_checks(methods=[BUILTINS.method("quantize.dynamic_int8")])
    ]
    assert ids == [
        "quantize.dynamic_int8-declares_its_contract",
        "quantize.dynamic_int8-params_round_trip",
        "quantize.dynamic_int8-changes_the_model",
        "quantize.dynamic_int8-result_runs_and_serializes",
        "quantize.dynamic_int8-is_deterministic",
    ]
    with pytest.raises(TypeError, match="needs a reference"):
        conformance_checks(model_sources=[BUILTINS.model_source("builtin")])
    with pytest.raises(ValueError, match="at least one"):
        conformance()


# -- each broken rule is caught, with a message that says what to do --------------------------


@pytest.mark.parametrize(
    ("check", "case", "message"),
    [
        (check_method_params, MethodCase(broken.OpenParamsMethod), "extra='forbid'"),
        (check_method_changes_the_model, MethodCase(broken.DoesNothing), "unchanged"),
        (check_method_is_deterministic, MethodCase(broken.Unseeded), "ctx.seed"),
        (check_method_result_runs_and_serializes, MethodCase(broken.BreaksTheModel), "NaN"),
        (check_runner_runs_batches, BackendCase(broken.WrongBatchBackend), "a batch of 3"),
        (check_runner_close_releases, BackendCase(broken.ThreadLeakBackend), "threads"),
        (check_runner_close_releases, BackendCase(broken.HoardingBackend), "still referenced"),
        (check_backend_declares_its_contract, BackendCase(broken.NotABackend), "formats"),
        (check_dataset_is_fixed, DatasetCase(broken.ShuffledDigits), "two loads"),
        (check_model_source, ModelSourceCase(broken.RandomWeights, "x"), "different weights"),
        (
            check_model_source_check_is_cheap,
            ModelSourceCase(broken.ExpensiveCheck, "x"),
            "imported torch",
        ),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_a_broken_rule_fails_its_check(check, case, message) -> None:
    with pytest.raises(ConformanceFailure, match=message):
        check(case)


def test_a_method_that_only_encodes_may_leave_the_model_unchanged() -> None:
    check_method_changes_the_model(MethodCase(broken.DoesNothing, changes_model=False))


def test_the_pytest_plugin_is_registered_and_imports_nothing_heavy() -> None:
    code = (
        "import importlib.metadata, sys\n"
        "points = importlib.metadata.entry_points(group='pytest11')\n"
        "assert any(p.value == 'squeezebench.testing.pytest_plugin' for p in points), points\n"
        "import squeezebench.testing.pytest_plugin\n"
        "heavy = [m for m in ('torch', 'numpy', 'pyarrow', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_fixtures_give_a_model_and_a_context(
    squeezebench_reference_model, squeezebench_method_context, squeezebench_data
) -> None:
    module, example = squeezebench_reference_model
    assert module(example).shape == (len(example), 10)
    assert squeezebench_method_context.data is squeezebench_data
    assert squeezebench_method_context.seed == 0


def test_the_case_device_is_judged_by_the_backends_own_device_rule() -> None:
    torch_backend = BUILTINS.backend("torch")

    class NumberedCpus(torch_backend):  # writes its CPUs as cpu0, cpu1, ...
        """Torch on a numbered CPU."""

        name = "numbered-cpus"

        @classmethod
        def check_device(cls, device: str) -> str | None:
            return None if device in ("cpu0", "cpu1") else f"{device}: write cpu0 or cpu1"

    check_backend_declares_its_contract(BackendCase(NumberedCpus, device="cpu0"))
    with pytest.raises(ConformanceFailure, match="write cpu0 or cpu1"):
        check_backend_declares_its_contract(BackendCase(NumberedCpus, device="cpu"))
    with pytest.raises(ConformanceFailure, match="cpu:0"):
        check_backend_declares_its_contract(BackendCase(torch_backend, device="cpu:0"))
