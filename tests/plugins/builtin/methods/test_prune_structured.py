from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.harness.measure.flops import count_flops
from squeezebench.harness.measure.latency import time_calls
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.prune_structured import (
    StructuredPruning,
    StructuredPruningParams,
    parameter_count,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model

EXAMPLE = torch.zeros(1, 1, 8, 8)


def _structured(model: nn.Module, ctx: MethodContext | None = None, **params) -> nn.Module:
    ctx = ctx or MethodContext(seed=0, example_input=EXAMPLE)
    return StructuredPruning().apply(model, StructuredPruningParams(**params), ctx)


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    return trained_model("digits-cnn")


@pytest.fixture(scope="module")
def test_batch() -> tuple[torch.Tensor, torch.Tensor]:
    test = digits_splits().test
    return torch.from_numpy(test.inputs), torch.from_numpy(test.labels)


def _accuracy(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> float:
    with torch.no_grad():
        return float((model(batch[0]).argmax(1) == batch[1]).float().mean())


def _cnn_parameters(c0: int, c2: int, f6: int) -> int:
    """Parameters of the digits CNN with c0, c2 conv channels and f6 hidden neurons."""
    return (c0 * 9 + c0) + (c2 * c0 * 9 + c2) + (f6 * c2 * 16 + f6) + (10 * f6 + 10)


@pytest.mark.parametrize("ratio", [0.25, 0.5])
def test_channels_and_parameters_shrink_as_the_ratio_implies(cnn: nn.Module, ratio: float) -> None:
    model = _structured(copy.deepcopy(cnn), ratio=ratio)
    keep = 1 - ratio
    assert (model[0].out_channels, model[2].out_channels) == (int(32 * keep), int(64 * keep))
    assert model[6].out_features == int(128 * keep)
    assert model[2].in_channels == model[0].out_channels
    assert model[6].in_features == model[2].out_channels * 16  # flatten of 4x4 maps
    assert model[8].out_features == 10  # the output layer keeps its outputs
    assert model(EXAMPLE).shape == (1, 10)
    expected = _cnn_parameters(int(32 * keep), int(64 * keep), int(128 * keep))
    assert parameter_count(model) == expected
    # inner layers lose inputs and outputs: about (1 - ratio)**2 of the parameters remain
    assert parameter_count(model) / parameter_count(cnn) == pytest.approx(keep**2, abs=0.03)


def test_the_model_is_physically_smaller_and_needs_fewer_flops(cnn: nn.Module) -> None:
    model = _structured(copy.deepcopy(cnn), ratio=0.5)
    assert sum(t.numel() for t in model.state_dict().values()) < 0.3 * sum(
        t.numel() for t in cnn.state_dict().values()
    )
    assert all(int(p.count_nonzero()) > 0.99 * p.numel() for p in model.parameters())  # dense
    dense, pruned = count_flops(cnn, EXAMPLE), count_flops(model, EXAMPLE)
    assert pruned.dense < 0.3 * dense.dense
    assert pruned.nonzero == pytest.approx(pruned.dense, rel=0.01)


def test_cpu_latency_drops_far_beyond_noise(cnn: nn.Module, test_batch) -> None:
    # measured on a 2-core VM, 1 thread, batch 64: p50 0.37-0.45x of the baseline
    model = _structured(copy.deepcopy(cnn), ratio=0.5)
    batch = test_batch[0][:64].contiguous()
    best = {"baseline": float("inf"), "pruned": float("inf")}
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for _ in range(2):  # interleaved, so that a burst of load hits both
                for name, candidate in (("baseline", cnn), ("pruned", model)):
                    stats = time_calls(
                        lambda candidate=candidate: candidate(batch),
                        lambda: None,
                        warmup_seconds=0.02,
                        min_repeats=40,
                        min_seconds=0.1,
                    )
                    best[name] = min(best[name], stats.p50)
    finally:
        torch.set_num_threads(previous_threads)
    assert best["pruned"] / best["baseline"] < 0.8


@pytest.mark.parametrize("importance", ["l1", "l2"])
def test_small_ratio_keeps_decent_accuracy(cnn: nn.Module, test_batch, importance: str) -> None:
    model = _structured(copy.deepcopy(cnn), ratio=0.2, importance=importance)
    assert _accuracy(model, test_batch) > 0.95
    assert parameter_count(model) < 0.7 * parameter_count(cnn)


def _two_layer(first_rows: dict[int, list[float]]) -> nn.Sequential:
    """Linear(4, 6) -> ReLU -> Linear(6, 2); rows of the first layer set as given."""
    model = nn.Sequential(nn.Linear(4, 6, bias=False), nn.ReLU(), nn.Linear(6, 2, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(3.0)
        model[2].weight.fill_(1.0)
        for row, values in first_rows.items():
            model[0].weight[row] = torch.tensor(values)
    return model


def test_lowest_norm_channels_are_removed_and_l1_differs_from_l2() -> None:
    rows = {1: [1.0, 1.0, 1.0, 1.0], 4: [2.1, 0.0, 0.0, 0.0]}  # L1 4 vs 2.1, L2^2 4 vs 4.41
    example = torch.ones(1, 4)
    kept = {}
    for importance in ("l1", "l2"):
        model = _two_layer(rows)
        ctx = MethodContext(seed=0, example_input=example)
        _structured(model, ctx, ratio=1 / 6, importance=importance)
        kept[importance] = model[0].weight.clone()
        assert model[0].out_features == 5 and model[2].in_features == 5
    original = _two_layer(rows)[0].weight
    assert torch.equal(kept["l1"], original[[0, 1, 2, 3, 5]])  # drops row 4 (L1 2.1)
    assert torch.equal(kept["l2"], original[[0, 2, 3, 4, 5]])  # drops row 1 (L2^2 4)


@pytest.mark.parametrize(
    ("params", "channels"),
    [
        ({"include": ["0", "2"]}, (16, 32, 128)),
        ({"exclude": ["6"]}, (16, 32, 128)),
        ({"include": ["6"]}, (32, 64, 64)),
        ({"include": ["*"], "exclude": ["0"]}, (32, 32, 64)),
    ],
)
def test_include_exclude_choose_the_layers_that_lose_channels(
    cnn: nn.Module, params: dict, channels: tuple[int, int, int]
) -> None:
    model = _structured(copy.deepcopy(cnn), ratio=0.5, **params)
    assert (model[0].out_channels, model[2].out_channels, model[6].out_features) == channels
    assert model[8].out_features == 10
    assert parameter_count(model) == _cnn_parameters(*channels)


class _Residual(nn.Module):
    """stem -> (conv1, bn1, relu, conv2, bn2) + skip -> pool -> head: a residual coupling."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.conv1, self.bn1 = nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.conv2, self.bn2 = nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.head = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return self.head(x.mean((2, 3)))


@pytest.mark.parametrize(
    ("params", "channels"),
    [({}, (8, 8, 8)), ({"exclude": ["stem"]}, (16, 8, 16)), ({"include": ["conv2"]}, (16, 16, 16))],
)
def test_residual_coupling_is_pruned_together_or_kept(params: dict, channels: tuple) -> None:
    torch.manual_seed(0)
    model = _Residual().eval()
    example = torch.randn(2, 3, 8, 8)
    _structured(model, MethodContext(seed=0, example_input=example), ratio=0.5, **params)
    assert (model.stem.out_channels, model.conv1.out_channels, model.conv2.out_channels) == channels
    assert model.bn2.num_features == model.conv2.out_channels == model.head.in_features
    assert model(example).shape == (2, 5)


def test_selecting_only_the_output_layer_changes_nothing(cnn: nn.Module) -> None:
    ctx = MethodContext(seed=0, example_input=EXAMPLE)
    model = _structured(copy.deepcopy(cnn), ctx, ratio=0.5, include=["8"])
    assert parameter_count(model) == parameter_count(cnn)
    assert "outputs kept intact (model output): 8" in ctx.notes[0]


def test_note_records_channels_parameters_and_the_realised_ratio(cnn: nn.Module) -> None:
    ctx = MethodContext(seed=0, example_input=EXAMPLE)
    _structured(copy.deepcopy(cnn), ctx, ratio=0.5)
    (note,) = ctx.notes
    assert "ratio 0.5 of output channels per layer" in note
    assert "0: 32 -> 16, 2: 64 -> 32, 6: 128 -> 64" in note
    assert "parameters 151,306 -> 38,282" in note
    assert "realised parameter ratio 0.747 removed" in note


def test_traces_with_a_data_sample_when_there_is_no_example_input(cnn: nn.Module) -> None:
    ctx = MethodContext(seed=0, data=digits_splits())
    model = _structured(copy.deepcopy(cnn), ctx, ratio=0.5)
    assert model[0].out_channels == 16


def test_no_example_input_and_no_data_is_an_error(cnn: nn.Module) -> None:
    with pytest.raises(MethodError, match="needs an input to trace"):
        _structured(copy.deepcopy(cnn), MethodContext(seed=0), ratio=0.5)


def test_params_validation() -> None:
    with pytest.raises(ValueError, match="less than 1"):
        StructuredPruningParams(ratio=1.0)
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        StructuredPruningParams(ratio=-0.1)
    with pytest.raises(ValueError, match="'l1' or 'l2'"):
        StructuredPruningParams(ratio=0.5, importance="l3")
    assert StructuredPruningParams(ratio=0.5).importance == "l1"


def test_end_to_end_run_gives_a_smaller_model(run_variants) -> None:
    variants = "slim: [{prune.structured: {ratio: 0.5, importance: l2}}]"
    rows = run_variants(variants, model="builtin:digits-cnn")
    assert set(run_variants.frame["status"]) == {"ok"}
    baseline, slim = rows.loc["baseline"], rows.loc["slim"]
    assert slim["params"] == 38_282 and baseline["params"] == 151_306
    assert slim["artifact_bytes"] < 0.3 * baseline["artifact_bytes"]
    assert slim["flops_per_sample"] < 0.3 * baseline["flops_per_sample"]
    assert slim["accuracy"] > 0.7
    assert "realised parameter ratio" in slim["method_log"]
