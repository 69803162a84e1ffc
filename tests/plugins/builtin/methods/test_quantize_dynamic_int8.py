from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext, NoParams
from squeezebench.plugins.builtin.methods.quantize_dynamic_int8 import (
    DynamicInt8Quantization,
    dynamic_linear_types,
)


def _bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return len(buffer.getvalue())


def test_linear_layers_become_int8_and_the_artifact_shrinks() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    x = torch.randn(8, 256)
    expected = model(x)
    float_bytes = _bytes(model)
    quantized = DynamicInt8Quantization().apply(model, NoParams(), MethodContext(seed=0))
    assert sum(isinstance(m, dynamic_linear_types()) for m in quantized.modules()) == 2
    assert float_bytes / _bytes(quantized) > 3.0  # int8 weights: close to 4x
    relative = (quantized(x) - expected).norm() / expected.norm()
    assert relative < 0.05


def test_model_without_linear_layers_is_an_error() -> None:
    with pytest.raises(MethodError, match=r"no torch\.nn\.Linear"):
        DynamicInt8Quantization().apply(nn.Conv2d(1, 1, 3), NoParams(), MethodContext(seed=0))
