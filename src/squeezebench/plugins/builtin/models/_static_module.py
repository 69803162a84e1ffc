"""Finding a Python module and the names it defines without importing it.

``squeezebench validate`` must not run the user's code (``python:`` references name a
factory in the user's module): :func:`find_module` locates ``package.module`` through the
import system's finders without executing any package ``__init__``, and
:func:`defined_names` reads the module's source with :mod:`ast` for the names bound at its
top level. Both answer "cannot tell" (None) rather than guess when the module is dynamic
(compiled, a namespace package, ``from x import *``, a module ``__getattr__``).
The leading underscore keeps this module from being loaded as a plugin.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
from dataclasses import dataclass
from importlib.machinery import ModuleSpec


@dataclass(frozen=True)
class ModuleLookup:
    """The spec of the module found, or why it was not (the deepest part that is missing)."""

    spec: ModuleSpec | None
    problem: str | None = None  # None with no spec: cannot tell without importing

    @property
    def unknown(self) -> bool:
        """Neither found nor shown missing: only an import can tell."""
        return self.spec is None and self.problem is None


def find_module(dotted: str) -> ModuleLookup:
    """Find ``dotted`` on ``sys.path`` without importing it or its parent packages."""
    parts = dotted.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name imports nothing
    except (ImportError, ValueError) as error:
        return ModuleLookup(None, f"cannot look for module {parts[0]!r}: {error}")
    if spec is None:
        return ModuleLookup(None, f"no Python module named {parts[0]!r}")
    for depth, part in enumerate(parts[1:], start=1):
        package = ".".join(parts[:depth])
        if spec.submodule_search_locations is None:
            return ModuleLookup(None, f"{package!r} is a module, not a package: it has no {part!r}")
        name = f"{package}.{part}"
        found = importlib.machinery.PathFinder.find_spec(
            name, list(spec.submodule_search_locations)
        )
        if found is None:
            if _extends_itself(spec):  # its __init__ may add the module when imported
                return ModuleLookup(None)
            return ModuleLookup(None, f"package {package!r} has no module {part!r}")
        spec = found
    return ModuleLookup(spec)


def _extends_itself(package: ModuleSpec) -> bool:
    """Whether a package's ``__init__`` may add modules at import time (it touches
    ``__path__`` or ``sys.modules``, or cannot be read)."""
    source = module_source(package)
    return source is None or "__path__" in source or "sys.modules" in source


def module_source(spec: ModuleSpec) -> str | None:
    """The module's Python source, or None (compiled, built in, a namespace package)."""
    origin = spec.origin
    if not spec.has_location or not origin or not origin.endswith(".py"):
        return None
    try:
        with open(origin, encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError):
        return None


def defined_names(source: str) -> set[str] | None:
    """Names bound at the module's top level, or None when they cannot be known statically.

    Raises :class:`SyntaxError` if the source does not parse (importing it would fail too).
    """
    tree = ast.parse(source)
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == "__getattr__":
                return None  # PEP 562: any name may exist
            names.add(node.name)
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return None
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("globals", "vars"):
            return None  # names written through the module's namespace
        elif isinstance(node, ast.MatchAs | ast.MatchStar | ast.ExceptHandler) and node.name:
            names.add(node.name)
        pending.extend(ast.iter_child_nodes(node))
    return names
