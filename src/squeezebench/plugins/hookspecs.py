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
    """Add this plugin's classes to ``registry``; one call per plugin, built-ins first.

    :param registry: the :class:`~squeezebench.plugins.Registry` of this session. It has one
        ``add_*`` per kind of plugin, each taking a class (not an instance) that subclasses
        the contract of :mod:`squeezebench.plugins`:

        - ``registry.add_method(cls)``: a :class:`~squeezebench.plugins.Method`
          (a compression step, ``name`` like ``prune.magnitude``);
        - ``registry.add_backend(cls)``: a :class:`~squeezebench.plugins.Backend`
          (runs artifacts on a target, ``name`` like ``onnxruntime``);
        - ``registry.add_model_source(cls)``: a :class:`~squeezebench.plugins.ModelSource`
          (resolves ``<scheme>:<reference>``, keyed by ``scheme``);
        - ``registry.add_dataset(cls)``: a :class:`~squeezebench.plugins.Dataset`
          (fixed splits and a metric, ``name`` like ``digits``);
        - ``registry.add_converter(cls)``: a :class:`~squeezebench.plugins.Converter`
          (one artifact format to another, ``name`` like ``torch-to-onnx``).

    The parameter must be named ``registry`` (pluggy passes hook arguments by name), and the
    function must be marked with ``@squeezebench.hookimpl`` (an unmarked one is ignored,
    with a warning). Every name must be unique per kind across all installed plugins: a
    second registration raises :class:`~squeezebench.errors.PluginError` naming both
    distributions. The return value is ignored.
    """
