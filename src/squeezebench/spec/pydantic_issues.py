"""Turning pydantic validation errors into located, human :class:`SpecIssue` objects."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from squeezebench.spec.issues import Path, SpecIssue, render_path
from squeezebench.spec.yaml_loader import LocatedDocument
from squeezebench.suggest import unknown_name_message


def issues_from_validation_error(
    error: ValidationError,
    model: type[BaseModel],
    document: LocatedDocument,
    prefix: Path = (),
    label: str | None = None,
    positions: dict[str, Path] | None = None,
) -> list[SpecIssue]:
    """One issue per pydantic error, positioned in the file.

    ``prefix`` is where the validated data sits in the document; ``label`` (if given) is
    prepended to the error's own location instead of the rendered path; ``positions`` maps
    a top-level field name to another document path to point at (used by sweeps, whose
    values live away from the step they override).
    """
    issues = []
    for details in error.errors(include_url=False):
        loc: Path = tuple(part for part in details["loc"] if isinstance(part, str | int))
        path = (*prefix, *loc)
        kind = details["type"]
        point_at = path
        if positions and loc and loc[0] in positions:
            point_at = (*positions[str(loc[0])], *loc[1:])
        key = details.get("input")
        if loc[-2:] in ((key, "[key]"), (str(key), "[key]")):  # a mapping key of a wrong type
            loc, path = loc[:-2], path[:-2]
            message = f"key {_short_repr(key)} should be a valid string; quote it"
            position = document.position((*point_at[:-2], key), key=True)
        elif kind == "extra_forbidden":
            message = unknown_name_message("key", str(loc[-1]), valid_keys(model, loc[:-1]))
            position = document.position(point_at, key=True)
        elif kind == "missing":
            message = f"missing required key {loc[-1]!r}" if loc else details["msg"]
            position = document.position(point_at[:-1])
        elif kind == "value_error":  # our validators' messages already quote the input
            message = str(details["msg"]).removeprefix("Value error, ")
            position = document.position(point_at)
        else:
            message = f"{details['msg']} (got {_short_repr(details.get('input'))})"
            position = document.position(point_at)
        where = render_path(loc) if label is not None else render_path(path)
        if label is not None:
            where = f"{label}.{where}" if where else label
        issues.append(SpecIssue(message, path, position, where))
    return issues


def valid_keys(model: type[BaseModel], loc: Path) -> list[str]:
    """Field names (aliases where set) of the model found by walking ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin in (list, tuple, dict) and args:
                current = args[-1]
            else:
                return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [field.alias or name for name, field in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional wrappers, keeping the first pydantic model of a union."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
