"""FLOPs per sample, with torch's flop counter plus the layers it cannot see."""

from __future__ import annotations

from typing import Any


def flops_per_sample(module: Any, example: Any) -> int | None:
    """FLOPs of one forward pass of ``example`` divided by its batch size, or None.

    ``torch.utils.flop_counter`` counts aten matmuls and convolutions; dynamically
    quantized Linear layers run a quantized op it does not know, so they are counted by
    their shape (2 * in * out per sample). Modules the counter cannot trace give None.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from squeezebench.plugins.builtin.methods.quantize_dynamic_int8 import dynamic_linear_types

    extra = 0
    quantized_linear = dynamic_linear_types()

    def count_linear(layer: Any, inputs: tuple[Any, ...], output: Any) -> None:
        nonlocal extra
        extra += (
            2 * layer.in_features * layer.out_features * (inputs[0].numel() // layer.in_features)
        )

    hooks = [
        layer.register_forward_hook(count_linear)
        for layer in module.modules()
        if isinstance(layer, quantized_linear)
    ]
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            module(example)
    except Exception:
        return None
    finally:
        for hook in hooks:
            hook.remove()
    batch = example.shape[0] if getattr(example, "shape", None) else 1
    return int((counter.get_total_flops() + extra) // max(batch, 1))
