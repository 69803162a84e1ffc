"""``torch``: eager PyTorch on CPU (explicit thread count) or CUDA.

The deployable artifact is the model's ``state_dict`` saved with ``torch.save``: the file a
user ships next to their model code. Quantized and pruned models are measured the same way.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.plugins.contracts import TORCH_MODULE, Backend, Runner
from squeezebench.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np

    from squeezebench.spec.models import TargetSpec


class TorchOptions(BaseModel):
    """Options of the ``torch`` backend."""

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Intra-op CPU threads (torch.set_num_threads); defaults to the CPU count.",
    )


class TorchRunner(Runner):
    """An eager module on one device, run under ``torch.inference_mode``."""

    def __init__(self, module: Any, device: str, threads: int) -> None:
        import torch

        self._torch = torch
        self._previous_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        self.device = device
        self.module = module.to(device).eval() if hasattr(module, "to") else module

    def place(self, batch: np.ndarray) -> Any:
        return self._torch.from_numpy(batch).to(self.device)

    def run(self, placed: Any) -> Any:
        with self._torch.inference_mode():
            return self.module(placed)

    def fetch(self, output: Any) -> np.ndarray:
        return output.detach().float().cpu().numpy()

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            self._torch.cuda.synchronize(self.device)

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

            if not torch.cuda.is_available():
                return "no CUDA device is visible to torch (torch.cuda.is_available() is False)"
        return None

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        options = TorchOptions.model_validate(target.options)
        return TorchRunner(artifact, target.device, options.threads)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``torch`` backend."""
    registry.add_backend(TorchBackend)
