"""Building the plugin manager and the registry: built-ins first, then entry points."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pluggy

from squeezebench._version import __version__
from squeezebench.errors import PluginError
from squeezebench.plugins import hookspecs
from squeezebench.plugins.markers import PROJECT_NAME
from squeezebench.plugins.registry import Registry

DISABLE_AUTOLOAD_ENV = "SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD"
"""Set to 1 to skip third-party plugins found through entry points (the built-ins stay)."""

PLUGINS_ENV = "SQUEEZEBENCH_PLUGINS"
"""Comma-separated extra plugin modules to load: importable names or paths to ``.py`` files
(for experiments and tests; installed packages use entry points). Workers inherit it."""

BUILTIN_PACKAGE = "squeezebench.plugins.builtin"


def builtin_plugin_modules() -> tuple[str, ...]:
    """Every module under ``squeezebench.plugins.builtin`` (sorted), each one a plugin.

    Adding a built-in is adding a module with a ``squeezebench_register`` hook there; the
    modules import nothing heavy, so loading all of them stays cheap.
    """
    package = importlib.import_module(BUILTIN_PACKAGE)
    return tuple(
        sorted(
            info.name
            for info in pkgutil.walk_packages(package.__path__, prefix=BUILTIN_PACKAGE + ".")
            if not info.ispkg and not info.name.rsplit(".", 1)[-1].startswith("_")
        )
    )


BUILTIN_PLUGINS: tuple[str, ...] = builtin_plugin_modules()

BUILTIN_DISTRIBUTION = f"squeezebench {__version__}"


@dataclass(frozen=True)
class PluginInfo:
    """A registered plugin and the distribution it comes from."""

    name: str
    distribution: str
    builtin: bool


def autoload_enabled() -> bool:
    """False when the user disabled third-party plugins through the environment."""
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in {"1", "true", "yes"}


def build_plugin_manager(
    autoload: bool | None = None, extra_plugins: Iterable[object] = ()
) -> pluggy.PluginManager:
    """Create the manager: hookspecs, built-ins, entry points (unless disabled), extras.

    ``extra_plugins`` are registered last, as if installed; tests use them.
    """
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        if hasattr(module, "squeezebench_register"):
            manager.register(module, name=module_name)
    if autoload_enabled() if autoload is None else autoload:
        try:
            manager.load_setuptools_entrypoints(PROJECT_NAME)
        except Exception as error:  # a broken third-party package must not look like our bug
            raise PluginError(
                f"a plugin from the {PROJECT_NAME!r} entry-point group failed to load: "
                f"{type(error).__name__}: {error} (set {DISABLE_AUTOLOAD_ENV}=1 to skip "
                "third-party plugins)"
            ) from error
    for name, module in _modules_from_environment():
        manager.register(module, name=name)
    for plugin in extra_plugins:
        manager.register(plugin)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(
            f"plugin {error.plugin!r} implements an unknown hook: {error} "
            "(the hooks are listed in squeezebench.plugins.hookspecs)"
        ) from error
    return manager


def _modules_from_environment() -> list[tuple[str, object]]:
    modules = []
    for entry in filter(None, (e.strip() for e in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            if entry.endswith(".py"):
                path = Path(entry).resolve()
                spec = importlib.util.spec_from_file_location(
                    f"squeezebench_plugin_{path.stem}", path
                )
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load {path}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module  # pydantic resolves annotations through it
                spec.loader.exec_module(module)
            else:
                module = importlib.import_module(entry)
        except Exception as error:
            raise PluginError(
                f"{PLUGINS_ENV} names {entry!r}, which failed to load: "
                f"{type(error).__name__}: {error}"
            ) from error
        modules.append((f"{PLUGINS_ENV}:{entry}", module))
    return modules


def plugin_infos(manager: pluggy.PluginManager) -> list[PluginInfo]:
    """Every registered plugin with its distribution, in registration order."""
    from_distributions = {
        id(plugin): f"{dist.metadata['name']} {dist.version}"
        for plugin, dist in manager.list_plugin_distinfo()
    }
    infos = []
    for name, plugin in manager.list_name_plugin():
        builtin = name in BUILTIN_PLUGINS
        distribution = (
            BUILTIN_DISTRIBUTION if builtin else from_distributions.get(id(plugin), str(name))
        )
        infos.append(PluginInfo(str(name), distribution, builtin))
    return infos


def build_registry(manager: pluggy.PluginManager) -> Registry:
    """Call ``squeezebench_register`` plugin by plugin, so every name knows its distribution."""
    registry = Registry()
    plugins = [plugin for _, plugin in manager.list_name_plugin()]
    distributions = {info.name: info.distribution for info in plugin_infos(manager)}
    for name, plugin in manager.list_name_plugin():
        others = [other for other in plugins if other is not plugin]
        registry.current_distribution = distributions[str(name)]
        try:
            manager.subset_hook_caller("squeezebench_register", remove_plugins=others)(
                registry=registry
            )
        except PluginError:
            raise
        except Exception as error:
            raise PluginError(
                f"plugin {name} from {registry.current_distribution} failed in "
                f"squeezebench_register: {type(error).__name__}: {error}"
            ) from error
    registry.current_distribution = "unknown"
    return registry


@functools.cache
def default_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built on first use)."""
    return build_plugin_manager()


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry of every installed plugin (built on first use)."""
    return build_registry(default_manager())
