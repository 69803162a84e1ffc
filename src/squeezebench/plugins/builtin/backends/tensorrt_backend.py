"""``tensorrt``: an ONNX model built into a TensorRT 10 engine and run on its own CUDA stream.

``prepare`` parses the ONNX bytes (the harness converts torch modules with
``torch-to-onnx``), builds the engine with the target's options (see
:mod:`._tensorrt_build`) and deserializes it; the deployable artifact is the serialized
engine. When the model has a dynamic dimension other than the batch (a sequence length),
the build waits for the first batch ``place`` sees, and is reported through
``lazy_prepare_seconds``. Each call binds the input and output device buffers (torch CUDA
tensors) and runs ``execute_async_v3`` on the runner's stream; latency is timed with CUDA
events on that stream.

Unverified here: squeezebench's own machines have no GPU and no TensorRT; this module is
written against the TensorRT 10 Python API and tested against a fake ``tensorrt`` module.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends._cuda_timing import (
    CudaEventTimer,
    cuda_unavailable_reason,
)
from squeezebench.plugins.builtin.backends._tensorrt_build import (
    OnnxSignature,
    TensorRTOptions,
    build_serialized_engine,
    describe_onnx,
    make_logger,
)
from squeezebench.plugins.contracts import ONNX_MODEL, Backend, Runner
from squeezebench.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np

    from squeezebench.spec.models import TargetSpec

INSTALL_HINT = "pip install tensorrt (NVIDIA's wheel; needs a CUDA machine)"

_TORCH_DTYPES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "BF16": "bfloat16",
    "INT8": "int8",
    "UINT8": "uint8",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
}


def import_tensorrt() -> Any:
    """The ``tensorrt`` module, or :class:`BackendUnavailable` saying how to install it."""
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailable(f"tensorrt is not installed: {INSTALL_HINT}") from None
    return tensorrt


def torch_dtype(torch: Any, trt_dtype: Any) -> Any:
    """The torch dtype of a ``tensorrt.DataType`` (``DataType.FLOAT`` -> ``torch.float32``)."""
    name = getattr(trt_dtype, "name", str(trt_dtype).rsplit(".", 1)[-1])
    if name not in _TORCH_DTYPES:
        raise BackendUnavailable(f"TensorRT I/O type {name} has no torch equivalent here")
    return getattr(torch, _TORCH_DTYPES[name])


class TensorRTRunner(Runner):
    """A deserialized engine, one execution context and one CUDA stream."""

    def __init__(
        self,
        trt: Any,
        payload: bytes,
        signature: OnnxSignature,
        options: TensorRTOptions,
        device: str,
    ) -> None:
        import torch

        self._torch = torch
        self._trt = trt
        self._payload = payload
        self.signature = signature
        self.options = options
        self.device = torch.device(device)
        self.stream = torch.cuda.Stream(self.device)
        self.logger = make_logger(trt)
        self.engine_bytes: bytes | None = None
        self.build_settings: list[str] = []
        self.build_seconds = 0.0  # builds done in place (lazy); prepare's own is timed outside
        self._bound: tuple[int, int] | None = None
        if not signature.other_dynamic_dims:
            self._build(None)

    def _build(self, sample_shape: tuple[int, ...] | None) -> None:
        self.engine_bytes, self.build_settings = build_serialized_engine(
            self._trt, self._payload, self.options, self.signature, self.logger, sample_shape
        )
        self.runtime = self._trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(self.engine_bytes)
        if self.engine is None:
            raise RuntimeError("TensorRT could not deserialize the engine it just built")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [
            name
            for name in names
            if self.engine.get_tensor_mode(name) == self._trt.TensorIOMode.INPUT
        ]
        outputs = [name for name in names if name not in inputs]
        if len(inputs) != 1 or len(outputs) != 1:
            raise BackendUnavailable(
                f"the engine has {len(inputs)} inputs and {len(outputs)} outputs; one of each "
                "is supported"
            )
        (self.input_name,), (self.output_name,) = inputs, outputs
        self.input_dtype = torch_dtype(self._torch, self.engine.get_tensor_dtype(self.input_name))
        self.output_dtype = torch_dtype(self._torch, self.engine.get_tensor_dtype(self.output_name))

    def place(self, batch: np.ndarray) -> Any:
        if self.engine_bytes is None:  # first batch: now the non-batch dims are known
            started = time.perf_counter()
            self._build(tuple(batch.shape))
            self.build_seconds += time.perf_counter() - started
        if batch.shape[0] > self.options.max_batch_size and self.signature.dynamic_batch:
            raise BackendUnavailable(
                f"batch {batch.shape[0]} exceeds the engine's max_batch_size "
                f"{self.options.max_batch_size}: raise it in the target's options"
            )
        with self._torch.cuda.stream(self.stream):
            tensor = self._torch.from_numpy(batch).to(self.device, self.input_dtype)
            if not self.context.set_input_shape(self.input_name, tuple(tensor.shape)):
                raise BackendUnavailable(
                    f"the engine does not accept input shape {tuple(tensor.shape)}"
                )
            shape = tuple(self.context.get_tensor_shape(self.output_name))
            output = self._torch.empty(shape, dtype=self.output_dtype, device=self.device)
        self._bound = None  # the context's input shape changed: run binds again
        self.stream.synchronize()
        return tensor, output

    def run(self, placed: Any) -> Any:
        tensor, output = placed
        if self._bound != (tensor.data_ptr(), output.data_ptr()):  # new batch: bind it once
            self.context.set_input_shape(self.input_name, tuple(tensor.shape))
            self.context.set_tensor_address(self.input_name, tensor.data_ptr())
            self.context.set_tensor_address(self.output_name, output.data_ptr())
            self._bound = (tensor.data_ptr(), output.data_ptr())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        return output

    def fetch(self, output: Any) -> np.ndarray:
        self.stream.synchronize()
        return output.float().cpu().numpy()

    def synchronize(self) -> None:
        self.stream.synchronize()

    def timer(self) -> CudaEventTimer:
        return CudaEventTimer(str(self.device), stream=self.stream)

    def artifact_bytes(self) -> bytes:
        if self.engine_bytes is None:
            raise RuntimeError("the engine is built when the first batch is placed")
        return self.engine_bytes

    def lazy_prepare_seconds(self) -> float:
        return self.build_seconds

    def close(self) -> None:
        self.stream.synchronize()
        for name in ("context", "engine", "runtime"):
            if hasattr(self, name):
                delattr(self, name)  # release in dependency order: context before engine


class TensorRTBackend(Backend):
    """TensorRT 10 engines built from ONNX (fp32, fp16, explicit int8) on CUDA."""

    name = "tensorrt"
    Options = TensorRTOptions
    formats = (ONNX_MODEL,)
    devices = ("cuda",)

    def check(self, target: TargetSpec) -> str | None:
        try:
            trt = import_tensorrt()
        except BackendUnavailable as error:
            return str(error)
        version = str(getattr(trt, "__version__", "0"))
        if int(version.split(".")[0]) < 10:
            return f"TensorRT {version} is too old: the tensorrt backend needs TensorRT 10.x"
        options = TensorRTOptions.model_validate(target.options)
        if options.precision == "fp16" and not hasattr(trt.BuilderFlag, "FP16"):
            return (
                f"TensorRT {version} has no BuilderFlag.FP16 (weak typing was removed in "
                "TensorRT 11): precision fp16 needs TensorRT 10.x"
            )
        import torch

        return cuda_unavailable_reason(torch, target.device)

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        options = TensorRTOptions.model_validate(target.options)
        trt = import_tensorrt()
        signature = describe_onnx(artifact)
        return TensorRTRunner(trt, bytes(artifact), signature, options, target.device)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``tensorrt`` backend."""
    registry.add_backend(TensorRTBackend)
