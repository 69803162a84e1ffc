"""``quantize.weight_only``: int8 / int4 / int2 weights, packed, activations stay float.

Each selected Linear (and Conv1d/2d/3d) layer is replaced by a
:class:`~squeezebench.quantized.layers.QuantizedLinear` / ``QuantizedConv`` whose
``state_dict`` holds the packed codes (two int4 or four int2 per byte), the scales (float16
or float32) and, asymmetric, integer zero points: the artifact really is about 4x (int8),
8x (int4) or 16x (int2) smaller for the weights. Round-to-nearest quantization, per output
channel or per group of ``group_size`` consecutive inputs. The forward pass is a reference
path (dequantize, then float matmul); the byte layout is specified in
``docs/methods/quantization.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    layers_phrase,
    listing,
    replace_module,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl

METHOD = "quantize.weight_only"


class WeightOnlyParams(LayerSelection):
    """Parameters of ``quantize.weight_only``."""

    bits: Literal[8, 4, 2] = Field(8, description="Bits per stored weight (8, 4 or 2).")
    scheme: Literal["symmetric", "asymmetric"] = Field(
        "symmetric",
        description="symmetric: codes -(2^(b-1)-1)..2^(b-1)-1 times a scale (zero is exact); "
        "asymmetric: codes 0..2^b-1 minus an integer zero point, times a scale (uses the "
        "full range of skewed groups).",
    )
    group_size: Annotated[int, Field(ge=8, multiple_of=8)] | None = Field(
        None,
        description="Consecutive inputs of each output channel sharing one scale (and zero "
        "point), a multiple of 8, e.g. 32, 64, 128; null: one scale per output channel.",
    )
    indivisible: Literal["pad", "error", "skip"] = Field(
        "pad",
        description="When a layer's inputs per output channel are not a multiple of "
        "group_size: 'pad' the last group with zeros (stored, so counted in the size), "
        "'error', or 'skip' the layer (kept in float).",
    )
    scale_dtype: Literal["float16", "float32"] = Field(
        "float16", description="Storage dtype of the scales."
    )
    include_conv: bool = Field(
        True,
        description="Also quantize Conv1d/2d/3d layers (their weight as an out x "
        "in/groups*kernel matrix); false keeps them in float.",
    )


class WeightOnlyQuantization(Method):
    """Weight-only int8/int4/int2 quantization, packed, per channel or group-wise."""

    name = METHOD
    Params = WeightOnlyParams

    def apply(self, artifact: Any, params: WeightOnlyParams, ctx: MethodContext) -> Any:
        from squeezebench.plugins.builtin.methods._quant_common import (
            float_layers,
            packed_replacement,
            ratio,
            select_float_layers,
            serialized_bytes,
        )
        from squeezebench.quantized.layers import weight_matrix
        from squeezebench.quantized.packing import SCALE_DTYPES, quantize_affine

        candidates = float_layers(artifact, params.include_conv)
        chosen = select_float_layers(artifact, params, METHOD, params.include_conv)
        before = serialized_bytes(artifact)
        done: list[str] = []
        skipped: list[str] = []
        padded: list[str] = []
        float_bytes = packed_bytes = 0
        for name, layer in chosen:
            matrix = weight_matrix(layer)
            inputs = matrix.shape[1]
            if params.group_size is not None and inputs % params.group_size:
                if params.indivisible == "error":
                    raise MethodError(
                        f"{METHOD}: layer '{name}' ({type(layer).__name__}) has {inputs} inputs "
                        f"per output channel, not a multiple of group_size "
                        f"{params.group_size}; use a group_size that divides {inputs}, "
                        f"group_size: null (per channel), indivisible: pad or skip, or "
                        f"exclude: ['{name}']"
                    )
                if params.indivisible == "skip":
                    skipped.append(name)
                    continue
                padded.append(name)
            weight = quantize_affine(
                matrix,
                params.bits,
                params.scheme == "symmetric",
                params.group_size,
                SCALE_DTYPES[params.scale_dtype],
            )
            replacement = packed_replacement(name, layer, weight, METHOD)
            artifact = replace_module(artifact, name, replacement)
            done.append(name)
            float_bytes += layer.weight.numel() * layer.weight.element_size()
            packed_bytes += weight.format.nbytes()
        if not done:
            raise MethodError(
                f"{METHOD}: every selected layer was skipped ({listing(skipped)}): none has "
                f"a multiple of group_size {params.group_size} inputs per output channel"
            )
        after = serialized_bytes(artifact)
        grouping = "per channel" if params.group_size is None else f"group_size {params.group_size}"
        kept = [n for n, _ in candidates if n not in done]
        ctx.note(
            f"{layers_phrase(done)} to int{params.bits} {params.scheme}, "
            f"{grouping}, {params.scale_dtype} scales"
            + (f", rows padded to whole groups in {listing(padded)}" if padded else "")
            + f"; weights {float_bytes:,} -> {packed_bytes:,} bytes with scales"
            + (" and zero points" if params.scheme == "asymmetric" else "")
            + f" ({ratio(float_bytes, packed_bytes)}); kept in float: {listing(kept)}; "
            f"state_dict {before:,} -> {after:,} bytes ({ratio(before, after)})"
        )
        return artifact


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``quantize.weight_only``."""
    registry.add_method(WeightOnlyQuantization)
