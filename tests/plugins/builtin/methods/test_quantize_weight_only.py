"""``quantize.weight_only`` on the digits models: real bytes, real accuracy, exact packing.

Sizes are checked on the artifact file itself: ``torch.save(state_dict)`` is a zip archive
whose ``data/<n>`` records are the tensors' bytes. Their total must equal the theoretical
size computed here from the layer shapes (packed codes + scales + zero points of each
quantized layer, every other tensor at its own size), and the rest of the file (the pickle
and zip headers, a few hundred bytes per tensor) is bounded separately.
"""

from __future__ import annotations

import io

import pytest
import torch
from helpers.artifacts import digits_test_accuracy, saved_state_dict
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.quantize_weight_only import (
    WeightOnlyParams,
    WeightOnlyQuantization,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model
from squeezebench.quantized.layers import QuantizedConv, QuantizedLinear

KINDS = (nn.Linear, nn.Conv2d)


def _theoretical_bytes(model: nn.Module, bits: int, group: int | None, scheme: str) -> int:
    """Packed codes, float16 scales and uint8 zero points of every layer, plus the rest."""
    total = 0
    quantized_weights = set()
    for name, layer in model.named_modules():
        if not isinstance(layer, KINDS):
            continue
        quantized_weights.add(f"{name}.weight")
        rows, cols = layer.weight.shape[0], layer.weight[0].numel()
        step = group or 8 // bits
        padded = -(-cols // step) * step
        groups = 1 if group is None else padded // group
        total += rows * padded * bits // 8  # codes, 8 / bits per byte
        total += rows * groups * (2 + (scheme == "asymmetric"))  # fp16 scale (+ uint8 zero)
    rest = [v for k, v in model.state_dict().items() if k not in quantized_weights]
    return total + sum(t.numel() * t.element_size() for t in rest)


def _quantize(model: nn.Module, **params) -> tuple[nn.Module, MethodContext]:
    ctx = MethodContext(seed=0, data=digits_splits())
    return WeightOnlyQuantization().apply(model, WeightOnlyParams(**params), ctx), ctx


CONFIGS = [
    {"bits": 8},
    {"bits": 4, "group_size": 32},
    {"bits": 4, "group_size": 64, "scheme": "asymmetric"},
    {"bits": 4},
    {"bits": 2, "group_size": 32, "scheme": "asymmetric"},
]


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_artifact_holds_exactly_the_packed_bytes(name: str, config: dict) -> None:
    model = trained_model(name)
    theoretical = _theoretical_bytes(
        model, config["bits"], config.get("group_size"), config.get("scheme", "symmetric")
    )
    float_parameters = count_parameters(model)[0]
    quantized, ctx = _quantize(model, **config)
    file_bytes, tensor_bytes, records = saved_state_dict(quantized)
    assert tensor_bytes == theoretical  # so within 10% too: nothing else is stored
    assert file_bytes - tensor_bytes < 1024 + 320 * records  # torch.save's container
    assert count_parameters(quantized)[0] == float_parameters
    assert not any(isinstance(m, KINDS) for m in quantized.modules())
    assert f"to int{config['bits']}" in ctx.notes[0] and "state_dict" in ctx.notes[0]


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_weights_shrink_4x_for_int8_and_8x_for_int4(name: str) -> None:
    model = trained_model(name)
    float_weights = sum(m.weight.numel() * 4 for m in model.modules() if isinstance(m, KINDS))
    for bits, minimum in ((8, 3.9), (4, 7.5)):
        quantized, _ = _quantize(trained_model(name), bits=bits)
        packed = sum(
            sum(t.numel() * t.element_size() for t in (m.packed_weight, m.scales))
            for m in quantized.modules()
            if isinstance(m, QuantizedLinear | QuantizedConv)
        )
        assert float_weights / packed > minimum


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_accuracy_int8_within_1_point_and_int4_group32_within_3(name: str) -> None:
    baseline = digits_test_accuracy(trained_model(name))
    int8, _ = _quantize(trained_model(name), bits=8)
    int4, _ = _quantize(trained_model(name), bits=4, group_size=32)
    assert digits_test_accuracy(int8) >= baseline - 0.01
    assert digits_test_accuracy(int4) >= baseline - 0.03


def test_indivisible_layers_error_pad_or_skip() -> None:
    # digits-cnn's first conv has 1 * 3 * 3 = 9 inputs per output channel
    with pytest.raises(MethodError, match=r"layer '0' \(Conv2d\) has 9 inputs .* group_size 32"):
        _quantize(trained_model("digits-cnn"), bits=4, group_size=32, indivisible="error")
    skipped, ctx = _quantize(trained_model("digits-cnn"), bits=4, group_size=32, indivisible="skip")
    assert isinstance(skipped[0], nn.Conv2d) and isinstance(skipped[2], QuantizedConv)
    assert "kept in float: 0" in ctx.notes[0]
    padded, ctx = _quantize(trained_model("digits-cnn"), bits=4, group_size=32)
    assert padded[0].format.padded_in_features == 32 and padded[2].format.groups == 9
    assert "padded to whole groups in 0" in ctx.notes[0]


def test_layer_selection() -> None:
    linear_only, _ = _quantize(trained_model("digits-cnn"), include_conv=False)
    assert isinstance(linear_only[0], nn.Conv2d) and isinstance(linear_only[6], QuantizedLinear)
    excluded, _ = _quantize(trained_model("digits-mlp"), exclude=["5"])
    assert isinstance(excluded[5], nn.Linear) and isinstance(excluded[1], QuantizedLinear)
    with pytest.raises(MethodError, match=r"exclude pattern 'fc' matches no .* 1, 3, 5"):
        _quantize(trained_model("digits-mlp"), exclude=["fc"])
    with pytest.raises(MethodError, match="found no float Linear or Conv layer"):
        _quantize(nn.Sequential(nn.ReLU()))
    reflect = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(MethodError, match=r"layer '0' \(Conv2d\): padding_mode 'reflect'"):
        _quantize(reflect)


def test_artifact_pickles_for_the_artifact_cache() -> None:
    quantized, _ = _quantize(trained_model("digits-cnn"), bits=4, group_size=32)
    buffer = io.BytesIO()
    torch.save(quantized, buffer)
    restored = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    x = torch.from_numpy(digits_splits().test.inputs[:16])
    assert torch.equal(restored(x), quantized(x))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bits": 3}, "Input should be 8, 4 or 2"),
        ({"group_size": 12}, "multiple of 8"),
        ({"group_size": 0}, "greater than or equal to 8"),
        ({"scheme": "log"}, "'symmetric' or 'asymmetric'"),
        ({"indivisible": "crop"}, "'pad', 'error' or 'skip'"),
        ({"scale_dtype": "bfloat16"}, "'float16' or 'float32'"),
        ({"exclude": [" "]}, "must not be empty"),
        ({"granularity": "group"}, "Extra inputs are not permitted"),
    ],
)
def test_params_validation(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeightOnlyParams(**params)


def test_end_to_end_int4_group32(run_variants) -> None:
    rows = run_variants("quantized: [{quantize.weight_only: {bits: 4, group_size: 32}}]")
    assert set(rows["status"]) == {"ok"}
    baseline, quantized = rows.loc["baseline"], rows.loc["quantized"]
    expected, _ = _quantize(trained_model("digits-mlp"), bits=4, group_size=32)
    assert quantized["artifact_bytes"] == saved_state_dict(expected).file_bytes
    assert quantized["compression_ratio"] == pytest.approx(
        baseline["artifact_bytes"] / quantized["artifact_bytes"]
    )
    assert 5.5 < quantized["compression_ratio"] < 7.1  # 4.5 bits per weight, plus biases
    assert quantized["params"] == baseline["params"]
    assert quantized["flops_per_sample"] == baseline["flops_per_sample"]
    assert quantized["accuracy"] >= baseline["accuracy"] - 0.03
    assert "int4 symmetric, group_size 32" in quantized["method_log"]
