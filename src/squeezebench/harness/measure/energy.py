"""Energy of a latency window, from hardware counters only: RAPL on CPU, NVML on CUDA.

``EnergyMeter.start()`` and ``stop()`` bracket the timed calls; ``stop`` returns an
``EnergyReading``: the joules the *whole device* consumed between the two reads (every CPU
package, or the whole GPU), the counter it came from, and the window length. That is not only
our process: idle power, the harness and any other process on the same package or GPU are in
it, so on a shared machine the figure is an upper bound for our work. Where no counter can be
read, ``joules`` is None and ``reason`` says why. Nothing is ever estimated (no TDP times time).

``energy_per_inference`` turns a reading and the number of timed calls into joules per batch
and per sample.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from squeezebench.harness.measure.nvml_device import open_device

POWERCAP = Path("/sys/class/powercap")
# top-level package zones only: subzones (intel-rapl:0:0 core, uncore, dram) are parts of
# or beside them, and intel-rapl-mmio:N repeats package N through another interface
_PACKAGE_ZONE = re.compile(r"(intel|amd)-rapl:\d+")
NOT_READABLE = "energy_uj not readable (root only since Linux 5.10 and its stable backports)"


@dataclass(frozen=True)
class EnergyReading:
    """Joules consumed by the whole device during one window, or None and why.

    ``source`` is ``"rapl:<zone names>"`` (the sum over those CPU package domains; DRAM and
    the platform domain ``psys`` are not included) or ``"nvml:<NVML GPU index>"``.
    ``seconds`` is the window's wall-clock length, ``joules / seconds`` its mean power.
    """

    joules: float | None
    source: str | None
    reason: str | None
    seconds: float


@dataclass(frozen=True)
class EnergyPerInference:
    """``joules`` of a reading spread over the timed calls: per batch and per input sample."""

    joules_per_batch: float | None
    joules_per_sample: float | None
    source: str | None
    reason: str | None


def energy_per_inference(reading: EnergyReading, calls: int, batch_size: int) -> EnergyPerInference:
    """Joules per call (one batch) and per sample, when ``calls`` calls ran inside the window."""
    if calls < 1 or batch_size < 1:
        raise ValueError(f"need at least one call and one sample, got {calls=} {batch_size=}")
    if reading.joules is None:
        return EnergyPerInference(None, None, reading.source, reading.reason)
    per_batch = reading.joules / calls
    return EnergyPerInference(per_batch, per_batch / batch_size, reading.source, None)


class _Counter(Protocol):
    source: str

    def read(self) -> list[int]: ...

    def joules(self, first: list[int], second: list[int]) -> float: ...


@dataclass(frozen=True)
class _RaplZone:
    energy_file: Path
    name: str
    max_range_uj: int


class _RaplCounters:
    """The package zones' ``energy_uj`` (microjoules, wrapping after ``max_energy_range_uj``)."""

    def __init__(self, zones: list[_RaplZone]) -> None:
        self.zones = zones
        self.source = "rapl:" + ",".join(zone.name for zone in zones)

    def read(self) -> list[int]:
        return [int(zone.energy_file.read_text()) for zone in self.zones]

    def joules(self, first: list[int], second: list[int]) -> float:
        # a counter below its start value wrapped once (more wraps cannot be seen: at 200 W a
        # typical 262 kJ range takes over 20 minutes, far longer than a latency window)
        microjoules = sum(
            (end - start) % (zone.max_range_uj + 1)
            for zone, start, end in zip(self.zones, first, second, strict=True)
        )
        return microjoules / 1e6


class _NvmlCounter:
    """``nvmlDeviceGetTotalEnergyConsumption``: millijoules since the driver was loaded."""

    def __init__(self, nvml: Any, handle: Any, index: int) -> None:
        self.nvml, self.handle = nvml, handle
        self.source = f"nvml:{index}"

    def read(self) -> list[int]:
        return [int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))]

    def joules(self, first: list[int], second: list[int]) -> float:
        if second[0] < first[0]:
            raise ValueError("the NVML energy counter went backwards (driver reloaded?)")
        return (second[0] - first[0]) / 1e3


