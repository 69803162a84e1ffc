"""``distill.kd``: real recovery after pruning, students, determinism, refusals, params."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext, NoParams
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods.distill_kd import (
    DistillationParams,
    KnowledgeDistillation,
    kd_loss,
)
from squeezebench.plugins.builtin.methods.prune_magnitude import (
    MagnitudePruning,
    MagnitudePruningParams,
    prunable_weights,
)
from squeezebench.plugins.builtin.methods.quantize_dynamic_int8 import DynamicInt8Quantization
from squeezebench.plugins.builtin.models.builtin_source import BuiltinModels
from squeezebench.plugins.builtin.models.digits_models import trained_model

MLP_PARAMS = 64 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


@pytest.fixture(scope="module")
def teachers() -> dict[str, nn.Module]:
    """The trained built-in models (treat as read-only; copy before changing)."""
    return {name: trained_model(name) for name in ("digits-mlp", "digits-cnn")}


def _accuracy(model: nn.Module, split) -> float:
    with torch.no_grad():
        predicted = model(torch.from_numpy(split.inputs)).argmax(dim=1).numpy()
    return float((predicted == split.labels).mean())


def _load_builtin(source: str):
    scheme, _, reference = source.partition(":")
    assert scheme == "builtin"
    return BuiltinModels().load(reference, Path("."), 0)


def _context(teacher: nn.Module | None, seed: int = 0, **changes) -> MethodContext:
    fields = {
        "seed": seed,
        "data": digits_splits(),
        "teacher": teacher,
        "load_model": _load_builtin,
    }
    return MethodContext(**(fields | changes))


def _prune(model: nn.Module, sparsity: float = 0.9) -> nn.Module:
    params = MagnitudePruningParams(sparsity=sparsity)
    return MagnitudePruning().apply(copy.deepcopy(model), params, MethodContext(seed=0))


def _distill(model, teacher, seed: int = 0, ctx: MethodContext | None = None, **params):
    ctx = ctx or _context(teacher, seed)
    return KnowledgeDistillation().apply(model, DistillationParams(**params), ctx)


def _zero_pattern(model: nn.Module) -> list[torch.Tensor]:
    return [weight.detach() == 0 for _, weight in prunable_weights(model)]


def _same_zeros(first: nn.Module, second: nn.Module) -> bool:
    pairs = zip(_zero_pattern(first), _zero_pattern(second), strict=True)
    return all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.parametrize("name", ["digits-mlp", "digits-cnn"])
def test_distillation_recovers_pruned_accuracy_and_keeps_the_zeros(name, teachers) -> None:
    teacher = teachers[name]
    test = digits_splits().test
    baseline = _accuracy(teacher, test)
    pruned = _prune(teacher, 0.9)
    pruned_accuracy = _accuracy(pruned, test)
    assert pruned_accuracy < baseline - 0.05  # 90% sparsity really hurts
    zeros_before = _zero_pattern(pruned)
    ctx = _context(teacher)
    distilled = _distill(copy.deepcopy(pruned), teacher, ctx=ctx, epochs=10)
    assert _accuracy(distilled, test) >= baseline - 0.02
    zeros_after = _zero_pattern(distilled)
    assert all(torch.equal(a, b) for a, b in zip(zeros_before, zeros_after, strict=True))
    total = sum(p.numel() for p in zeros_after)
    assert sum(int(p.sum()) for p in zeros_after) == round(0.9 * total)  # sparsity unchanged
    # the surviving weights were trained, not merely copied
    changed = [
        not torch.equal(a, b)
        for (_, a), (_, b) in zip(
            prunable_weights(pruned), prunable_weights(distilled), strict=True
        )
    ]
    assert all(changed)
    (note,) = ctx.notes
    assert "10 epochs" in note and "train loss" in note and "calibration accuracy" in note
    layers = len(prunable_weights(pruned))
    assert f"kept the zeros of {layers} masked layers" in note
    calibration = re.search(r"calibration accuracy ([\d.]+)% -> ([\d.]+)%", note)
    assert float(calibration[2]) > float(calibration[1])


def test_distilling_into_a_student_gives_the_students_architecture(teachers) -> None:
    teacher = teachers["digits-cnn"]
    incoming = _prune(teacher, 0.5)
    ctx = _context(teacher)
    student = _distill(
        incoming, teacher, ctx=ctx, student="builtin:digits-mlp", reinitialize=True, epochs=10
    )
    assert student is not incoming
    assert sum(p.numel() for p in student.parameters()) == MLP_PARAMS
    assert sum(p.numel() for p in teacher.parameters()) > 2.5 * MLP_PARAMS
    assert not student.training
    # trained from a fresh (seeded) initialisation to a decent accuracy by the teacher alone
    assert _accuracy(student, digits_splits().test) >= 0.95
    assert "incoming artifact" in ctx.notes[0] and "builtin:digits-mlp" in ctx.notes[0]
    calibration = re.search(r"calibration accuracy ([\d.]+)% -> ([\d.]+)%", ctx.notes[1])
    assert float(calibration[1]) < 30 < 90 < float(calibration[2])
    assert "no zero (pruned) weights to keep" in ctx.notes[1]


def test_student_that_disagrees_with_the_teacher_in_shape_is_an_error(teachers) -> None:
    class Wide:
        format = "torch.module"
        artifact = nn.Sequential(nn.Flatten(), nn.Linear(64, 7))

    ctx = _context(teachers["digits-mlp"], load_model=lambda source: Wide())
    with pytest.raises(MethodError, match=r"shape \(7,\).*\(10,\)"):
        _distill(None, teachers["digits-mlp"], ctx=ctx, student="python:m:wide")


def test_teacher_and_loaded_student_objects_are_not_modified(teachers) -> None:
    teacher = teachers["digits-cnn"]
    before = copy.deepcopy(teacher.state_dict())
    shared = trained_model("digits-mlp")
    shared_before = copy.deepcopy(shared.state_dict())

    class Loaded:
        format = "torch.module"
        artifact = shared

    ctx = _context(teacher, load_model=lambda source: Loaded())
    result = _distill(None, teacher, ctx=ctx, student="python:m:f", epochs=1)
    assert result is not shared
    for state, reference in ((teacher.state_dict(), before), (shared.state_dict(), shared_before)):
        assert all(torch.equal(state[k], reference[k]) for k in reference)
    assert not teacher.training


def test_same_seed_same_weights_other_seed_other_weights(teachers) -> None:
    teacher = teachers["digits-mlp"]
    pruned = _prune(teacher, 0.7)
    runs = [_distill(copy.deepcopy(pruned), teacher, seed, epochs=2) for seed in (5, 5, 6)]
    first, again, other = (run.state_dict() for run in runs)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_global_random_state_and_thread_count_are_restored(teachers) -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _distill(copy.deepcopy(teachers["digits-mlp"]), teachers["digits-mlp"], epochs=1)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_the_test_split_is_never_used(teachers) -> None:
    teacher = teachers["digits-mlp"]
    splits = digits_splits()
    garbage = dataclasses.replace(
        splits.test,
        inputs=np.full_like(splits.test.inputs, np.nan),
        labels=np.full_like(splits.test.labels, -1),
    )
    blinded = dataclasses.replace(splits, test=garbage)
    pruned = _prune(teacher, 0.8)
    normal = _distill(copy.deepcopy(pruned), teacher, epochs=2)
    ctx = _context(teacher, data=blinded)
    without_test = _distill(copy.deepcopy(pruned), teacher, ctx=ctx, epochs=2)
    state = without_test.state_dict()
    assert all(torch.equal(value, state[key]) for key, value in normal.state_dict().items())


def test_alpha_zero_is_fine_tuning_without_a_teacher(teachers) -> None:
    pruned = _prune(teachers["digits-mlp"], 0.9)
    tuned = _distill(copy.deepcopy(pruned), None, alpha=0.0, epochs=5, optimizer="sgd", lr=0.05)
    test = digits_splits().test
    assert _accuracy(tuned, test) > _accuracy(pruned, test) + 0.1
    assert _same_zeros(pruned, tuned)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_every_optimizer_keeps_the_zeros_under_weight_decay(optimizer, teachers) -> None:
    teacher = teachers["digits-mlp"]
    pruned = _prune(teacher, 0.8)
    trained = _distill(
        copy.deepcopy(pruned), teacher, epochs=1, optimizer=optimizer, weight_decay=0.1
    )
    assert _same_zeros(pruned, trained)
    assert not torch.equal(trained[1].weight, pruned[1].weight)


def test_dynamic_int8_input_is_refused_naming_the_layer(teachers) -> None:
    teacher = teachers["digits-mlp"]
    quantized = DynamicInt8Quantization().apply(
        copy.deepcopy(teacher), NoParams(), MethodContext(seed=0)
    )
    with pytest.raises(MethodError) as caught:
        _distill(quantized, teacher)
    message = str(caught.value)
    assert "layer '1'" in message and "quantized" in message
    assert "before quantization" in message and "train before packing" in message


def test_packed_layers_are_refused() -> None:
    class PackedLinear(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("packed", torch.zeros(10, 64, dtype=torch.int8))

        def dequantized_weight(self) -> torch.Tensor:
            return self.packed.float()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.linear(x, self.dequantized_weight())

    model = nn.Sequential(nn.Flatten(), nn.Sequential(nn.ReLU(), PackedLinear()))
    with pytest.raises(MethodError, match=r"layer '1\.1' \(.*PackedLinear\).*before quant"):
        _distill(model, None, alpha=0.0)


def test_model_without_trainable_parameters_is_refused() -> None:
    frozen = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).requires_grad_(False)
    with pytest.raises(MethodError, match="no trainable"):
        _distill(frozen, None, alpha=0.0)


def test_missing_dataset_teacher_or_labels_are_errors(teachers) -> None:
    model = copy.deepcopy(teachers["digits-mlp"])
    with pytest.raises(MethodError, match="names no dataset"):
        _distill(model, None, ctx=_context(None, data=None))
    with pytest.raises(MethodError, match="no teacher"):
        _distill(model, None, alpha=0.5)
    splits = digits_splits()
    unlabelled = dataclasses.replace(splits, train=dataclasses.replace(splits.train, labels=None))
    with pytest.raises(MethodError, match="alpha: 1"):
        _distill(model, teachers["digits-mlp"], ctx=_context(model, data=unlabelled))


def test_loss_is_hintons() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 10), torch.randn(6, 10)
    labels = torch.randint(0, 10, (6,))
    assert torch.allclose(
        kd_loss(student, None, labels, 3.0, 0.0), F.cross_entropy(student, labels)
    )
    assert float(kd_loss(teacher, teacher, None, 3.0, 1.0)) == pytest.approx(0.0, abs=1e-6)
    p_teacher = F.softmax(teacher / 3.0, dim=1)
    kl = (p_teacher * (p_teacher.log() - F.log_softmax(student / 3.0, dim=1))).sum(1).mean()
    expected = 0.7 * 9.0 * kl + 0.3 * F.cross_entropy(student, labels)
    assert torch.allclose(kd_loss(student, teacher, labels, 3.0, 0.7), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"temperature": 0}, "greater than 0"),
        ({"alpha": 1.5}, "less than or equal to 1"),
        ({"alpha": -0.1}, "greater than or equal to 0"),
        ({"epochs": 0}, "greater than or equal to 1"),
        ({"lr": 0}, "greater than 0"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"optimizer": "rmsprop"}, "'adam', 'adamw' or 'sgd'"),
        ({"weight_decay": -1}, "greater than or equal to 0"),
        ({"student": "digits-mlp"}, "model source string"),
        ({"teacher": "builtin:digits-cnn"}, "Extra inputs are not permitted"),
    ],
)
def test_params_are_validated(params, complaint) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        DistillationParams(**params)


def test_defaults_need_no_params() -> None:
    params = DistillationParams()
    assert (params.temperature, params.alpha, params.optimizer, params.student) == (
        4.0,
        0.9,
        "adam",
        None,
    )


PIPELINE_VARIANTS = """
pruned:
  - prune.magnitude: {sparsity: 0.9}
pruned-kd:
  - prune.magnitude: {sparsity: 0.9}
  - distill.kd: {epochs: 10, temperature: 4, alpha: 0.9}
"""


def test_prune_then_distill_through_the_harness(run_variants):
    rows = run_variants(PIPELINE_VARIANTS, isolate=True)
    baseline, pruned, distilled = (rows.loc[v] for v in ("baseline", "pruned", "pruned-kd"))
    assert pruned["accuracy_delta"] < -0.05
    assert distilled["status"] == "ok" and distilled["accuracy_delta"] >= -0.02
    assert distilled["nonzero_params"] == pruned["nonzero_params"]
    assert distilled["params"] == pruned["params"] == baseline["params"]
    assert distilled["nonzero_params"] < 0.15 * distilled["params"]
    (note,) = [n for n in json.loads(distilled["method_log"]) if n.startswith("distill.kd:")]
    assert note.startswith("distill.kd: 10 epochs") and "kept the zeros of 3 masked" in note
