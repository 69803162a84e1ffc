"""``quantize.static_int8``: post-training static int8 quantization, calibrated on data.

The model is traced with ``torch.fx``, Conv/Linear + ReLU pairs are fused, observers record
the ranges of the activations on the dataset's calibration split, and every selected Linear
and Conv layer becomes a quantized module with int8 weights (symmetric, per output channel
or per tensor) that runs int8 kernels on the torch CPU backend (fbgemm / x86 / qnnpack).
The result takes float input and returns float logits: it quantizes its input and
dequantizes its output. Ops without an int8 kernel stay in float between a dequantize and a
quantize. The torch.ao calls (FX graph mode, deprecated but the only static int8 path
inside torch 2.13) live in ``_torch_ao``; see ``docs/methods/quantization.md`` for why.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    layers_phrase,
    listing,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl

METHOD = "quantize.static_int8"


class StaticInt8Params(LayerSelection):
    """Parameters of ``quantize.static_int8``."""

    weight_granularity: Literal["per_channel", "per_tensor"] = Field(
        "per_channel",
        description="int8 weight scales: one per output channel (symmetric) or one per layer.",
    )
    activation_observer: Literal["histogram", "minmax"] = Field(
        "histogram",
        description="How activation ranges are calibrated: 'histogram' minimises the "
        "quantization error of the observed distribution (torch's x86 default), 'minmax' "
        "takes the observed extremes.",
    )
    batch_size: int = Field(32, ge=1, le=65536, description="Calibration samples per forward pass.")
    calibration_batches: int | None = Field(
        None,
        ge=1,
        description="Calibration batches to run; null: the whole calibration split.",
    )


class StaticInt8Quantization(Method):
    """Static int8 quantization (int8 weights and activations), calibrated on data."""

    name = METHOD
    Params = StaticInt8Params

    def apply(self, artifact: Any, params: StaticInt8Params, ctx: MethodContext) -> Any:
        import torch

        from squeezebench.plugins.builtin.methods import _torch_ao
        from squeezebench.plugins.builtin.methods._quant_common import (
            all_finite,
            batches,
            float_layers,
            ratio,
            require_data,
            run_locating_failure,
            select_float_layers,
            serialized_bytes,
        )

        data = require_data(ctx, METHOD)
        candidates = float_layers(artifact)
        chosen = select_float_layers(artifact, params, METHOD)
        chosen_names = {name for name, _ in chosen}
        kept = [name for name, _ in candidates if name not in chosen_names]
        artifact = artifact.eval()
        before = serialized_bytes(artifact)
        inputs = data.calibration.inputs
        example = torch.from_numpy(inputs[:1])
        seen = {"samples": 0, "batches": 0}

        def calibrate(observed: Any) -> None:
            for batch in batches(inputs, params.batch_size, params.calibration_batches):
                observed(batch)
                seen["samples"] += len(batch)
                seen["batches"] += 1

        try:
            quantized = _torch_ao.static_quantize_fx(
                artifact,
                example,
                calibrate,
                keep_float=kept,
                per_channel=params.weight_granularity == "per_channel",
                activation_observer=params.activation_observer,
            )
        except MethodError:
            raise
        except Exception as error:
            first = (str(error).strip().splitlines() or [""])[0]
            hint = ""
            if "symbolically traced" in str(error) or type(error).__name__ == "TraceError":
                hint = " (the model must be symbolically traceable: no Python control flow on "
                hint += "tensor values)"
            raise MethodError(
                f"{METHOD} could not quantize the model with torch.fx graph mode{hint}: "
                f"{type(error).__name__}: {first}"
            ) from error
        output, failure = run_locating_failure(quantized, torch.from_numpy(inputs[:8]))
        if failure is not None:
            raise MethodError(f"{METHOD}: the quantized model fails to run: {failure}")
        if not all_finite(output):
            raise MethodError(f"{METHOD}: the quantized model outputs NaN or inf")
        converted = [
            name
            for name, module in quantized.named_modules()
            if _torch_ao.is_quantized_layer(module)
        ]
        if not converted:
            raise MethodError(
                f"{METHOD}: no layer could be converted to int8 (selected: "
                f"{listing(sorted(chosen_names))}); the engine "
                f"'{_torch_ao.quantized_engine()}' has no int8 kernel for them"
            )
        still_float = [name for name, _ in float_layers(quantized) if name in chosen_names]
        after = serialized_bytes(quantized)
        ctx.note(
            f"{layers_phrase(converted)} to int8, weights "
            f"{params.weight_granularity.replace('_', '-')} symmetric, activations uint8 "
            f"({params.activation_observer} observer) calibrated on {seen['samples']} samples "
            f"in {seen['batches']} batches, engine '{_torch_ao.quantized_engine()}'; "
            f"kept in float: {listing(kept + still_float)}; state_dict {before:,} -> "
            f"{after:,} bytes ({ratio(before, after)})"
        )
        return quantized


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``quantize.static_int8``."""
    registry.add_method(StaticInt8Quantization)
