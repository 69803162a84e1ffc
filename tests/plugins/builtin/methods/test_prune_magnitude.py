from __future__ import annotations

import pytest
import torch
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.methods.prune_magnitude import (
    MagnitudePruning,
    MagnitudePruningParams,
    prunable_weights,
)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 30), nn.Linear(30, 10))


def _prune(model: nn.Module, **params) -> nn.Module:
    return MagnitudePruning().apply(model, MagnitudePruningParams(**params), MethodContext(seed=0))


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.9])
def test_global_sparsity_is_exact(sparsity: float) -> None:
    model = _prune(_model(), sparsity=sparsity)
    weights = [w for _, w in prunable_weights(model)]
    total = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    assert zeros == round(sparsity * total)


def test_layer_scope_prunes_every_layer_to_the_sparsity() -> None:
    model = _prune(_model(), sparsity=0.5, scope="layer")
    for _, weight in prunable_weights(model):
        assert int((weight == 0).sum()) == round(0.5 * weight.numel())


def test_global_scope_removes_the_smallest_weights_overall() -> None:
    original = _model()
    magnitudes = torch.cat([w.detach().abs().flatten() for _, w in prunable_weights(original)])
    threshold = magnitudes.sort().values[round(0.6 * magnitudes.numel()) - 1]
    model = _prune(original, sparsity=0.6)
    for _, weight in prunable_weights(model):
        kept = weight[weight != 0].abs()
        assert bool((kept >= threshold).all())


def test_biases_are_untouched_and_no_masks_remain() -> None:
    model = _prune(_model(), sparsity=0.9)
    assert all(int((layer.bias == 0).sum()) == 0 for layer in model if hasattr(layer, "bias"))
    assert not any("mask" in name or "orig" in name for name, _ in model.named_parameters())
    assert not list(model.buffers())


def test_model_without_prunable_layers_is_an_error() -> None:
    with pytest.raises(MethodError, match="no Linear or Conv"):
        _prune(nn.Sequential(nn.ReLU()), sparsity=0.5)


def test_params_reject_out_of_range_sparsity() -> None:
    with pytest.raises(ValueError, match="less than 1"):
        MagnitudePruningParams(sparsity=1.0)
