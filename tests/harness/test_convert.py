"""Converter chains: path search, failures as skips, skip-or-fail, and torch next to ORT."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest

from squeezebench.errors import ConversionError
from squeezebench.harness.preflight import unavailable_targets
from squeezebench.harness.run import run_spec
from squeezebench.plugins import hookimpl
from squeezebench.plugins.contracts import Backend, Converter, Method
from squeezebench.plugins.conversion import (
    ConverterUnavailable,
    chain_label,
    find_chain,
    run_chain,
)
from squeezebench.plugins.manager import build_plugin_manager, build_registry
from squeezebench.plugins.registry import Registry
from squeezebench.results import load
from squeezebench.spec.issues import SpecError
from squeezebench.spec.load import load_spec

pytest.importorskip("onnxruntime")


def _converter(name: str, source: str, target: str, **body: Any) -> type[Converter]:
    namespace = {"name": name, "source": source, "target": target}
    namespace.setdefault("convert", lambda self, artifact, example: f"{artifact}>{name}")
    namespace.update(body)
    return type(name.replace("-", "_"), (Converter,), namespace)


def _registry(*converters: type[Converter]) -> Registry:
    registry = Registry()
    for converter in converters:
        registry.add_converter(converter)
    return registry


A_TO_B = _converter("a-to-b", "a", "b")
B_TO_C = _converter("b-to-c", "b", "c")
A_TO_X = _converter("a-to-x", "a", "x")
X_TO_Y = _converter("x-to-y", "x", "y")
Y_TO_C = _converter("y-to-c", "y", "c")


def test_the_shortest_chain_wins_and_no_chain_is_needed_for_a_format_already_run() -> None:
    registry = _registry(A_TO_X, X_TO_Y, Y_TO_C, A_TO_B, B_TO_C)
    assert find_chain(registry, "a", ["c"]) == (A_TO_B, B_TO_C)
    assert chain_label(find_chain(registry, "a", ["c", "z"])) == "a-to-b, b-to-c"
    assert find_chain(registry, "a", ["y"]) == (A_TO_X, X_TO_Y)
    assert find_chain(registry, "c", ["c", "a"]) == ()
    assert find_chain(registry, "c", ["a"]) is None  # converters go one way
    assert find_chain(_registry(), "a", ["b"]) is None


def test_a_chain_runs_in_order_and_is_timed() -> None:
    converted = run_chain((A_TO_B, B_TO_C), "m", "a", example_input=None)
    assert converted.artifact == "m>a-to-b>b-to-c"
    assert converted.format == "c" and converted.chain == ("a-to-b", "b-to-c")
    assert converted.seconds >= 0


def test_a_converter_that_cannot_run_here_is_unavailable_with_its_reason() -> None:
    missing = _converter("a-to-q", "a", "q", check=lambda self: "install squeezebench[q]")
    with pytest.raises(ConverterUnavailable, match=r"a-to-q: install squeezebench\[q\]"):
        run_chain((missing,), "m", "a", None)


def test_exporter_failures_become_one_line_conversion_errors() -> None:
    def explode(self: Any, artifact: Any, example: Any) -> Any:
        raise RuntimeError("unsupported op Foo\ngraph(%0 : Float(...)):\n  %1 = ...")

    def refuse(self: Any, artifact: Any, example: Any) -> Any:
        raise ConversionError("no ONNX form for Bar")

    with pytest.raises(ConversionError) as caught:
        run_chain((_converter("a-to-q", "a", "q", convert=explode),), "m", "a", None)
    assert str(caught.value) == "a-to-q failed: RuntimeError: unsupported op Foo"
    assert not isinstance(caught.value, ConverterUnavailable)
    with pytest.raises(ConversionError, match=r"^a-to-q: no ONNX form for Bar$"):
        run_chain((_converter("a-to-q", "a", "q", convert=refuse),), "m", "a", None)


# -- through the harness ------------------------------------------------------------------------

FAKE = "fake.graph"


class OnnxToFake(Converter):
    """Needs a package this machine lacks."""

    name = "onnx-to-fake"
    source = "onnx"
    target = FAKE

    def check(self) -> str | None:
        return "the fakeruntime package is not installed (pip install 'squeezebench[fake]')"


class FakeBackend(Backend):
    """Runs fake graphs, reachable from torch only through ONNX and onnx-to-fake."""

    name = "fake"
    formats = (FAKE,)


class IsolatedBackend(Backend):
    """Runs a format nothing converts to."""

    name = "isolated"
    formats = ("isolated.blob",)


class IsolatedMethod(Method):
    """Takes a format nothing converts to."""

    name = "test.isolated"
    takes = ("isolated.blob",)

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        return artifact


@hookimpl
def _register(registry: Registry) -> None:
    registry.add_converter(OnnxToFake)
    registry.add_backend(FakeBackend)
    registry.add_backend(IsolatedBackend)
    registry.add_method(IsolatedMethod)


FAKE_PLUGIN = types.ModuleType("fake_formats_plugin")
FAKE_PLUGIN.squeezebench_register = _register


@pytest.fixture(scope="module")
def fake_registry() -> Registry:
    return build_registry(build_plugin_manager(autoload=False, extra_plugins=[FAKE_PLUGIN]))


SIDE_BY_SIDE = """
name: side-by-side
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  pruned:
    - prune.magnitude: {sparsity: 0.5}
  int8: [quantize.dynamic_int8]
  ort-int8: [ort.quantize_dynamic]
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
  - {backend: onnxruntime, device: cpu, options: {threads: 1}}
  - {backend: fake, device: cpu, if_unavailable: fail}
  - {backend: isolated, device: cpu}
