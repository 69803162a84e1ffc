"""Methods that fail on purpose, loaded through SQUEEZEBENCH_PLUGINS by the fault tests."""

from __future__ import annotations

import ctypes
import os
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from squeezebench import hookimpl
from squeezebench.plugins import Method


class CrashParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    how: Literal["segfault", "exit", "raise"] = "segfault"


class Crash(Method):
    """Crash the process (or raise)."""

    name = "fault.crash"
    Params = CrashParams

    def apply(self, artifact: Any, params: CrashParams, ctx: Any) -> Any:
        if params.how == "segfault":
            ctypes.string_at(0)  # reads address 0: SIGSEGV
        if params.how == "exit":
            os._exit(3)
        raise RuntimeError("fault.crash raised on purpose")


class HangParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flag: str | None = None  # hang only while this file exists; write the worker's pid in it
    hold_gil: bool = False  # hang in C code holding the GIL: no Python thread can run


class Hang(Method):
    """Never return (or only while ``flag`` exists)."""

    name = "fault.hang"
    Params = HangParams

    def apply(self, artifact: Any, params: HangParams, ctx: Any) -> Any:
        if params.flag is not None:
            if not os.path.exists(params.flag):
                return artifact
            with open(params.flag, "a") as handle:  # tells the test who hangs, and since when
                handle.write(f"{os.getpid()}\n")
        if params.hold_gil:
            ctypes.PyDLL(None).sleep(3600)  # libc sleep called without releasing the GIL
        while params.flag is None or os.path.exists(params.flag):
            time.sleep(0.05)
        return artifact


class Allocate(Method):
    """Allocate memory until the process runs out."""

    name = "fault.allocate"

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        hoard = []
        while True:
            hoard.append(bytearray(256 * 1024 * 1024))


class NotANumber(Method):
    """Make every weight NaN."""

    name = "fault.nan"

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        import torch

        with torch.no_grad():
            for parameter in artifact.parameters():
                parameter.fill_(float("nan"))
        return artifact


class Sleep(Method):
    """Wrap the model so every forward pass sleeps (a deliberate slowdown)."""

    name = "fault.sleep"

    def apply(self, artifact: Any, params: Any, ctx: Any) -> Any:
        import torch

        class Slow(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x):
                time.sleep(0.002)
                return self.inner(x)

        return Slow(artifact)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    for method in (Crash, Hang, Allocate, NotANumber, Sleep):
        registry.add_method(method)
