"""Is anything else using our cores while we time? Thread checks and a CPU contention probe.

A latency sample is only worth something when the cores it ran on were ours. Two checks:

* the CPUs this process may run on (``cpu_cores_available``, its affinity mask) and a cgroup v2
  CPU quota (``cgroup_cpu_quota``), against which
  :func:`~squeezebench.harness.measure.conditions.thread_problem` checks the threads
  requested: more threads than cores make OpenMP-style thread pools wait for descheduled
  siblings, which can turn a 0.07 ms call into a 40 ms one;
* around each timing window, ``CpuContentionProbe`` measures how much CPU other processes used
  on those CPUs (``/proc/stat`` minus our own process tree), and how much the hypervisor took.

The GPU counterpart (``GpuContentionProbe``, through NVML) lives in ``gpu_contention``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from squeezebench.harness.measure.gpu_contention import GpuContention, GpuContentionProbe
from squeezebench.harness.measure.own_cpu_time import clock_ticks, own_tree_cpu_seconds

__all__ = [
    "CpuContention",
    "CpuContentionProbe",
    "GpuContention",
    "GpuContentionProbe",
    "cgroup_cpu_quota",
    "cpu_cores_available",
]

PROC = Path("/proc")
CGROUP = Path("/sys/fs/cgroup")
# /proc/stat per-CPU columns: user nice system idle iowait irq softirq steal guest guest_nice
_BUSY_COLUMNS = (0, 1, 2, 5, 6)  # guest time is already inside user and nice: not added again
_STEAL_COLUMN = 7


def cpu_cores_available() -> frozenset[int]:
    """The ids of the CPUs this process may run on (its affinity mask).

    Where ``os.sched_getaffinity`` does not exist (macOS, Windows), every CPU the machine has:
    ``0 .. os.cpu_count() - 1``.
    """
    try:
        return frozenset(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return frozenset(range(os.cpu_count() or 1))


def cgroup_cpu_quota(cgroup_root: Path = CGROUP, proc_root: Path = PROC) -> float | None:
    """The cgroup v2 CPU limit of this process in cores (``cpu.max`` quota / period), or None.

    The smallest limit on the path from this process's cgroup up to the root counts (a
    container started with ``--cpus=1.5`` gives 1.5). None when no limit is set, or on
    cgroup v1 and systems without cgroups.
    """
    try:
        lines = (proc_root / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    relative = next((line[3:] for line in lines if line.startswith("0::")), None)
    if relative is None:
        return None
    folder, limits = cgroup_root / relative.lstrip("/"), []
    while True:
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            if quota != "max":
                limits.append(int(quota) / int(period))
        except (OSError, ValueError):
            pass
        if folder == cgroup_root or cgroup_root not in folder.parents:
            break
        folder = folder.parent
    return min(limits) if limits else None


@dataclass(frozen=True)
class CpuContention:
    """What shared the watched CPUs during one window; every rate is in cores' worth.

    A rate of 1.0 means one CPU's full time over the window (0.93: one other core almost
    fully busy; 2.0: two cores). ``cpus`` are the CPUs watched (this process's affinity).

    * ``other_cpu_cores``: busy time of the watched CPUs (user, nice, system, irq and softirq
      jiffies in ``/proc/stat``, which include guest time) minus the CPU time of our own
      process tree (this process, all its threads, its reaped children, and its live children
      where the kernel lists them), divided by the window. Interrupt handling counts as other:
      it took our cores too. Floored at 0. A process this one started counts as ours (so a
      test's CPU burner must be started outside our tree to be seen as other).
    * ``steal_cores``: steal time of the watched CPUs over the window: time the hypervisor ran
      something else while our virtual CPUs wanted to run. It is not in ``other_cpu_cores``
      (no process inside the VM used it), but it slows the timed calls all the same; None when
      the kernel reports no steal column.
    * ``own_cpu_cores``: our process tree's CPU time over the window (e.g. 2.0 for a 2-thread
      runner keeping both cores busy).
    * ``tick_cores``: the resolution: ``/proc/stat`` counts whole clock ticks (1/100 s on
      most kernels) per CPU, so rates below about this value are noise.

    When ``/proc/stat`` cannot be read (macOS, Windows) the rates are None and ``reason``
    says why.
    """

    other_cpu_cores: float | None
    steal_cores: float | None
    own_cpu_cores: float | None
    tick_cores: float | None
    cpus: tuple[int, ...]
    seconds: float
    reason: str | None = None

    @property
    def interference_cores(self) -> float | None:
        """``other_cpu_cores`` plus ``steal_cores`` (steal counted as 0 when not reported)."""
        if self.other_cpu_cores is None:
            return None
        return self.other_cpu_cores + (self.steal_cores or 0.0)


@dataclass(frozen=True)
class _CpuTimes:
    busy_ticks: int
    steal_ticks: int | None


class CpuContentionProbe:
    """``start()``, the timed calls, ``stop()`` -> ``CpuContention`` of the watched CPUs.

    Each of ``start`` and ``stop`` reads ``/proc/stat`` once and our own CPU time (two
    ``getrusage`` calls, plus the ``/proc`` children lists where the kernel has them).
    ``cpus`` defaults to this process's affinity mask; ``proc_root``, ``own_cpu_seconds``,
    ``ticks_per_second`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        cpus: Iterable[int] | None = None,
        *,
        proc_root: Path = PROC,
        own_cpu_seconds: Callable[[], float] | None = None,
        ticks_per_second: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.cpus = tuple(sorted(cpu_cores_available() if cpus is None else set(cpus)))
        self._stat = proc_root / "stat"
        self._own = own_cpu_seconds or (lambda: own_tree_cpu_seconds(proc_root))
        self._hz = ticks_per_second or clock_ticks()
        self._clock = clock
        self._start: tuple[float, float, _CpuTimes | str] | None = None

    def start(self) -> None:
        """Read the counters at the start of the window."""
        self._start = (self._clock(), self._own(), self._read())

    def stop(self) -> CpuContention:
        """Read them again: what others (and the hypervisor) used of our CPUs since ``start``."""
        if self._start is None:
            raise RuntimeError("CpuContentionProbe.stop() without start()")
        started, own_at_start, first = self._start
        self._start = None
        second = self._read() if isinstance(first, _CpuTimes) else first
        own_seconds = self._own() - own_at_start
        seconds = self._clock() - started
        if not isinstance(first, _CpuTimes) or not isinstance(second, _CpuTimes):
            reason = first if isinstance(first, str) else second
            return CpuContention(None, None, None, None, self.cpus, seconds, str(reason))
        if seconds <= 0:
            return CpuContention(None, None, None, None, self.cpus, seconds, "empty window")
        busy = max(0, second.busy_ticks - first.busy_ticks) / self._hz
        steal = None
        if first.steal_ticks is not None and second.steal_ticks is not None:
            steal = max(0, second.steal_ticks - first.steal_ticks) / self._hz / seconds
        return CpuContention(
            other_cpu_cores=max(0.0, busy - own_seconds) / seconds,
            steal_cores=steal,
            own_cpu_cores=own_seconds / seconds,
            tick_cores=len(self.cpus) / self._hz / seconds,
            cpus=self.cpus,
            seconds=seconds,
        )

    def _read(self) -> _CpuTimes | str:
        try:
            text = self._stat.read_text()
        except OSError:
            return f"no {self._stat} on this system: CPU contention not measured"
        wanted, busy, steal, found = set(self.cpus), 0, 0, set()
        has_steal = True
        for line in text.splitlines():
            label, _, rest = line.partition(" ")
            if not label.startswith("cpu") or not label[3:].isdigit():
                continue
            if int(label[3:]) not in wanted:
                continue
            values = [int(value) for value in rest.split()]
            busy += sum(values[column] for column in _BUSY_COLUMNS if column < len(values))
            has_steal = has_steal and len(values) > _STEAL_COLUMN
            steal += values[_STEAL_COLUMN] if len(values) > _STEAL_COLUMN else 0
            found.add(int(label[3:]))
        if found != wanted:
            missing = _ranges(wanted - found)
            return f"{self._stat} has no line for CPU(s) {missing}: CPU contention not measured"
        return _CpuTimes(busy, steal if has_steal else None)


def _ranges(cpus: Iterable[int]) -> str:
    """``0-3,8`` for ``{0, 1, 2, 3, 8}``."""
    spans: list[list[int]] = []
    for cpu in sorted(cpus):
        if spans and cpu == spans[-1][1] + 1:
            spans[-1][1] = cpu
        else:
            spans.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)
