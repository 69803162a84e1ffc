"""The contracts a plugin implements: methods, backends, model sources and datasets.

Each contract is a small base class. A plugin subclasses it, sets the class attributes and
implements the methods, then registers the class from its ``squeezebench_register`` hook.
None of these classes imports torch: implementations import heavy libraries inside their
methods so that listing plugins or validating a spec stays fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np

    from squeezebench.spec.models import TargetSpec

TORCH_MODULE = "torch.module"
"""Artifact format of an eager ``torch.nn.Module`` (float, pruned or quantized)."""

ONNX_MODEL = "onnx"
"""Artifact format of an ONNX model: the serialized ``ModelProto`` as ``bytes`` (one input
named ``input``, one output named ``output``, a dynamic batch dimension)."""


class NoParams(BaseModel):
    """Params model of a method (or Options model of a backend) that takes none."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------
# Data handed to plugins
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Inputs and labels of one dataset split, as numpy arrays (labels may be None)."""

    inputs: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass(frozen=True)
class DatasetSplits:
    """The three splits every dataset gives, plus the name of its accuracy metric."""

    train: Split
    calibration: Split
    test: Split
    metric: str = "top1"


@dataclass(frozen=True)
class LoadedModel:
    """What a model source gives: the artifact, its format and one example input batch.

    ``preprocess``, when set, turns a dataset's raw inputs into what the artifact takes (a
    tokenizer: an array of strings to fixed-length int64 token ids). The harness applies it
    to every split's inputs right after loading the dataset, before anything else sees them;
    it must give the same shape per sample on every call (the example input's).
    """

    artifact: Any
    example_input: Any
    format: str = TORCH_MODULE
    description: str = ""
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class Encoder:
    """A byte-level encoding of the shipped artifact (zstd, lzma...), added by ``encode.*``."""

    name: str
    encode: Callable[[bytes], bytes]


@dataclass
class MethodContext:
    """Everything a method may use besides the artifact and its params.

    ``data`` is None when the spec names no dataset; methods that need calibration or
    training data must then raise :class:`~squeezebench.errors.MethodError`.
    ``teacher`` is the unmodified model (the baseline); treat it as read-only.
    ``load_model`` resolves another model source string (``builtin:digits-mlp``), for
    methods that take a second model such as a distillation student.
    Methods report what they changed with :meth:`note`; ``encode.*`` methods append to
    ``encoders``, and the harness records the encoded size of the deployable artifact.
    """

    seed: int
    device: str = "cpu"
    data: DatasetSplits | None = None
    example_input: Any = None
    teacher: Any = None
    load_model: Callable[[str], LoadedModel] | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("squeezebench"))
    encoders: list[Encoder] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    current_step: str = ""

    def note(self, message: str) -> None:
        """Record (and log) a change, e.g. ``"pruned 3 layers, 50,000 -> 25,000 nonzero"``.

        The harness prefixes the running step's method name (``prune.magnitude: pruned...``),
        so do not write it yourself; a message that already starts with it is kept as is.
        """
        step = self.current_step
        prefixed = not step or message == step or message.startswith((f"{step}:", f"{step} "))
        entry = message if prefixed else f"{step}: {message}"
        self.notes.append(entry)
        self.logger.info(entry)


# ---------------------------------------------------------------------------------------------
# Contracts
# ---------------------------------------------------------------------------------------------


class Method:
    """A compression step: takes an artifact, gives a new one. A method never measures.

    Class attributes:
      ``name``: dotted, family first (``prune.magnitude``); unique across all plugins.
      ``Params``: a pydantic model (``extra="forbid"``) validating the step's parameters;
      it is also what ``squeezebench schema`` publishes for editors.
      ``takes``: artifact formats the method accepts; ``gives``: the format it returns.
      ``simulated``: True when the effect is only simulated (masks, fake-quant) and the
      artifact is not really smaller; results then say so.
      ``stochastic``: True when the result depends on the seed (random pruning, training,
      calibration sampling); such pipelines run once per seed of the spec.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    takes: ClassVar[tuple[str, ...]] = (TORCH_MODULE,)
    gives: ClassVar[str] = TORCH_MODULE
    simulated: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def apply(self, artifact: Any, params: BaseModel, ctx: MethodContext) -> Any:
        """Return the compressed artifact. May modify ``artifact`` in place.

        Raise :class:`~squeezebench.errors.MethodError` when the method cannot apply
        (nothing to compress, missing data); the job is then recorded as an error.
        """
        raise NotImplementedError


class Runner:
    """A prepared model on one target. The harness times ``run`` only (see :meth:`timer`).

    ``place`` moves a numpy batch to wherever ``run`` expects it (outside the timed
    region); ``fetch`` brings an output back as a numpy array; ``synchronize`` waits for
    queued device work; ``artifact_bytes`` is the deployable artifact as it would be shipped.
    """

    def place(self, batch: np.ndarray) -> Any:
        """Convert a numpy batch into the backend's input type on the target device."""
        raise NotImplementedError

    def run(self, placed: Any) -> Any:
        """Run one forward pass on a batch returned by :meth:`place`."""
        raise NotImplementedError

    def fetch(self, output: Any) -> np.ndarray:
        """Return ``output`` as a numpy array on the host."""
        raise NotImplementedError

    def synchronize(self) -> None:
        """Block until all work queued by :meth:`run` has finished (no-op on CPU)."""

    def artifact_bytes(self) -> bytes:
        """The serialized artifact a user would deploy on this target."""
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (threads settings, device memory)."""

    def timer(self) -> Any:
        """A device timer for the latency loop, or None (the default) for the host clock.

        None: each repetition is timed with ``time.perf_counter_ns`` around ``run`` followed
        by ``synchronize``. A device backend returns an object with ``start()``, ``stop()``
        and ``elapsed_ms()`` (see :class:`squeezebench.harness.measure.latency.DeviceTimer`):
        the harness calls ``start()``, ``run(placed)``, ``stop()`` (which must wait until the
        device has finished) and records ``elapsed_ms()``; CUDA runners record
        ``torch.cuda.Event`` pairs on the stream ``run`` uses. Called once per batch size.
        """
        return None

    def notes(self) -> list[str]:
        """What the runtime chose while running since the previous call, one line each, or
        ``[]`` (the default).

        For choices a result should be explained by, e.g. which kernel each packed layer
        shape ran. The harness calls it once before timing (discarding what the accuracy
        pass chose) and after each batch size, and stores the lines as the row's
        ``runtime_notes`` (a JSON list; null when empty).
        """
        return []

    def lazy_prepare_seconds(self) -> float:
        """Preparation done after :meth:`Backend.prepare` returned, in seconds (default 0).

        Some runners can only finish preparing once they see an input shape, e.g. a compiler
        specializing on each batch size: they do it in :meth:`place` (never in the timed
        ``run``) and report the total here; the harness adds it to ``prepare_seconds``.
        """
        return 0.0


class Backend:
    """Runs artifacts on a target (a device of this backend, with options).

    Class attributes: ``name`` (``torch``), ``Options`` (pydantic model of the target's
    ``options``), ``formats`` it runs and ``devices`` it knows.
    """

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoParams
    formats: ClassVar[tuple[str, ...]] = (TORCH_MODULE,)
    devices: ClassVar[tuple[str, ...]] = ("cpu",)

    @classmethod
    def check_device(cls, device: str) -> str | None:
        """Say what is wrong with how ``device`` is written for this backend, or None.

        Called while validating a spec: cheap, no heavy imports, no look at the hardware
        (:meth:`check` says whether the device exists when a job runs). The default accepts
        each kind of ``devices`` alone and, except ``cpu``, as ``<kind>:N`` with N a device
        index from 0 to 127 (:func:`squeezebench.plugins.devices.device_syntax_problem`).
        """
        from squeezebench.plugins.devices import device_syntax_problem

        return device_syntax_problem(device, cls.devices, cls.name)

    def check(self, target: TargetSpec) -> str | None:
        """Say why ``target`` cannot run on this machine (missing package, no device), or None."""
        return None

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        """Return a :class:`Runner` for ``artifact`` on ``target``."""
        raise NotImplementedError


class Converter:
    """Turns an artifact of one format into another (``torch.module`` to ``onnx``...).

    The harness inserts converters when a pipeline's artifact is not in a format the target's
    backend runs: it chains registered converters along the shortest path from the
    pipeline's format to one the backend runs. ``name`` is unique (``torch-to-onnx``);
    ``source`` and ``target`` are formats.
    """

    name: ClassVar[str]
    source: ClassVar[str]
    target: ClassVar[str]

    def check(self) -> str | None:
        """Say why this converter cannot run here (missing package: which extra), or None."""
        return None

    def convert(self, artifact: Any, example_input: Any) -> Any:
        """Return ``artifact`` in the ``target`` format.

        Raise :class:`~squeezebench.errors.ConversionError` with a one-line reason when this
        artifact cannot be converted (an operator the exporter does not know, say); the job is
        then recorded as ``skipped`` with that reason.
        """
        raise NotImplementedError


class ModelSource:
    """Resolves a model reference ``<scheme>:<rest>`` (for example ``builtin:digits-cnn``)."""

    scheme: ClassVar[str]

    def check(self, reference: str, base_dir: Path) -> str | None:
        """Cheaply say what is wrong with ``reference`` (no such file, unknown name), or None.

        Called while validating a spec; must not load the model or import torch.
        """
        return None

    def deep_check(self, reference: str, base_dir: Path, *, trusted: bool = False) -> str | None:
        """A thorough check for ``squeezebench validate --deep``, after :meth:`check` passed.

        May import code or load the model (``python:`` imports the module and finds the
        factory, ``file:`` loads the file); say what is wrong, or None. Default: nothing more.
        """
        return None

    def load(
        self, reference: str, base_dir: Path, seed: int, *, trusted: bool = False
    ) -> LoadedModel:
        """Load the model. ``reference`` is the part after ``<scheme>:``; relative paths are
        resolved against ``base_dir`` (the spec's folder). Unless ``trusted`` (the spec's
        ``trust_model_files``), never unpickle Python objects from a file: that can run code.
        """
        raise NotImplementedError


class Dataset:
    """A named dataset with fixed train / calibration / test splits and an accuracy metric."""

    name: ClassVar[str]

    def load(self) -> DatasetSplits:
        """Return the splits; the same every time (the split is fixed, not spec-seeded)."""
        raise NotImplementedError


def summary_of(cls: type) -> str:
    """First line of a plugin class's docstring, for listings."""
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
