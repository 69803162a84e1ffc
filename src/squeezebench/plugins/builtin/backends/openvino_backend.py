"""``openvino``: ONNX models compiled by Intel's OpenVINO runtime, on the CPU.

Written as a third-party plugin would be: it imports only ``squeezebench.plugins`` and is
registered through the same ``squeezebench_register`` hook (docs/plugins.md walks through
it). The artifact is ONNX, so torch variants arrive through the ``torch-to-onnx`` converter
(the very model the ``onnxruntime`` backend runs, which makes the two comparable) and
``ort.quantize_static``'s int8 QDQ models run as they are.

``prepare`` does all the work that is not inference, and the harness records it as
``prepare_seconds``: it converts the ONNX model to OpenVINO's IR, saves the IR (the
``.xml`` graph and ``.bin`` weights a user ships; their bytes are ``artifact_bytes``), reads
that IR back and compiles it for the CPU with explicit threads, precision and performance
hint. What is timed is one synchronous ``InferRequest.infer`` per batch, nothing else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.plugins import (
    ONNX_MODEL,
    Backend,
    BackendUnavailable,
    Registry,
    Runner,
    hookimpl,
)

if TYPE_CHECKING:
    from squeezebench.plugins import TargetSpec

INSTALL_HINT = "pip install 'squeezebench[openvino]'"


class OpenVinoOptions(BaseModel):
    """Options of the ``openvino`` backend."""

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU threads for inference (INFERENCE_NUM_THREADS); defaults to the CPU "
        "count, like the torch and onnxruntime backends.",
    )
    performance_hint: Literal["LATENCY", "THROUGHPUT"] = Field(
        "LATENCY",
        description="OpenVINO's PERFORMANCE_HINT: LATENCY runs one request on every thread; "
        "THROUGHPUT splits the threads into parallel streams, which serves many concurrent "
        "requests but makes one request (what squeezebench times) slower.",
    )
    precision: Literal["f32", "bf16", "f16"] = Field(
        "f32",
        description="INFERENCE_PRECISION_HINT. OpenVINO's own default is bf16 on CPUs that "
        "have it (AMX, AVX512-BF16), which changes accuracy; squeezebench asks for f32 "
        "unless told otherwise.",
    )
    compress_to_fp16: bool = Field(
        False,
        description="Save the IR's float weights as fp16 (openvino.save_model's default): "
        "half the bytes, weights rounded to fp16 and widened again when compiled.",
    )
    cache_dir: str | None = Field(
        None,
        description="Folder for OpenVINO's compiled-model cache (CACHE_DIR): a later compile "
        "of the same model loads from it, which shortens prepare_seconds (never latency).",
    )


def _openvino() -> Any:
    """The openvino module, or None when it is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    return openvino


class OpenVinoRunner(Runner):
    """A compiled model and one infer request; ``run`` is a synchronous ``infer``."""

    def __init__(self, compiled: Any, payload: bytes, folder: str) -> None:
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._payload = payload
        self._folder = folder

    def place(self, batch: Any) -> Any:
        import numpy as np

        return np.ascontiguousarray(batch)

    def run(self, placed: Any) -> Any:
        # shared buffers: no copy of the batch in, none of the output out (fetch copies)
        return self._request.infer({0: placed}, share_inputs=True, share_outputs=True)[0]

    def fetch(self, output: Any) -> Any:
        import numpy as np

        return np.array(output, dtype=np.float32)  # a copy: the next run reuses the buffer

    def artifact_bytes(self) -> bytes:
        return self._payload

    def close(self) -> None:
        self._request = None
        self._compiled = None
        shutil.rmtree(self._folder, ignore_errors=True)


class OpenVinoBackend(Backend):
    """OpenVINO on the CPU: ONNX models compiled with explicit threads, hint and precision."""

    name = "openvino"
    Options = OpenVinoOptions
    formats = (ONNX_MODEL,)
    devices = ("cpu",)

    def check(self, target: TargetSpec) -> str | None:
        openvino = _openvino()
        if openvino is None:
            return f"openvino is not installed ({INSTALL_HINT})"
        available = openvino.Core().available_devices
        if "CPU" not in available:
            return f"OpenVINO {openvino.__version__} has no CPU device (available: {available})"
        return None

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        openvino = _openvino()
        if openvino is None:
            raise BackendUnavailable(f"openvino is not installed ({INSTALL_HINT})")
        options = OpenVinoOptions.model_validate(target.options)
        core = openvino.Core()
        if options.cache_dir:
            core.set_property({"CACHE_DIR": options.cache_dir})
        model = _read_onnx(openvino, core, artifact)
        folder = tempfile.mkdtemp(prefix="squeezebench-openvino-")
        try:
            shipped = _save_ir(openvino, model, folder, options)
            compiled = core.compile_model(
                core.read_model(str(shipped)),  # what runs is exactly what ships
                "CPU",
                {
                    "INFERENCE_NUM_THREADS": options.threads,
                    "PERFORMANCE_HINT": options.performance_hint,
                    "INFERENCE_PRECISION_HINT": options.precision,
                },
            )
            payload = shipped.read_bytes() + shipped.with_suffix(".bin").read_bytes()
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return OpenVinoRunner(compiled, payload, folder)


def _read_onnx(openvino: Any, core: Any, artifact: Any) -> Any:
    """OpenVINO's model of the ONNX bytes; an operator it does not know skips the target."""
    try:
        return core.read_model(bytes(artifact))
    except Exception as error:  # a model OpenVINO cannot take says nothing about squeezebench
        noise = ("Exception from", "Check '", "FrontEnd API failed", "Summary:", "To facilitate")
        lines = [line.strip(" -") for line in str(error).splitlines() if line.strip()]
        detail = " ".join(line for line in lines if not line.startswith(noise))
        version = openvino.__version__.split("-")[0]
        raise BackendUnavailable(
            f"OpenVINO {version} cannot read this ONNX model: "
            f"{detail[:300] or type(error).__name__}"
        ) from None


def _save_ir(openvino: Any, model: Any, folder: str, options: OpenVinoOptions) -> Path:
    """Save ``model`` as ``model.xml`` + ``model.bin`` in ``folder``; the ``.xml`` path."""
    path = Path(folder) / "model.xml"
    openvino.save_model(model, str(path), compress_to_fp16=options.compress_to_fp16)
    return path


@hookimpl
def squeezebench_register(registry: Registry) -> None:
    """Register the ``openvino`` backend."""
    registry.add_backend(OpenVinoBackend)
