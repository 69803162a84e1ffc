from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods._layer_selection import LayerSelection, select_layers
from squeezebench.plugins.builtin.methods.prune_magnitude import (
    MagnitudePruning,
    MagnitudePruningParams,
    UnstructuredPruningParams,
    prunable_weights,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 30), nn.Linear(30, 10))


def _prune(model: nn.Module, ctx: MethodContext | None = None, **params) -> nn.Module:
    return MagnitudePruning().apply(
        model, MagnitudePruningParams(**params), ctx or MethodContext(seed=0)
    )


def _zeros(weight: torch.Tensor) -> int:
    return int((weight == 0).sum())


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.9])
def test_global_sparsity_is_exact(sparsity: float) -> None:
    model = _prune(_model(), sparsity=sparsity)
    weights = [w for _, w in prunable_weights(model)]
    total = sum(w.numel() for w in weights)
    zeros = sum(_zeros(w) for w in weights)
    assert zeros == round(sparsity * total)


def test_layer_scope_prunes_every_layer_to_the_sparsity() -> None:
    model = _prune(_model(), sparsity=0.5, scope="layer")
    for _, weight in prunable_weights(model):
        assert _zeros(weight) == round(0.5 * weight.numel())


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
    assert all(type(p) is nn.Parameter for p in model.parameters())


def test_model_without_prunable_layers_is_an_error() -> None:
    with pytest.raises(MethodError, match="no Linear or Conv"):
        _prune(nn.Sequential(nn.ReLU()), sparsity=0.5)


def test_params_reject_out_of_range_sparsity() -> None:
    with pytest.raises(ValueError, match="less than 1"):
        MagnitudePruningParams(sparsity=1.0)


def test_params_reject_empty_include_and_blank_patterns() -> None:
    with pytest.raises(ValueError, match="at least 1 item"):
        MagnitudePruningParams(sparsity=0.5, include=[])
    with pytest.raises(ValueError, match="must not be empty"):
        MagnitudePruningParams(sparsity=0.5, exclude=[" "])
    with pytest.raises(ValueError, match="Extra inputs"):
        MagnitudePruningParams(sparsity=0.5, layers=["1"])


# --- layer selection, on the trained digits CNN (layers 0, 2: Conv2d; 6, 8: Linear) ---------


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    return trained_model("digits-cnn")


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return dict(prunable_weights(model))


@pytest.mark.parametrize(
    ("include", "exclude", "pruned"),
    [
        (["*"], [], {"0", "2", "6", "8"}),
        (["0", "2"], [], {"0", "2"}),
        (["[02]"], [], {"0", "2"}),
        (["*"], ["8"], {"0", "2", "6"}),
        (["*"], ["[68]"], {"0", "2"}),
    ],
)
def test_include_exclude_select_exactly_the_matching_layers(
    cnn: nn.Module, include: list[str], exclude: list[str], pruned: set[str]
) -> None:
    original = _weights(cnn)
    model = _prune(copy.deepcopy(cnn), sparsity=0.7, include=include, exclude=exclude)
    weights = _weights(model)
    selected = sum(original[name].numel() for name in pruned)
    assert sum(_zeros(weights[name]) for name in pruned) == round(0.7 * selected)
    for name, weight in weights.items():
        if name not in pruned:
            assert torch.equal(weight, original[name]), name


def test_layer_scope_with_include_is_exact_in_every_selected_layer(cnn: nn.Module) -> None:
    model = _prune(copy.deepcopy(cnn), sparsity=0.6, scope="layer", include=["2", "6"])
    weights = _weights(model)
    for name in ("2", "6"):
        assert _zeros(weights[name]) == round(0.6 * weights[name].numel())
    for name in ("0", "8"):
        assert _zeros(weights[name]) == 0


def test_selection_matches_qualified_names_of_nested_modules() -> None:
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3)))
    model.add_module("classifier", nn.Sequential(nn.Flatten(), nn.Linear(32, 8), nn.Linear(8, 2)))
    chosen = select_layers(
        model, LayerSelection(include=["features.*", "classifier.*"], exclude=["classifier.2"]), "t"
    )
    assert [name for name, _ in chosen] == ["features.0", "features.2", "classifier.1"]


def test_pattern_that_matches_no_layer_is_an_error_naming_it(cnn: nn.Module) -> None:
    with pytest.raises(MethodError, match=r"exclude pattern 'classifier\.2' matches no Linear"):
        _prune(copy.deepcopy(cnn), sparsity=0.5, exclude=["classifier.2"])
    with pytest.raises(MethodError, match=r"include pattern '4' .*it names a MaxPool2d"):
        _prune(copy.deepcopy(cnn), sparsity=0.5, include=["4"])


def test_empty_selection_is_an_error_naming_the_patterns(cnn: nn.Module) -> None:
    with pytest.raises(MethodError) as caught:
        _prune(copy.deepcopy(cnn), sparsity=0.5, include=["0", "2"], exclude=["[0-9]"])
    message = str(caught.value)
    assert "prune.magnitude" in message and "['0', '2']" in message and "['[0-9]']" in message


def test_container_pattern_suggests_its_children() -> None:
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Linear(4, 4)))
    with pytest.raises(MethodError, match=r"did you mean 'features\.\*'"):
        _prune(model, sparsity=0.5, include=["features"])


def test_note_records_layers_and_nonzero_counts(cnn: nn.Module) -> None:
    ctx = MethodContext(seed=0)
    ctx.current_step = "prune.magnitude"
    _prune(copy.deepcopy(cnn), ctx, sparsity=0.5, scope="layer", exclude=["8"])
    (note,) = ctx.notes
    assert note.startswith("prune.magnitude: pruned 3 layers")
    assert "exclude ['8']" in note and "1 Linear/Conv layer(s) left untouched" in note
    assert "2: 18,432 -> 9,216" in note  # the second conv: 64 x 32 x 3 x 3


def test_pruned_digits_mlp_keeps_its_accuracy_at_moderate_sparsity() -> None:
    test = digits_splits().test
    inputs, labels = torch.from_numpy(test.inputs), torch.from_numpy(test.labels)
    model = _prune(copy.deepcopy(trained_model("digits-mlp")), sparsity=0.7)
    with torch.no_grad():
        accuracy = float((model(inputs).argmax(1) == labels).float().mean())
    assert accuracy > 0.95


def test_params_model_is_shared_with_prune_random() -> None:
    from squeezebench.plugins.builtin.methods.prune_random import RandomPruning

    assert MagnitudePruning.Params is RandomPruning.Params is UnstructuredPruningParams


def test_end_to_end_theoretical_speedup_follows_the_sparsity(run_variants) -> None:
    rows = run_variants("pruned: [{prune.magnitude: {sparsity: 0.8}}]")
    assert set(run_variants.frame["status"]) == {"ok"}
    baseline, pruned = rows.loc["baseline"], rows.loc["pruned"]
    weights = 64 * 256 + 256 * 128 + 128 * 10
    assert pruned["nonzero_params"] == baseline["params"] - round(0.8 * weights)
    assert pruned["theoretical_speedup"] == pytest.approx(1 / (1 - 0.8), rel=0.02)
    assert pruned["artifact_bytes"] == baseline["artifact_bytes"]  # dense zeros
    assert pruned["sparse_bytes"] < 0.3 * baseline["sparse_bytes"]
    assert pruned["accuracy"] > 0.9
    assert "pruned 3 layers" in pruned["method_log"]
