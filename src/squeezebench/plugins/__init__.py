"""The plugin machinery and everything a plugin author imports.

Write a plugin in three steps:

1. subclass a contract (``Method``, ``Backend`` and its ``Runner``, ``ModelSource``,
   ``Dataset`` or ``Converter``);
2. register it from a hook implementation::

       from squeezebench import hookimpl
       from squeezebench.plugins import Registry

       @hookimpl
       def squeezebench_register(registry: Registry) -> None:
           registry.add_method(MyMethod)

3. point the ``squeezebench`` entry-point group of your package at that module.

Everything such a module needs is importable from here: the contracts and the data they
exchange, the artifact formats, the errors a plugin raises, the layer-selection helper of
the built-in methods, and (lazily, it is a spec model) ``TargetSpec``. ``squeezebench.testing``
is the conformance kit that checks a plugin against these contracts.
See docs/plugins.md for the tutorial and examples/plugin-example for a package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from squeezebench.errors import (
    BackendUnavailable,
    ConversionError,
    MethodError,
    PluginError,
    PluginWarning,
)
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    candidate_layers,
    replace_module,
    select_layers,
)
from squeezebench.plugins.contracts import (
    ONNX_MODEL,
    TORCH_MODULE,
    Backend,
    Converter,
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
from squeezebench.plugins.registry import PluginKind, Registration, Registry

if TYPE_CHECKING:
    from squeezebench.spec.models import TargetSpec

__all__ = [
    "ONNX_MODEL",
    "TORCH_MODULE",
    "Backend",
    "BackendUnavailable",
    "ConversionError",
    "Converter",
    "Dataset",
    "DatasetSplits",
    "Encoder",
    "LayerSelection",
    "LoadedModel",
    "Method",
    "MethodContext",
    "MethodError",
    "ModelSource",
    "NoParams",
    "PluginError",
    "PluginKind",
    "PluginWarning",
    "Registration",
    "Registry",
    "Runner",
    "Split",
    "TargetSpec",
    "candidate_layers",
    "hookimpl",
    "hookspec",
    "replace_module",
    "select_layers",
]


def __getattr__(name: str) -> Any:
    # TargetSpec is a spec model; importing squeezebench.spec here would be circular
    if name == "TargetSpec":
        from squeezebench.spec.models import TargetSpec

        return TargetSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
