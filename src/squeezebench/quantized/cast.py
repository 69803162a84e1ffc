"""A model stored in float16 or bfloat16 that still takes and returns float32.

:class:`CastModel` holds the wrapped model under ``model`` (so its ``state_dict`` keys gain
a ``model.`` prefix), with every floating-point parameter and buffer in the storage dtype.
Two ways of running it:

* ``compute="cast"``: activations in the storage dtype too. The float32 input is cast on
  the way in, floating outputs are cast back to float32 on the way out.
* ``compute="float32"``: weights are upcast to float32 at every call (``functional_call``
  with float32 copies) and the model runs in float32, for backends or ops that have no
  half-precision kernel. Only the storage is halved.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

CAST_DTYPES: dict[str, torch.dtype] = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def _to_float32(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, tuple | list):
        return type(value)(_to_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value


class CastModel(nn.Module):
    """``model`` stored in ``dtype``; float32 in, float32 out (see the module docstring)."""

    def __init__(self, model: nn.Module, dtype: torch.dtype, compute: str = "cast") -> None:
        super().__init__()
        if compute not in ("cast", "float32"):
            raise ValueError(f"compute must be 'cast' or 'float32' (got {compute!r})")
        self.model = model.to(dtype)
        self.dtype = dtype
        self.compute = compute

    def forward(self, *inputs: Any) -> Any:
        if self.compute == "cast":
            cast = tuple(
                x.to(self.dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x
                for x in inputs
            )
            return _to_float32(self.model(*cast))
        upcast = {
            name: _to_float32(tensor)
            for name, tensor in [*self.model.named_parameters(), *self.model.named_buffers()]
        }
        return _to_float32(torch.func.functional_call(self.model, upcast, inputs))

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, compute={self.compute}"
