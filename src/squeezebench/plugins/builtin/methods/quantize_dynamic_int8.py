"""``quantize.dynamic_int8``: dynamic int8 quantization of Linear layers.

Weights are stored as int8 with a per-tensor scale; activations are quantized on the fly
at run time. This is the only module that touches the deprecated ``torch.ao.quantization``
eager API, so that its replacement stays a one-file change.
"""

from __future__ import annotations

import warnings
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

        if not any(isinstance(m, torch.nn.Linear) for m in artifact.modules()):
            raise MethodError("quantize.dynamic_int8 found no torch.nn.Linear layer to quantize")
        with warnings.catch_warnings():
            # torch 2.10+ deprecates the eager quantization API in favour of torchao; the
            # warning is not actionable for our users, so it is documented instead.
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            return quantize_dynamic(artifact.eval(), {torch.nn.Linear}, dtype=torch.qint8)


def dynamic_linear_types() -> tuple[type, ...]:
    """Module types this method produces, for code that must recognise them (FLOPs)."""
    from torch.ao.nn.quantized.dynamic import Linear

    return (Linear,)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``quantize.dynamic_int8``."""
    registry.add_method(DynamicInt8Quantization)
