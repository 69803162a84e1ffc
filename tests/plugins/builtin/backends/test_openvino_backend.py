"""openvino backend: options, availability messages, outputs equal to torch's, int8 QDQ models,
the shipped IR, and the conformance kit."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends.onnxruntime_backend import OnnxRuntimeOptions
from squeezebench.plugins.builtin.backends.openvino_backend import (
    OpenVinoBackend,
    OpenVinoOptions,
)
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.models import digits_models
from squeezebench.spec.models import TargetSpec
from squeezebench.testing import BackendCase, conformance


def _target(**options: object) -> TargetSpec:
    validated = OpenVinoOptions.model_validate(options).model_dump(mode="json")
    return TargetSpec(backend="openvino", device="cpu", options=validated)


def _needs_openvino() -> None:
    pytest.importorskip("openvino", reason="needs squeezebench[openvino]")


test_conformance = conformance(
    backends=[
        BackendCase(OpenVinoBackend, options={"threads": 1}, id="openvino-latency"),
        BackendCase(
            OpenVinoBackend,
            options={"threads": 2, "performance_hint": "THROUGHPUT"},
            id="openvino-throughput",
        ),
    ]
)


def test_options_are_validated() -> None:
    assert OpenVinoOptions().threads == OnnxRuntimeOptions().threads  # same default: fair
    assert OpenVinoOptions().precision == "f32"  # not OpenVINO's bf16 default on AMX CPUs
    assert OpenVinoOptions().performance_hint == "LATENCY"
    for bad in ({"threads": 0}, {"performance_hint": "FAST"}, {"thread": 2}, {"precision": "i8"}):
        with pytest.raises(ValidationError):
            OpenVinoOptions.model_validate(bad)


def test_a_bad_option_in_a_spec_is_a_located_error(write_spec, registry) -> None:
    from squeezebench.errors import UserError
    from squeezebench.spec import load_spec

    path = write_spec(
        """
        name: ov
        model: builtin:digits-mlp
        targets:
          - {backend: openvino, device: cpu, options: {performance_hint: FAST}}
        """
    )
    with pytest.raises(UserError) as caught:
        load_spec(path, registry)
    assert f"{path}:4:" in str(caught.value) and "performance_hint" in str(caught.value)
    assert "'LATENCY' or 'THROUGHPUT'" in str(caught.value)


def test_without_openvino_the_target_is_skipped_with_the_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import now raises ImportError
    hint = "openvino is not installed (pip install 'squeezebench[openvino]')"
    assert OpenVinoBackend().check(_target()) == hint
    with pytest.raises(BackendUnavailable, match=r"squeezebench\[openvino\]"):
        OpenVinoBackend().prepare(b"", _target())


@pytest.mark.parametrize("name", digits_models.ARCHITECTURES)
def test_outputs_match_torch_on_the_digits_models(name: str) -> None:
    _needs_openvino()
    model = digits_models.trained_model(name)
    payload = TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))
    runner = OpenVinoBackend().prepare(payload, _target(threads=1))
    inputs = digits_splits().test.inputs
    outputs = runner.fetch(runner.run(runner.place(inputs)))
    with torch.inference_mode():
        expected = model(torch.from_numpy(inputs)).numpy()
    assert np.abs(outputs - expected).max() < 1e-4
    assert (outputs.argmax(axis=1) == expected.argmax(axis=1)).all()
    runner.close()


def test_the_artifact_is_the_saved_ir_and_fp16_halves_its_weights() -> None:
    _needs_openvino()
    model = digits_models.trained_model("digits-cnn")
    payload = TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))
    full = OpenVinoBackend().prepare(payload, _target(threads=1))
    half = OpenVinoBackend().prepare(payload, _target(threads=1, compress_to_fp16=True))
    ir, ir16 = full.artifact_bytes(), half.artifact_bytes()
    assert ir.startswith(b"<?xml") and b"<net name=" in ir  # the graph, then the weights
    weights = sum(p.numel() for p in model.parameters()) * 4
    assert weights < len(ir) < weights * 1.1
    assert len(ir16) < len(ir) * 0.6
    inputs = digits_splits().test.inputs
    rounded = half.fetch(half.run(half.place(inputs)))  # what runs is the fp16 IR that ships
    exact = full.fetch(full.run(full.place(inputs)))
    assert 0 < np.abs(rounded - exact).max() < 0.05
    full.close()
    half.close()


def test_int8_qdq_models_of_ort_quantize_static_run_or_say_why(registry) -> None:
    _needs_openvino()
    pytest.importorskip("onnxruntime", reason="ort.quantize_static needs squeezebench[onnx]")
    from squeezebench.plugins import MethodContext

    model = digits_models.trained_model("digits-cnn")
    payload = TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))
    method = registry.method("ort.quantize_static")
    data = digits_splits()
    quantized = method().apply(payload, method.Params(), MethodContext(seed=0, data=data))
    try:
        runner = OpenVinoBackend().prepare(quantized, _target(threads=1))
    except Exception as error:  # a clear reason, never a crash: what the harness records
        pytest.skip(f"OpenVINO cannot compile this QDQ model: {type(error).__name__}: {error}")
    outputs = runner.fetch(runner.run(runner.place(data.test.inputs)))
    accuracy = float((outputs.argmax(axis=1) == data.test.labels).mean())
    with torch.inference_mode():
        reference = model(torch.from_numpy(data.test.inputs)).numpy().argmax(axis=1)
    float_accuracy = float((reference == data.test.labels).mean())
    assert accuracy > float_accuracy - 0.02  # int8 keeps the accuracy
    assert len(runner.artifact_bytes()) < len(payload) * 0.5  # int8 weights stay int8
    runner.close()


def test_a_spec_runs_on_openvino_next_to_onnxruntime(write_spec, fast_benchmark, registry):
    _needs_openvino()
    pytest.importorskip("onnxruntime", reason="needs squeezebench[onnx]")
    from squeezebench.harness.run import run_spec
    from squeezebench.spec import load_spec

    path = write_spec(
        """
        name: ov-run
        model: builtin:digits-mlp
        dataset: builtin:digits
        variants:
          pruned: [{prune.magnitude: {sparsity: 0.5}}]
        targets:
          - {backend: onnxruntime, device: cpu, options: {threads: 1}}
          - {backend: openvino, device: cpu, options: {threads: 1}}
        """,
        fast_benchmark,
    )
    outcome = run_spec(load_spec(path, registry), registry, path.parent / "out", isolate=False)
    rows = {(r["variant"], r["target"], r["batch_size"]): r for r in outcome.rows}
    assert {r["status"] for r in outcome.rows} == {"ok"}
    for variant in ("baseline", "pruned"):
        ov, ort = rows[(variant, "openvino:cpu", 1)], rows[(variant, "onnxruntime:cpu", 1)]
        assert ov["conversions"] == "torch-to-onnx" and ov["artifact_format"] == "onnx"
        assert ov["accuracy"] == ort["accuracy"]
        assert ov["fidelity"] == ort["fidelity"]
        assert ov["prepare_seconds"] > 0 and ov["latency_p50_ms"] > 0


def test_an_operator_openvino_does_not_know_skips_the_target_with_its_name() -> None:
    _needs_openvino()
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("NoSuchOp", ["input"], ["output"], domain="com.example")
    spec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 4]) for n in "io"]
    graph = helper.make_graph([node], "g", spec[:1], spec[1:])
    graph.input[0].name, graph.output[0].name = "input", "output"
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    payload = helper.make_model(graph, opset_imports=opsets).SerializeToString()
    assert onnx.load_from_string(payload).graph.node[0].op_type == "NoSuchOp"
    with pytest.raises(BackendUnavailable) as caught:  # recorded as skipped, with this reason
        OpenVinoBackend().prepare(payload, _target(threads=1))
    message = str(caught.value)
    assert message.startswith("OpenVINO ") and "cannot read this ONNX model" in message
    assert "com.example.NoSuchOp" in message and "\n" not in message
