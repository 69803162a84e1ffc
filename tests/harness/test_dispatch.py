from __future__ import annotations

from concurrent.futures import Future

from squeezebench.harness.dispatch import JobDispatcher
from squeezebench.harness.executor import SequentialExecutor, completed
from squeezebench.harness.jobs import Job
from squeezebench.harness.workspace import JobResult
from squeezebench.results.store import RunStore
from squeezebench.spec.models import BenchmarkSpec, TargetSpec
from squeezebench.spec.resolve import Variant


class Recording(SequentialExecutor):
    def __init__(self, result: JobResult) -> None:
        self.result = result
        self.requests = []

    def execute(self, request, timeout=None) -> JobResult:
        self.requests.append((request, timeout))
        return self.result

    def close(self) -> None:
        pass


def _job() -> Job:
    benchmark = BenchmarkSpec(timeout_seconds=60, memory_limit_mb=512)
    return Job(
        "job-1",
        "builtin:m",
        "digits",
        Variant("baseline", (), {}),
        TargetSpec(backend="torch"),
        benchmark,
        0,
    )


def _dispatcher(tmp_path, executor) -> JobDispatcher:
    return JobDispatcher(
        executor,
        RunStore(tmp_path, "run"),
        base_dir=tmp_path,
        fingerprint="f",
        artifact_dir=None,
        trusted=False,
        environment={"SQUEEZEBENCH_X": "1"},
    )


def test_requests_carry_the_runs_shared_settings_and_the_mode(tmp_path) -> None:
    executor = Recording(JobResult("ok"))
    dispatcher = _dispatcher(tmp_path, executor)
    assert dispatcher.execute(_job(), "time").status == "ok"
    ((request, timeout),) = executor.requests
    assert request.mode == "time" and request.model_fingerprint == "f"
    assert request.memory_limit_mb == 512 and timeout == 60
    assert request.environment == {"SQUEEZEBENCH_X": "1"} and request.job["job_id"] == "job-1"
    assert dispatcher.slots == 1


def test_a_traceback_goes_to_the_log_and_the_reason_says_where(tmp_path) -> None:
    failed = JobResult("error", "ValueError: x", details="Traceback...\nValueError: x")
    dispatcher = _dispatcher(tmp_path, Recording(failed))
    future = dispatcher.submit(_job(), "measure")
    assert isinstance(future, Future) and future.done()
    result = future.result()
    assert result.reason == "ValueError: x (see _logs/job-1.log)" and result.details is None
    assert (tmp_path / "run" / "_logs" / "job-1.log").read_text().startswith("Traceback")


def test_completed_futures_are_done() -> None:
    assert completed(3).result() == 3
