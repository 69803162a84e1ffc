"""A stand-in for the ``pynvml`` module (nvidia-ml-py): GPUs with scripted counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace


class FakeNVMLError(Exception):
    """Plays ``pynvml.NVMLError``."""


@dataclass
class FakeGpu:
    """One GPU: each read of a scripted list takes its next value (the last one repeats)."""

    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    name: str = "NVIDIA H100 80GB HBM3"
    energy_mj: list[int] = field(default_factory=lambda: [1000])
    compute_pids: list[list[int]] = field(default_factory=lambda: [[]])
    graphics_pids: list[list[int]] = field(default_factory=lambda: [[]])
    sm_clock_mhz: list[int] = field(default_factory=lambda: [1980])
    max_sm_clock_mhz: int = 1980
    reasons: list[int] = field(default_factory=lambda: [0])
    energy_supported: bool = True
    processes_readable: bool = True


def _next(values: list):
    return values.pop(0) if len(values) > 1 else values[0]


class FakePynvml:
    """The handful of NVML calls squeezebench makes; ``legacy=True`` has the pre-535 names."""

    NVMLError = FakeNVMLError
    NVML_CLOCK_SM = 1

    def __init__(self, *gpus: FakeGpu, legacy: bool = False, init_error: str | None = None):
        self.gpus = list(gpus) or [FakeGpu()]
        self.init_error = init_error
        self.init_calls = 0
        if legacy:
            self.nvmlDeviceGetCurrentClocksThrottleReasons = self._reasons
        else:
            self.nvmlDeviceGetCurrentClocksEventReasons = self._reasons

    driver_version: str = "570.86.15"

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver_version

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> bytes:
        return gpu.name.encode()  # older nvidia-ml-py returns bytes

    def nvmlInit(self) -> None:
        self.init_calls += 1
        if self.init_error:
            raise FakeNVMLError(self.init_error)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        if not 0 <= index < len(self.gpus):
            raise FakeNVMLError("Invalid Argument")
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> FakeGpu:
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return gpu
        raise FakeNVMLError("Not Found")

    def nvmlDeviceGetIndex(self, handle: FakeGpu) -> int:
        return self.gpus.index(handle)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:
        if not handle.energy_supported:
            raise FakeNVMLError("Not Supported")
        return _next(handle.energy_mj)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeGpu) -> list:
        if not handle.processes_readable:
            raise FakeNVMLError("Insufficient Permissions")
        return [SimpleNamespace(pid=pid, usedGpuMemory=None) for pid in _next(handle.compute_pids)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: FakeGpu) -> list:
        return [SimpleNamespace(pid=pid, usedGpuMemory=None) for pid in _next(handle.graphics_pids)]

    def nvmlDeviceGetClockInfo(self, handle: FakeGpu, clock: int) -> int:
        assert clock == self.NVML_CLOCK_SM
        return _next(handle.sm_clock_mhz)

    def nvmlDeviceGetMaxClockInfo(self, handle: FakeGpu, clock: int) -> int:
        assert clock == self.NVML_CLOCK_SM
        return handle.max_sm_clock_mhz

    def _reasons(self, handle: FakeGpu) -> int:
        return _next(handle.reasons)
