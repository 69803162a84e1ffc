from __future__ import annotations

import torch
from torch import nn

from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext, NoParams
from squeezebench.plugins.builtin.methods.quantize_dynamic_int8 import DynamicInt8Quantization


def test_counts_parameters_and_nonzeros() -> None:
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight[0].zero_()
    assert count_parameters(layer) == (15, 11)


def test_quantized_layers_keep_their_parameter_count() -> None:
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    quantized = DynamicInt8Quantization().apply(model, NoParams(), MethodContext(seed=0))
    assert count_parameters(quantized)[0] == 16 * 8 + 8 + 8 * 2 + 2


def test_packed_layers_count_their_logical_weights() -> None:
    class Packed(nn.Module):
        in_features, out_features = 4, 2

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("packed", torch.zeros(4, dtype=torch.uint8))
            self.bias = nn.Parameter(torch.ones(2))

        def dequantized_weight(self) -> torch.Tensor:
            return torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 3.0, 4.0]])

        def forward(self, x):
            return x @ self.dequantized_weight().T + self.bias

    assert count_parameters(nn.Sequential(Packed())) == (10, 6)
