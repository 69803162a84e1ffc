from __future__ import annotations

from typing import Any

import numpy as np

from squeezebench.harness.compress import CompressedArtifact
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


def test_latency_rows_come_from_the_runners_timer() -> None:
    compressed = CompressedArtifact(None, "test", seconds=0.0, simulated=False)
    settings = BenchmarkSpec(batch_sizes=[1, 4], warmup_seconds=0, min_repeats=3, min_seconds=0)
    measured = measure_on_target(
        compressed, TimedRunner(), None, np.ones((1, 3), np.float32), settings
    )
    assert [row["latency_p50_ms"] for row in measured.batch_rows] == [7.0, 7.0]
    assert measured.batch_rows[1]["throughput_per_s"] == 4 / 7e-3


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
    measured = measure_on_target(compressed, runner, None, np.ones((1, 3), np.float32), settings)
    assert [row["runtime_notes"] for row in measured.batch_rows] == [
        '["batch 1"]',
        '["batch 4"]',
    ]
    silent = measure_on_target(
        compressed, TimedRunner(), None, np.ones((1, 3), np.float32), settings
    )
    assert [row["runtime_notes"] for row in silent.batch_rows] == [None, None]
    assert Runner().notes() == []
