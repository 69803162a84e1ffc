"""Latency: warm up by time, then repeat until both a minimum count and a minimum time.

Each repetition is timed with the host clock around ``call`` + ``synchronize``, unless the
runner gives a device timer (:meth:`~squeezebench.plugins.contracts.Runner.timer`): then the
device measures each call itself (CUDA events recorded on the runner's stream), and the host
clock only decides when warm-up and timing end.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class TimedSpan(Protocol):
    """Called around the timed repetitions only (after the warm-up): condition probes."""

    def start(self) -> None:
        """The first timed repetition is about to start."""

    def stop(self, calls: int) -> None:
        """The last one ended; ``calls`` repetitions were timed."""


class DeviceTimer(Protocol):
    """Times one call on a device: ``start()``, the call, ``stop()``, then ``elapsed_ms()``.

    ``stop`` blocks until the work queued since ``start`` has finished, so the next
    repetition starts on an idle device; ``elapsed_ms`` is the device time between the two.
    """

    def start(self) -> None:
        """Mark the beginning of the timed call (after the device is idle)."""

    def stop(self) -> None:
        """Mark its end and wait for the device to reach that mark."""

    def elapsed_ms(self) -> float:
        """Milliseconds between the last ``start`` and ``stop``."""


@dataclass(frozen=True)
class LatencyStats:
    """Summary of the timed repetitions of one batch (all in milliseconds)."""

    samples_ms: list[float]
    p50: float
    p90: float
    p99: float
    mean: float
    std: float
    iqr: float

    @property
    def spread(self) -> float:
        """IQR / median: the relative noise of the measurement."""
        return self.iqr / self.p50 if self.p50 > 0 else float("inf")

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> LatencyStats:
        """Percentiles, mean, standard deviation and IQR of ``samples_ms``."""
        values = np.asarray(samples_ms, dtype=np.float64)
        q25, p50, q75, p90, p99 = np.percentile(values, [25, 50, 75, 90, 99])
        return cls(
            samples_ms=list(samples_ms),
            p50=float(p50),
            p90=float(p90),
            p99=float(p99),
            mean=float(values.mean()),
            std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            iqr=float(q75 - q25),
        )


def time_calls(
    call: Callable[[], object],
    synchronize: Callable[[], None],
    *,
    warmup_seconds: float,
    min_repeats: int,
    min_seconds: float,
    clock: Callable[[], int] = time.perf_counter_ns,
    timer: DeviceTimer | None = None,
    span: TimedSpan | None = None,
) -> LatencyStats:
    """Time ``call`` (followed by ``synchronize``) after a warm-up of ``warmup_seconds``.

    At least one warm-up call is always made, so lazy initialisation is never timed.
    Timing stops once ``min_repeats`` calls were timed *and* ``min_seconds`` have passed.
    Python's garbage collector is paused while timing (as ``timeit`` does), after a full
    collection, so that one job does not pay for the garbage of the previous ones.
    With a ``timer``, each sample is what the device timer measured around ``call``; the
    warm-up still ends with ``synchronize`` and ``timer.stop`` waits for the device, so
    every timed call starts on an idle device. ``span`` is told when the timed repetitions
    start and stop (not the warm-up), so that probes of the machine cover exactly them.
    """
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _warm_up(call, synchronize, warmup_seconds, clock)
        if timer is None:

            def one_sample() -> float:
                before = clock()
                call()
                synchronize()
                return (clock() - before) / 1e6

        else:

            def one_sample() -> float:
                timer.start()
                call()
                timer.stop()
                return timer.elapsed_ms()

        if span is not None:
            span.start()
        stats = _samples(one_sample, min_repeats, min_seconds, clock)
        if span is not None:
            span.stop(len(stats.samples_ms))
        return stats
    finally:
        if was_enabled:
            gc.enable()


def _warm_up(
    call: Callable[[], object],
    synchronize: Callable[[], None],
    warmup_seconds: float,
    clock: Callable[[], int],
) -> None:
    warmup_ns = warmup_seconds * 1e9
    start = clock()
    while True:
        call()
        synchronize()
        if clock() - start >= warmup_ns:
            break


def _samples(
    one_sample: Callable[[], float], min_repeats: int, min_seconds: float, clock: Callable[[], int]
) -> LatencyStats:
    """Milliseconds of ``one_sample()`` until ``min_repeats`` and ``min_seconds`` are met."""
    min_ns = min_seconds * 1e9
    samples: list[float] = []
    begin = clock()
    while len(samples) < min_repeats or clock() - begin < min_ns:
        samples.append(one_sample())
    return LatencyStats.from_samples(samples)
