"""What the conformance kit checks: one case per plugin class, with what it needs to run.

A bare class is a case with the defaults (``conformance(methods=[MyMethod])``); a case
object says more: the params or options to use, a model to compress, an artifact to run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ModelFactory = Callable[[], tuple[Any, Any]]
"""Gives ``(torch module, example input batch)``, a fresh copy at every call."""


@dataclass(frozen=True)
class MethodCase:
    """A method, the params to apply it with, and (optionally) the model to compress.

    ``params`` is a mapping validated by the method's ``Params`` (default: all defaults).
    ``model`` defaults to :func:`squeezebench.testing.reference_model` (a small CNN on
    8x8 digits; the calibration and training data are the digits splits). ``context``
    overrides fields of the :class:`~squeezebench.plugins.MethodContext` the method gets.
    ``changes_model`` False declares a method that legitimately leaves the model as it is.
    """

    method: type
    params: Mapping[str, Any] = field(default_factory=dict)
    model: ModelFactory | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    changes_model: bool = True
    id: str | None = None

    @property
    def label(self) -> str:
        """The case's name in test ids."""
        return self.id or getattr(self.method, "name", self.method.__name__)


@dataclass(frozen=True)
class BackendCase:
    """A backend, the target's device and options, and (optionally) the artifact to run.

    ``artifact`` defaults to the reference model in the first of the backend's formats the
    kit can make (``torch.module``, or ``onnx`` through the ``torch-to-onnx`` converter);
    its outputs are then compared with torch's within ``rtol``/``atol``. A backend of
    another format needs ``artifact``: a callable giving ``(artifact, example input)``.
    """

    backend: type
    device: str = "cpu"
    options: Mapping[str, Any] = field(default_factory=dict)
    artifact: Callable[[], tuple[Any, Any]] | None = None
    rtol: float = 1e-3
    atol: float = 1e-4
    id: str | None = None

    @property
    def label(self) -> str:
        """The case's name in test ids."""
        return self.id or f"{getattr(self.backend, 'name', self.backend.__name__)}:{self.device}"


@dataclass(frozen=True)
class DatasetCase:
    """A dataset (its splits must be identical on every load, in every process)."""

    dataset: type
    id: str | None = None

    @property
    def label(self) -> str:
        """The case's name in test ids."""
        return self.id or getattr(self.dataset, "name", self.dataset.__name__)


@dataclass(frozen=True)
class ModelSourceCase:
    """A model source and a reference it resolves (``digits-cnn`` for ``builtin``)."""

    source: type
    reference: str
    base_dir: Path = field(default_factory=Path.cwd)
    trusted: bool = False
    id: str | None = None

    @property
    def label(self) -> str:
        """The case's name in test ids."""
        return self.id or f"{getattr(self.source, 'scheme', '?')}:{self.reference}"


@dataclass(frozen=True)
class ConverterCase:
    """A converter and (optionally) the artifact to convert, ``(artifact, example input)``.

    Without ``artifact`` the kit converts the reference model, which needs the converter's
    ``source`` format to be ``torch.module``.
    """

    converter: type
    artifact: Callable[[], tuple[Any, Any]] | None = None
    id: str | None = None

    @property
    def label(self) -> str:
        """The case's name in test ids."""
        return self.id or getattr(self.converter, "name", self.converter.__name__)


def as_case(value: Any, case_type: type) -> Any:
    """``value`` itself when it is a case, else a case of that class with the defaults."""
    if isinstance(value, case_type):
        return value
    if isinstance(value, type):
        if case_type is ModelSourceCase:
            raise TypeError(
                f"a model source needs a reference to load: ModelSourceCase({value.__name__}, "
                "reference='...')"
            )
        return case_type(value)
    raise TypeError(f"expected a plugin class or a {case_type.__name__}, got {value!r}")
