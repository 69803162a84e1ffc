"""The layers of a torch model: names, types, shapes, parameters and FLOPs per layer.

What ``squeezebench inspect`` shows, so that a method's ``include`` / ``exclude`` patterns
(globs on these names) can be written without guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LayerInfo:
    """One module of a model, by its qualified name (what layer patterns match)."""

    name: str
    type: str
    weight_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None  # per sample (the batch dimension left out)
    parameters: int  # its own and its children's
    flops: int | None  # per sample, its own and its children's
    selectable: bool  # a Linear or Conv layer: what the built-in layer methods select

    def as_dict(self) -> dict[str, Any]:
        """Plain data (lists instead of tuples), for JSON."""
        return {
            "name": self.name,
            "type": self.type,
            "weight_shape": list(self.weight_shape) if self.weight_shape else None,
            "output_shape": list(self.output_shape) if self.output_shape else None,
            "parameters": self.parameters,
            "flops": self.flops,
            "selectable": self.selectable,
        }


@dataclass(frozen=True)
class ModelLayers:
    """The layers of a model and its totals (FLOPs per sample, None when not countable)."""

    layers: list[LayerInfo]
    parameters: int
    flops: int | None


def describe_layers(module: Any, example: Any) -> ModelLayers:
    """Every named module of ``module`` in order (the root only when it has no children).

    Output shapes and FLOPs come from one forward pass of ``example`` (FLOPs counted by
    ``torch.utils.flop_counter``, None where it cannot run the model). Without an example,
    or when the model does not run on it, shapes and FLOPs are left empty.
    """
    import numpy as np
    import torch

    from squeezebench.plugins.builtin.methods._layer_selection import candidate_layers

    outputs: dict[str, tuple[int, ...]] = {}

    def recorder(name: str) -> Any:
        def record(layer: Any, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                outputs[name] = tuple(output.shape[1:])

        return record

    named = [(name, layer) for name, layer in module.named_modules() if name]
    if not named:  # a bare layer: the root is the one layer a pattern can name
        named = [("", module)]
    if isinstance(example, np.ndarray):
        example = torch.from_numpy(example)
    hooks = [layer.register_forward_hook(recorder(name)) for name, layer in named]
    try:
        counts, total = _flops(module, example) if example is not None else (None, None)
    finally:
        for hook in hooks:
            hook.remove()
    batch = max(int(example.shape[0]) if getattr(example, "shape", None) else 1, 1)
    selectable = {name for name, _ in candidate_layers(module)}
    root = type(module).__name__
    rows = []
    for name, layer in named:
        weight = getattr(layer, "weight", None)
        flops = counts.get(f"{root}.{name}" if name else root) if counts is not None else None
        rows.append(
            LayerInfo(
                name=name,
                type=type(layer).__name__,
                weight_shape=tuple(weight.shape) if isinstance(weight, torch.Tensor) else None,
                output_shape=outputs.get(name),
                parameters=sum(p.numel() for p in layer.parameters()),
                flops=None if counts is None else (flops or 0) // batch,
                selectable=name in selectable,
            )
        )
    parameters = sum(p.numel() for p in module.parameters())
    return ModelLayers(rows, parameters, None if total is None else total // batch)


def _flops(module: Any, example: Any) -> tuple[dict[str, int] | None, int | None]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            module(example)
    except Exception:
        try:
            with torch.inference_mode():
                module(example)  # the shapes may still come from a plain forward pass
        except Exception:
            pass  # neither runs: no shapes, no FLOPs (the table still lists the layers)
        return None, None
    counts = {key: sum(ops.values()) for key, ops in counter.get_flop_counts().items()}
    return counts, counter.get_total_flops()
