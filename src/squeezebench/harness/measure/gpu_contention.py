"""Is anything else on our GPU, and does it run at full clock? Through NVML (optional).

``GpuContentionProbe.start()`` and ``stop()`` bracket a timing window and sample the GPU at
both edges: the processes that hold a context on it, its SM clock and the reasons NVML gives
for clocks below maximum. Without ``pynvml`` (``pip install squeezebench[nvml]``) or without
the device, the result carries only the reason.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from squeezebench.harness.measure.nvml_device import open_device

# nvmlClocksEventReason* bit masks (named nvmlClocksThrottleReason* before driver 535)
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}
# the reasons that mean "slower than it could run now": power, thermal and board limits
SLOWING_REASONS = frozenset(
    {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
        "board_limit",
        "reliability",
    }
)


@dataclass(frozen=True)
class GpuContention:
    """The GPU as seen at the two edges of a window.

    * ``gpu_index``: NVML's index of the GPU (as nvidia-smi numbers it).
    * ``other_pids``: processes other than this one with a compute or graphics context on the
      GPU at the start or the end of the window (their work may have shared it with ours).
      Inside a container NVML may report host pids, so this process can appear among them;
      processes of other users may be hidden without admin rights. None when unreadable.
    * ``sm_clock_mhz``: the lower SM clock of the two samples; ``max_sm_clock_mhz`` the
      GPU's maximum SM clock; ``clock_ratio`` the first over the second.
    * ``clock_reasons``: names of the clock event (throttle) reasons active at either edge
      (see ``CLOCK_EVENT_REASONS``), except ``gpu_idle``: the edges of a window come right
      after a synchronize, when the GPU may already be idle. ``slowed`` is true when one of
      them is a power, thermal or board limit (``SLOWING_REASONS``).
    * ``reason``: why some or all of the above are None.
    """

    gpu_index: int | None
    other_pids: tuple[int, ...] | None
    sm_clock_mhz: int | None
    max_sm_clock_mhz: int | None
    clock_reasons: tuple[str, ...] | None
    reason: str | None = None

    @property
    def clock_ratio(self) -> float | None:
        """SM clock over its maximum (1.0: full speed), None when either is unknown."""
        if not self.sm_clock_mhz or not self.max_sm_clock_mhz:
            return None
        return self.sm_clock_mhz / self.max_sm_clock_mhz

    @property
    def slowed(self) -> bool | None:
        """Whether a power, thermal or board limit held the clock down, None when unknown."""
        if self.clock_reasons is None:
            return None
        return any(name in SLOWING_REASONS for name in self.clock_reasons)

    def as_dict(self) -> dict[str, Any]:
        """The fields plus ``clock_ratio`` and ``slowed``, JSON-ready (tuples become lists)."""
        values = {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}
        return {**values, "clock_ratio": self.clock_ratio, "slowed": self.slowed}


@dataclass
class _Sample:
    pids: set[int] | None = None
    sm_clock_mhz: int | None = None
    reasons: int | None = None
    problems: list[str] = field(default_factory=list)


class GpuContentionProbe:
    """``start()``, the timed calls, ``stop()`` -> ``GpuContention`` of ``cuda:<cuda_index>``.

    ``nvml`` replaces the ``pynvml`` module (tests pass a fake); ``own_pid`` defaults to
    this process.
    """

    def __init__(
        self, cuda_index: int = 0, *, nvml: Any | None = None, own_pid: int | None = None
    ) -> None:
        self._device, self.reason = open_device(cuda_index, nvml)
        self._own_pid = os.getpid() if own_pid is None else own_pid
        self._max_clock: int | None = None
        self._first: _Sample | None = None
        if self._device is not None:
            nvml = self._device.nvml
            try:
                self._max_clock = int(
                    nvml.nvmlDeviceGetMaxClockInfo(self._device.handle, nvml.NVML_CLOCK_SM)
                )
            except nvml.NVMLError:
                self._max_clock = None

    def start(self) -> None:
        """Sample the GPU at the start of the window."""
        self._first = self._sample()

    def stop(self) -> GpuContention:
        """Sample it again and combine both samples."""
        if self._first is None:
            raise RuntimeError("GpuContentionProbe.stop() without start()")
        first, second = self._first, self._sample()
        self._first = None
        if self._device is None:
            return GpuContention(None, None, None, None, None, self.reason)
        pids = None
        if first.pids is not None and second.pids is not None:
            pids = tuple(sorted((first.pids | second.pids) - {self._own_pid}))
        clocks = [c for c in (first.sm_clock_mhz, second.sm_clock_mhz) if c is not None]
        reasons = None
        if first.reasons is not None and second.reasons is not None:
            reasons = _reason_names((first.reasons | second.reasons) & ~0x1)
        problems = list(dict.fromkeys(first.problems + second.problems))
        return GpuContention(
            gpu_index=self._device.index,
            other_pids=pids,
            sm_clock_mhz=min(clocks) if clocks else None,
            max_sm_clock_mhz=self._max_clock,
            clock_reasons=reasons,
            reason="; ".join(problems) or None,
        )

    def _sample(self) -> _Sample:
        sample = _Sample()
        if self._device is None:
            return sample
        nvml, handle = self._device.nvml, self._device.handle
        try:
            sample.pids = {
                process.pid
                for listing in (
                    nvml.nvmlDeviceGetComputeRunningProcesses,
                    nvml.nvmlDeviceGetGraphicsRunningProcesses,
                )
                for process in listing(handle)
            }
        except nvml.NVMLError as error:
            sample.problems.append(f"process list unreadable: {error}")
        try:
            sample.sm_clock_mhz = int(nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))
        except nvml.NVMLError as error:
            sample.problems.append(f"SM clock unreadable: {error}")
        reasons = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )
        if reasons is None:
            sample.problems.append("this pynvml has no clock event reasons")
            return sample
        try:
            sample.reasons = int(reasons(handle))
        except nvml.NVMLError as error:
            sample.problems.append(f"clock event reasons unreadable: {error}")
        return sample


def _reason_names(mask: int) -> tuple[str, ...]:
    names = [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]
    unknown = mask & ~sum(CLOCK_EVENT_REASONS)
    return tuple(names + ([f"unknown_{unknown:#x}"] if unknown else []))
