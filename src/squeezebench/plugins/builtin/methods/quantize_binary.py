"""``quantize.binary``: binary (XNOR-Net) or ternary (TWN) weights, packed to 1 or 2 bits.

Binary: ``w ~ sign(w) * a`` with one scale per output channel ``a = mean|w|`` (Rastegari et
al., 2016, XNOR-Net's weight binarization; activations stay float). Ternary:
``w ~ t * a`` with ``t`` in ``{-1, 0, +1}``: weights with ``|w| <= threshold * mean|w|``
become zero and ``a`` is the mean ``|w|`` of the others (Li et al., 2016, Ternary Weight
Networks; 0.7 is their approximation of the optimal threshold). Post-training, without
retraining: expect a large accuracy drop on most models. Layers are stored packed (1 bit
or 2 bits per weight) in the same :class:`~squeezebench.quantized.layers.QuantizedLinear`
/ ``QuantizedConv`` modules as ``quantize.weight_only`` (ternary is exactly the symmetric
2-bit format), so the same kernels serve both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    layers_phrase,
    listing,
    replace_module,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl

METHOD = "quantize.binary"
DEFAULT_THRESHOLD = 0.7


class BinaryParams(LayerSelection):
    """Parameters of ``quantize.binary``."""

    mode: Literal["binary", "ternary"] = Field(
        "binary",
        description="binary: sign(w) * mean|w| per output channel, 1 bit per weight; "
        "ternary: {-1, 0, +1} * scale per output channel, 2 bits per weight.",
    )
    threshold: float | None = Field(
        None,
        gt=0,
        le=2,
        description="Ternary only: weights with |w| <= threshold * mean|w| of their output "
        "channel become zero; null: 0.7, as in Ternary Weight Networks.",
    )
    keep_first_last: bool = Field(
        True,
        description="Keep the model's first and last Linear/Conv layers (module order) in "
        "full precision, as is common practice for binary and ternary networks.",
    )
    scale_dtype: Literal["float16", "float32"] = Field(
        "float16", description="Storage dtype of the per-channel scales."
    )
    include_conv: bool = Field(
        True, description="Also binarize Conv1d/2d/3d layers; false keeps them in float."
    )

    @model_validator(mode="after")
    def _threshold_is_for_ternary(self) -> BinaryParams:
        if self.mode == "binary" and self.threshold is not None:
            raise ValueError("threshold only applies to mode: ternary")
        return self


class BinaryQuantization(Method):
    """Binary (1-bit, XNOR-Net) or ternary (2-bit, TWN) weights with per-channel scales."""

    name = METHOD
    Params = BinaryParams

    def apply(self, artifact: Any, params: BinaryParams, ctx: MethodContext) -> Any:
        from squeezebench.plugins.builtin.methods._quant_common import (
            float_layers,
            packed_replacement,
            ratio,
            select_float_layers,
            serialized_bytes,
        )
        from squeezebench.quantized.layers import weight_matrix
        from squeezebench.quantized.packing import (
            SCALE_DTYPES,
            quantize_binary,
            quantize_ternary,
        )

        what = "Linear or Conv" if params.include_conv else "Linear"
        candidates = float_layers(artifact, params.include_conv)
        chosen = select_float_layers(artifact, params, METHOD, params.include_conv)
        protected: set[str] = set()
        if params.keep_first_last:
            protected = {candidates[0][0], candidates[-1][0]}
            chosen = [(n, layer) for n, layer in chosen if n not in protected]
            if not chosen:
                raise MethodError(
                    f"{METHOD}: nothing left to quantize: keep_first_last keeps "
                    f"{listing(sorted(protected))} in full precision and the selection has no "
                    f"other {what} layer; set keep_first_last: false"
                )
        scale_dtype = SCALE_DTYPES[params.scale_dtype]
        threshold = DEFAULT_THRESHOLD if params.threshold is None else params.threshold
        before = serialized_bytes(artifact)
        float_bytes = packed_bytes = 0
        done: list[str] = []
        for name, layer in chosen:
            matrix = weight_matrix(layer)
            if params.mode == "binary":
                weight = quantize_binary(matrix, scale_dtype)
            else:
                weight = quantize_ternary(matrix, threshold, scale_dtype)
            artifact = replace_module(
                artifact, name, packed_replacement(name, layer, weight, METHOD)
            )
            done.append(name)
            float_bytes += layer.weight.numel() * layer.weight.element_size()
            packed_bytes += weight.format.nbytes()
        after = serialized_bytes(artifact)
        kept = [n for n, _ in candidates if n not in done]
        bits = 1 if params.mode == "binary" else 2
        ctx.note(
            f"{layers_phrase(done)} to {params.mode} weights ({bits} bit"
            f"{'s' if bits > 1 else ''} each, {params.scale_dtype} scale per output channel"
            + (f", threshold {threshold} * mean|w|" if params.mode == "ternary" else "")
            + f"); weights {float_bytes:,} -> {packed_bytes:,} bytes "
            f"({ratio(float_bytes, packed_bytes)}); kept in full precision: {listing(kept)}; "
            f"state_dict {before:,} -> {after:,} bytes ({ratio(before, after)})"
        )
        return artifact


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``quantize.binary``."""
    registry.add_method(BinaryQuantization)
