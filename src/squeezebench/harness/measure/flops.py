"""FLOPs per sample, dense and on nonzero weights only.

``torch.utils.flop_counter`` counts aten matmuls and convolutions per module; dynamically
quantized Linear layers run a quantized op it does not know, so they are counted by their
shape (2 * in * out per sample). Nonzero FLOPs scale each Linear and Conv layer's count by
the density of its weight, the work a perfectly sparse kernel would do (ShrinkBench's
"theoretical speedup" is dense FLOPs over these).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FlopCount:
    """FLOPs of one sample: all of them, and those that multiply nonzero weights."""

    dense: int
    nonzero: int


def count_flops(module: Any, example: Any) -> FlopCount | None:
    """FLOPs of one forward pass of ``example`` divided by its batch size, or None.

    Modules the counter cannot run (exotic ops, TorchScript quirks) give None.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    quantized_layers = quantized_layer_types()
    layer_flops: dict[Any, int] = {}

    def record(layer: Any, inputs: tuple[Any, ...], output: Any) -> None:
        layer_flops[layer] = layer_flops.get(layer, 0) + weighted_layer_flops(layer, output)

    hooks = [
        layer.register_forward_hook(record)
        for layer in module.modules()
        if weight_of(layer) is not None
    ]
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            module(example)
    except Exception:
        return None
    finally:
        for hook in hooks:
            hook.remove()
    # the counter cannot see torch.ao's int8 Linear / Conv ops: add them from the hooks
    dense = counter.get_total_flops() + sum(
        flops for layer, flops in layer_flops.items() if isinstance(layer, quantized_layers)
    )
    skipped = 0
    for layer, flops in layer_flops.items():
        weight = weight_of(layer)
        density = float(weight.count_nonzero()) / max(weight.numel(), 1)
        skipped += round(flops * (1.0 - density))
    batch = max(example.shape[0] if getattr(example, "shape", None) else 1, 1)
    return FlopCount(dense=int(dense // batch), nonzero=int((dense - skipped) // batch))


def quantized_layer_types() -> tuple[type, ...]:
    """torch.ao int8 Linear and Conv types (dynamic, static, fused): the counter cannot see them."""
    from squeezebench.plugins.builtin.methods._torch_ao import quantized_layer_types as types

    return types()


def weight_of(layer: Any) -> Any | None:
    """The weight of a Linear or Conv layer (dequantized if packed), else None.

    Packed layers count when they expose ``in_features`` and ``dequantized_weight()``.
    """
    import torch

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    if isinstance(layer, kinds):
        return layer.weight.detach()
    if isinstance(layer, quantized_layer_types()):
        weight = layer.weight()
        return weight.dequantize() if weight.is_quantized else weight
    if callable(getattr(layer, "dequantized_weight", None)) and hasattr(layer, "in_features"):
        return layer.dequantized_weight()
    return None


def weighted_layer_flops(layer: Any, output: Any) -> int:
    """Multiply-add FLOPs (2 per MAC) of a Linear or Conv layer that produced ``output``."""
    import torch

    if isinstance(layer, torch.nn.modules.conv._ConvNd) or hasattr(layer, "kernel_size"):
        per_output = (layer.in_channels // layer.groups) * int(
            torch.tensor(layer.kernel_size).prod()
        )
        return 2 * per_output * output.numel()
    return 2 * layer.in_features * output.numel()


def flops_per_sample(module: Any, example: Any) -> int | None:
    """Dense FLOPs of one sample (see :func:`count_flops`)."""
    counted = count_flops(module, example)
    return None if counted is None else counted.dense
