from __future__ import annotations

import gc
import itertools

import pytest

from squeezebench.harness.measure.latency import LatencyStats, time_calls


class FakeClock:
    """A clock that advances by a fixed step every time it is read."""

    def __init__(self, step_ns: int) -> None:
        self.counter = itertools.count(step=step_ns)
        self.last = 0

    def __call__(self) -> int:
        self.last = next(self.counter)
        return self.last


def test_repeats_until_both_minimum_count_and_time() -> None:
    calls: list[int] = []
    clock = FakeClock(1_000_000)  # every read advances 1 ms
    timed_until = []
    stats = time_calls(
        lambda: calls.append(1),
        lambda: timed_until.append(clock.last),
        warmup_seconds=0.0,
        min_repeats=5,
        min_seconds=0.05,
        clock=clock,
    )
    assert len(stats.samples_ms) > 5  # the time condition, not the count, ended it
    first_timed = timed_until[1]  # after the warm-up call
    assert timed_until[-1] - first_timed >= 0.05e9 - 3e6
    assert timed_until[-2] - first_timed < 0.05e9  # and it stopped as soon as it could
    assert len(calls) == len(stats.samples_ms) + 1  # one warm-up call


def test_minimum_count_wins_when_time_is_short() -> None:
    stats = time_calls(
        lambda: None,
        lambda: None,
        warmup_seconds=0.0,
        min_repeats=7,
        min_seconds=0.0,
        clock=FakeClock(10),
    )
    assert len(stats.samples_ms) == 7


def test_synchronize_is_called_after_every_call() -> None:
    events: list[str] = []
    time_calls(
        lambda: events.append("run"),
        lambda: events.append("sync"),
        warmup_seconds=0.0,
        min_repeats=3,
        min_seconds=0.0,
    )
    assert events == ["run", "sync"] * 4


def test_garbage_collector_is_paused_and_restored() -> None:
    seen = []
    time_calls(
        lambda: seen.append(gc.isenabled()),
        lambda: None,
        warmup_seconds=0.0,
        min_repeats=2,
        min_seconds=0.0,
    )
    assert seen and not any(seen)
    assert gc.isenabled()


def test_statistics() -> None:
    stats = LatencyStats.from_samples([1.0, 2.0, 3.0, 4.0, 100.0])
    assert stats.p50 == 3.0
    assert stats.iqr == pytest.approx(2.0)
    assert stats.spread == pytest.approx(2.0 / 3.0)
    assert stats.mean == pytest.approx(22.0)
    assert stats.p99 > stats.p90 > stats.p50


class FakeDeviceTimer:
    """A device timer whose every measurement is 2.5 ms; logs what the loop asks of it."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")

    def elapsed_ms(self) -> float:
        self.events.append("elapsed")
        return 2.5


def test_a_device_timer_measures_every_timed_call() -> None:
    events: list[str] = []
    stats = time_calls(
        lambda: events.append("run"),
        lambda: events.append("sync"),
        warmup_seconds=0.0,
        min_repeats=3,
        min_seconds=0.0,
        clock=FakeClock(10),
        timer=FakeDeviceTimer(events),
    )
    # the warm-up leaves the device idle; then each timed call sits between start and stop
    assert events == ["run", "sync"] + ["start", "run", "stop", "elapsed"] * 3
    assert stats.samples_ms == [2.5, 2.5, 2.5]


def test_the_host_clock_still_ends_device_timing() -> None:
    events: list[str] = []
    stats = time_calls(
        lambda: None,
        lambda: None,
        warmup_seconds=0.0,
        min_repeats=2,
        min_seconds=0.05,
        clock=FakeClock(1_000_000),
        timer=FakeDeviceTimer(events),
    )
    assert len(stats.samples_ms) > 2  # min_seconds on the host clock, not the device sums
