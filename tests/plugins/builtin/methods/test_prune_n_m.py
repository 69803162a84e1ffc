from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.prune_n_m import (
    NMSparsity,
    NMSparsityParams,
    grouped_view,
    n_m_mask,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model


def _n_m(model: nn.Module, ctx: MethodContext | None = None, **params) -> nn.Module:
    return NMSparsity().apply(model, NMSparsityParams(**params), ctx or MethodContext(seed=0))


@pytest.fixture(scope="module")
def mlp() -> nn.Module:
    return trained_model("digits-mlp")


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    return trained_model("digits-cnn")


def _check_pattern(pruned: torch.Tensor, original: torch.Tensor, n: int, m: int) -> None:
    """At most n nonzeros in every group of m; exactly n where the group had n nonzeros;
    the kept weights are the group's largest and unchanged."""
    groups, before = grouped_view(pruned, m), grouped_view(original, m)
    nonzero = (groups != 0).sum(-1)
    assert int(nonzero.max()) <= n
    had = (before != 0).sum(-1)
    assert torch.equal(nonzero, torch.clamp(had, max=n))
    kept = groups != 0
    assert torch.equal(groups[kept], before[kept])
    smallest_kept = torch.where(kept, before.abs(), torch.inf).min(-1).values
    largest_dropped = torch.where(kept, -torch.inf, before.abs()).max(-1).values
    assert bool((smallest_kept >= largest_dropped).all())


@pytest.mark.parametrize(("n", "m"), [(2, 4), (1, 4), (4, 8), (1, 2)])
def test_every_group_of_m_inputs_keeps_the_n_largest(mlp: nn.Module, n: int, m: int) -> None:
    model = _n_m(copy.deepcopy(mlp), n=n, m=m)
    for index in (1, 3, 5):
        original, pruned = mlp[index].weight, model[index].weight
        assert int((pruned != 0).sum()) == pruned.numel() * n // m
        _check_pattern(pruned, original, n, m)
        assert torch.equal(model[index].bias, mlp[index].bias)


def test_linear_groups_are_consecutive_entries_of_each_row() -> None:
    layer = nn.Linear(8, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -5.0, 3.0, 2.0, 0.5, 0.1, -0.2, 4.0]]))
    _n_m(layer)
    assert layer.weight.tolist() == [[0.0, -5.0, 3.0, 0.0, 0.5, 0.0, 0.0, 4.0]]


def test_conv_groups_run_along_input_channels_at_each_kernel_position(cnn: nn.Module) -> None:
    model = _n_m(copy.deepcopy(cnn), on_indivisible="skip")
    weight, original = model[2].weight, cnn[2].weight  # (64, 32, 3, 3)
    per_position = weight.movedim(1, -1).reshape(64, 3, 3, 8, 4)
    assert int((per_position != 0).sum(-1).max()) == 2
    _check_pattern(weight, original, 2, 4)
    assert torch.equal(n_m_mask(original, 2, 4), (weight != 0))


def test_already_sparse_groups_keep_at_most_n() -> None:
    layer = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, 2.0, 3.0, 1.0]]))
    original = layer.weight.clone()
    _n_m(layer)
    assert layer.weight.tolist() == [[0.0, 0.0, 0.0, 1.0], [0.0, 2.0, 3.0, 0.0]]
    _check_pattern(layer.weight, original, 2, 4)


def test_deterministic_whatever_the_seed(mlp: nn.Module) -> None:
    first = _n_m(copy.deepcopy(mlp), MethodContext(seed=0))
    second = _n_m(copy.deepcopy(mlp), MethodContext(seed=1))
    assert all(
        torch.equal(a, b)
        for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


def test_indivisible_layer_is_an_error_naming_it(cnn: nn.Module) -> None:
    # the first conv has one input channel: no group of 4 fits
    with pytest.raises(MethodError, match=r"layer '0' \(Conv2d\) has an input dimension of 1"):
        _n_m(copy.deepcopy(cnn))


def test_indivisible_layer_can_be_skipped_or_excluded(cnn: nn.Module) -> None:
    ctx = MethodContext(seed=0)
    skipped = _n_m(copy.deepcopy(cnn), ctx, on_indivisible="skip")
    assert torch.equal(skipped[0].weight, cnn[0].weight)
    assert "left dense: layer '0'" in ctx.notes[0]
    excluded = _n_m(copy.deepcopy(cnn), exclude=["0"])
    assert all(
        torch.equal(a, b)
        for a, b in zip(skipped.state_dict().values(), excluded.state_dict().values(), strict=True)
    )


def test_include_limits_the_layers(mlp: nn.Module) -> None:
    model = _n_m(copy.deepcopy(mlp), include=["3"])
    assert torch.equal(model[1].weight, mlp[1].weight)
    assert torch.equal(model[5].weight, mlp[5].weight)
    assert int((model[3].weight == 0).sum()) == model[3].weight.numel() // 2


def test_2_4_keeps_decent_accuracy_on_digits_mlp(mlp: nn.Module) -> None:
    test = digits_splits().test
    with torch.no_grad():
        predictions = _n_m(copy.deepcopy(mlp))(torch.from_numpy(test.inputs)).argmax(1)
    assert float((predictions == torch.from_numpy(test.labels)).float().mean()) > 0.93


def test_note_records_the_pattern_and_counts(mlp: nn.Module) -> None:
    ctx = MethodContext(seed=0)
    _n_m(copy.deepcopy(mlp), ctx)
    assert "2:4 along the input dimension" in ctx.notes[0]
    assert "50,432 -> 25,216 nonzero" in ctx.notes[0]


def test_params_validation() -> None:
    assert (NMSparsityParams().n, NMSparsityParams().m) == (2, 4)
    with pytest.raises(ValueError, match=r"n must be less than m \(got n=4, m=4\)"):
        NMSparsityParams(n=4, m=4)
    with pytest.raises(ValueError, match="n must be less than m"):
        NMSparsityParams(n=5)  # m defaults to 4
    assert NMSparsityParams(n=3).m == 4
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        NMSparsityParams(n=0)
    with pytest.raises(ValueError, match="'error' or 'skip'"):
        NMSparsityParams(on_indivisible="pad")


def test_end_to_end_run(run_variants) -> None:
    rows = run_variants("sparse24: [prune.n_m]")
    assert set(run_variants.frame["status"]) == {"ok"}
    baseline, sparse = rows.loc["baseline"], rows.loc["sparse24"]
    assert sparse["artifact_bytes"] == baseline["artifact_bytes"]  # dense on CPU
    assert sparse["nonzero_params"] == baseline["params"] - 50_432 // 2
    assert sparse["theoretical_speedup"] == pytest.approx(2.0, rel=0.01)
    assert sparse["sparse_bytes"] < 0.6 * baseline["sparse_bytes"]
