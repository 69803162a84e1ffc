from __future__ import annotations

import copy

import torch
from torch import nn

from squeezebench.harness.measure.flops import count_flops, flops_per_sample
from squeezebench.plugins import MethodContext, NoParams
from squeezebench.plugins.builtin.methods.quantize_dynamic_int8 import DynamicInt8Quantization


def test_linear_flops_per_sample() -> None:
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    assert flops_per_sample(model, torch.zeros(4, 16)) == 2 * (16 * 8 + 8 * 2)


def test_quantized_model_counts_the_same_work() -> None:
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    quantized = DynamicInt8Quantization().apply(
        copy.deepcopy(model), NoParams(), MethodContext(seed=0)
    )
    example = torch.zeros(3, 16)
    assert flops_per_sample(quantized, example) == flops_per_sample(model, example)


def test_untraceable_module_gives_none() -> None:
    class Broken(nn.Module):
        def forward(self, x):
            raise RuntimeError("cannot run")

    assert flops_per_sample(Broken(), torch.zeros(1, 2)) is None


def test_nonzero_flops_scale_each_layer_by_its_weight_density() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 10))
    with torch.no_grad():
        model[0].weight[:2] = 0  # half the filters
        model[2].weight[:5] = 0  # half the output neurons
    counted = count_flops(model, torch.zeros(2, 1, 8, 8))
    conv, linear = 2 * 9 * 144, 2 * 144 * 10
    assert counted.dense == conv + linear
    assert counted.nonzero == conv // 2 + linear // 2


def test_static_int8_model_counts_the_same_work_as_its_float_original() -> None:
    from squeezebench.plugins.builtin.datasets.digits import digits_splits
    from squeezebench.plugins.builtin.methods.quantize_static_int8 import StaticInt8Quantization
    from squeezebench.plugins.builtin.models.digits_models import trained_model

    model = trained_model("digits-cnn")
    quantized = StaticInt8Quantization().apply(
        copy.deepcopy(model),
        StaticInt8Quantization.Params(),
        MethodContext(seed=0, data=digits_splits()),
    )
    example = torch.zeros(1, 1, 8, 8)
    assert flops_per_sample(quantized, example) == flops_per_sample(model, example) > 0
