"""Helpers shared by the ``quantize.*`` methods (not a plugin: the leading underscore).

Layer selection (``include`` / ``exclude``), ``replace_module`` and the name listings are
shared with the other method families in ``_layer_selection``; what is here is specific to
quantization: the float layers a method may quantize, packed replacements, byte counts,
calibration data and checking that the quantized model still runs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    candidate_layers,
    display_name,
    linear_and_conv,
    select_layers,
)
from squeezebench.plugins.contracts import MethodContext


def float_layers(module: Any, include_conv: bool = True) -> list[tuple[str, Any]]:
    """``(name, layer)`` of every float ``nn.Linear`` (and Conv1d/2d/3d) layer, in order."""
    return candidate_layers(module, linear_and_conv(include_conv), float_only=True)


def select_float_layers(
    module: Any, selection: LayerSelection, method: str, include_conv: bool = True
) -> list[tuple[str, Any]]:
    """The :func:`float_layers` chosen by ``selection``; MethodError when a pattern matches none."""
    return select_layers(
        module, selection, method, "quantize", linear_and_conv(include_conv), float_only=True
    )


def packed_replacement(name: str, layer: Any, weight: Any, method: str) -> Any:
    """The packed layer standing for ``layer``; MethodError naming it when unsupported."""
    import torch

    from squeezebench.quantized.layers import QuantizedConv, QuantizedLinear

    try:
        if isinstance(layer, torch.nn.Linear):
            return QuantizedLinear.from_float(layer, weight)
        return QuantizedConv.from_float(layer, weight)
    except ValueError as error:
        raise MethodError(
            f"{method}: cannot pack layer '{name}' ({type(layer).__name__}): {error}; "
            f"exclude it (exclude: ['{name}']) or set include_conv: false"
        ) from error


def serialized_bytes(module: Any) -> int:
    """Bytes of ``torch.save(module.state_dict())``: what the torch backend ships."""
    import torch

    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return len(buffer.getvalue())


def ratio(before: int, after: int) -> str:
    """``3.9x`` (or ``-`` when ``after`` is zero)."""
    return f"{before / after:.2f}x" if after else "-"


def require_data(ctx: MethodContext, method: str) -> Any:
    """The dataset splits, or a MethodError saying that the spec must name a dataset."""
    if ctx.data is None:
        raise MethodError(
            f"{method} needs calibration data but the spec names no dataset; add one "
            "(e.g. dataset: builtin:digits)"
        )
    if len(ctx.data.calibration) == 0:
        raise MethodError(f"{method}: the dataset's calibration split is empty")
    return ctx.data


def batches(inputs: Any, batch_size: int, limit: int | None = None) -> Iterator[Any]:
    """Consecutive float tensors of ``batch_size`` rows of numpy ``inputs`` (``limit`` many)."""
    import torch

    starts = range(0, len(inputs), batch_size)
    for start in starts if limit is None else starts[:limit]:
        yield torch.from_numpy(inputs[start : start + batch_size])


def probe_input(ctx: MethodContext, rows: int = 8) -> Any | None:
    """A small real input batch (calibration data, else the example input), or None."""
    import torch

    if ctx.data is not None and len(ctx.data.calibration):
        return torch.from_numpy(ctx.data.calibration.inputs[:rows])
    example = ctx.example_input
    if isinstance(example, tuple | list):
        example = example[0] if example else None
    return example if isinstance(example, torch.Tensor) else None


def run_locating_failure(module: Any, inputs: Any) -> tuple[Any, str | None]:
    """Run ``module(inputs)``; on failure, also say which submodule was running.

    Returns ``(output, None)`` or ``(None, "layer 'name' (Type): error")``.
    """
    import torch

    running: list[tuple[str, Any]] = []  # the stack of submodules whose forward is running

    def enter(name: str, layer: Any) -> None:
        running.append((name, layer))

    def leave() -> None:
        running.pop()

    hooks = []
    for name, sub in module.named_modules():
        if name:  # hooks returning None leave inputs and outputs alone
            hooks.append(sub.register_forward_pre_hook(lambda m, _, n=name: enter(n, m)))
            hooks.append(sub.register_forward_hook(lambda *_: leave()))
    try:
        with torch.inference_mode():
            return module(inputs), None
    except Exception as error:
        where = ""
        if running:
            name, layer = running[-1]
            where = f"layer '{display_name(name)}' ({type(layer).__name__}): "
        lines = str(error).strip().splitlines() or [""]
        return None, f"{where}{type(error).__name__}: {lines[0]}"
    finally:
        for hook in hooks:
            hook.remove()


def all_finite(output: Any) -> bool:
    """Whether every floating tensor in ``output`` (tensor, tuple, list, dict) is finite."""
    import torch

    if isinstance(output, torch.Tensor):
        return not output.is_floating_point() or bool(torch.isfinite(output).all())
    if isinstance(output, tuple | list):
        return all(all_finite(o) for o in output)
    if isinstance(output, dict):
        return all(all_finite(o) for o in output.values())
    return True
