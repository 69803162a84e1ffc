"""``include`` / ``exclude`` module-name patterns of ``lowrank.svd`` and ``cluster.kmeans``.

Patterns are shell-style globs (:func:`fnmatch.fnmatchcase`: ``*``, ``?``, ``[seq]``)
matched against the qualified names ``module.named_modules()`` gives (``3`` in a bare
``nn.Sequential``, ``features.0`` in a nested model). A layer is selected when an ``include``
pattern matches its name and no ``exclude`` pattern does. A pattern that matches none of
the layers the method knows is an error, so that a typo cannot silently change what is
compressed. (The ``prune.*`` methods follow the same rules in ``_layer_selection``.)
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from squeezebench.errors import MethodError


class LayerPatterns(BaseModel):
    """``include`` / ``exclude`` glob patterns of module names (a params base class)."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description="Glob patterns (fnmatch) of the module names to compress, e.g. ['1', "
        "'features.*']; default: every supported layer.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Glob patterns of module names never to compress; applied after include.",
    )

    @field_validator("include", "exclude")
    @classmethod
    def _no_blank_pattern(cls, patterns: list[str]) -> list[str]:
        if any(not pattern.strip() for pattern in patterns):
            raise ValueError("a pattern must not be empty")
        return patterns


def matching_layers(
    module: Any, patterns: LayerPatterns, kinds: tuple[type, ...], method: str, what: str
) -> list[tuple[str, Any]]:
    """``(name, layer)`` of the layers of type ``kinds`` selected by ``patterns``, in order.

    ``what`` names the kinds in messages (``"Linear or Conv2d"``). Raises
    :class:`MethodError` when the model has no such layer, a pattern matches none of them,
    or nothing is left after ``exclude``.
    """
    candidates = [(name, layer) for name, layer in module.named_modules() if type(layer) in kinds]
    if not candidates:
        raise MethodError(f"{method} found no {what} layer to compress")
    names = [name for name, _ in candidates]
    others = {name: type(layer).__name__ for name, layer in module.named_modules()}
    for field, values in (("include", patterns.include), ("exclude", patterns.exclude)):
        for pattern in values:
            if not any(fnmatchcase(name, pattern) for name in names):
                named = [name for name in others if name and fnmatchcase(name, pattern)]
                hint = ""
                if named and any(n.startswith(named[0] + ".") for n in names):
                    hint = f" (it names a container: did you mean '{pattern}.*'?)"
                elif named:
                    hint = f" (it names a {others[named[0]]})"
                raise MethodError(
                    f"{method}: {field} pattern '{pattern}' matches no {what} layer{hint}; "
                    f"the model's {what} layers are: {', '.join(n or '<root>' for n in names)}"
                )
    chosen = [
        (name, layer)
        for name, layer in candidates
        if any(fnmatchcase(name, p) for p in patterns.include)
        and not any(fnmatchcase(name, p) for p in patterns.exclude)
    ]
    if not chosen:
        raise MethodError(
            f"{method}: include {patterns.include} minus exclude {patterns.exclude} selects "
            f"none of the model's {what} layers ({', '.join(n or '<root>' for n in names)})"
        )
    return chosen


def replace_module(root: Any, name: str, replacement: Any) -> Any:
    """Put ``replacement`` where ``name`` is in ``root``; returns the new root.

    The root itself (name ``""``) cannot be replaced in place, so the replacement is
    returned instead.
    """
    if not name:
        return replacement
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, replacement)
    return root
