"""torch-to-onnx: what exports (self-contained, named, dynamic batch) and what is refused."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from squeezebench.errors import ConversionError
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.methods._torch_ao import quantize_dynamic_linear
from squeezebench.plugins.builtin.models import digits_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(payload: bytes, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": batch})[0]


def test_export_is_self_contained_with_named_io_and_a_dynamic_batch() -> None:
    model = digits_models.build_architecture("digits-mlp").eval()
    payload = TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))
    proto = onnx.load_model_from_string(payload)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    external = onnx.TensorProto.EXTERNAL
    assert all(t.data_location != external for t in proto.graph.initializer)
    batch = np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)
    with torch.inference_mode():
        expected = model(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(_run(payload, batch), expected, atol=1e-5)


def test_torch_dynamic_int8_is_refused_with_one_line_and_an_alternative() -> None:
    model = quantize_dynamic_linear(digits_models.build_architecture("digits-mlp").eval())
    with pytest.raises(ConversionError) as caught:
        TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8))
    message = str(caught.value)
    assert "quantized::linear_dynamic" in message and "ort.quantize_dynamic" in message
    assert "\n" not in message


def test_packed_int8_weights_stay_packed_in_the_file() -> None:
    from squeezebench.plugins.builtin.methods.quantize_weight_only import (
        WeightOnlyParams,
        WeightOnlyQuantization,
    )
    from squeezebench.plugins.contracts import MethodContext

    model = digits_models.build_architecture("digits-mlp").eval()
    float_bytes = len(TorchToOnnx().convert(model, torch.zeros(1, 1, 8, 8)))
    packed = WeightOnlyQuantization().apply(model, WeightOnlyParams(bits=8), MethodContext(seed=0))
    payload = TorchToOnnx().convert(packed, torch.zeros(1, 1, 8, 8))
    assert len(payload) < 0.4 * float_bytes  # int8 weights, not folded back to float
    batch = np.ones((2, 1, 8, 8), dtype=np.float32)
    with torch.inference_mode():
        expected = packed(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(_run(payload, batch), expected, atol=1e-5)


def test_check_names_the_extra_when_onnx_is_missing(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    assert TorchToOnnx().check() == (
        "the onnx package is not installed (pip install 'squeezebench[onnx]')"
    )
    monkeypatch.undo()
    assert TorchToOnnx().check() is None
