"""ort.quantize_dynamic / ort.quantize_static on exported digits models."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.ort_quantize import (
    OrtDynamicParams,
    OrtDynamicQuantization,
    OrtStaticParams,
    OrtStaticQuantization,
)
from squeezebench.plugins.builtin.models import digits_models
from squeezebench.plugins.contracts import MethodContext

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported_mlp() -> bytes:
    model = digits_models.trained_model("digits-mlp")
    return TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))


def _accuracy(payload: bytes) -> float:
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    test = digits_splits().test
    outputs = session.run(["output"], {"input": test.inputs})[0]
    return float(np.mean(outputs.argmax(axis=1) == test.labels))


def _ops(payload: bytes) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load_model_from_string(payload).graph.node}


def test_dynamic_int8_keeps_accuracy_and_shrinks_the_model(exported_mlp: bytes) -> None:
    ctx = MethodContext(seed=0)
    quantized = OrtDynamicQuantization().apply(exported_mlp, OrtDynamicParams(), ctx)
    assert len(quantized) < 0.35 * len(exported_mlp)
    assert "MatMulInteger" in _ops(quantized)
    assert abs(_accuracy(quantized) - _accuracy(exported_mlp)) <= 0.01
    assert "MatMulInteger" in ctx.notes[-1] and f"{len(quantized):,} bytes" in ctx.notes[-1]


@pytest.mark.parametrize(
    "params",
    [OrtStaticParams(), OrtStaticParams(calibration_method="entropy", per_channel=True)],
    ids=["minmax-qdq", "entropy-per-channel"],
)
def test_static_int8_calibrates_on_the_calibration_split(
    exported_mlp: bytes, params: OrtStaticParams
) -> None:
    ctx = MethodContext(seed=0, data=digits_splits())
    quantized = OrtStaticQuantization().apply(exported_mlp, params, ctx)
    assert {"QuantizeLinear", "DequantizeLinear"} <= _ops(quantized)
    assert len(quantized) < 0.35 * len(exported_mlp)
    assert abs(_accuracy(quantized) - _accuracy(exported_mlp)) <= 0.015
    assert any(f"({params.calibration_method})" in note for note in ctx.notes)


def _activation_zero_points(payload: bytes) -> set[int]:
    """Zero points of the QuantizeLinear nodes (activations) of a QDQ model."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_model_from_string(payload).graph
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    return {
        int(value)
        for node in graph.node
        if node.op_type == "QuantizeLinear" and len(node.input) > 2
        for value in np.ravel(constants[node.input[2]])
    }


def test_symmetric_activations_give_zero_zero_points(exported_mlp: bytes) -> None:
    """TensorRT takes Q/DQ models with symmetric (zero point 0) activations only."""
    data = digits_splits()
    default = OrtStaticQuantization().apply(
        exported_mlp, OrtStaticParams(), MethodContext(0, data=data)
    )
    symmetric = OrtStaticQuantization().apply(
        exported_mlp, OrtStaticParams(symmetric_activations=True), MethodContext(0, data=data)
    )
    assert _activation_zero_points(symmetric) == {0}
    assert _activation_zero_points(default) != {0}  # the default really is asymmetric
    assert abs(_accuracy(symmetric) - _accuracy(exported_mlp)) <= 0.015


def test_static_needs_a_dataset(exported_mlp: bytes) -> None:
    with pytest.raises(MethodError, match="calibration split"):
        OrtStaticQuantization().apply(exported_mlp, OrtStaticParams(), MethodContext(seed=0))


def test_missing_onnxruntime_is_a_method_error_naming_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MethodError, match=r"pip install 'squeezebench\[onnx\]'"):
        OrtDynamicQuantization().apply(b"", OrtDynamicParams(), MethodContext(seed=0))
