from __future__ import annotations

import copy
import json

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from squeezebench.errors import MethodError, UserError
from squeezebench.harness.measure.flops import count_flops
from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.lowrank_svd import LowRankParams, LowRankSVD, choose_rank
from squeezebench.plugins.builtin.models.digits_models import trained_model


def _factor(model: nn.Module, **params) -> tuple[nn.Module, MethodContext]:
    ctx = MethodContext(seed=0)
    return LowRankSVD().apply(model, LowRankParams(**params), ctx), ctx


def _accuracy(model: nn.Module) -> float:
    test = digits_splits().test
    with torch.no_grad():
        predicted = model(torch.from_numpy(test.inputs)).argmax(dim=1)
    return float((predicted == torch.from_numpy(test.labels)).float().mean())


def _factored(in_size: int, out_size: int, rank: int, bias: bool = True) -> int:
    return rank * (in_size + out_size) + (out_size if bias else 0)


def test_mlp_at_rank_16_has_exactly_the_factored_parameter_count() -> None:
    base = trained_model("digits-mlp")
    model, ctx = _factor(copy.deepcopy(base), rank=16)
    # 64->256 and 256->128 are factored; 128->10 would grow (16 * 138 > 1280): kept
    expected = _factored(64, 256, 16) + _factored(256, 128, 16) + 128 * 10 + 10
    assert count_parameters(model) == (expected, expected)
    assert [type(model[i]) for i in (1, 3, 5)] == [nn.Sequential, nn.Sequential, nn.Linear]
    head, tail = model[1]
    assert (head.in_features, head.out_features, head.bias) == (64, 16, None)
    assert (tail.in_features, tail.out_features) == (16, 256) and tail.bias is not None
    assert "skipped 5: rank 10 of 10 would not save weights (1,280 -> 1,380)" in ctx.notes
    assert any(
        n.startswith("factored 1: rank 16 of 64, 16,384 -> 5,120 weights") for n in ctx.notes
    )
    assert ctx.notes[-1] == "factored 2 of 3 layers: 49,152 -> 11,264 weights"
    assert _accuracy(model) >= 0.95  # baseline ~0.99; measured 0.98 at rank 16


def test_cnn_factors_conv_and_linear_layers_and_keeps_the_accuracy() -> None:
    base = trained_model("digits-cnn")
    model, ctx = _factor(copy.deepcopy(base), rank=16)
    conv_head, conv_tail = model[2]
    assert (conv_head.in_channels, conv_head.out_channels) == (32, 16)
    assert conv_head.kernel_size == (3, 3) and conv_head.padding == (1, 1)
    assert conv_head.bias is None
    assert (conv_tail.in_channels, conv_tail.out_channels, conv_tail.kernel_size) == (
        16,
        64,
        (1, 1),
    )
    expected = (
        (32 * 9 + 32)  # conv 1->32 (full rank 9): 16 * (9 + 32) > 288, kept
        + 16 * (32 * 9)
        + 16 * 64
        + 64  # conv 32->64 as (64, 288): factored
        + _factored(1024, 128, 16)  # Linear 1024->128: factored
        + 128 * 10
        + 10  # Linear 128->10: kept
    )
    assert count_parameters(model)[0] == expected
    assert any(note.startswith("skipped 0: rank 9 of 9") for note in ctx.notes)
    assert any(note.startswith("skipped 8: rank 10 of 10") for note in ctx.notes)
    example = torch.from_numpy(digits_splits().test.inputs[:1])
    flops = count_flops(model, example)
    assert flops is not None and flops.dense < 0.35 * count_flops(base, example).dense
    assert _accuracy(model) >= 0.97  # measured 0.994 (baseline 0.993)


def test_exact_low_rank_layers_are_reproduced() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(100, 80)
    conv = nn.Conv2d(8, 32, 3, stride=2, padding=1, dilation=1)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(80, 5) @ torch.randn(5, 100))
        conv.weight.copy_((torch.randn(32, 4) @ torch.randn(4, 72)).view(32, 8, 3, 3))
    model = nn.Sequential(conv, nn.Flatten(), nn.Linear(32 * 5 * 5, 100), linear)
    x = torch.randn(3, 8, 9, 9)
    with torch.no_grad():
        expected = model(x)
    factored, ctx = _factor(copy.deepcopy(model), energy=0.999999, exclude=["2"])
    assert "factored 0: rank 4 of 32" in ctx.notes[0]
    assert "factored 3: rank 5 of 80" in ctx.notes[1]
    assert isinstance(factored[2], nn.Linear)  # excluded
    with torch.no_grad():
        assert torch.allclose(factored(x), expected, atol=1e-4, rtol=1e-4)
    assert factored[0][0].stride == (2, 2) and factored[0][1].stride == (1, 1)


