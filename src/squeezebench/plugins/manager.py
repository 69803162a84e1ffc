"""Building the plugin manager and the registry: built-ins first, then entry points."""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import pkgutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from squeezebench._version import __version__
from squeezebench.errors import PluginError, PluginWarning
from squeezebench.plugins import hookspecs
from squeezebench.plugins.discovery import (
    DISABLE_AUTOLOAD_ENV,
    PLUGINS_ENV,
    FoundPlugin,
    entry_point_plugins,
    environment_plugins,
)
from squeezebench.plugins.markers import PROJECT_NAME
from squeezebench.plugins.registry import Registry

__all__ = [
    "BUILTIN_DISTRIBUTION",
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "PLUGINS_ENV",
    "PluginInfo",
    "PluginManager",
    "autoload_enabled",
    "build_plugin_manager",
    "build_registry",
    "default_manager",
    "default_registry",
    "plugin_infos",
]

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


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, knowing the distribution (``name version``) of every plugin."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.distributions: dict[str, str] = {}

    def add(self, plugin: object, name: str, distribution: str) -> None:
        """Register ``plugin`` as ``name``; a clean :class:`PluginError` when it is invalid.

        A module already registered (an installed plugin also named in
        ``SQUEEZEBENCH_PLUGINS``) is skipped: its hook must run once. A hook function that
        is not marked with ``@hookimpl`` is ignored by pluggy, so it gets a warning.
        """
        if self.is_registered(plugin):
            return
        where = f"plugin {name!r} from {distribution}"
        _warn_unmarked_hooks(self, plugin, where)
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as error:
            raise PluginError(f"{where}: {_validation_problem(self, error)}") from None
        except ValueError as error:  # pluggy: a name registered twice
            raise PluginError(
                f"{where} cannot be registered: {str(error).splitlines()[0]}"
            ) from None
        self.distributions[name] = distribution


def _warn_unmarked_hooks(manager: PluginManager, plugin: object, where: str) -> None:
    for hook_name in _hook_names():
        function = getattr(plugin, hook_name, None)
        if callable(function) and manager.parse_hookimpl_opts(plugin, hook_name) is None:
            warnings.warn(
                f"{where}: {hook_name} is not marked with @squeezebench.hookimpl, so it is "
                "ignored (add `from squeezebench import hookimpl` and decorate it)",
                PluginWarning,
                stacklevel=4,
            )


def _hook_names() -> list[str]:
    return [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)]


def _validation_problem(manager: PluginManager, error: pluggy.PluginValidationError) -> str:
    """One line instead of pluggy's several: which hook, which arguments are wrong."""
    text = str(error)
    for hook_name in _hook_names():
        if hook_name not in text:
            continue
        expected = ", ".join(getattr(manager.hook, hook_name).spec.argnames)
        implementation = getattr(error.plugin, hook_name, None)
        given = (
            ", ".join(inspect.signature(implementation).parameters)
            if callable(implementation)
            else "?"
        )
        return (
            f"its hook {hook_name}({given}) must take the parameters ({expected}): "
            "pluggy passes them by name"
        )
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def build_plugin_manager(
    autoload: bool | None = None, extra_plugins: Iterable[object] = ()
) -> PluginManager:
    """Create the manager: hookspecs, built-ins, entry points (unless disabled), extras.

    ``extra_plugins`` are registered last, as if installed; tests use them.
    """
    manager = PluginManager()
    manager.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        if hasattr(module, "squeezebench_register"):
            manager.add(module, module_name, BUILTIN_DISTRIBUTION)
    found: list[FoundPlugin] = []
    if autoload_enabled() if autoload is None else autoload:
        found += entry_point_plugins()
    found += environment_plugins()
    for plugin in found:
        manager.add(plugin.module, plugin.name, plugin.distribution)
    for plugin in extra_plugins:
        name = manager.get_canonical_name(plugin)
        manager.add(plugin, name, getattr(plugin, "__name__", name))
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(
            f"plugin {error.plugin!r} implements an unknown hook: {error} "
            "(the hooks are listed in squeezebench.plugins.hookspecs)"
        ) from error
    return manager


def plugin_infos(manager: pluggy.PluginManager) -> list[PluginInfo]:
    """Every registered plugin with its distribution, in registration order."""
    distributions = getattr(manager, "distributions", {})
    infos = []
    for name, _ in manager.list_name_plugin():
        builtin = name in BUILTIN_PLUGINS
        distribution = BUILTIN_DISTRIBUTION if builtin else distributions.get(name, str(name))
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
