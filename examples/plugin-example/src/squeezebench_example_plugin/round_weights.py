"""``example.round_weights``: round every Linear and Conv weight to fewer mantissa bits.

A float32 weight keeps 23 explicit mantissa bits. This method rounds each weight to the
nearest value with only ``mantissa_bits`` of them (round half to even), which is how low
precision float formats such as bfloat16 (7 bits) or fp8 e4m3 (3 bits) would store it. The
exponent is left alone, so no weight overflows or flushes to zero. The weights stay float32
tensors, so the artifact is no smaller: the method is ``simulated``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import MethodError
from squeezebench.plugins import Method, MethodContext


class RoundWeightsParams(BaseModel):
    """Parameters of ``example.round_weights``."""

    model_config = ConfigDict(extra="forbid")

    mantissa_bits: int = Field(
        3,
        ge=0,
        le=23,
        description="Explicit mantissa bits kept per weight (7 like bfloat16, 23 = unchanged).",
    )
    include_bias: bool = Field(False, description="Round the layers' biases too.")


class RoundWeights(Method):
    """Round Linear and Conv weights to fewer mantissa bits (simulated low-precision floats)."""

    name = "example.round_weights"
    Params = RoundWeightsParams
    simulated = True

    def apply(self, artifact: Any, params: RoundWeightsParams, ctx: MethodContext) -> Any:
        import torch  # imported here, not at the top: listing plugins must stay fast

        kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
        layers = [m for m in artifact.modules() if isinstance(m, kinds)]
        if not layers:
            raise MethodError("example.round_weights found no Linear or Conv layer to round")
        with torch.no_grad():
            for layer in layers:
                tensors = [layer.weight]
                if params.include_bias and layer.bias is not None:
                    tensors.append(layer.bias)
                for tensor in tensors:
                    tensor.copy_(round_mantissa(tensor, params.mantissa_bits))
        ctx.logger.debug("example.round_weights rounded %d layers", len(layers))
        return artifact


def round_mantissa(tensor: Any, bits: int) -> Any:
    """``tensor`` with every value rounded to ``bits`` explicit mantissa bits."""
    import torch

    mantissa, exponent = torch.frexp(tensor)  # tensor == mantissa * 2**exponent, |m| in [0.5, 1)
    scale = 2.0 ** (bits + 1)  # the implicit leading bit plus the kept explicit bits
    return torch.ldexp(torch.round(mantissa * scale) / scale, exponent).to(tensor.dtype)
