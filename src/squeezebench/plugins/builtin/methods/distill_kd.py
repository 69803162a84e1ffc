"""``distill.kd``: knowledge distillation (and plain fine-tuning) against the baseline.

The current artifact, or a smaller ``student`` model loaded from a model source string, is
trained on the dataset's train split to match the unmodified baseline (``ctx.teacher``)::

    loss = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, y)

with ``s`` the student's logits, ``t`` the teacher's, ``y`` the labels and ``T`` the
temperature (Hinton et al., 2015). ``alpha: 0`` is plain fine-tuning on the labels.

Compression applied earlier survives: weights of Linear and Conv layers that are exactly zero
before training (pruned) stay exactly zero (their gradients are zeroed and the zeros are
written back after every optimizer step). Packed or quantized layers cannot be trained, so an
artifact holding them is refused: distil before quantizing. Training is deterministic: seeded
from the spec's seed, one thread, a seeded generator for the shuffling, and the global random
state is left as it was. The test split is never read; notes report the train loss and the
calibration-split accuracy before and after.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import TORCH_MODULE, Method, MethodContext
from squeezebench.plugins.markers import hookimpl

NAME = "distill.kd"
EVAL_CHUNK = 512
"""Samples per forward pass when computing teacher logits, losses and accuracies."""

_QUANTIZED_MODULE_PREFIXES = (
    "torch.ao.nn.quantized",
    "torch.ao.nn.intrinsic.quantized",
    "torch.ao.nn.sparse.quantized",
    "torch.nn.quantized",
    "torch.nn.intrinsic.quantized",
)


class DistillationParams(BaseModel):
    """Parameters of ``distill.kd``."""

    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(
        4.0, gt=0, description="Softmax temperature T of the soft targets (1 = plain softmax)."
    )
    alpha: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Weight of the distillation term; 1 - alpha weighs cross-entropy on the "
        "labels. 0 is plain fine-tuning, 1 needs no labels.",
    )
    epochs: int = Field(10, ge=1, le=10_000, description="Passes over the train split.")
    lr: float = Field(3e-3, gt=0, description="Learning rate.")
    batch_size: int = Field(64, ge=1, description="Samples per optimizer step.")
    optimizer: Literal["adam", "adamw", "sgd"] = Field(
        "adam", description="adam (L2 weight decay), adamw (decoupled) or sgd (with momentum)."
    )
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum of sgd (unused otherwise).")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay of the optimizer.")
    student: str | None = Field(
        None,
        description="Model source string of a smaller model to train instead of the current "
        "artifact (e.g. builtin:digits-mlp); the incoming artifact is then ignored.",
    )
    reinitialize: bool = Field(
        False,
        description="Reset the trained model's parameters (seeded) before training, to "
        "distil from scratch; zeros of pruned weights are kept.",
    )

    @field_validator("student")
    @classmethod
    def _model_source_string(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, colon, reference = value.partition(":")
        if not colon or not scheme.strip() or not reference.strip():
            raise ValueError(
                f"student must be a model source string '<scheme>:<reference>' such as "
                f"'builtin:digits-mlp' (got {value!r})"
            )
        return value


@dataclass(frozen=True)
class TrainingSummary:
    """What one distillation run did, for notes and tests."""

    epochs: int
    steps: int
    samples: int
    loss_before: float
    loss_after: float
    last_epoch_loss: float
    calibration_before: float | None
    calibration_after: float | None
    masked_layers: int
    masked_zeros: int


class KnowledgeDistillation(Method):
    """Knowledge distillation / fine-tuning against the baseline (pruning zeros are kept)."""

    name = NAME
    Params = DistillationParams
    stochastic = True  # shuffling and initialisation follow the seed

    def apply(self, artifact: Any, params: DistillationParams, ctx: MethodContext) -> Any:
        import torch

        data = ctx.data
        if data is None:
            raise MethodError(
                f"{NAME} trains on the dataset's train split, but the spec names no dataset "
                "(add `dataset:`)"
            )
        train = data.train
        if len(train) == 0:
            raise MethodError(f"{NAME}: the dataset's train split is empty")
        if train.labels is None and params.alpha < 1:
            raise MethodError(
                f"{NAME}: the train split has no labels, so only alpha: 1 (pure distillation "
                f"from the teacher) can be used (got alpha: {params.alpha})"
            )
        if ctx.teacher is None and params.alpha > 0:
            raise MethodError(
                f"{NAME}: no teacher model in the context; use alpha: 0 for plain fine-tuning"
            )

        if params.student is not None:
            artifact = self._load_student(params.student, ctx)
        if not isinstance(artifact, torch.nn.Module):
            raise MethodError(
                f"{NAME} trains torch.nn.Module artifacts (got {type(artifact).__name__})"
            )
        refuse_packed_layers(artifact)
        trainable = _unique([p for p in artifact.parameters() if p.requires_grad])
        if not any(p.is_floating_point() for p in trainable):
            raise MethodError(f"{NAME}: the model has no trainable floating-point parameters")

        summary = distill(artifact, ctx.teacher, data, params, ctx.seed)
        ctx.note(describe(summary, params))
        return artifact

    @staticmethod
    def _load_student(source: str, ctx: MethodContext) -> Any:
        if ctx.load_model is None:
            raise MethodError(f"{NAME}: cannot load student {source!r}: no model loader")
        loaded = ctx.load_model(source)
        if loaded.format != TORCH_MODULE:
            raise MethodError(
                f"{NAME}: student {source!r} is a {loaded.format} artifact; "
                f"only {TORCH_MODULE} students can be trained"
            )
        ctx.note(
            f"training student {source}; the incoming artifact is ignored (compression "
            "applied by earlier steps is discarded)"
        )
        # a model source may hand out a shared object: never train it in place
        return copy.deepcopy(loaded.artifact)


def refuse_packed_layers(model: Any) -> None:
    """Raise MethodError naming the first packed or quantized layer of ``model``, if any."""
    for name, layer in model.named_modules():
        kind = type(layer)
        packed = (
            callable(getattr(layer, "dequantized_weight", None))
            or kind.__module__.startswith(_QUANTIZED_MODULE_PREFIXES)
            or callable(getattr(kind, "weight", None))  # torch's quantized layers: weight()
        )
        if packed:
            label = f"layer '{name}'" if name else "the model"
            raise MethodError(
                f"{NAME} cannot train {label} ({kind.__module__}.{kind.__qualname__}): it is "
                "packed or quantized and has no trainable float weights; put distill.kd "
                "before quantization in the pipeline (train before packing)"
            )


def mask_targets(model: Any) -> list[tuple[Any, Any]]:
    """``(weight, keep)`` for every Linear/Conv weight parameter holding exact zeros.

    ``keep`` is the boolean mask of the nonzero entries; shared parameters appear once.
    """
    import torch

    kinds = (
        torch.nn.Linear,
        torch.nn.Conv1d,
        torch.nn.Conv2d,
        torch.nn.Conv3d,
        torch.nn.ConvTranspose1d,
        torch.nn.ConvTranspose2d,
        torch.nn.ConvTranspose3d,
    )
    targets, seen = [], set()
    for layer in model.modules():
        weight = getattr(layer, "weight", None)
        if not isinstance(layer, kinds) or not isinstance(weight, torch.nn.Parameter):
            continue
        if id(weight) in seen or not weight.requires_grad:
            continue
        seen.add(id(weight))
        keep = weight.detach() != 0
        if not bool(keep.all()):
            targets.append((weight, keep))
    return targets


def kd_loss(
    student_logits: Any, teacher_logits: Any, labels: Any, temperature: float, alpha: float
) -> Any:
    """Hinton's loss: ``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE``.

    KL is averaged over the batch; ``teacher_logits`` (or ``labels``) may be None when
    their weight is zero.
    """
    import torch.nn.functional as F

    loss = student_logits.new_zeros(())
    if alpha > 0:
        log_student = F.log_softmax(student_logits / temperature, dim=1)
        log_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
        kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
        loss = loss + alpha * temperature**2 * kl
    if alpha < 1:
        loss = loss + (1 - alpha) * F.cross_entropy(student_logits, labels)
    return loss


def distill(
    model: Any, teacher: Any, data: Any, params: DistillationParams, seed: int
) -> TrainingSummary:
    """Train ``model`` in place against ``teacher`` on ``data.train``; never reads ``data.test``.

    One thread, seeded initialisation and shuffling; the global random state and the thread
    count are restored afterwards, and every module keeps its train/eval mode.
    """
    import torch

    previous_threads = torch.get_num_threads()
    modes = {module: module.training for module in model.modules()}
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _train(model, teacher, data, params, seed)
    finally:
        for module, training in modes.items():
            module.training = training
        torch.set_num_threads(previous_threads)


def _train(
    model: Any, teacher: Any, data: Any, params: DistillationParams, seed: int
) -> TrainingSummary:
    import torch

    device = next(iter(model.parameters())).device
    inputs = torch.from_numpy(data.train.inputs)
    labels = None if data.train.labels is None else torch.from_numpy(data.train.labels).long()
    teacher_logits = _teacher_logits(teacher, inputs) if params.alpha > 0 else None

    masks = mask_targets(model)  # the zeros of the incoming weights, before any reset
    if params.reinitialize:
        for module in model.modules():
            if callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()
        _apply_masks(masks)

    model.eval()
    probe = model(inputs[:2].to(device))
    if teacher_logits is not None and probe.shape[1:] != teacher_logits.shape[1:]:
        raise MethodError(
            f"{NAME}: the student gives outputs of shape {tuple(probe.shape[1:])} per sample "
            f"but the teacher {tuple(teacher_logits.shape[1:])}"
        )
    loss_before = _mean_loss(model, inputs, teacher_logits, labels, params, device)
    calibration_before = _accuracy(model, data.calibration, device)

    optimizer = _optimizer(model, params)
    generator = torch.Generator().manual_seed(seed)
    count = len(inputs)
    steps, last_epoch_loss = 0, float("nan")
    model.train()
    for _ in range(params.epochs):
        order = torch.randperm(count, generator=generator)
        total, seen = 0.0, 0
        for start in range(0, count, params.batch_size):
            batch = order[start : start + params.batch_size]
            if len(batch) == 1 and params.batch_size > 1 and count > 1:
                continue  # a lone trailing sample would break BatchNorm: skipped this epoch
            optimizer.zero_grad(set_to_none=True)
            logits = model(inputs[batch].to(device))
            loss = kd_loss(
                logits,
                None if teacher_logits is None else teacher_logits[batch].to(device),
                None if labels is None else labels[batch].to(device),
                params.temperature,
                params.alpha,
            )
            loss.backward()
            for weight, keep in masks:
                if weight.grad is not None:
                    weight.grad.masked_fill_(~keep, 0)
            optimizer.step()
            _apply_masks(masks)
            steps += 1
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        last_epoch_loss = total / max(seen, 1)
    model.eval()

    loss_after = _mean_loss(model, inputs, teacher_logits, labels, params, device)
    calibration_after = _accuracy(model, data.calibration, device)
    return TrainingSummary(
        epochs=params.epochs,
        steps=steps,
        samples=count,
        loss_before=loss_before,
        loss_after=loss_after,
        last_epoch_loss=last_epoch_loss,
        calibration_before=calibration_before,
        calibration_after=calibration_after,
        masked_layers=len(masks),
        masked_zeros=sum(int((~keep).sum()) for _, keep in masks),
    )


def _apply_masks(masks: list[tuple[Any, Any]]) -> None:
    import torch

    with torch.no_grad():
        for weight, keep in masks:
            weight.masked_fill_(~keep, 0)


def _optimizer(model: Any, params: DistillationParams) -> Any:
    import torch

    trainable = _unique([p for p in model.parameters() if p.requires_grad])
    if params.optimizer == "sgd":
        return torch.optim.SGD(
            trainable, lr=params.lr, momentum=params.momentum, weight_decay=params.weight_decay
        )
    kind = torch.optim.AdamW if params.optimizer == "adamw" else torch.optim.Adam
    return kind(trainable, lr=params.lr, weight_decay=params.weight_decay)


def _unique(parameters: list[Any]) -> list[Any]:
    seen, unique = set(), []
    for parameter in parameters:
        if id(parameter) not in seen:
            seen.add(id(parameter))
            unique.append(parameter)
    return unique


def _teacher_logits(teacher: Any, inputs: Any) -> Any:
    """The teacher's logits on ``inputs`` (CPU, detached); its train/eval modes are kept."""
    import torch

    modes = {module: module.training for module in teacher.modules()}
    try:
        teacher.eval()
        with torch.no_grad():
            return torch.cat(
                [
                    teacher(inputs[start : start + EVAL_CHUNK]).float().cpu()
                    for start in range(0, len(inputs), EVAL_CHUNK)
                ]
            )
    finally:
        for module, training in modes.items():
            module.training = training


