"""The plugin machinery: hookspecs, markers, contracts, the registry and the manager.

Write a plugin in three steps:

1. subclass a contract (``Method``, ``Backend``, ``ModelSource`` or ``Dataset``);
2. register it from a hook implementation::

       from squeezebench import hookimpl

       @hookimpl
       def squeezebench_register(registry):
           registry.add_method(MyMethod)

3. point the ``squeezebench`` entry-point group of your package at that module.

See docs/plugins.md for the full tutorial and examples/plugin-example for a package.
"""

from squeezebench.plugins.contracts import (
    TORCH_MODULE,
    Backend,
    Dataset,
    DatasetSplits,
    Encoder,
    LoadedModel,
    Method,
    MethodContext,
    ModelSource,
    NoParams,
    Runner,
    Split,
)
from squeezebench.plugins.markers import hookimpl, hookspec
from squeezebench.plugins.registry import Registration, Registry

__all__ = [
    "TORCH_MODULE",
    "Backend",
    "Dataset",
    "DatasetSplits",
    "Encoder",
    "LoadedModel",
    "Method",
    "MethodContext",
    "ModelSource",
    "NoParams",
    "Registration",
    "Registry",
    "Runner",
    "Split",
    "hookimpl",
    "hookspec",
]
