"""``quantize.static_int8`` on the digits models: int8 kernels, real bytes, accuracy.

The theoretical size of a torch.ao int8 layer is its int8 weight (1 byte per weight), its
float32 bias and, per channel, the float64 scale and int64 zero point torch stores for
each output channel of a per-channel quantized tensor. The artifact's tensor bytes (the
``data/<n>`` records of the ``torch.save`` zip) must lie within 10% above that; the excess
is the activation scales and zero points (one pair per quantized tensor).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch
from helpers.artifacts import digits_test_accuracy, saved_state_dict
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods._torch_ao import is_quantized_layer
from squeezebench.plugins.builtin.methods.quantize_static_int8 import (
    StaticInt8Params,
    StaticInt8Quantization,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model

KINDS = (nn.Linear, nn.Conv2d)
SRC = Path(__file__).resolve().parents[4] / "src" / "squeezebench"


def _theoretical_bytes(model: nn.Module, per_channel: bool) -> int:
    total = 0
    for layer in model.modules():
        if isinstance(layer, KINDS):
            rows = layer.weight.shape[0]
            total += layer.weight.numel() + 4 * rows  # int8 weight, float32 bias
            total += 16 * rows if per_channel else 0  # float64 scale + int64 zero point
    return total


def _quantize(model: nn.Module, data=True, **params) -> tuple[nn.Module, MethodContext]:
    ctx = MethodContext(seed=0, data=digits_splits() if data else None)
    return StaticInt8Quantization().apply(model, StaticInt8Params(**params), ctx), ctx


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
@pytest.mark.parametrize("granularity", ["per_channel", "per_tensor"])
def test_every_layer_runs_int8_and_the_artifact_shrinks(name: str, granularity: str) -> None:
    model = trained_model(name)
    layers = sum(isinstance(m, KINDS) for m in model.modules())
    theoretical = _theoretical_bytes(model, granularity == "per_channel")
    float_parameters = count_parameters(model)[0]
    baseline = digits_test_accuracy(model)
    quantized, ctx = _quantize(model, weight_granularity=granularity, activation_observer="minmax")
    int8 = [m for m in quantized.modules() if is_quantized_layer(m)]
    assert len(int8) == layers
    assert all(m.weight().dtype == torch.qint8 for m in int8)
    assert not any(isinstance(m, KINDS) for m in quantized.modules())
    tensor_bytes = saved_state_dict(quantized).tensor_bytes
    assert theoretical <= tensor_bytes <= 1.10 * theoretical
    assert count_parameters(quantized)[0] == float_parameters
    assert digits_test_accuracy(quantized) >= baseline - 0.01
    assert f"{granularity.replace('_', '-')} symmetric" in ctx.notes[0]
    output = quantized(torch.from_numpy(digits_splits().test.inputs[:4]))
    assert output.dtype == torch.float32 and output.shape == (4, 10)


def test_histogram_calibration_with_limited_batches() -> None:
    model = trained_model("digits-cnn")
    baseline = digits_test_accuracy(model)
    quantized, ctx = _quantize(model, batch_size=16, calibration_batches=3)
    assert "calibrated on 48 samples in 3 batches" in ctx.notes[0]
    assert "histogram observer" in ctx.notes[0]
    assert digits_test_accuracy(quantized) >= baseline - 0.01


def test_excluded_layers_stay_float() -> None:
    quantized, ctx = _quantize(
        trained_model("digits-mlp"), exclude=["5"], activation_observer="minmax"
    )
    assert sum(is_quantized_layer(m) for m in quantized.modules()) == 2
    assert isinstance(quantized.get_submodule("5"), nn.Linear)
    assert "kept in float: 5" in ctx.notes[0]


def test_models_it_cannot_handle_are_method_errors() -> None:
    with pytest.raises(MethodError, match=r"needs calibration data.*names no dataset"):
        _quantize(trained_model("digits-mlp"), data=False)
    with pytest.raises(MethodError, match="found no float Linear or Conv layer"):
        _quantize(nn.Sequential(nn.Flatten(), nn.ReLU()))

    class DataDependent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flatten(1)
            return self.fc(x) if x.sum() > 0 else -self.fc(x)

    with pytest.raises(MethodError, match=r"torch\.fx.*TraceError"):
        _quantize(DataDependent())


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated:UserWarning")
def test_artifact_pickles_for_the_artifact_cache() -> None:
    quantized, _ = _quantize(trained_model("digits-cnn"), activation_observer="minmax")
    buffer = io.BytesIO()
    torch.save(quantized, buffer)
    restored = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    x = torch.from_numpy(digits_splits().test.inputs[:16])
    assert torch.equal(restored(x), quantized(x))


def test_only_one_module_imports_torch_ao() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+torch\.(ao|quantization)\b", re.M)
    importers = sorted(
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if pattern.search(path.read_text())
    )
    assert importers == ["plugins/builtin/methods/_torch_ao.py"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weight_granularity": "per_group"}, "'per_channel' or 'per_tensor'"),
        ({"activation_observer": "entropy"}, "'histogram' or 'minmax'"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"calibration_batches": 0}, "greater than or equal to 1"),
        ({"calibrate": True}, "Extra inputs are not permitted"),
    ],
)
def test_params_validation(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StaticInt8Params(**params)


def test_end_to_end(run_variants) -> None:
    variants = "int8: [{quantize.static_int8: {activation_observer: minmax}}]"
    rows = run_variants(variants, model="builtin:digits-cnn")
    assert set(rows["status"]) == {"ok"}
    baseline, int8 = rows.loc["baseline"], rows.loc["int8"]
    expected, _ = _quantize(trained_model("digits-cnn"), activation_observer="minmax")
    assert int8["artifact_bytes"] == saved_state_dict(expected).file_bytes
    assert int8["compression_ratio"] == pytest.approx(
        baseline["artifact_bytes"] / int8["artifact_bytes"]
    )
    assert 3.5 < int8["compression_ratio"] < 4.0
    assert int8["params"] == baseline["params"]
    assert int8["accuracy"] >= baseline["accuracy"] - 0.01
    assert "to int8" in int8["method_log"]