def _logits(model: Any, inputs: Any, device: Any) -> Any:
    import torch

    with torch.no_grad():
        return torch.cat(
            [
                model(inputs[start : start + EVAL_CHUNK].to(device)).float().cpu()
                for start in range(0, len(inputs), EVAL_CHUNK)
            ]
        )


def _mean_loss(
    model: Any,
    inputs: Any,
    teacher_logits: Any,
    labels: Any,
    params: DistillationParams,
    device: Any,
) -> float:
    logits = _logits(model, inputs, device)
    return float(kd_loss(logits, teacher_logits, labels, params.temperature, params.alpha))


def _accuracy(model: Any, split: Any, device: Any) -> float | None:
    import torch

    if split is None or split.labels is None or len(split) == 0:
        return None
    logits = _logits(model, torch.from_numpy(split.inputs), device)
    predicted = logits.argmax(dim=1).numpy()
    return float((predicted == split.labels).mean())


def describe(summary: TrainingSummary, params: DistillationParams) -> str:
    """The note recorded in the results' ``method_log``."""
    recipe = (
        f"{params.optimizer}, lr {params.lr:g}, batch {params.batch_size}, "
        f"T {params.temperature:g}, alpha {params.alpha:g}"
    )
    parts = [
        f"{summary.epochs} epochs ({summary.steps} steps; {recipe}) on "
        f"{summary.samples:,} train samples",
        f"train loss {summary.loss_before:.4f} -> {summary.loss_after:.4f} "
        f"(last epoch mean {summary.last_epoch_loss:.4f})",
    ]
    if summary.calibration_before is not None and summary.calibration_after is not None:
        parts.append(
            f"calibration accuracy {summary.calibration_before:.2%} -> "
            f"{summary.calibration_after:.2%}"
        )
    if summary.masked_layers:
        layers = "layer" if summary.masked_layers == 1 else "layers"
        parts.append(
            f"kept the zeros of {summary.masked_layers} masked {layers} "
            f"({summary.masked_zeros:,} weights held at zero)"
        )
    else:
        parts.append("no zero (pruned) weights to keep")
    return "; ".join(parts)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``distill.kd``."""
    registry.add_method(KnowledgeDistillation)
