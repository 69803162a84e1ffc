"""Device syntax: the default every backend gets, and a backend that writes devices its own way."""

from __future__ import annotations

import types

import pytest

from squeezebench import hookimpl
from squeezebench.plugins.contracts import Backend
from squeezebench.plugins.devices import device_forms, device_syntax_problem
from squeezebench.plugins.manager import build_plugin_manager, build_registry
from squeezebench.spec.issues import SpecError
from squeezebench.spec.load import load_spec

KINDS = ("cpu", "cuda")


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:7", "cuda:127"])
def test_valid_devices(device) -> None:
    assert device_syntax_problem(device, KINDS, "torch") is None


@pytest.mark.parametrize(
    ("device", "says", "suggestion"),
    [
        ("cuda:first", "has the index 'first'", "cuda"),
        ("cuda:-1", "has the index '-1'", "cuda"),
        ("cuda:+1", "has the index '+1'", "cuda:1"),
        ("cuda:01", "has the index '01'", "cuda:1"),
        ("cuda:1.0", "has the index '1.0'", "cuda"),
        ("cuda:", "has nothing after 'cuda:'", "cuda"),
        ("cuda:0:1", "has more than one ':'", "cuda:0"),
        ("cuda:128", "above 127", "cuda"),
        ("cuda:99999999999999999999", "above 127", "cuda"),
        ("cpu:3", "cpu takes none", "cpu"),
        ("cpu:0", "cpu takes none", "cpu"),
        ("cuda ", "contains white space", "cuda"),
        ("\tcuda:1", "contains white space", "cuda:1"),
        ("cuda:\u0661", "has the index '\u0661'", "cuda:1"),  # an Arabic-Indic one
        ("cuda:\uff11", "has the index '\uff11'", "cuda:1"),  # a full-width one
        ("CUDA", "is not a device of backend torch", "cuda"),
        ("Cpu", "is not a device of backend torch", "cpu"),
        ("mps", "is not a device of backend torch", None),
        ("mps:0", "is not a device of backend torch", None),
        ("", "is empty", None),
        (":0", "is not a device of backend torch", None),
        ("cüda", "is not a device of backend torch", "cuda"),
    ],
)
def test_invalid_devices_say_why_and_list_the_forms(device, says, suggestion) -> None:
    problem = device_syntax_problem(device, KINDS, "torch")
    assert problem is not None and problem.startswith(f"device {device!r} ")
    assert says in problem
    assert problem.endswith("(valid: cpu, cuda, cuda:N with N from 0 to 127)")
    if suggestion is None:
        assert "did you mean" not in problem
    else:
        assert f"did you mean {suggestion!r}?" in problem


def test_forms_follow_the_backend_kinds() -> None:
    assert device_forms(("cpu",)) == "cpu"
    assert device_forms(("cuda",)) == "cuda, cuda:N with N from 0 to 127"


class _RangeBackend(Backend):
    """Writes devices as npu0 ... npu3."""

    name = "npu-test"
    devices = ("npu",)

    @classmethod
    def check_device(cls, device: str) -> str | None:
        valid = [f"npu{index}" for index in range(4)]
        return None if device in valid else f"expected one of {', '.join(valid)}"


@hookimpl
def _register(registry) -> None:
    registry.add_backend(_RangeBackend)


def test_a_backend_validates_its_own_device_syntax(tmp_path) -> None:
    plugin = types.ModuleType("npu_test_plugin")
    plugin.squeezebench_register = _register
    registry = build_registry(build_plugin_manager(autoload=False, extra_plugins=[plugin]))
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: t\nmodel: builtin:digits-mlp\ntargets: [npu-test:npu2]\n")
    assert load_spec(spec, registry).targets[0].device == "npu2"
    spec.write_text("name: t\nmodel: builtin:digits-mlp\ntargets: [npu-test:npu:2]\n")
    with pytest.raises(SpecError, match=r"3:11: targets\[0\]: expected one of npu0, npu1"):
        load_spec(spec, registry)
