"""``quantize.cast``: float16 / bfloat16 storage, half or float32 compute, float32 in and out.

The theoretical size is 2 bytes per value of every float tensor; the artifact's tensor
bytes (the ``data/<n>`` records of the ``torch.save`` zip) must equal it.
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
from squeezebench.plugins.builtin.methods.quantize_cast import CastParams, CastQuantization
from squeezebench.plugins.builtin.models.digits_models import trained_model
from squeezebench.quantized.cast import CastModel


def _cast(model: nn.Module, data=True, **params) -> tuple[nn.Module, MethodContext]:
    ctx = MethodContext(seed=0, data=digits_splits() if data else None)
    return CastQuantization().apply(model, CastParams(**params), ctx), ctx


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_storage_half_compute(name: str, dtype: str) -> None:
    model = trained_model(name)
    values = count_parameters(model)[0]
    baseline = digits_test_accuracy(model)
    cast, ctx = _cast(model, dtype=dtype)
    assert isinstance(cast, CastModel) and cast.compute == "cast"
    assert saved_state_dict(cast).tensor_bytes == 2 * values
    assert {t.dtype for t in cast.state_dict().values()} == {getattr(torch, dtype)}
    assert count_parameters(cast)[0] == values
    assert digits_test_accuracy(cast) >= baseline - 0.005
    output = cast(torch.from_numpy(digits_splits().test.inputs[:4]))
    assert output.dtype == torch.float32
    assert f"to {dtype}, activations in {dtype}" in ctx.notes[0]


def test_float32_compute_keeps_half_storage() -> None:
    model = trained_model("digits-cnn")
    x = torch.from_numpy(digits_splits().test.inputs[:32])
    expected = model(x)
    cast, ctx = _cast(model, dtype="bfloat16", compute="float32")
    assert cast.compute == "float32"
    assert {t.dtype for t in cast.state_dict().values()} == {torch.bfloat16}
    output = cast(x)
    assert output.dtype == torch.float32
    assert (output.argmax(1) == expected.argmax(1)).float().mean() > 0.95
    assert "activations in float32" in ctx.notes[0]


class _Float32Only(nn.Module):
    """Stands for an op without a half-precision kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32:
            raise RuntimeError(f"no kernel for {x.dtype}")
        return x


def test_auto_falls_back_to_float32_compute_and_says_why() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), _Float32Only())
    cast, ctx = _cast(model)
    assert cast.compute == "float32"
    assert cast(torch.zeros(2, 1, 8, 8)).dtype == torch.float32
    assert (
        "activations in float32 (weights upcast at every call) because running in "
        in (ctx.notes[0])
    )
    assert "layer '2' (_Float32Only): RuntimeError: no kernel for torch.float16" in ctx.notes[0]
    with pytest.raises(MethodError, match=r"does not run in float16: layer '2' \(_Float32Only\)"):
        _cast(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), _Float32Only()), compute="cast")


def test_auto_falls_back_when_float16_overflows() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        model[1].weight.fill_(1e4)
    cast, ctx = _cast(model, dtype="float16")
    assert cast.compute == "float32" and "not finite" in ctx.notes[0]
    assert torch.isfinite(cast(torch.ones(1, 1, 8, 8))).all()
    bfloat, _ = _cast(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), dtype="bfloat16")
    assert bfloat.compute == "cast"


def test_without_data_auto_assumes_the_dtype_runs_and_no_float_is_an_error() -> None:
    cast, ctx = _cast(nn.Linear(4, 2), data=False)
    assert cast.compute == "cast" and "no input to try it on: assumed to work" in ctx.notes[0]
    with pytest.raises(MethodError, match="found no float32 or float64"):
        _cast(nn.Sequential(nn.ReLU()))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dtype": "int8"}, "'float16' or 'bfloat16'"),
        ({"compute": "float64"}, "'auto', 'cast' or 'float32'"),
        ({"activations": "float16"}, "Extra inputs are not permitted"),
    ],
)
def test_params_validation(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CastParams(**params)


def test_end_to_end(run_variants) -> None:
    rows = run_variants("bf16: [{quantize.cast: {dtype: bfloat16}}]")
    assert set(rows["status"]) == {"ok"}
    baseline, half = rows.loc["baseline"], rows.loc["bf16"]
    expected, _ = _cast(trained_model("digits-mlp"), dtype="bfloat16")
    assert half["artifact_bytes"] == saved_state_dict(expected).file_bytes
    assert 1.9 < half["compression_ratio"] < 2.0
    assert half["params"] == baseline["params"]
    assert half["flops_per_sample"] == baseline["flops_per_sample"]
    assert half["accuracy"] >= baseline["accuracy"] - 0.005