def rapl_counters(powercap_root: Path = POWERCAP) -> tuple[_RaplCounters | None, str | None]:
    """The readable RAPL package counters under ``powercap_root``, or None and why."""
    zones, seen = [], set()
    folders = sorted(powercap_root.glob("*-rapl:*")) if powercap_root.is_dir() else []
    for folder in folders:
        if not _PACKAGE_ZONE.fullmatch(folder.name):
            continue
        try:
            name = (folder / "name").read_text().strip()
            max_range = int((folder / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            continue
        if not name.startswith("package") or name in seen or max_range <= 0:
            continue  # psys overlaps the packages; one name twice is one package twice
        seen.add(name)
        zones.append(_RaplZone(folder / "energy_uj", name, max_range))
    if not zones:
        return None, f"no RAPL counters under {powercap_root} (common on VMs)"
    counters = _RaplCounters(zones)
    try:
        counters.read()
    except PermissionError:
        return None, NOT_READABLE
    except (OSError, ValueError) as error:
        return None, f"energy_uj unreadable: {error}"
    return counters, None


class EnergyMeter:
    """Brackets one window: ``start()``, the timed calls, ``stop()`` -> ``EnergyReading``.

    Build it with ``for_device("cpu" | "cuda" | "cuda:N")``, ``for_cpu()`` or ``for_gpu()``;
    a meter without a counter still works and returns readings with ``joules=None`` and the
    reason. The counters are read once at ``start`` and once at ``stop``.
    """

    def __init__(self, counter: _Counter | None, reason: str | None) -> None:
        self._counter, self.reason = counter, reason
        self._first: list[int] | None = None
        self._started: float | None = None
        self._failure: str | None = None

    @property
    def source(self) -> str | None:
        """Where readings come from (``rapl:...`` or ``nvml:N``), None without a counter."""
        return self._counter.source if self._counter else None

    @classmethod
    def for_cpu(cls, powercap_root: Path = POWERCAP) -> EnergyMeter:
        """A meter over every RAPL package domain under ``powercap_root``."""
        return cls(*rapl_counters(powercap_root))

    @classmethod
    def for_gpu(cls, cuda_index: int = 0, nvml: Any | None = None) -> EnergyMeter:
        """A meter on the GPU behind ``cuda:<cuda_index>`` (``nvml`` replaces ``pynvml``)."""
        device, problem = open_device(cuda_index, nvml)
        if device is None:
            return cls(None, problem)
        counter = _NvmlCounter(device.nvml, device.handle, device.index)
        try:
            counter.read()
        except device.nvml.NVMLError as error:
            return cls(None, f"no NVML energy counter on GPU {device.index}: {error}")
        return cls(counter, None)

    @classmethod
    def for_device(
        cls, device: str, *, powercap_root: Path = POWERCAP, nvml: Any | None = None
    ) -> EnergyMeter:
        """The meter for a target device string: ``cpu``, ``cuda`` or ``cuda:N``."""
        kind, _, index = device.partition(":")
        if kind == "cpu":
            return cls.for_cpu(powercap_root)
        if kind == "cuda" and (not index or index.isdigit()):
            return cls.for_gpu(int(index or 0), nvml)
        return cls(None, f"no energy counter known for device {device!r}")

    def start(self) -> None:
        """Read the counters at the start of the window."""
        self._failure, self._first = None, None
        if self._counter is not None:
            try:
                self._first = self._counter.read()
            except Exception as error:  # an unreadable counter never costs the measurement
                self._failure = f"{self._counter.source} unreadable at start: {error}"
        self._started = time.perf_counter()

    def stop(self) -> EnergyReading:
        """Read the counters again: the joules used since ``start``, or None and why."""
        if self._started is None:
            raise RuntimeError("EnergyMeter.stop() without start()")
        seconds = time.perf_counter() - self._started
        self._started = None
        if self._counter is None:
            return EnergyReading(None, None, self.reason, seconds)
        if self._first is None:
            return EnergyReading(None, self._counter.source, self._failure, seconds)
        source = self._counter.source
        try:
            second = self._counter.read()
        except Exception as error:
            return EnergyReading(None, source, f"{source} unreadable at stop: {error}", seconds)
        try:
            joules = self._counter.joules(self._first, second)
        except ValueError as error:
            return EnergyReading(None, source, str(error), seconds)
        return EnergyReading(joules, source, None, seconds)
