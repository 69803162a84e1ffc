"""``python:package.module:factory``: a model built by the user's own Python code.

The factory is called with no arguments and returns ``(module, example_input)`` or just the
module. This runs the user's code by design: only use specs you trust. The spec's folder is
put on ``sys.path`` first, so a ``mymodel.py`` next to the spec can be named directly.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models._static_module import (
    defined_names,
    find_module,
    module_source,
)
from squeezebench.plugins.contracts import LoadedModel, ModelSource
from squeezebench.plugins.markers import hookimpl
from squeezebench.suggest import closest

_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class PythonFactory(ModelSource):
    """A torch module returned by a Python factory ``package.module:function``."""

    scheme = "python"

    def check(self, reference: str, base_dir: Path) -> str | None:
        """The module must exist and (as far as its source shows) define the factory.

        Nothing is imported: the module is found through the import system's finders and
        its source is read with ``ast`` (see ``_static_module``); ``deep_check`` imports it.
        """
        if not _REFERENCE.match(reference):
            return f"expected 'python:package.module:factory', got 'python:{reference}'"
        module_name, _, attribute = reference.partition(":")
        importlib.invalidate_caches()  # files written since the last look are found
        with _on_path(base_dir):
            lookup = find_module(module_name)
        if lookup.unknown:
            return None  # a package that extends itself at import: only an import can tell
        if lookup.spec is None:
            return f"{lookup.problem} (looked in {base_dir} and sys.path)"
        source = module_source(lookup.spec)
        if source is None:
            return None  # compiled or a namespace package: only an import can tell
        try:
            names = defined_names(source)
        except SyntaxError as error:
            return (
                f"{lookup.spec.origin} line {error.lineno} cannot be imported: "
                f"SyntaxError: {error.msg}"
            )
        first = attribute.split(".")[0]
        if names is None or first in names:
            return None
        message = f"module {module_name!r} ({lookup.spec.origin}) defines no {first!r}"
        suggestion = closest(first, names)
        return message + (f"; did you mean {suggestion!r}?" if suggestion else "")

    def deep_check(self, reference: str, base_dir: Path, *, trusted: bool = False) -> str | None:
        """Import the module (running its top-level code) and find a callable factory."""
        module_name, _, attribute = reference.partition(":")
        with _on_path(base_dir):
            try:
                module = importlib.import_module(module_name)
            except (Exception, SystemExit) as error:  # the module's own code failed
                return f"importing {module_name} failed: {type(error).__name__}: {error}"
        try:
            factory = _resolve(module, attribute)
        except AttributeError as error:
            return f"python:{reference}: {error}"
        if not callable(factory):
            kind = type(factory).__name__
            return f"python:{reference} is a value of type {kind}, not a factory to call"
        return None

    def load(
        self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False
    ) -> LoadedModel:
        module_name, _, attribute = reference.partition(":")
        with _on_path(base_dir):
            try:
                factory = _resolve(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError) as error:
                raise UserError(f"cannot import python:{reference}: {error}") from error
            result = factory()
        model, example = result if isinstance(result, tuple) else (result, None)
        import torch

        if not isinstance(model, torch.nn.Module):
            raise UserError(
                f"python:{reference} returned {type(model).__name__}, expected a torch.nn.Module"
                " (optionally with an example input: `return module, example`)"
            )
        return LoadedModel(artifact=model, example_input=example, description=reference)


def _resolve(module: Any, dotted: str) -> Any:
    target = module
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


class _on_path:
    """Put a folder first on ``sys.path`` for the duration of a ``with`` block."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)

    def __enter__(self) -> None:
        sys.path.insert(0, self.folder)

    def __exit__(self, *exc: object) -> None:
        if self.folder in sys.path:
            sys.path.remove(self.folder)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``python:`` model source."""
    registry.add_model_source(PythonFactory)
