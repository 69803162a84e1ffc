"""The condition probe of a timing window: CPU and GPU contention, and energy.

One :class:`MachineProbe` per job and round brackets each window's timed repetitions
(:class:`~squeezebench.harness.measure.latency.TimedSpan`) with the probes of
:mod:`~squeezebench.harness.measure.contention` (other processes and the hypervisor on our
CPUs), :mod:`~squeezebench.harness.measure.gpu_contention` (other processes on the GPU,
clock throttling; CUDA targets with NVML only) and :mod:`~squeezebench.harness.measure.energy`
(RAPL or NVML counters), and turns what they saw into one
:class:`~squeezebench.harness.measure.window.ConditionReading`.

``/proc/stat`` counts whole clock ticks, so a window shorter than a few ticks per CPU cannot
tell contention from rounding: a window is judged contended only when the other processes'
use exceeds the threshold *plus* the probe's own resolution (``tick_cores``).
"""

from __future__ import annotations

import math

from squeezebench.harness.measure.contention import (
    CpuContentionProbe,
    GpuContentionProbe,
    cgroup_cpu_quota,
)
from squeezebench.harness.measure.contention import (
    cpu_cores_available as _available_cpus,
)
from squeezebench.harness.measure.energy import EnergyMeter
from squeezebench.harness.measure.window import ConditionReading


def cpu_cores_available() -> int:
    """How many CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU
    quota when one is set (rounded down, at least 1: ``--cpus=1.5`` gives 1)."""
    cores = len(_available_cpus())
    quota = cgroup_cpu_quota()
    return cores if quota is None else max(1, min(cores, math.floor(quota)))


def thread_problem(threads: int | None, available: int | None) -> str | None:
    """Why ``threads`` would oversubscribe ``available`` cores (``cpu_cores_available``), or
    None when they fit or either is unknown."""
    if not threads or not available or threads <= available:
        return None
    return (
        f"{threads} threads requested but this process may use {available} CPU(s) (affinity "
        "mask and cgroup CPU quota); threads beyond the cores wait for each other"
    )


class MachineProbe:
    """CPU contention, GPU sharing and throttling, and energy over one window's timed calls."""

    def __init__(self, device: str) -> None:
        kind, _, index = device.partition(":")
        self._cpu = CpuContentionProbe()
        self._gpu = GpuContentionProbe(int(index or 0)) if kind == "cuda" else None
        self._energy = EnergyMeter.for_device(device)
        self._reading = ConditionReading()

    def start(self) -> None:
        """Read every counter at the start of the timed repetitions."""
        self._energy.start()
        if self._gpu is not None:
            self._gpu.start()
        self._cpu.start()

    def stop(self, calls: int) -> None:
        """Read them again after ``calls`` timed repetitions."""
        cpu = self._cpu.stop()
        gpu = self._gpu.stop() if self._gpu is not None else None
        energy = self._energy.stop()
        other = cpu.other_cpu_cores
        if other is not None and cpu.tick_cores is not None:
            other = max(0.0, other - cpu.tick_cores)  # below the resolution is rounding
        self._reading = ConditionReading(
            other_cpu_cores=other,
            steal_cores=cpu.steal_cores,
            gpu_other_processes=None
            if gpu is None or gpu.other_pids is None
            else len(gpu.other_pids),
            gpu_throttle=", ".join(gpu.clock_reasons) if gpu and gpu.clock_reasons else None,
            energy_joules=energy.joules,
            energy_source=energy.source,
            energy_reason=energy.reason,
            calls=calls,
        )

    def reading(self) -> ConditionReading:
        """What the last window saw."""
        return self._reading


def condition_probe(device: str) -> MachineProbe:
    """The probe for a target device (``cpu``, ``cuda``, ``cuda:N``)."""
    return MachineProbe(device)
