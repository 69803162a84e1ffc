from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.prune_magnitude import (
    MagnitudePruning,
    UnstructuredPruningParams,
    prunable_weights,
)
from squeezebench.plugins.builtin.methods.prune_random import RandomPruning
from squeezebench.plugins.builtin.models.digits_models import trained_model


def _random(model: nn.Module, seed: int = 0, **params) -> nn.Module:
    return RandomPruning().apply(model, UnstructuredPruningParams(**params), MethodContext(seed))


def _masks(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: weight == 0 for name, weight in prunable_weights(model)}


@pytest.fixture(scope="module")
def mlp() -> nn.Module:
    return trained_model("digits-mlp")


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    return trained_model("digits-cnn")


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.8, 0.95])
def test_global_sparsity_is_exact(mlp: nn.Module, sparsity: float) -> None:
    model = _random(copy.deepcopy(mlp), sparsity=sparsity)
    weights = [w for _, w in prunable_weights(model)]
    total = sum(w.numel() for w in weights)
    assert sum(int((w == 0).sum()) for w in weights) == round(sparsity * total)


def test_layer_scope_with_exclude_is_exact_per_layer(cnn: nn.Module) -> None:
    model = _random(copy.deepcopy(cnn), sparsity=0.75, scope="layer", exclude=["0"])
    weights = dict(prunable_weights(model))
    for name in ("2", "6", "8"):
        assert int((weights[name] == 0).sum()) == round(0.75 * weights[name].numel())
    assert torch.equal(weights["0"], dict(prunable_weights(cnn))["0"])


def test_global_scope_draws_uniformly_across_layers(mlp: nn.Module) -> None:
    # unlike magnitude pruning, every layer loses about the same fraction
    model = _random(copy.deepcopy(mlp), sparsity=0.5)
    for name, weight in prunable_weights(model):
        assert 0.4 < float((weight == 0).float().mean()) < 0.6, name


def test_same_seed_same_mask_other_seed_other_mask(mlp: nn.Module) -> None:
    torch.manual_seed(123)  # the global RNG state must not matter
    first = _masks(_random(copy.deepcopy(mlp), seed=7, sparsity=0.5))
    torch.manual_seed(456)
    again = _masks(_random(copy.deepcopy(mlp), seed=7, sparsity=0.5))
    other = _masks(_random(copy.deepcopy(mlp), seed=8, sparsity=0.5))
    assert all(torch.equal(first[name], again[name]) for name in first)
    for name in first:
        overlap = float((first[name] & other[name]).float().mean())
        assert 0.15 < overlap < 0.35, name  # independent halves overlap on about a quarter


def test_existing_zeros_count_toward_the_sparsity() -> None:
    layer = nn.Linear(10, 10)
    with torch.no_grad():
        layer.weight[:, :3] = 0  # 30% already zero
    _random(layer, sparsity=0.5)
    assert int((layer.weight == 0).sum()) == 50
    assert bool((layer.weight[:, :3] == 0).all())


def test_selection_errors_are_the_same_as_magnitude_pruning(cnn: nn.Module) -> None:
    with pytest.raises(MethodError, match=r"prune\.random: exclude pattern 'fc' matches no"):
        _random(copy.deepcopy(cnn), sparsity=0.5, exclude=["fc"])
    with pytest.raises(MethodError, match="no Linear or Conv"):
        _random(nn.Sequential(nn.ReLU()), sparsity=0.5)


def _accuracy(model: nn.Module) -> float:
    test = digits_splits().test
    with torch.no_grad():
        predictions = model(torch.from_numpy(test.inputs)).argmax(1)
    return float((predictions == torch.from_numpy(test.labels)).float().mean())


def test_random_pruning_is_far_worse_than_magnitude_at_the_same_sparsity(mlp: nn.Module) -> None:
    # measured on digits-mlp at 80% (global): magnitude 0.956, random 0.13-0.42 over seeds 0-4
    params = UnstructuredPruningParams(sparsity=0.8)
    magnitude = _accuracy(MagnitudePruning().apply(copy.deepcopy(mlp), params, MethodContext(0)))
    randoms = [
        _accuracy(RandomPruning().apply(copy.deepcopy(mlp), params, MethodContext(seed)))
        for seed in range(5)
    ]
    assert magnitude > 0.9
    assert max(randoms) < 0.65
    assert magnitude - max(randoms) > 0.3


def test_note_says_how_weights_were_chosen(mlp: nn.Module) -> None:
    ctx = MethodContext(seed=0)
    RandomPruning().apply(copy.deepcopy(mlp), UnstructuredPruningParams(sparsity=0.5), ctx)
    (note,) = ctx.notes
    assert "uniformly at random" in note and "50,432 -> 25,216 nonzero" in note


def test_end_to_end_run(run_variants) -> None:
    variants = """
        magnitude:
          - prune.magnitude: {sparsity: 0.8}
        random:
          - prune.random: {sparsity: 0.8}
        """
    rows = run_variants(variants, seed=5)
    assert set(run_variants.frame["status"]) == {"ok"}
    assert rows.loc["random", "nonzero_params"] == rows.loc["magnitude", "nonzero_params"]
    assert rows.loc["random", "accuracy"] < rows.loc["magnitude", "accuracy"] - 0.3
    assert "uniformly at random" in rows.loc["random", "method_log"]
