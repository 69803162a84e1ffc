"""Packed layers: forward = reference path, state_dict = packed bytes, counting works."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from squeezebench.harness.measure.flops import count_flops
from squeezebench.harness.measure.size import count_parameters
from squeezebench.quantized.cast import CastModel
from squeezebench.quantized.layers import QuantizedConv, QuantizedLinear, weight_matrix
from squeezebench.quantized.packing import quantize_affine, quantize_binary


def test_linear_forward_is_a_matmul_with_the_dequantized_weight() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(40, 6)
    packed = quantize_affine(layer.weight, 4, False, 8, torch.float16)
    quantized = QuantizedLinear.from_float(layer, packed)
    x = torch.randn(5, 40)
    expected = F.linear(x, packed.dequantize(), layer.bias)
    assert torch.equal(quantized(x), expected)
    assert torch.equal(quantized.dequantized_weight(), packed.dequantize())
    assert (quantized.in_features, quantized.out_features) == (40, 6)
    state = quantized.state_dict()
    assert list(state) == ["packed_weight", "scales", "zero_points", "bias"]
    assert state["packed_weight"].dtype == torch.uint8 and state["packed_weight"].shape == (6, 20)
    assert state["scales"].dtype == torch.float16 and state["scales"].shape == (6, 5)
    assert state["zero_points"].dtype == torch.uint8 and state["zero_points"].shape == (6, 5)


def test_symmetric_layers_store_no_zero_points_and_bias_may_be_absent() -> None:
    layer = nn.Linear(16, 4, bias=False)
    quantized = QuantizedLinear.from_float(layer, quantize_affine(layer.weight, 8, True))
    assert set(quantized.state_dict()) == {"packed_weight", "scales"}
    assert quantized.bias is None and quantized.zero_points is None
    assert quantized(torch.randn(2, 16)).shape == (2, 4)


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(4, 6, 3, padding=1),
        nn.Conv2d(4, 6, (3, 2), stride=2, groups=2, bias=False),
        nn.Conv1d(3, 5, 4, dilation=2, padding="same"),
    ],
)
def test_conv_forward_is_a_convolution_with_the_dequantized_weight(conv: nn.Module) -> None:
    torch.manual_seed(1)
    packed = quantize_affine(weight_matrix(conv), 4, True, None, torch.float32)
    quantized = QuantizedConv.from_float(conv, packed)
    x = torch.randn(2, conv.in_channels, *([9] * (conv.weight.dim() - 2)))
    weight = packed.dequantize().reshape(conv.weight.shape)
    expected = conv._conv_forward(x, weight, conv.bias)
    assert torch.allclose(quantized(x), expected, atol=1e-6)
    assert quantized.dequantized_weight().shape == conv.weight.shape
    assert quantized.in_features == conv.weight[0].numel()


def test_conv_with_other_padding_modes_is_refused() -> None:
    conv = nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode 'reflect'"):
        QuantizedConv.from_float(conv, quantize_affine(weight_matrix(conv), 8, True))


def test_state_dict_loads_into_a_layer_built_with_the_same_format() -> None:
    torch.manual_seed(2)
    layer = nn.Linear(24, 3)
    quantized = QuantizedLinear.from_float(layer, quantize_binary(weight_matrix(layer)))
    buffer = io.BytesIO()
    torch.save(quantized.state_dict(), buffer)
    fresh = QuantizedLinear(quantized.format, bias=True)
    fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    x = torch.randn(4, 24)
    assert torch.equal(fresh(x), quantized(x))


def test_parameter_and_flop_counts_match_the_float_model() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 10))
    example = torch.randn(1, 1, 8, 8)
    quantized = nn.Sequential(
        QuantizedConv.from_float(model[0], quantize_affine(weight_matrix(model[0]), 8, True)),
        nn.Flatten(),
        QuantizedLinear.from_float(model[2], quantize_affine(model[2].weight, 8, True)),
    )
    assert count_parameters(quantized)[0] == count_parameters(model)[0]
    assert count_flops(quantized, example).dense == count_flops(model, example).dense


def test_cast_model_takes_and_returns_float32() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(3, 8)
    expected = model(x)
    for compute in ("cast", "float32"):
        cast = CastModel(model, torch.bfloat16, compute)
        output = cast(x)
        assert output.dtype == torch.float32
        assert torch.allclose(output, expected, atol=0.05)
        assert {t.dtype for t in cast.state_dict().values()} == {torch.bfloat16}
    with pytest.raises(ValueError, match="compute"):
        CastModel(model, torch.float16, "int8")
