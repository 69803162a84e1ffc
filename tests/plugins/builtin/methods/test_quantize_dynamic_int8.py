"""``quantize.dynamic_int8``: int8 Linear weights (per-tensor scale), activations at run time.

The theoretical size of a dynamically quantized Linear layer is its int8 weight (1 byte per
weight) and float32 bias; Conv layers stay float32. The artifact's tensor bytes (the
``data/<n>`` records of the ``torch.save`` zip) must lie within 10% above that.
"""

from __future__ import annotations

import pytest
import torch
from helpers.artifacts import digits_test_accuracy, saved_state_dict
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext, NoParams
from squeezebench.plugins.builtin.methods.quantize_dynamic_int8 import (
    DynamicInt8Quantization,
    dynamic_linear_types,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model


def test_linear_layers_become_int8_and_the_artifact_shrinks() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    x = torch.randn(8, 256)
    expected = model(x)
    float_bytes = saved_state_dict(model).file_bytes
    quantized = DynamicInt8Quantization().apply(model, NoParams(), MethodContext(seed=0))
    assert sum(isinstance(m, dynamic_linear_types()) for m in quantized.modules()) == 2
    assert float_bytes / saved_state_dict(quantized).file_bytes > 3.0  # int8 weights: close to 4x
    relative = (quantized(x) - expected).norm() / expected.norm()
    assert relative < 0.05


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_digits_models_bytes_accuracy_and_parameters(name: str) -> None:
    model = trained_model(name)
    baseline = digits_test_accuracy(model)
    parameters = count_parameters(model)[0]
    theoretical = 0
    for key, tensor in model.state_dict().items():
        layer = model.get_submodule(key.rpartition(".")[0])
        int8_weight = isinstance(layer, nn.Linear) and key.endswith("weight")
        theoretical += tensor.numel() * (1 if int8_weight else 4)
    ctx = MethodContext(seed=0)
    quantized = DynamicInt8Quantization().apply(model, NoParams(), ctx)
    assert theoretical <= saved_state_dict(quantized).tensor_bytes <= 1.10 * theoretical
    assert digits_test_accuracy(quantized) >= baseline - 0.01
    assert count_parameters(quantized)[0] == parameters
    assert "Linear layer" in ctx.notes[0] and "state_dict" in ctx.notes[0]


def test_model_without_linear_layers_is_an_error() -> None:
    with pytest.raises(MethodError, match=r"no torch\.nn\.Linear"):
        DynamicInt8Quantization().apply(nn.Conv2d(1, 1, 3), NoParams(), MethodContext(seed=0))


def test_params_validation() -> None:
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        DynamicInt8Quantization.Params(bits=8)


def test_end_to_end(run_variants) -> None:
    rows = run_variants("int8: [quantize.dynamic_int8]")
    assert set(rows["status"]) == {"ok"}
    baseline, int8 = rows.loc["baseline"], rows.loc["int8"]
    expected = DynamicInt8Quantization().apply(
        trained_model("digits-mlp"), NoParams(), MethodContext(seed=0)
    )
    assert int8["artifact_bytes"] == saved_state_dict(expected).file_bytes
    assert 3.4 < int8["compression_ratio"] < 4.0
    assert int8["params"] == baseline["params"]
    assert int8["accuracy"] >= baseline["accuracy"] - 0.01
