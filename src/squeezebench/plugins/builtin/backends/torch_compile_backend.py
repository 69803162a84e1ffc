"""``torch-compile``: ``torch.compile`` (TorchInductor) on CPU or CUDA.

Compilation happens outside every timed region: ``place`` compiles and warms the model for
each new input shape (dtype, batch size) the first time it sees it, and the runner reports
the total through ``lazy_prepare_seconds`` (recorded in ``prepare_seconds``). The timed
``run`` only ever executes code that is already compiled; a shape that would need a
recompilation in ``run`` cannot happen, because ``run`` only receives what ``place`` gave.

The deployable artifact is the ``state_dict`` (in the target's ``dtype``), as for the
``torch`` backend: torch.compile produces no shippable file, the kernels are regenerated (or
read from the inductor cache) where the model is loaded.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import BackendUnavailable
from squeezebench.plugins.builtin.backends._cuda_timing import cuda_unavailable_reason
from squeezebench.plugins.builtin.backends.torch_backend import Dtype, TorchRunner
from squeezebench.plugins.contracts import TORCH_MODULE, Backend, Runner
from squeezebench.plugins.markers import hookimpl

if TYPE_CHECKING:
    import numpy as np

    from squeezebench.spec.models import TargetSpec

RECOMPILE_LIMIT = 64
"""Compiled graphs allowed per function while a runner is alive (torch's default is 8):
every batch size and the accuracy batches are a shape of their own with ``dynamic: false``."""


class TorchCompileOptions(BaseModel):
    """Options of the ``torch-compile`` backend."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = (
        Field(
            "default",
            description="torch.compile mode. reduce-overhead and max-autotune use CUDA graphs "
            "on CUDA; max-autotune benchmarks kernel choices while compiling (slow to prepare).",
        )
    )
    fullgraph: bool = Field(
        False, description="Fail instead of splitting the model at a graph break."
    )
    dynamic: bool | None = Field(
        False,
        description="false: one graph specialized per input shape (each batch size gets its "
        "own kernels, like a fixed-batch deployment); true: one graph with a symbolic batch "
        "size; null: torch's heuristic (static first, dynamic after a new shape), which makes "
        "results depend on the order shapes are seen.",
    )
    dtype: Dtype = Field("float32", description="Precision of the model and its float inputs.")
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Intra-op CPU threads, also used by the generated CPU kernels.",
    )


def cpu_compiler_problem() -> str | None:
    """Why inductor cannot build CPU kernels here (no C++ compiler, no Python.h), or None."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except ImportError:  # a torch whose private layout moved: look for a compiler ourselves
        if not any(shutil.which(name) for name in ("g++", "clang++", "c++")):
            return _no_compiler_message()
    except Exception:
        return _no_compiler_message()
    include = Path(sysconfig.get_path("include"))
    if not (include / "Python.h").exists():
        return (
            f"torch.compile on CPU needs the Python headers (no Python.h in {include}); "
            "install your Python's development package (e.g. apt install python3-dev)"
        )
    return None


def _no_compiler_message() -> str:
    found = [name for name in ("cc", "gcc", "clang") if shutil.which(name)]
    extra = f" ({', '.join(found)} found, but inductor needs a C++ compiler)" if found else ""
    return (
        "torch.compile on CPU needs a C++ compiler: no g++ or clang++ runs here"
        f"{extra}; install one (e.g. apt install g++) or point CXX at it"
    )


class TorchCompileRunner(TorchRunner):
    """A ``torch.compile``d module; compiles and warms each new input shape in ``place``."""

    def __init__(self, module: Any, device: str, options: TorchCompileOptions) -> None:
        super().__init__(module, device, options.threads, options.dtype)
        import torch
        import torch._dynamo

        self._config = torch._dynamo.config
        self._saved_config = {
            "recompile_limit": self._config.recompile_limit,
            "fail_on_recompile_limit_hit": self._config.fail_on_recompile_limit_hit,
        }
        self._config.recompile_limit = max(RECOMPILE_LIMIT, self._config.recompile_limit)
        self._config.fail_on_recompile_limit_hit = True  # never fall back to eager silently
        torch._dynamo.reset()  # a fresh cache: earlier jobs' graphs neither help nor count
        self.compiled = torch.compile(
            self.module, mode=options.mode, fullgraph=options.fullgraph, dynamic=options.dynamic
        )
        self._cuda_graphs = device.startswith("cuda") and options.mode in (
            "reduce-overhead",
            "max-autotune",
        )
        self.compile_seconds: dict[tuple[tuple[int, ...], str], float] = {}
        """Seconds spent compiling and warming, per (input shape, dtype) seen by ``place``."""

    def place(self, batch: np.ndarray) -> Any:
        placed = super().place(batch)
        key = (tuple(placed.shape), str(placed.dtype))
        if key not in self.compile_seconds:
            started = time.perf_counter()
            self._warm(placed)
            self.compile_seconds[key] = time.perf_counter() - started
        return placed

    def _warm(self, placed: Any) -> None:
        # Three calls: the compile, then (with CUDA graphs) the warm-up run and the recording.
        try:
            for _ in range(3 if self._cuda_graphs else 2):
                self.run(placed)
            self.synchronize()
        except Exception as error:
            message = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BackendUnavailable(
                f"torch.compile failed for input shape {tuple(placed.shape)} "
                f"({placed.dtype}): {type(error).__name__}: {message}"[:500]
            ) from error

    def run(self, placed: Any) -> Any:
        with self._torch.inference_mode():
            if self._cuda_graphs:
                self._torch.compiler.cudagraph_mark_step_begin()
            return self.compiled(placed)

    def lazy_prepare_seconds(self) -> float:
        return sum(self.compile_seconds.values())

    def close(self) -> None:
        import torch._dynamo

        torch._dynamo.reset()
        for name, value in self._saved_config.items():
            setattr(self._config, name, value)
        super().close()


class TorchCompileBackend(Backend):
    """torch.compile (TorchInductor) on CPU or CUDA; compile time is kept out of latency."""

    name = "torch-compile"
    Options = TorchCompileOptions
    formats = (TORCH_MODULE,)
    devices = ("cpu", "cuda")

    def check(self, target: TargetSpec) -> str | None:
        import torch

        if target.device.startswith("cuda"):
            reason = cuda_unavailable_reason(torch, target.device)
            if reason is not None:
                return reason
            try:
                import triton  # noqa: F401
            except ImportError:
                return "torch.compile on CUDA needs Triton: pip install triton"
            return None
        return cpu_compiler_problem()

    def prepare(self, artifact: Any, target: TargetSpec) -> Runner:
        options = TorchCompileOptions.model_validate(target.options)
        if not hasattr(artifact, "forward"):
            raise BackendUnavailable(f"torch-compile needs an nn.Module, got {type(artifact)}")
        return TorchCompileRunner(artifact, target.device, options)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``torch-compile`` backend."""
    registry.add_backend(TorchCompileBackend)
