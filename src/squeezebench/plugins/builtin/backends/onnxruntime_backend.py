"""``onnxruntime``: ONNX models in an ONNX Runtime inference session, on CPU or CUDA.

The artifact is the ONNX model's bytes (what a user ships); the session is created in
``prepare`` (timed by the harness as ``prepare_seconds``). Thread counts are explicit and
default to the CPU count like the ``torch`` backend's, so the two compare fairly on the
same machine. ``device: cuda`` uses the CUDA execution provider of ``onnxruntime-gpu``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.contracts import ONNX_MODEL, Backend, Runner
from squeezebench.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np

    from squeezebench.spec.models import TargetSpec

INSTALL_HINT = "pip install 'squeezebench[onnx]'"
GPU_HINT = (
    "for CUDA install onnxruntime-gpu instead of onnxruntime "
    "(pip uninstall onnxruntime && pip install onnxruntime-gpu)"
)
OptimizationLevel = Literal["disable", "basic", "extended", "all"]


class OnnxRuntimeOptions(BaseModel):
    """Options of the ``onnxruntime`` backend."""

    model_config = ConfigDict(extra="forbid")

    providers: list[str] | None = Field(
        None,
        min_length=1,
        description="Execution providers in order of preference, e.g. "
        "['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']; "
        "null: CUDAExecutionProvider then CPUExecutionProvider on cuda, "
        "CPUExecutionProvider on cpu.",
    )
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Intra-op CPU threads (SessionOptions.intra_op_num_threads); defaults to "
        "the CPU count, like the torch backend.",
    )
    inter_op_threads: int = Field(
        1,
        ge=1,
        description="Threads running independent graph nodes in parallel; above 1 the "
        "session runs in parallel execution mode.",
    )
    graph_optimization_level: OptimizationLevel = Field(
        "all",
        description="ONNX Runtime graph optimizations applied when the session is created: "
        "disable, basic (constant folding, redundant nodes), extended (fusions), all "
        "(layout optimizations too).",
    )


def default_providers(device: str) -> list[str]:
    """The execution providers a target gets without a ``providers`` option."""
    if device.startswith("cuda"):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _onnxruntime() -> Any:
    """The onnxruntime module, or None when it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


class OnnxRuntimeRunner(Runner):
    """An inference session with numpy inputs and outputs (``input`` -> ``output``)."""

    def __init__(self, session: Any, payload: bytes) -> None:
        self.session = session
        self._payload = payload
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name

    def place(self, batch: np.ndarray) -> Any:
        return {self._input: batch}

    def run(self, placed: Any) -> Any:
        return self.session.run([self._output], placed)[0]

    def fetch(self, output: Any) -> np.ndarray:
        import numpy as np

        return np.asarray(output, dtype=np.float32)

    def artifact_bytes(self) -> bytes:
        return self._payload

    def close(self) -> None:
        self.session = None


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime inference sessions (CPU, or CUDA with onnxruntime-gpu)."""

    name = "onnxruntime"
    Options = OnnxRuntimeOptions
    formats = (ONNX_MODEL,)
    devices = ("cpu", "cuda")

    def check(self, target: TargetSpec) -> str | None:
        ort = _onnxruntime()
        cuda = target.device.startswith("cuda")
        if ort is None:
            hint = f"; {GPU_HINT}" if cuda else ""
            return f"onnxruntime is not installed ({INSTALL_HINT}{hint})"
        options = OnnxRuntimeOptions.model_validate(target.options)
        available = ort.get_available_providers()
        wanted = options.providers or default_providers(target.device)
        missing = [provider for provider in wanted if provider not in available]
        if cuda and "CUDAExecutionProvider" not in available and not options.providers:
            return (
                f"device {target.device} needs CUDAExecutionProvider, which this onnxruntime "
                f"does not have (available: {', '.join(available)}); {GPU_HINT}"
            )
        if missing:
            return (
                f"execution provider {', '.join(missing)} is not available in onnxruntime "
                f"{ort.__version__} (available: {', '.join(available)})"
                + (f"; {GPU_HINT}" if any("CUDA" in p or "Tensorrt" in p for p in missing) else "")
            )
        return None

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        ort = _onnxruntime()
        if ort is None:
            raise BackendUnavailable(f"onnxruntime is not installed ({INSTALL_HINT})")
        options = OnnxRuntimeOptions.model_validate(target.options)
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = options.threads
        session_options.inter_op_num_threads = options.inter_op_threads
        session_options.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL
            if options.inter_op_threads > 1
            else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        session_options.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[options.graph_optimization_level]
        session_options.log_severity_level = 3  # errors only: no per-node warnings in output
        providers = _with_device_id(options.providers or default_providers(target.device), target)
        payload = bytes(artifact)
        session = ort.InferenceSession(payload, session_options, providers=providers)
        return OnnxRuntimeRunner(session, payload)


def _with_device_id(providers: list[str], target: TargetSpec) -> list[Any]:
    """``cuda:1`` puts the CUDA and TensorRT providers on device 1."""
    _, _, index = target.device.partition(":")
    if not index:
        return list(providers)
    return [
        (name, {"device_id": int(index)})
        if name in ("CUDAExecutionProvider", "TensorrtExecutionProvider")
        else name
        for name in providers
    ]


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``onnxruntime`` backend."""
    registry.add_backend(OnnxRuntimeBackend)
