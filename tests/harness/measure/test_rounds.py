from __future__ import annotations

import pytest

from squeezebench.harness.measure.rounds import (
    condition_columns,
    contention_note,
    energy_columns,
    latency_columns,
)
from squeezebench.harness.measure.window import ConditionReading, Window


def _window(samples, **conditions) -> Window:
    contended = conditions.pop("contended", False)
    retries = conditions.pop("retries", 0)
    return Window(8, list(samples), ConditionReading(**conditions), contended, retries, 100)


def test_p50_is_the_median_of_round_medians_and_the_interval_their_range() -> None:
    rounds = [_window([1.0, 1.1, 1.2]), _window([2.0, 2.0, 2.0]), _window([1.5, 1.4, 1.6])]
    columns = latency_columns(rounds, noise_threshold=0.1)
    assert columns["latency_round_p50_ms"] == [1.1, 2.0, 1.5]
    assert columns["latency_p50_ms"] == 1.5
    assert (columns["latency_p50_low_ms"], columns["latency_p50_high_ms"]) == (1.1, 2.0)
    assert columns["latency_spread"] == pytest.approx(0.9 / 1.5)
    assert columns["noisy"] is True
    assert columns["rounds"] == 3 and columns["repeats"] == 9
    assert columns["latency_round_repeats"] == [3, 3, 3]
    assert columns["latency_samples_ms"][:3] == [1.0, 1.1, 1.2]  # pooled, in round order
    assert columns["throughput_per_s"] == pytest.approx(8 / 1.5e-3)


def test_one_round_spread_is_the_samples_iqr() -> None:
    columns = latency_columns([_window([1.0, 1.0, 1.0, 1.0, 1.0])], noise_threshold=0.1)
    assert columns["latency_spread"] == 0.0 and columns["noisy"] is False
    assert columns["rounds"] == 1


def test_conditions_take_the_worst_round() -> None:
    rounds = [
        _window([1.0], other_cpu_cores=0.1, steal_cores=0.0),
        _window([1.0], other_cpu_cores=0.9, contended=True, retries=3, gpu_throttle="thermal"),
        _window([1.0], other_cpu_cores=None),
    ]
    columns = condition_columns(rounds)
    assert columns["contended"] is True and columns["other_cpu_cores"] == 0.9
    assert columns["contention_retries"] == 3 and columns["gpu_throttle"] == "thermal"
    assert columns["steal_cores"] == 0.0 and columns["gpu_other_processes"] is None
    note = contention_note(columns, cores=2)
    assert "0.90 cores of our 2" in note and "3 retries" in note


def test_energy_per_batch_divides_joules_by_timed_calls() -> None:
    rounds = [
        _window([1.0], energy_joules=2.0, calls=10, energy_source="rapl:package-0"),
        _window([1.0], energy_joules=4.0, calls=30, energy_source="rapl:package-0"),
    ]
    columns = energy_columns(rounds, batch_size=8)
    assert columns["energy_j_per_batch"] == pytest.approx(6.0 / 40)
    assert columns["energy_j_per_sample"] == pytest.approx(6.0 / 40 / 8)
    assert columns["energy_source"] == "rapl:package-0"


def test_no_energy_counter_gives_the_reason_and_no_number() -> None:
    columns = energy_columns([_window([1.0], energy_reason="no RAPL counters")], batch_size=1)
    assert columns == {"energy_reason": "no RAPL counters"}
