"""``torch``: eager PyTorch on CPU (explicit thread count) or CUDA, in float32, float16 or bf16.

The deployable artifact is the model's ``state_dict`` saved with ``torch.save`` (in the
target's ``dtype``): the file a user ships next to their model code. Quantized and pruned
models are measured the same way. On CUDA, each timed call is measured with a pair of CUDA
events (recorded after the device is idle), not with the host clock.
"""

from __future__ import annotations

import copy
import io
import os
import sys
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends._cuda_timing import (
    CudaEventTimer,
    cuda_unavailable_reason,
)
from squeezebench.plugins.contracts import TORCH_MODULE, Backend, Runner
from squeezebench.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np

    from squeezebench.spec.models import TargetSpec

Dtype = Literal["float32", "float16", "bfloat16"]


class TorchOptions(BaseModel):
    """Options of the ``torch`` backend."""

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Intra-op CPU threads (torch.set_num_threads); defaults to the CPU count.",
    )
    dtype: Dtype = Field(
        "float32",
        description="Precision the model and its float inputs are cast to before running. "
        "float16 runs on CPU too, but x86 CPUs without native fp16 arithmetic are usually "
        "slower in float16 than in float32; bfloat16 is fast on CPUs with AVX512-BF16/AMX.",
    )


def int8_module_types(module: Any) -> list[str]:
    """Names of the ``torch.ao`` quantized layer types in ``module`` (sorted, unique)."""
    names = set()
    for sub in module.modules():
        path = type(sub).__module__
        if path.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")):
            package = path.removeprefix("torch.ao.nn.").split(".modules")[0]
            names.add(f"{package}.{type(sub).__qualname__}")
    return sorted(names)


def cast_module(module: Any, device: str, dtype: str) -> Any:
    """``module`` in eval mode on ``device`` in ``dtype``; a copy whenever anything changes.

    The harness shares one compressed artifact between targets, so casting or moving it in
    place would change what the next target measures. Raises :class:`BackendUnavailable`
    when the artifact cannot be run in ``dtype`` (torch.ao int8 layers, a model that
    ``quantize.cast`` already stores in another precision).
    """
    import torch

    from squeezebench.quantized.cast import CastModel

    if dtype != "float32":
        blockers = int8_module_types(module)
        if blockers:
            raise BackendUnavailable(
                f"dtype {dtype} needs float layers; this model has torch.ao int8 layers "
                f"({', '.join(blockers)}), which run in float32 only: use dtype float32"
            )
        if any(isinstance(sub, CastModel) for sub in module.modules()):
            raise BackendUnavailable(
                f"dtype {dtype}: the pipeline already stores the model in another precision "
                "(quantize.cast); run it with dtype float32"
            )
    if device == "cpu" and dtype == "float32":
        return module.eval()
    moved = copy.deepcopy(module)
    return moved.to(device=torch.device(device), dtype=getattr(torch, dtype)).eval()


class TorchRunner(Runner):
    """An eager module on one device, run under ``torch.inference_mode``."""

    def __init__(self, module: Any, device: str, threads: int, dtype: str = "float32") -> None:
        import torch

        self._torch = torch
        self.device = device
        self.dtype = getattr(torch, dtype)
        self.module = cast_module(module, device, dtype) if hasattr(module, "to") else module
        self._previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)

    def place(self, batch: np.ndarray) -> Any:
        tensor = self._torch.from_numpy(batch)
        if tensor.is_floating_point() and tensor.dtype != self.dtype:
            return tensor.to(self.device, self.dtype)
        return tensor.to(self.device)

    def run(self, placed: Any) -> Any:
        with self._torch.inference_mode():
            return self.module(placed)

    def fetch(self, output: Any) -> np.ndarray:
        return output.detach().float().cpu().numpy()

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            self._torch.cuda.synchronize(self.device)

    def timer(self) -> CudaEventTimer | None:
        if self.device.startswith("cuda"):
            return CudaEventTimer(self.device)
        return None

    def notes(self) -> list[str]:
        # the CUDA dispatch of packed layers records its choices; unimported, none were made
        record = sys.modules.get("squeezebench.quantized.cuda.record")
        return record.drain_notes() if record is not None else []

    def artifact_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self._torch.save(self.module.state_dict(), buffer)
        return buffer.getvalue()

    def close(self) -> None:
        self._torch.set_num_threads(self._previous_threads)


class TorchBackend(Backend):
    """Eager PyTorch on CPU or CUDA."""

    name = "torch"
    Options = TorchOptions
    formats = (TORCH_MODULE,)
    devices = ("cpu", "cuda")

    def check(self, target: TargetSpec) -> str | None:
        if target.device.startswith("cuda"):
            import torch

            return cuda_unavailable_reason(torch, target.device)
        return None

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        options = TorchOptions.model_validate(target.options)
        return TorchRunner(artifact, target.device, options.threads, options.dtype)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``torch`` backend."""
    registry.add_backend(TorchBackend)
