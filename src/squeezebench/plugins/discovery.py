"""Finding third-party plugins: entry points of installed distributions, and modules named in
``SQUEEZEBENCH_PLUGINS``; each comes with the distribution (``name version``) it belongs to.

pluggy's own ``load_setuptools_entrypoints`` silently skips an entry-point key it has
already seen, so a second distribution using the same key would vanish with all its plugins;
and its import errors name neither the entry point nor the distribution. This module finds
the entry points itself so that both are clean, one-line :class:`PluginError` messages.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from squeezebench.errors import PluginError, first_line
from squeezebench.plugins.markers import PROJECT_NAME

DISABLE_AUTOLOAD_ENV = "SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD"
"""Set to 1 to skip third-party plugins found through entry points (the built-ins stay)."""

PLUGINS_ENV = "SQUEEZEBENCH_PLUGINS"
"""Comma-separated extra plugin modules to load: importable names or paths to ``.py`` files
(for experiments and tests; installed packages use entry points). Workers inherit it."""


@dataclass(frozen=True)
class FoundPlugin:
    """A plugin module to register: its name in the manager, the module, its distribution."""

    name: str
    module: object
    distribution: str


def distribution_label(distribution: importlib.metadata.Distribution) -> str:
    """``name version``, as every listing and result row shows a distribution."""
    return f"{distribution.metadata['name']} {distribution.version}"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _squeezebench_entry_points(
    distributions: Iterable[importlib.metadata.Distribution],
) -> list[tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution]]:
    """Every entry point of the ``squeezebench`` group, refusing a key two distributions use."""
    found: dict[str, tuple[importlib.metadata.EntryPoint, importlib.metadata.Distribution]] = {}
    for distribution in distributions:
        for entry_point in distribution.entry_points:
            if entry_point.group != PROJECT_NAME:
                continue
            earlier = found.get(entry_point.name)
            if earlier is None:
                found[entry_point.name] = (entry_point, distribution)
                continue
            first, first_distribution = earlier
            if _canonical(first_distribution.metadata["name"]) == _canonical(
                distribution.metadata["name"]
            ):
                continue  # one distribution seen twice on sys.path: the first wins, as imports do
            raise PluginError(
                f"two installed distributions declare the plugin {entry_point.name!r} in the "
                f"{PROJECT_NAME!r} entry-point group: {distribution_label(first_distribution)} "
                f"({first.value}) and {distribution_label(distribution)} ({entry_point.value}); "
                "only one could load, so neither does: uninstall one of them or rename its "
                "entry-point key"
            )
    return list(found.values())


def entry_point_plugins(
    distributions: Iterable[importlib.metadata.Distribution] | None = None,
) -> list[FoundPlugin]:
    """Load every module of the ``squeezebench`` entry-point group (installed packages).

    A module that fails to import is a :class:`PluginError` naming the entry point and its
    distribution, with the switch that turns third-party plugins off.
    """
    if distributions is None:
        distributions = importlib.metadata.distributions()
    plugins = []
    for entry_point, distribution in _squeezebench_entry_points(distributions):
        label = distribution_label(distribution)
        try:
            module = entry_point.load()
        except Exception as error:
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}) of {label} failed to "
                f"load: {type(error).__name__}: {first_line(str(error))} (uninstall "
                f"{distribution.metadata['name']}, or set {DISABLE_AUTOLOAD_ENV}=1 to skip "
                "third-party plugins)"
            ) from error
        plugins.append(FoundPlugin(entry_point.name, module, label))
    return plugins


def environment_plugins() -> list[FoundPlugin]:
    """The modules named in ``SQUEEZEBENCH_PLUGINS`` (importable names or ``.py`` paths)."""
    plugins = []
    for entry in filter(None, (e.strip() for e in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            if entry.endswith(".py"):
                module = _load_file(Path(entry))
            else:
                module = importlib.import_module(entry)
        except Exception as error:
            raise PluginError(
                f"{PLUGINS_ENV} names {entry!r}, which failed to load: "
                f"{type(error).__name__}: {first_line(str(error))}"
            ) from error
        plugins.append(FoundPlugin(f"{PLUGINS_ENV}:{entry}", module, _origin(entry, module)))
    return plugins


def _load_file(path: Path) -> object:
    path = path.resolve()
    spec = importlib.util.spec_from_file_location(f"squeezebench_plugin_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves annotations through it
    spec.loader.exec_module(module)
    return module


def _origin(entry: str, module: object) -> str:
    """The distribution of a ``SQUEEZEBENCH_PLUGINS`` module, as an entry point would give it.

    A module of an installed distribution gets ``name version``, so its rows match those of
    a run that found the same package through its entry point. Anything else gets a version
    from its content: a file's SHA-256, or the module's ``__version__``.
    """
    if not entry.endswith(".py"):
        distribution = distribution_of_module(entry)
        if distribution is not None:
            return distribution
        version = getattr(module, "__version__", None)
        if isinstance(version, str):
            return f"{entry} {version} ({PLUGINS_ENV})"
    path = getattr(module, "__file__", None)
    if path and os.path.isfile(path):
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
        return f"{Path(path).name} sha256:{digest} ({PLUGINS_ENV})"
    return f"{entry} ({PLUGINS_ENV})"


def distribution_of_module(module_name: str) -> str | None:
    """``name version`` of the installed distribution that provides ``module_name``, or None."""
    top_level = module_name.partition(".")[0]
    names = importlib.metadata.packages_distributions().get(top_level, [])
    for name in names:
        try:
            return distribution_label(importlib.metadata.distribution(name))
        except importlib.metadata.PackageNotFoundError:
            continue
    # editable installs may not list their packages: look for a plugin entry point instead
    for distribution in importlib.metadata.distributions():
        for entry_point in distribution.entry_points:
            if entry_point.group == PROJECT_NAME and entry_point.module.split(".")[0] == top_level:
                return distribution_label(distribution)
    return None
