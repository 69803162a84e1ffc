"""``quantize.dynamic_int8``: dynamic int8 quantization of Linear layers.

Weights are stored as int8 with a per-tensor scale; activations are quantized on the fly
at run time. The torch.ao calls live in ``_torch_ao`` (the one module that touches the
deprecated ``torch.ao.quantization`` API), so that its replacement stays a one-file change.
"""

from __future__ import annotations

from typing import Any

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import Method, MethodContext, NoParams
from squeezebench.plugins.markers import hookimpl


class DynamicInt8Quantization(Method):
    """Dynamic int8 quantization of Linear layers (int8 weights, activations at run time)."""

    name = "quantize.dynamic_int8"
    Params = NoParams

    def apply(self, artifact: Any, params: NoParams, ctx: MethodContext) -> Any:
        import torch

        from squeezebench.plugins.builtin.methods import _torch_ao
        from squeezebench.plugins.builtin.methods._layer_selection import layers_phrase
        from squeezebench.plugins.builtin.methods._quant_common import ratio, serialized_bytes

        if not any(isinstance(m, torch.nn.Linear) for m in artifact.modules()):
            raise MethodError("quantize.dynamic_int8 found no torch.nn.Linear layer to quantize")
        before = serialized_bytes(artifact)
        quantized = _torch_ao.quantize_dynamic_linear(artifact)
        after = serialized_bytes(quantized)
        types = _torch_ao.dynamic_linear_types()
        linear = [n for n, m in quantized.named_modules() if isinstance(m, types)]
        ctx.note(
            f"{layers_phrase(linear, 'Linear layer')} to int8 weights with a "
            f"per-tensor scale, activations quantized at run time; state_dict {before:,} -> "
            f"{after:,} bytes ({ratio(before, after)})"
        )
        return quantized


def dynamic_linear_types() -> tuple[type, ...]:
    """Module types this method produces, for code that must recognise them (FLOPs)."""
    from squeezebench.plugins.builtin.methods._torch_ao import dynamic_linear_types as types

    return types()


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``quantize.dynamic_int8``."""
    registry.add_method(DynamicInt8Quantization)
