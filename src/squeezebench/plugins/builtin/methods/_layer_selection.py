"""Which layers a pruning method touches: ``include`` / ``exclude`` module-name patterns.

Shared by every ``prune.*`` method (the leading underscore keeps this module from being
loaded as a plugin). Patterns are shell-style globs (:func:`fnmatch.fnmatchcase`: ``*``,
``?``, ``[seq]``) matched against the qualified module name that
``module.named_modules()`` gives (``features.0``, ``classifier.2``, ``3`` in a bare
``nn.Sequential``). A layer is selected when at least one ``include`` pattern matches its
name and no ``exclude`` pattern does. Patterns are checked against the model strictly: a
pattern that matches no prunable layer is an error (a typo in ``exclude`` would otherwise
silently prune the layer it was meant to protect), and so is a selection that is empty.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from squeezebench.errors import MethodError

ALL_LAYERS = ("*",)


class LayerSelection(BaseModel):
    """``include`` / ``exclude`` patterns of the layers a method prunes (a params mixin)."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(
        default_factory=lambda: list(ALL_LAYERS),
        min_length=1,
        description=(
            "Glob patterns (fnmatch) of the qualified module names to prune, e.g. "
            "['features.*']; default: every Linear and Conv layer."
        ),
    )
    exclude: list[str] = Field(
        default_factory=list,
        description=(
            "Glob patterns of module names never to prune, e.g. ['classifier.2']; applied "
            "after include."
        ),
    )

    @field_validator("include", "exclude")
    @classmethod
    def _patterns_are_not_blank(cls, patterns: list[str]) -> list[str]:
        if any(not pattern.strip() for pattern in patterns):
            raise ValueError("a pattern must not be empty")
        return patterns


def prunable_kinds() -> tuple[type, ...]:
    """Layer types the ``prune.*`` methods know: Linear and Conv1d/2d/3d."""
    import torch

    return (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


def prunable_layers(module: Any) -> list[tuple[str, Any]]:
    """``(qualified name, layer)`` of every Linear and ConvNd layer of ``module``, in order."""
    import torch

    kinds = prunable_kinds()
    return [
        (name, layer)
        for name, layer in module.named_modules()
        if isinstance(layer, kinds) and isinstance(getattr(layer, "weight", None), torch.Tensor)
    ]


def display_name(name: str) -> str:
    """A module name as shown in messages (the root module has the empty name)."""
    return name or "<root>"


def select_layers(module: Any, selection: LayerSelection, method: str) -> list[tuple[str, Any]]:
    """The ``(name, layer)`` pairs of ``module`` chosen by ``selection``, in module order.

    Raises :class:`MethodError` (naming ``method``) when the model has no Linear or Conv
    layer, when a pattern matches none of them, or when nothing is left after ``exclude``.
    """
    candidates = prunable_layers(module)
    if not candidates:
        raise MethodError(f"{method} found no Linear or Conv layer to prune")
    names = [name for name, _ in candidates]
    for field_name, patterns in (("include", selection.include), ("exclude", selection.exclude)):
        for pattern in patterns:
            if not any(fnmatchcase(name, pattern) for name in names):
                hint = _hint(module, pattern)
                raise MethodError(
                    f"{method}: {field_name} pattern '{pattern}' matches no Linear or Conv "
                    f"layer{hint}; the model's layers are: {_listing(names)}"
                )
    chosen = [
        (name, layer)
        for name, layer in candidates
        if _matches(name, selection.include) and not _matches(name, selection.exclude)
    ]
    if not chosen:
        raise MethodError(
            f"{method}: no layer left to prune: include {selection.include} minus exclude "
            f"{selection.exclude} selects none of the model's layers ({_listing(names)})"
        )
    return chosen


def _hint(module: Any, pattern: str) -> str:
    """Why a pattern that matches no prunable layer may still name a module."""
    for name, other in module.named_modules():
        if fnmatchcase(name, pattern):
            if any(True for _ in other.children()):
                return f" (it names a container: did you mean '{pattern}.*'?)"
            return f" (it names a {type(other).__name__}, which has no prunable weight)"
    return ""


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(display_name(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def describe_selection(selection: LayerSelection) -> str:
    """``include [...] exclude [...]`` for notes, omitting the defaults."""
    parts = []
    if list(selection.include) != list(ALL_LAYERS):
        parts.append(f"include {selection.include}")
    if selection.exclude:
        parts.append(f"exclude {selection.exclude}")
    return " ".join(parts)
