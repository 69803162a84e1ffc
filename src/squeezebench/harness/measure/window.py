"""One timing window: a batch size timed once in one round, and the conditions it ran under.

A window is warm-up, then timed repetitions (:func:`~squeezebench.harness.measure.latency.
time_calls`) bracketed by a :class:`ConditionProbe` that reads what else used our cores or
GPU and the energy counters. A contended window is timed again after a pause, as the spec's
``benchmark.contention`` says; a window still contended after the retries is kept and marked,
never passed off as a clean measurement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from squeezebench.harness.measure.latency import DeviceTimer, time_calls
from squeezebench.harness.measure.memory import PeakMemory
from squeezebench.spec.models import BenchmarkSpec


@dataclass
class ConditionReading:
    """What a probe saw over the timed repetitions of one window.

    ``other_cpu_cores`` and ``steal_cores`` are in cores' worth (0.9: another process kept
    one core 90% busy); ``energy_joules`` covers ``calls`` timed repetitions.
    """

    other_cpu_cores: float | None = None
    steal_cores: float | None = None
    gpu_other_processes: int | None = None
    gpu_throttle: str | None = None
    energy_joules: float | None = None
    energy_source: str | None = None
    energy_reason: str | None = None
    calls: int = 0

    def contended(self, threshold: float) -> bool:
        """Whether others used more than ``threshold`` cores, or shared the GPU."""
        busy = (self.other_cpu_cores or 0.0) + (self.steal_cores or 0.0)
        return busy > threshold or bool(self.gpu_other_processes)


class ConditionProbe(Protocol):
    """Brackets the timed repetitions of a window (a ``TimedSpan``) and says what it saw."""

    def start(self) -> None:
        """The timed repetitions start."""

    def stop(self, calls: int) -> None:
        """They ended after ``calls`` repetitions."""

    def reading(self) -> ConditionReading:
        """What was seen between the last ``start`` and ``stop``."""


@dataclass
class Window:
    """A batch size timed in one round: samples, conditions, retries and peak memory."""

    batch_size: int
    samples_ms: list[float]
    conditions: ConditionReading = field(default_factory=ConditionReading)
    contended: bool = False
    retries: int = 0
    peak_memory_bytes: int | None = None
    notes: list[str] = field(default_factory=list)  # what the runtime chose (Runner.notes)


class RetryBudget:
    """Re-measurements of contended windows left in one timing round (one process).

    A budget per round rather than per window: on a machine that stays busy, the first
    windows spend it and the rest are measured once and marked, so a busy machine costs a
    bounded amount of time instead of multiplying every window.
    """

    def __init__(self, retries: int) -> None:
        self.left = retries

    def take(self) -> bool:
        """Use one re-measurement if any is left."""
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def measure_window(
    call: Callable[[], object],
    synchronize: Callable[[], None],
    batch_size: int,
    settings: BenchmarkSpec,
    probe: ConditionProbe,
    timer: DeviceTimer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    budget: RetryBudget | None = None,
) -> Window:
    """Time one window; re-time it while contended, as ``settings.contention`` allows
    (``budget``: the round's re-measurements left; a fresh one per window without it)."""
    contention = settings.contention
    budget = budget or RetryBudget(contention.retries)
    retries = 0
    while True:
        with PeakMemory() as peak:
            stats = time_calls(
                call,
                synchronize,
                warmup_seconds=settings.warmup_seconds,
                min_repeats=settings.min_repeats,
                min_seconds=settings.min_seconds,
                timer=timer,
                span=probe,
            )
        reading = probe.reading()
        contended = reading.contended(contention.threshold)
        if contended and contention.on_contention == "retry" and budget.take():
            retries += 1
            sleep(contention.wait_seconds)
            continue
        return Window(batch_size, stats.samples_ms, reading, contended, retries, peak.growth_bytes)
