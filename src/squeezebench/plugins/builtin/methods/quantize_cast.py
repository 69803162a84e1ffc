"""``quantize.cast``: float16 / bfloat16 weights (and activations where they run).

Every floating-point parameter and buffer is cast to the target dtype, halving the
artifact. The model is wrapped in :class:`~squeezebench.quantized.cast.CastModel`, which
takes the harness's float32 batches and returns float32 outputs. With ``compute: cast`` it
casts the input and runs every op in the half dtype (torch's CPU backend has float16 and
bfloat16 kernels for the common ops; float16 matmuls are slow on CPUs without native
float16 arithmetic). With ``compute: float32`` the weights are only stored in half precision
and upcast at every call. ``compute: auto`` (default) runs a real batch in the half dtype
and keeps that when it works and gives finite outputs, else falls back to float32 compute
and says why in the method log.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl

METHOD = "quantize.cast"


class CastParams(BaseModel):
    """Parameters of ``quantize.cast``."""

    model_config = ConfigDict(extra="forbid")

    dtype: Literal["float16", "bfloat16"] = Field(
        "float16", description="Storage dtype of the weights (and of activations when cast)."
    )
    compute: Literal["auto", "cast", "float32"] = Field(
        "auto",
        description="'cast': activations in dtype too (error if the model cannot run in it); "
        "'float32': weights upcast to float32 at every call; 'auto': 'cast' when a "
        "calibration batch runs in dtype with finite outputs, else 'float32'.",
    )


class CastQuantization(Method):
    """float16 / bfloat16 weights, and activations where the backend runs them."""

    name = METHOD
    Params = CastParams

    def apply(self, artifact: Any, params: CastParams, ctx: MethodContext) -> Any:
        from squeezebench.plugins.builtin.methods._quant_common import (
            all_finite,
            probe_input,
            ratio,
            run_locating_failure,
            serialized_bytes,
        )
        from squeezebench.quantized.cast import CAST_DTYPES, CastModel

        floating = [t for t in artifact.state_dict().values() if _is_wide_float(t)]
        if not floating:
            raise MethodError(f"{METHOD} found no float32 or float64 parameter or buffer to cast")
        before = serialized_bytes(artifact)
        dtype = CAST_DTYPES[params.dtype]
        cast = CastModel(artifact.eval(), dtype, compute="cast")
        compute = params.compute
        why = ""
        if compute != "float32":
            probe = probe_input(ctx)
            problem = None
            if probe is not None:
                # run the wrapped model itself, so that failures name the user's layers
                if probe.is_floating_point():  # token ids and other integer inputs stay as they are
                    probe = probe.to(dtype)
                output, problem = run_locating_failure(cast.model, probe)
                if problem is None and not all_finite(output):
                    problem = f"outputs are not finite in {params.dtype} (overflow?)"
            if problem is not None and compute == "cast":
                raise MethodError(f"{METHOD}: the model does not run in {params.dtype}: {problem}")
            if problem is not None:
                compute, why = "float32", f" because running in {params.dtype} failed: {problem}"
            else:
                compute = "cast"
                if probe is None:
                    why = " (no input to try it on: assumed to work)"
        cast.compute = compute
        after = serialized_bytes(cast)
        elements = sum(t.numel() for t in floating)
        activations = (
            f"activations in {params.dtype}"
            if compute == "cast"
            else "activations in float32 (weights upcast at every call)"
        )
        ctx.note(
            f"{len(floating)} float tensors ({elements:,} values) to {params.dtype}, "
            f"{activations}{why}; float32 in and out; state_dict {before:,} -> {after:,} "
            f"bytes ({ratio(before, after)})"
        )
        return cast


def _is_wide_float(tensor: Any) -> bool:
    import torch

    return isinstance(tensor, torch.Tensor) and tensor.dtype in (torch.float32, torch.float64)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``quantize.cast``."""
    registry.add_method(CastQuantization)
