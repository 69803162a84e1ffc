from __future__ import annotations

from typing import Any

import numpy as np

from squeezebench.harness.compress import CompressedArtifact
from squeezebench.harness.measure.rounds import condition_columns, latency_columns
from squeezebench.harness.measure.window import ConditionReading
from squeezebench.harness.measure_job import measure_on_target
from squeezebench.plugins.contracts import Runner
from squeezebench.spec.models import BenchmarkSpec


class ConstantTimer:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def elapsed_ms(self) -> float:
        return 7.0


class TimedRunner(Runner):
    """Doubles its input; its device timer says every call took 7 ms."""

    def place(self, batch: np.ndarray) -> Any:
        return batch

    def run(self, placed: Any) -> Any:
        return placed * 2

    def fetch(self, output: Any) -> np.ndarray:
        return output

    def artifact_bytes(self) -> bytes:
        return b"artifact"

    def timer(self) -> ConstantTimer:
        return ConstantTimer()


class QuietProbe:
    """A condition probe that sees an idle machine."""

    def start(self) -> None:
        self.calls = 0

    def stop(self, calls: int) -> None:
        self.calls = calls

    def reading(self) -> ConditionReading:
        return ConditionReading(other_cpu_cores=0.0, calls=self.calls)


def test_latency_windows_come_from_the_runners_timer() -> None:
    compressed = CompressedArtifact(None, "test", seconds=0.0, simulated=False)
    settings = BenchmarkSpec(batch_sizes=[1, 4], warmup_seconds=0, min_repeats=3, min_seconds=0)
    measured = measure_on_target(
        compressed, TimedRunner(), None, np.ones((1, 3), np.float32), settings, QuietProbe()
    )
    assert [w.batch_size for w in measured.windows] == [1, 4]
    assert [w.samples_ms for w in measured.windows] == [[7.0] * 3, [7.0] * 3]
    assert not any(w.contended for w in measured.windows)
    columns = latency_columns([measured.windows[1]], settings.noise_threshold)
    assert columns["latency_p50_ms"] == 7.0
    assert columns["throughput_per_s"] == 4 / 7e-3


def test_runners_time_with_the_host_clock_by_default() -> None:
    assert Runner().timer() is None
    assert Runner().lazy_prepare_seconds() == 0.0


class NotingRunner(TimedRunner):
    """Notes the batch size of every run (what a runtime's dispatch would report)."""

    def __init__(self) -> None:
        self.pending: list[str] = []

    def run(self, placed: Any) -> Any:
        note = f"batch {len(placed)}"
        if note not in self.pending:
            self.pending.append(note)
        return super().run(placed)

    def notes(self) -> list[str]:
        notes, self.pending = self.pending, []
        return notes


def test_runtime_notes_are_stored_per_batch_size() -> None:
    compressed = CompressedArtifact(None, "test", seconds=0.0, simulated=False)
    settings = BenchmarkSpec(batch_sizes=[1, 4], warmup_seconds=0, min_repeats=2, min_seconds=0)
    runner = NotingRunner()
    runner.pending = ["from the accuracy pass"]  # discarded: not about a batch size
    example = np.ones((1, 3), np.float32)
    measured = measure_on_target(compressed, runner, None, example, settings, QuietProbe())
    assert [w.notes for w in measured.windows] == [["batch 1"], ["batch 4"]]
    rounds = [measured.windows[1], measured.windows[1]]  # the same notes in two rounds: once
    assert condition_columns(rounds)["runtime_notes"] == '["batch 4"]'
    silent = measure_on_target(compressed, TimedRunner(), None, example, settings, QuietProbe())
    assert [w.notes for w in silent.windows] == [[], []]
    assert condition_columns(silent.windows[:1])["runtime_notes"] is None
    assert Runner().notes() == []