"""


def test_torch_and_onnxruntime_rows_side_by_side(
    write_spec, fake_registry, fast_benchmark, tmp_path
) -> None:
    resolved = load_spec(write_spec(SIDE_BY_SIDE, fast_benchmark), fake_registry)
    unavailable = unavailable_targets(resolved, fake_registry)
    assert [(t.label, r.split(":")[0]) for t, r in unavailable] == [
        ("fake:cpu", "converter onnx-to-fake")
    ]
    outcome = run_spec(resolved, fake_registry, tmp_path / "results", isolate=False)
    frame = load(outcome.directory)
    rows = frame[frame["batch_size"] == 1].set_index(["variant", "target"])
    for variant in ("baseline", "pruned"):
        torch_row, ort = rows.loc[(variant, "torch:cpu")], rows.loc[(variant, "onnxruntime:cpu")]
        assert torch_row["status"] == ort["status"] == "ok"
        assert torch_row["artifact_format"] == "torch.module"
        assert pd_isnull(torch_row["conversions"])
        assert ort["artifact_format"] == "onnx" and ort["conversions"] == "torch-to-onnx"
        assert ort["convert_seconds"] > 0 and ort["prepare_seconds"] > 0
        assert torch_row["prepare_seconds"] >= 0 and pd_isnull(torch_row["convert_seconds"])
        assert ort["accuracy"] == pytest.approx(torch_row["accuracy"], abs=0.002)
        assert ort["fidelity"] == pytest.approx(torch_row["fidelity"], abs=0.005)
        assert 0.9 < ort["artifact_bytes"] / torch_row["artifact_bytes"] < 1.1  # float32 both
    skipped = rows.loc[("int8", "onnxruntime:cpu")]
    assert skipped["status"] == "skipped"
    assert "quantized::linear_dynamic" in skipped["reason"] and "\n" not in skipped["reason"]
    ort_int8 = rows.loc[("ort-int8", "onnxruntime:cpu")]
    assert ort_int8["status"] == "ok" and ort_int8["accuracy"] > 0.95
    assert ort_int8["compression_ratio"] > 3
    log = json.loads(ort_int8["method_log"])
    assert "converted torch.module to onnx with torch-to-onnx" in log[0]
    assert "MatMulInteger" in log[-1]
    on_torch = rows.loc[("ort-int8", "torch:cpu")]
    assert on_torch["status"] == "skipped"
    assert on_torch["reason"] == (
        "the pipeline gives onnx but backend torch takes torch.module, "
        "and no registered converter connects them"
    )
    fake = frame[frame["target"] == "fake:cpu"]
    assert set(fake["status"]) == {"error"}  # if_unavailable: fail
    assert fake["reason"].str.contains(r"squeezebench\[fake\].*if_unavailable: fail").all()
    isolated = frame[frame["target"] == "isolated:cpu"]
    assert set(isolated["status"]) == {"skipped"}  # no path: skipped even so
    assert isolated["reason"].str.contains("gives torch.module but backend isolated").any()
    assert outcome.failed_jobs == len(resolved.variants)


def pd_isnull(value: Any) -> bool:
    return value is None or value != value


def test_a_pipeline_needing_a_missing_converter_is_skipped_unless_the_target_says_fail(
    write_spec, fake_registry, fast_benchmark, tmp_path
) -> None:
    spec = """
        name: unavailable
        model: builtin:digits-mlp
        targets:
          - {backend: onnxruntime, device: cpu, options: {threads: 1}}
          - {backend: onnxruntime, device: cpu, name: strict, if_unavailable: fail}
        """
    path = write_spec(spec, fast_benchmark)
    registry = build_registry(build_plugin_manager(autoload=False))
    resolved = load_spec(path, registry)
    converter = registry.get("converter", "torch-to-onnx")
    original = converter.check
    converter.check = lambda self: "the onnx package is not installed (squeezebench[onnx])"
    try:
        outcome = run_spec(resolved, registry, tmp_path / "results", isolate=False)
    finally:
        converter.check = original
    frame = load(outcome.directory).set_index("target")
    assert set(frame.loc["onnxruntime:cpu", "status"]) == {"skipped"}
    assert set(frame.loc["strict", "status"]) == {"error"}
    assert frame["reason"].str.contains(r"converter torch-to-onnx: .*squeezebench\[onnx\]").all()


def test_a_step_is_accepted_when_converters_reach_its_format(write_spec, fake_registry) -> None:
    head = "name: s\nmodel: builtin:digits-mlp\n"
    ok = write_spec(
        head + "variants:\n  v: [{prune.magnitude: {sparsity: 0.5}}, ort.quantize_static]\n"
    )
    assert [v.name for v in load_spec(ok, fake_registry).variants] == ["baseline", "v"]
    bad = write_spec(head + "variants:\n  v: [test.isolated]\n", name="bad.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(bad, fake_registry)
    assert (
        "test.isolated takes isolated.blob but the model is torch.module, and no registered "
        "converter connects them" in str(caught.value)
    )
