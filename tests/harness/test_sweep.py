"""The run's phases with a fake executor: round order, rewrites, drift, resume."""

from __future__ import annotations

from typing import Any

import pytest

from squeezebench.harness.job_record import JobRecord
from squeezebench.harness.jobs import Job
from squeezebench.harness.manifest import RunManifest
from squeezebench.harness.measure.window import ConditionReading, Window
from squeezebench.harness.sweep import Sweep
from squeezebench.harness.workspace import JobResult
from squeezebench.results.store import RunStore
from squeezebench.spec.models import BenchmarkSpec, TargetSpec
from squeezebench.spec.resolve import Step, Variant


class _Params:
    def model_dump(self, **_: Any) -> dict:
        return {}


def _job(name: str, rounds: int = 3, drift_check: bool = True) -> Job:
    steps = () if name == "baseline" else (Step("prune.magnitude", _Params()),)
    benchmark = BenchmarkSpec(batch_sizes=[1, 4], rounds=rounds, drift_check=drift_check)
    return Job(
        f"job-{name}",
        "builtin:m",
        None,
        Variant(name, steps, {}),
        TargetSpec(backend="torch"),
        benchmark,
        0,
    )


class FakeExecutor:
    """Each call is 'one process': its latency is ``speed`` ms per batch element, and
    ``speed`` can change over time to simulate a machine that slows down."""

    def __init__(self, speed: float = 1.0, fail: set[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str]] = []
        self.speed = speed
        self.fail = fail

    def __call__(self, job: Job, mode: str) -> JobResult:
        self.calls.append((job.variant.name, mode))
        if job.variant.name in self.fail:
            return JobResult("error", "boom")
        factor = 2.0 if job.variant.steps else 1.0
        windows = [
            Window(b, [self.speed * factor * b] * 3, ConditionReading(other_cpu_cores=0.0))
            for b in job.benchmark.batch_sizes
        ]
        if mode == "time":
            return JobResult("ok", windows=windows)
        return JobResult("ok", metrics={"artifact_bytes": 100}, windows=windows)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def run_started(self, jobs) -> None:
        self.events.append(f"run {len(jobs)}")

    def job_started(self, job) -> None:
        pass

    def job_finished(self, job, rows) -> None:
        self.events.append(f"job {job.variant.name}")

    def rounds_started(self, steps: int) -> None:
        self.events.append(f"rounds {steps}")


def _sweep(tmp_path, jobs, execute, reporter=None) -> Sweep:
    store = RunStore(tmp_path, "run")
    manifest = RunManifest(store, resumed=False)
    manifest.data["jobs"] = {j.job_id: {} for j in jobs}
    return Sweep(
        jobs,
        execute,
        store,
        manifest,
        reporter or Recorder(),
        lambda j: {
            "job_id": j.job_id,
            "variant": j.variant.name,
            "target": j.target.label,
        },
    )


