"""``quantize.binary``: 1-bit (XNOR-Net) and 2-bit ternary (TWN) weights, packed.

The theoretical size of a binarized layer is ``ceil(K / 8)`` bytes per output channel
(ternary: ``ceil(K / 4)``) plus a float16 scale per output channel; layers kept in full
precision and biases count at their own size. The artifact's tensor bytes (the
``data/<n>`` records of the ``torch.save`` zip) must equal it.
"""

from __future__ import annotations

import pytest
import torch
from helpers.artifacts import digits_test_accuracy, saved_state_dict
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.quantize_binary import BinaryParams, BinaryQuantization
from squeezebench.plugins.builtin.models.digits_models import trained_model
from squeezebench.quantized.layers import QuantizedConv, QuantizedLinear

KINDS = (nn.Linear, nn.Conv2d)
PACKED = (QuantizedLinear, QuantizedConv)


def _theoretical_bytes(model: nn.Module, bits: int, keep_first_last: bool) -> int:
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, KINDS)]
    if keep_first_last:
        layers = layers[1:-1]
    total, packed_weights = 0, set()
    for name, layer in layers:
        packed_weights.add(f"{name}.weight")
        rows, cols = layer.weight.shape[0], layer.weight[0].numel()
        total += rows * -(-cols * bits // 8) + 2 * rows  # packed bits + float16 scale
    rest = [v for k, v in model.state_dict().items() if k not in packed_weights]
    return total + sum(t.numel() * t.element_size() for t in rest)


def _quantize(model: nn.Module, **params) -> tuple[nn.Module, MethodContext]:
    ctx = MethodContext(seed=0, data=digits_splits())
    return BinaryQuantization().apply(model, BinaryParams(**params), ctx), ctx


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
@pytest.mark.parametrize("mode", ["binary", "ternary"])
@pytest.mark.parametrize("keep_first_last", [True, False])
def test_artifact_holds_exactly_the_packed_bits(
    name: str, mode: str, keep_first_last: bool
) -> None:
    model = trained_model(name)
    bits = 1 if mode == "binary" else 2
    theoretical = _theoretical_bytes(model, bits, keep_first_last)
    parameters = count_parameters(model)[0]
    quantized, ctx = _quantize(model, mode=mode, keep_first_last=keep_first_last)
    assert saved_state_dict(quantized).tensor_bytes == theoretical
    assert count_parameters(quantized)[0] == parameters
    layers = [m for m in quantized.modules() if isinstance(m, KINDS + PACKED)]
    if keep_first_last:
        assert isinstance(layers[0], KINDS) and isinstance(layers[-1], KINDS)
        assert all(isinstance(m, PACKED) for m in layers[1:-1])
    else:
        assert all(isinstance(m, PACKED) for m in layers)
    assert f"to {mode} weights" in ctx.notes[0]


def test_binary_weights_are_sign_times_mean_magnitude_per_channel() -> None:
    model = trained_model("digits-mlp")
    original = model[3].weight.detach().clone()
    quantized, _ = _quantize(model)
    weight = quantized[3].dequantized_weight()
    scale = original.abs().mean(dim=1, keepdim=True)
    assert torch.allclose(weight.abs(), scale.expand_as(weight), rtol=1e-3)
    assert torch.equal(weight > 0, original >= 0)


def test_ternary_zeroes_small_weights() -> None:
    model = trained_model("digits-cnn")
    original = model[2].weight.detach().reshape(64, -1).clone()
    quantized, _ = _quantize(model, mode="ternary", threshold=0.5)
    weight = quantized[2].dequantized_weight().reshape(64, -1)
    small = original.abs() <= 0.5 * original.abs().mean(dim=1, keepdim=True)
    assert torch.equal(weight == 0, small)
    assert torch.equal(torch.sign(weight)[~small], torch.sign(original)[~small])
    assert (weight.abs().amax(dim=1) == weight.abs().max(dim=1).values).all()


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_accuracy_after_post_training_binarization(name: str) -> None:
    baseline = digits_test_accuracy(trained_model(name))
    ternary, _ = _quantize(trained_model(name), mode="ternary")
    binary, _ = _quantize(trained_model(name))
    assert digits_test_accuracy(ternary) >= baseline - 0.02
    assert digits_test_accuracy(binary) >= 0.9  # no retraining: a real, bounded drop


def test_models_it_cannot_handle_are_method_errors() -> None:
    two_layers = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Linear(32, 10))
    with pytest.raises(MethodError, match="keep_first_last keeps 1, 2 in full precision"):
        _quantize(two_layers)
    with pytest.raises(MethodError, match="found no float Linear layer"):
        _quantize(nn.Sequential(nn.Conv2d(1, 2, 3)), include_conv=False)
    with pytest.raises(MethodError, match="include pattern 'head' matches no"):
        _quantize(trained_model("digits-mlp"), include=["head"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"threshold": 0.5}, "threshold only applies to mode: ternary"),
        ({"mode": "ternary", "threshold": 0}, "greater than 0"),
        ({"mode": "quaternary"}, "'binary' or 'ternary'"),
        ({"keep_first_last": "maybe"}, "valid boolean"),
        ({"bits": 1}, "Extra inputs are not permitted"),
    ],
)
def test_params_validation(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BinaryParams(**params)


def test_end_to_end(run_variants) -> None:
    rows = run_variants("ternary: [{quantize.binary: {mode: ternary, keep_first_last: false}}]")
    assert set(rows["status"]) == {"ok"}
    baseline, ternary = rows.loc["baseline"], rows.loc["ternary"]
    expected, _ = _quantize(trained_model("digits-mlp"), mode="ternary", keep_first_last=False)
    assert ternary["artifact_bytes"] == saved_state_dict(expected).file_bytes
    assert 10 < ternary["compression_ratio"] < 12.5  # 2 bits + a scale per 64..256 weights
    assert ternary["params"] == baseline["params"]
    assert ternary["accuracy"] >= baseline["accuracy"] - 0.05
