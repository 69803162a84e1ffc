"""Every hook squeezebench calls, with its contract.

A plugin is a module (or object) with functions named like these hooks and marked with
``squeezebench.hookimpl``. Third-party plugins are found through the ``squeezebench``
entry-point group; the built-ins are registered through exactly the same hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from squeezebench.plugins.markers import hookspec

if TYPE_CHECKING:
    from squeezebench.plugins.registry import Registry


# ---------------------------------------------------------------------------------------------
# Registration: called once, when the plugin manager is built.
# ---------------------------------------------------------------------------------------------


@hookspec
def squeezebench_register(registry: Registry) -> None:
    """Add this plugin's methods, backends, model sources and datasets to ``registry``.

    :param registry: the :class:`~squeezebench.plugins.registry.Registry` of this session.
        Call ``registry.add_method(cls)``, ``registry.add_backend(cls)``,
        ``registry.add_model_source(cls)`` and ``registry.add_dataset(cls)`` with classes that
        follow the contracts in :mod:`squeezebench.plugins.contracts`.

    Every name must be unique across all installed plugins: a second registration of the
    same name raises :class:`~squeezebench.errors.PluginError` naming both distributions.
    The hook is called once per plugin, built-ins first; its return value is ignored.
    """
