"""The registry handed to ``squeezebench_register``: plugin classes by kind and unique name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, overload

from pydantic import BaseModel

from squeezebench.errors import PluginError, UserError
from squeezebench.plugins.contracts import Backend, Converter, Dataset, Method, ModelSource
from squeezebench.suggest import unknown_name_message

PluginKind = Literal["method", "backend", "model source", "dataset", "converter"]
"""The kinds of plugin classes a registry holds."""


@dataclass(frozen=True)
class Registration:
    """One registered class and the distribution (``name version``) that registered it."""

    kind: PluginKind
    name: str
    cls: type
    distribution: str


_KINDS: dict[PluginKind, tuple[type, str, tuple[str, ...]]] = {
    # kind: (base class, attribute holding the unique key, pydantic attributes to check)
    "method": (Method, "name", ("Params",)),
    "backend": (Backend, "name", ("Options",)),
    "model source": (ModelSource, "scheme", ()),
    "dataset": (Dataset, "name", ()),
    "converter": (Converter, "name", ()),
}


class Registry:
    """Methods, backends, model sources, datasets and converters, each kept by unique name.

    Plugins call the ``add_*`` methods from their ``squeezebench_register`` hook. Lookups are
    typed: :meth:`method`, :meth:`backend`, :meth:`model_source`, :meth:`dataset` and
    :meth:`converter` give the registered class (:meth:`get` does the same by kind name);
    an unknown name raises a did-you-mean :class:`UserError`.
    """

    def __init__(self) -> None:
        self._entries: dict[PluginKind, dict[str, Registration]] = {kind: {} for kind in _KINDS}
        self.current_distribution = "unknown"

    # -- used by plugins: one add_* per kind ---------------------------------------------------

    def add_method(self, cls: type[Method]) -> None:
        """Register a :class:`~squeezebench.plugins.contracts.Method` subclass."""
        self._add("method", cls)

    def add_backend(self, cls: type[Backend]) -> None:
        """Register a :class:`~squeezebench.plugins.contracts.Backend` subclass."""
        self._add("backend", cls)

    def add_model_source(self, cls: type[ModelSource]) -> None:
        """Register a :class:`~squeezebench.plugins.contracts.ModelSource` subclass."""
        self._add("model source", cls)

    def add_dataset(self, cls: type[Dataset]) -> None:
        """Register a :class:`~squeezebench.plugins.contracts.Dataset` subclass."""
        self._add("dataset", cls)

    def add_converter(self, cls: type[Converter]) -> None:
        """Register a :class:`~squeezebench.plugins.contracts.Converter` subclass."""
        self._add("converter", cls)

    # -- typed lookups ------------------------------------------------------------------------

    def method(self, name: str) -> type[Method]:
        """The :class:`Method` registered as ``name`` (``prune.magnitude``)."""
        return self.get("method", name)

    def backend(self, name: str) -> type[Backend]:
        """The :class:`Backend` registered as ``name`` (``torch``)."""
        return self.get("backend", name)

    def model_source(self, scheme: str) -> type[ModelSource]:
        """The :class:`ModelSource` of ``scheme`` (``builtin``, ``file``)."""
        return self.get("model source", scheme)

    def dataset(self, name: str) -> type[Dataset]:
        """The :class:`Dataset` registered as ``name`` (``digits``)."""
        return self.get("dataset", name)

    def converter(self, name: str) -> type[Converter]:
        """The :class:`Converter` registered as ``name`` (``torch-to-onnx``)."""
        return self.get("converter", name)

    # -- listings -----------------------------------------------------------------------------

    def names(self, kind: PluginKind) -> list[str]:
        """Sorted names registered under ``kind``."""
        return sorted(self._entries[kind])

    def entries(self, kind: PluginKind) -> Mapping[str, Registration]:
        """Registrations of ``kind`` by name (read-only view)."""
        return dict(self._entries[kind])

    @overload
    def get(self, kind: Literal["method"], name: str) -> type[Method]: ...
    @overload
    def get(self, kind: Literal["backend"], name: str) -> type[Backend]: ...
    @overload
    def get(self, kind: Literal["model source"], name: str) -> type[ModelSource]: ...
    @overload
    def get(self, kind: Literal["dataset"], name: str) -> type[Dataset]: ...
    @overload
    def get(self, kind: Literal["converter"], name: str) -> type[Converter]: ...

    def get(self, kind: PluginKind, name: str) -> type:
        """The class registered as ``name``, or a :class:`UserError` with a did-you-mean."""
        try:
            return self._entries[kind][name].cls
        except KeyError:
            raise UserError(unknown_name_message(kind, name, self._entries[kind])) from None

    def __contains__(self, key: tuple[PluginKind, str]) -> bool:
        kind, name = key
        return name in self._entries[kind]

    def _add(self, kind: PluginKind, cls: type) -> None:
        base, key_attribute, pydantic_attributes = _KINDS[kind]
        where = f"{kind} {cls!r} from {self.current_distribution}"
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"{where} must be a subclass of {base.__module__}.{base.__name__}")
        name = getattr(cls, key_attribute, None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{where} must set the class attribute {key_attribute!r}")
        for attribute in pydantic_attributes:
            model = getattr(cls, attribute)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise PluginError(f"{where}: {attribute} must be a pydantic BaseModel subclass")
            try:
                model.model_json_schema()  # also proves the model is fully defined
            except Exception as error:
                raise PluginError(f"{where}: {attribute} is not a usable model: {error}") from None
        existing = self._entries[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"{kind} {name!r} is registered twice: by {existing.distribution} "
                f"and by {self.current_distribution}"
            )
        self._entries[kind][name] = Registration(kind, name, cls, self.current_distribution)
