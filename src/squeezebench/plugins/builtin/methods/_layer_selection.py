"""Which layers a method changes: ``include`` / ``exclude`` module-name patterns.

Shared by every method that works layer by layer (``prune.*``, ``quantize.*``,
``lowrank.svd``, ``cluster.kmeans``; the leading underscore keeps this module from being
loaded as a plugin). Patterns are shell-style globs (:func:`fnmatch.fnmatchcase`: ``*``,
``?``, ``[seq]``) matched against the qualified module name that
``module.named_modules()`` gives (``features.0``, ``classifier.2``, ``3`` in a bare
``nn.Sequential``). A layer is selected when at least one ``include`` pattern matches its
name and no ``exclude`` pattern does. Patterns are checked against the model strictly: a
pattern that matches none of the layers the method handles is an error (a typo in
``exclude`` would otherwise silently change the layer it was meant to protect), and so is a
selection that is empty.

Also here: :func:`replace_module` (put a new layer where an old one was) and the helpers
that show module names in messages and notes (:func:`display_name`, :func:`listing`,
:func:`layers_phrase`, :func:`describe_selection`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from squeezebench.errors import MethodError

ALL_LAYERS = ("*",)
ERROR_LISTING_LIMIT = 20
"""Layer names an error message lists, at most."""


class LayerSelection(BaseModel):
    """``include`` / ``exclude`` patterns of the layers a method changes (a params base)."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(
        default_factory=lambda: list(ALL_LAYERS),
        min_length=1,
        description=(
            "Glob patterns (fnmatch) of the qualified module names the method changes, e.g. "
            "['features.*']; default: every layer the method supports."
        ),
    )
    exclude: list[str] = Field(
        default_factory=list,
        description=(
            "Glob patterns of module names the method leaves unchanged, e.g. "
            "['classifier.2']; applied after include."
        ),
    )

    @field_validator("include", "exclude")
    @classmethod
    def _patterns_are_not_blank(cls, patterns: list[str]) -> list[str]:
        if any(not pattern.strip() for pattern in patterns):
            raise ValueError("a pattern must not be empty")
        return patterns


def linear_and_conv(conv: bool = True) -> tuple[type, ...]:
    """``nn.Linear`` and, with ``conv``, ``nn.Conv1d`` / ``Conv2d`` / ``Conv3d``."""
    import torch

    kinds: tuple[type, ...] = (torch.nn.Linear,)
    if conv:
        kinds += (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return kinds


def kinds_phrase(kinds: tuple[type, ...]) -> str:
    """``Linear or Conv`` (all three ConvNd), ``Linear or Conv2d``, ``Linear``..."""
    names = [kind.__name__ for kind in kinds]
    convs = ["Conv1d", "Conv2d", "Conv3d"]
    if all(conv in names for conv in convs):
        names = [name for name in names if name not in convs[1:]]
        names[names.index("Conv1d")] = "Conv"
    return " or ".join(names)


def candidate_layers(
    module: Any,
    kinds: tuple[type, ...] | None = None,
    *,
    exact_types: bool = False,
    float_only: bool = False,
) -> list[tuple[str, Any]]:
    """``(qualified name, layer)`` of every layer of ``module`` a method may select, in order.

    A candidate is an instance of ``kinds`` (default: :func:`linear_and_conv`; with
    ``exact_types`` its type must be one of them, not a subclass) whose ``weight`` is a
    tensor (a floating-point one with ``float_only``).
    """
    kinds = linear_and_conv() if kinds is None else kinds
    return [
        (name, layer)
        for name, layer in module.named_modules()
        if (type(layer) in kinds if exact_types else isinstance(layer, kinds))
        and _has_weight(layer, float_only)
    ]


def _has_weight(layer: Any, float_only: bool) -> bool:
    import torch

    weight = getattr(layer, "weight", None)
    return isinstance(weight, torch.Tensor) and (not float_only or weight.is_floating_point())


def select_layers(
    module: Any,
    selection: LayerSelection,
    method: str,
    verb: str = "compress",
    kinds: tuple[type, ...] | None = None,
    *,
    exact_types: bool = False,
    float_only: bool = False,
) -> list[tuple[str, Any]]:
    """The ``(name, layer)`` pairs of ``module`` chosen by ``selection``, in module order.

    The candidates are :func:`candidate_layers` (``kinds``, ``exact_types``,
    ``float_only``). Raises :class:`MethodError`, naming ``method`` and saying what it
    would ``verb`` (``prune``, ``quantize``...), when the model has no candidate, when a
    pattern matches none of them (naming it, with a hint when it names another module, and
    listing the candidates), or when nothing is left after ``exclude``.
    """
    kinds = linear_and_conv() if kinds is None else kinds
    candidates = candidate_layers(module, kinds, exact_types=exact_types, float_only=float_only)
    noun = ("float " if float_only else "") + kinds_phrase(kinds)
    if not candidates:
        raise MethodError(f"{method} found no {noun} layer to {verb}")
    names = [name for name, _ in candidates]
    shown = listing(names, ERROR_LISTING_LIMIT)
    for field_name, patterns in (("include", selection.include), ("exclude", selection.exclude)):
        for pattern in patterns:
            if not any(fnmatchcase(name, pattern) for name in names):
                raise MethodError(
                    f"{method}: {field_name} pattern '{pattern}' matches no {noun} layer"
                    f"{_hint(module, pattern, names, noun)}; the model's {noun} layers are: "
                    f"{shown}"
                )
    chosen = [
        (name, layer)
        for name, layer in candidates
        if _matches(name, selection.include) and not _matches(name, selection.exclude)
    ]
    if not chosen:
        raise MethodError(
            f"{method}: no layer left to {verb}: include {selection.include} minus exclude "
            f"{selection.exclude} selects none of the model's {noun} layers ({shown})"
        )
    return chosen


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _hint(module: Any, pattern: str, candidates: list[str], noun: str) -> str:
    """Why a pattern that matches no candidate may still name a module."""
    named = [
        (name, layer)
        for name, layer in module.named_modules()
        if name and fnmatchcase(name, pattern)
    ]
    for name, _ in named:
        if any(candidate.startswith(name + ".") for candidate in candidates):
            return f" (it names a container: did you mean '{pattern}.*'?)"
    if named:
        return f" (it names a {type(named[0][1]).__name__}, not a {noun} layer)"
    return ""


def replace_module(root: Any, name: str, replacement: Any) -> Any:
    """Put ``replacement`` where ``name`` is in ``root``; returns the (possibly new) root.

    The root itself (name ``""``) cannot be replaced in place, so the replacement is
    returned instead.
    """
    if not name:
        return replacement
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, replacement)
    return root


def display_name(name: str) -> str:
    """A module name as shown in messages (the root module has the empty name)."""
    return name or "<root>"


def listing(names: list[str], limit: int = 12) -> str:
    """``a, b, c`` (at most ``limit`` names, then a count; ``none`` when empty)."""
    shown = ", ".join(display_name(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") or "none"


def layers_phrase(names: list[str], noun: str = "layer") -> str:
    """``1 layer (3)`` / ``3 layers (1, 3, 5)``."""
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'} ({listing(names)})"


def describe_selection(selection: LayerSelection) -> str:
    """``include [...] exclude [...]`` for notes, omitting the defaults."""
    parts = []
    if list(selection.include) != list(ALL_LAYERS):
        parts.append(f"include {selection.include}")
    if selection.exclude:
        parts.append(f"exclude {selection.exclude}")
    return " ".join(parts)