def test_rank_rules() -> None:
    singular = torch.tensor([3.0, 2.0, 1.0])  # squares 9, 4, 1 of 14
    assert choose_rank(singular, LowRankParams(rank=2)) == 2
    assert choose_rank(singular, LowRankParams(rank=50)) == 3  # capped at full rank
    assert choose_rank(singular, LowRankParams(rank_ratio=0.5)) == 2  # rounded up
    assert choose_rank(singular, LowRankParams(rank_ratio=0.01)) == 1
    assert choose_rank(singular, LowRankParams(energy=9 / 14)) == 1
    assert choose_rank(singular, LowRankParams(energy=0.65)) == 2
    assert choose_rank(singular, LowRankParams(energy=1.0)) == 3


def test_rank_ratio_is_per_layer() -> None:
    model, _ = _factor(nn.Sequential(nn.Linear(64, 256), nn.Linear(256, 128)), rank_ratio=0.25)
    assert model[0][0].out_features == 16  # full rank 64
    assert model[1][0].out_features == 32  # full rank 128


def test_nothing_worth_factoring_is_reported_not_hidden() -> None:
    model, ctx = _factor(nn.Sequential(nn.Linear(4, 3)), energy=1.0)
    assert isinstance(model[0], nn.Linear)
    assert ctx.notes == [
        "skipped 0: rank 3 of 3 would not save weights (12 -> 21)",
        "factored 0 of 1 layers: 0 -> 0 weights",
    ]


def test_grouped_convolutions_are_skipped() -> None:
    model, ctx = _factor(nn.Sequential(nn.Conv2d(4, 8, 3, groups=2)), rank=1)
    assert isinstance(model[0], nn.Conv2d)
    assert ctx.notes[0] == "skipped 0: grouped convolution (groups=2)"


def test_include_and_exclude_patterns() -> None:
    def mlp() -> nn.Module:
        return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64))

    only, _ = _factor(mlp(), rank=4, include=["2"])
    assert isinstance(only[0], nn.Linear) and isinstance(only[2], nn.Sequential)
    without, _ = _factor(mlp(), rank=4, exclude=["0"])
    assert isinstance(without[0], nn.Linear) and isinstance(without[2], nn.Sequential)
    with pytest.raises(MethodError, match="include pattern 'head' matches no Linear or Conv2d"):
        _factor(mlp(), rank=4, include=["head"])
    with pytest.raises(
        MethodError, match="'1' matches no Linear or Conv2d layer \\(it names a ReLU"
    ):
        _factor(mlp(), rank=4, include=["1"])
    with pytest.raises(MethodError, match="selects none"):
        _factor(mlp(), rank=4, exclude=["*"])
    with pytest.raises(MethodError, match="no Linear or Conv2d layer"):
        _factor(nn.Sequential(nn.ReLU()), rank=4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "exactly one of rank, rank_ratio or energy \\(got none\\)"),
        ({"rank": 4, "energy": 0.9}, "exactly one of .* \\(got rank, energy\\)"),
        ({"rank": 0}, "greater than or equal to 1"),
        ({"rank_ratio": 1.5}, "less than or equal to 1"),
        ({"energy": 0}, "greater than 0"),
        ({"rank": 4, "ranks": 4}, "Extra inputs are not permitted"),
        ({"rank": 4, "include": [" "]}, "a pattern must not be empty"),
    ],
)
def test_params_validation(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LowRankParams(**params)


def test_end_to_end_through_the_harness(run_variants, write_spec, registry) -> None:
    from squeezebench.spec.load import load_spec

    rows = run_variants("svd: [{lowrank.svd: {rank: 16}}]")
    baseline, svd = rows.loc["baseline"], rows.loc["svd"]
    assert svd["status"] == "ok"
    assert svd["params"] == _factored(64, 256, 16) + _factored(256, 128, 16) + 1290
    assert svd["flops_per_sample"] == 2 * (16 * (64 + 256) + 16 * (256 + 128) + 128 * 10)
    assert svd["artifact_bytes"] < 0.3 * baseline["artifact_bytes"]
    assert svd["accuracy"] >= 0.95
    assert "lowrank.svd: skipped 5" in " ".join(json.loads(svd["method_log"]))

    bad = write_spec(
        """
        name: bad
        model: builtin:digits-mlp
        variants:
          svd:
            - lowrank.svd: {rank: 8, energy: 0.9}
        """,
        name="bad.yaml",
    )
    with pytest.raises(UserError, match="exactly one of rank, rank_ratio or energy"):
        load_spec(bad, registry)