def test_rounds_are_interleaved_in_alternating_order_then_drift_is_checked(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a"), _job("b")]
    execute = FakeExecutor()
    reporter = Recorder()
    sweep = _sweep(tmp_path, jobs, execute, reporter)
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()
    sweep.drift_check()
    rows = sweep.finish()
    assert execute.calls == [
        ("baseline", "measure"),
        ("a", "measure"),
        ("b", "measure"),
        ("b", "time"),
        ("a", "time"),
        ("baseline", "time"),  # round 2, reversed
        ("baseline", "time"),
        ("a", "time"),
        ("b", "time"),  # round 3
        ("baseline", "time"),  # the drift check
    ]
    assert "rounds 7" in reporter.events  # 6 rounds + 1 drift check
    assert {row["rounds"] for row in rows} == {3}
    by = {(r["variant"], r["batch_size"]): r for r in rows}
    assert by[("a", 4)]["latency_p50_ms"] == 8.0 and by[("a", 4)]["speedup"] == 0.5
    assert by[("baseline", 1)]["drift"] == 0.0 and by[("baseline", 1)]["drifted"] is False
    assert sweep.manifest.data["drift"]["torch:cpu"]["b=4"]["change"] == 0.0
    assert all(row["conditions"] is None for row in rows)


def test_a_machine_that_slows_down_marks_every_row_of_the_target(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    execute = FakeExecutor()
    sweep = _sweep(tmp_path, jobs, execute)
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()
    execute.speed = 1.3  # 30% slower by the end of the run
    sweep.drift_check()
    assert execute.calls[-2:] == [("baseline", "time")] * 2  # the re-time confirmed it
    rows = sweep.finish()
    assert all(row["drifted"] for row in rows)
    assert all("changed by +30%" in row["conditions"] for row in rows)


def test_one_slow_drift_window_is_not_a_drift_a_second_re_time_must_agree(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    execute = FakeExecutor()
    sweep = _sweep(tmp_path, jobs, execute)
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()
    speeds = iter([1.36, 1.0])  # a one-off slow window, then the machine as it was

    def once_slow(job, mode):
        execute.speed = next(speeds)
        return execute(job, mode)

    sweep.execute = once_slow
    sweep.drift_check()
    entry = sweep.manifest.data["drift"]["torch:cpu"]
    assert entry["b=4"]["change"] == 0.0 and entry["b=4"]["retimed"] is True
    assert not any(row["drifted"] for row in sweep.finish())


def test_one_round_and_no_drift_check_time_each_job_once(tmp_path) -> None:
    jobs = [_job("baseline", rounds=1, drift_check=False), _job("a", rounds=1, drift_check=False)]
    execute = FakeExecutor()
    sweep = _sweep(tmp_path, jobs, execute)
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()
    sweep.drift_check()
    assert execute.calls == [("baseline", "measure"), ("a", "measure")]
    assert "drift" not in sweep.manifest.data


def test_failed_jobs_get_no_more_rounds_and_a_failed_round_is_an_error(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a"), _job("b")]
    execute = FakeExecutor(fail={"a"})
    sweep = _sweep(tmp_path, jobs, execute)
    sweep.measure_all({}, retry_errors=False)
    execute.fail = {"b"}
    sweep.more_rounds()
    assert ("a", "time") not in execute.calls
    record = sweep.records["job-b"]
    assert record.status == "error" and "timing round 2 failed: boom" in record.reason
    assert execute.calls.count(("b", "time")) == 1  # no round 3 after a failed round 2


def test_every_round_is_on_disk_and_a_resumed_run_times_only_the_missing_ones(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    first = _sweep(tmp_path, jobs, FakeExecutor())
    first.measure_all({}, retry_errors=False)
    schedule = first._round_schedule()
    _, job = schedule[0]  # round 2 of the last job, then stop as if killed
    first.records[job.job_id].add_round(first.execute(job, "time"))
    first._write(job)

    execute = FakeExecutor()
    resumed = _sweep(tmp_path, jobs, execute)
    resumed.measure_all(first.store.finished_jobs(), retry_errors=False)
    assert resumed.resumed_jobs == 2
    assert [len(r.rounds) for r in resumed.records.values()] == [1, 2]
    resumed.more_rounds()
    assert execute.calls == [("baseline", "time"), ("baseline", "time"), ("a", "time")]
    rows = resumed.finish()
    assert {row["rounds"] for row in rows} == {3}


def test_a_saved_job_missing_a_batch_size_is_measured_again_on_resume(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    first = _sweep(tmp_path, jobs, FakeExecutor())
    first.measure_all({}, retry_errors=False)
    finished = first.store.finished_jobs()
    finished["job-a"] = [r for r in finished["job-a"] if r["batch_size"] == 1]  # b=4 lost

    execute = FakeExecutor()
    resumed = _sweep(tmp_path, jobs, execute)
    resumed.measure_all(finished, retry_errors=False)
    assert resumed.resumed_jobs == 1 and execute.calls == [("a", "measure")]
    assert resumed.records["job-a"].measured


def test_started_at_is_taken_before_the_job_runs(tmp_path) -> None:
    events: list[str] = []

    def execute(job: Job, mode: str) -> JobResult:
        events.append(f"execute {job.variant.name}")
        return FakeExecutor()(job, mode)

    sweep = _sweep(tmp_path, [_job("baseline")], execute)
    identity = sweep.identity

    def stamped(job: Job) -> dict:
        events.append(f"identity {job.variant.name}")
        return identity(job)

    sweep.identity = stamped
    sweep.measure_all({}, retry_errors=False)
    assert events == ["identity baseline", "execute baseline"]


def test_a_record_survives_a_round_trip_through_its_rows(tmp_path) -> None:
    job = _job("a")
    result = FakeExecutor()(job, "measure")
    result.windows[0].conditions = ConditionReading(
        other_cpu_cores=0.7, energy_joules=3.0, calls=3, energy_source="rapl:package-0"
    )
    result.windows[0].contended = True
    record = JobRecord.from_result(job, {"job_id": job.job_id, "variant": "a"}, result)
    record.add_round(FakeExecutor(speed=1.5)(job, "time"))
    rows = record.rows()
    rebuilt = JobRecord.from_rows(job, rows, None)
    assert rebuilt.rows() == rows
    assert rows[0]["contended"] is True and "0.70 cores" in rows[0]["conditions"]
    assert rows[0]["energy_j_per_batch"] == pytest.approx(1.0)


def test_on_contention_fail_makes_the_job_an_error() -> None:
    job = _job("a")
    job = Job(
        job.job_id,
        job.model,
        job.dataset,
        job.variant,
        job.target,
        BenchmarkSpec(batch_sizes=[1, 4], contention={"on_contention": "fail"}),
        0,
    )
    result = FakeExecutor()(job, "measure")
    result.windows[1].contended = True
    record = JobRecord.from_result(job, {"job_id": job.job_id}, result)
    assert record.status == "error" and "on_contention: fail" in record.reason


def test_a_contended_drift_check_records_no_drift(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    execute = FakeExecutor()
    sweep = _sweep(tmp_path, jobs, execute)
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()

    def contended_end(job, mode):
        result = execute(job, mode)
        result.windows[0].contended = True  # b=1 re-timed while another process ran
        return result

    sweep.execute = contended_end
    execute.speed = 5.0  # what a busy machine would make of it
    sweep.drift_check()
    rows = {(r["variant"], r["batch_size"]): r for r in sweep.finish()}
    entry = sweep.manifest.data["drift"]["torch:cpu"]
    assert entry["b=1"]["change"] is None and entry["b=1"]["contended"] is True
    assert entry["b=4"]["change"] == 4.0 and not entry["b=4"]["contended"]
    assert rows[("a", 1)].get("drift") is None and rows[("a", 4)]["drift"] == 4.0
