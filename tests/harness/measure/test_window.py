from __future__ import annotations

import pytest

from squeezebench.harness.measure.window import ConditionReading, RetryBudget, measure_window
from squeezebench.spec.models import BenchmarkSpec


class ScriptedProbe:
    """Reports the given other-core usage for each successive window."""

    def __init__(self, others: list[float]) -> None:
        self.others = list(others)
        self.windows = 0
        self.calls = 0

    def start(self) -> None:
        self.windows += 1

    def stop(self, calls: int) -> None:
        self.calls = calls

    def reading(self) -> ConditionReading:
        return ConditionReading(other_cpu_cores=self.others.pop(0), calls=self.calls)


def _settings(**contention) -> BenchmarkSpec:
    return BenchmarkSpec(
        warmup_seconds=0, min_repeats=3, min_seconds=0, contention=contention or {}
    )


def _window(probe, settings, sleeps):
    return measure_window(lambda: None, lambda: None, 4, settings, probe, sleep=sleeps.append)


def test_a_quiet_window_is_kept_at_once() -> None:
    probe, sleeps = ScriptedProbe([0.01]), []
    window = _window(probe, _settings(), sleeps)
    assert (window.contended, window.retries, probe.windows, sleeps) == (False, 0, 1, [])
    assert window.batch_size == 4 and len(window.samples_ms) == 3
    assert window.conditions.calls == 3


def test_a_contended_window_is_retried_until_clean() -> None:
    probe, sleeps = ScriptedProbe([0.95, 0.9, 0.02]), []
    window = _window(probe, _settings(wait_seconds=0.5), sleeps)
    assert not window.contended
    assert window.retries == 2 and probe.windows == 3 and sleeps == [0.5, 0.5]
    assert window.conditions.other_cpu_cores == 0.02


def test_retries_are_bounded_and_the_row_stays_marked() -> None:
    probe, sleeps = ScriptedProbe([1.0] * 10), []
    window = _window(probe, _settings(retries=2), sleeps)
    assert window.contended and window.retries == 2 and probe.windows == 3


@pytest.mark.parametrize("policy", ["warn", "fail"])
def test_warn_and_fail_keep_the_first_measurement_marked(policy: str) -> None:
    probe, sleeps = ScriptedProbe([1.0, 0.0]), []
    window = _window(probe, _settings(on_contention=policy), sleeps)
    assert window.contended and window.retries == 0 and probe.windows == 1


def test_threshold_and_steal_and_gpu_sharing_count() -> None:
    assert not ConditionReading(other_cpu_cores=0.2).contended(0.25)
    assert ConditionReading(other_cpu_cores=0.2, steal_cores=0.1).contended(0.25)
    assert ConditionReading(other_cpu_cores=0.0, gpu_other_processes=1).contended(0.25)
    assert not ConditionReading().contended(0.25)  # nothing measured: nothing to flag


def test_a_round_shares_one_retry_budget_across_its_windows() -> None:
    budget = RetryBudget(2)
    probe, sleeps = ScriptedProbe([1.0] * 10), []
    settings = _settings()
    first = measure_window(
        lambda: None, lambda: None, 1, settings, probe, sleep=sleeps.append, budget=budget
    )
    second = measure_window(
        lambda: None, lambda: None, 8, settings, probe, sleep=sleeps.append, budget=budget
    )
    assert (first.retries, second.retries) == (2, 0)
    assert first.contended and second.contended and probe.windows == 4
