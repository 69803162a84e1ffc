"""Helpers shared by the ``quantize.*`` methods (not a plugin: the leading underscore).

Layer selection follows the same rules as the other method families: ``include`` /
``exclude`` are shell-style globs (:func:`fnmatch.fnmatchcase`) matched against the names
``module.named_modules()`` gives (``3`` in a bare ``nn.Sequential``, ``features.0`` when
nested); a layer is selected when an ``include`` pattern matches and no ``exclude`` pattern
does; a pattern matching none of the model's supported layers is an error, so that a typo
cannot silently change what is quantized.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import MethodContext


class QuantLayerSelection(BaseModel):
    """``include`` / ``exclude`` module-name patterns (a params base class)."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description="Glob patterns (fnmatch) of the module names to quantize, e.g. ['1', "
        "'features.*']; default: every supported layer.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Glob patterns of module names kept in float; applied after include.",
    )

    @field_validator("include", "exclude")
    @classmethod
    def _no_blank_pattern(cls, patterns: list[str]) -> list[str]:
        if any(not pattern.strip() for pattern in patterns):
            raise ValueError("a pattern must not be empty")
        return patterns


def display(name: str) -> str:
    """A module name as shown in messages (the root module has the empty name)."""
    return name or "<root>"


def listing(names: list[str], limit: int = 12) -> str:
    """``a, b, c`` (at most ``limit`` names, then a count)."""
    shown = ", ".join(display(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") or "none"


def layers_phrase(names: list[str], noun: str = "layer") -> str:
    """``1 layer (3)`` / ``3 layers (1, 3, 5)``."""
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'} ({listing(names)})"


def float_layers(module: Any, include_conv: bool = True) -> list[tuple[str, Any]]:
    """``(name, layer)`` of every float ``nn.Linear`` (and Conv1d/2d/3d) layer, in order."""
    import torch

    kinds: tuple[type, ...] = (torch.nn.Linear,)
    if include_conv:
        kinds += (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return [
        (name, layer)
        for name, layer in module.named_modules()
        if isinstance(layer, kinds)
        and isinstance(getattr(layer, "weight", None), torch.Tensor)
        and layer.weight.is_floating_point()
    ]


def select_layers(
    candidates: list[tuple[str, Any]], selection: QuantLayerSelection, method: str, what: str
) -> list[tuple[str, Any]]:
    """The candidates chosen by ``selection``; MethodError when a pattern matches none."""
    if not candidates:
        raise MethodError(f"{method} found no float {what} layer to quantize")
    names = [name for name, _ in candidates]
    for field, patterns in (("include", selection.include), ("exclude", selection.exclude)):
        for pattern in patterns:
            if not any(fnmatchcase(name, pattern) for name in names):
                raise MethodError(
                    f"{method}: {field} pattern '{pattern}' matches no {what} layer; "
                    f"the model's {what} layers are: {listing(names)}"
                )
    chosen = [
        (name, layer)
        for name, layer in candidates
        if any(fnmatchcase(name, p) for p in selection.include)
        and not any(fnmatchcase(name, p) for p in selection.exclude)
    ]
    if not chosen:
        raise MethodError(
            f"{method}: include {selection.include} minus exclude {selection.exclude} "
            f"selects none of the model's {what} layers ({listing(names)})"
        )
    return chosen


def replace_module(root: Any, name: str, replacement: Any) -> Any:
    """Put ``replacement`` where ``name`` is in ``root``; returns the (possibly new) root."""
    if not name:
        return replacement
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, replacement)
    return root


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


def tensor_bytes(tensors: list[Any]) -> int:
    """Bytes of the given tensors' elements (no container overhead)."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


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
            where = f"layer '{display(name)}' ({type(layer).__name__}): "
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
