"""The sweep with several jobs in flight, over a fake executor of futures (no cluster)."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from squeezebench.harness.concurrent_sweep import ConcurrentSweep
from squeezebench.harness.dispatch import TaskLost
from squeezebench.harness.jobs import Job
from squeezebench.harness.manifest import RunManifest
from squeezebench.harness.measure.window import ConditionReading, Window
from squeezebench.harness.workspace import JobResult
from squeezebench.results.store import RunStore
from squeezebench.spec.models import BenchmarkSpec, TargetSpec
from squeezebench.spec.resolve import Step, Variant


class _Params:
    def model_dump(self, **_):
        return {}


def _job(name: str, target: str = "torch:cpu", rounds: int = 3) -> Job:
    steps = () if name == "baseline" else (Step("prune.magnitude", _Params()),)
    backend, device = target.split(":")
    return Job(
        f"{name}@{target}",
        "builtin:m",
        None,
        Variant(name, steps, {}),
        TargetSpec(backend=backend, device=device),
        BenchmarkSpec(batch_sizes=[1], rounds=rounds),
        0,
    )


class FakeCluster:
    """Futures completed by a thread, in reverse order of submission (a cluster finishes
    work in any order). ``node`` says where timed work ran; ``lose`` which tasks are lost."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.node = "node-1"
        self.host = "host-1"
        self.lose: set[tuple[str, str]] = set()
        self._batch: list[tuple[Future, Job, str]] = []
        self._lock = threading.Lock()

    def __call__(self, job: Job, mode: str) -> Future:
        future: Future = Future()
        with self._lock:
            self.calls.append((job.variant.name, mode))
            self._batch.append((future, job, mode))
        threading.Timer(0.01, self._flush).start()
        return future

    def _flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, []
        for future, job, mode in reversed(batch):
            if (job.variant.name, mode) in self.lose:
                future.set_exception(TaskLost("lost 3 time(s): NodeDiedError"))
                continue
            factor = 2.0 if job.variant.steps else 1.0
            if mode == "evaluate":
                metrics = {"artifact_bytes": 100, "hostname": "evaluating-host"}
                future.set_result(JobResult("ok", metrics=metrics))
                continue
            windows = [Window(1, [factor] * 3, ConditionReading(other_cpu_cores=0.0))]
            metrics = {"hostname": self.host}
            future.set_result(JobResult("ok", metrics=metrics, windows=windows, node=self.node))


def _sweep(tmp_path, jobs, submit) -> ConcurrentSweep:
    store = RunStore(tmp_path, "run")
    manifest = RunManifest(store, resumed=False)
    manifest.data["jobs"] = {j.job_id: {} for j in jobs}

    class Quiet:
        def run_started(self, jobs): ...
        def job_started(self, job): ...
        def job_finished(self, job, rows): ...

    def identity(job):
        return {"job_id": job.job_id, "variant": job.variant.name, "target": job.target.label}

    return ConcurrentSweep(jobs, submit, store, manifest, Quiet(), identity)


def _run(sweep: ConcurrentSweep) -> list[dict]:
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()
    sweep.drift_check()
    return sweep.finish()


def test_untimed_work_first_then_timed_rounds_and_the_rows_of_one_machine(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a"), _job("baseline", "onnxruntime:cpu")]
    cluster = FakeCluster()
    rows = _run(_sweep(tmp_path, jobs, cluster))
    evaluations = [call for call in cluster.calls if call[1] == "evaluate"]
    assert cluster.calls[:3] == evaluations  # every untimed part is submitted at once
    assert len(cluster.calls) == 3 + 3 * 3 + 2  # 3 rounds per job, 2 drift checks
    assert {row["rounds"] for row in rows} == {3}
    by = {(r["variant"], r["target"]): r for r in rows}
    assert by[("a", "torch:cpu")]["speedup"] == 0.5
    assert by[("a", "torch:cpu")]["hostname"] == "host-1"  # the host that timed it
    assert by[("a", "torch:cpu")]["artifact_bytes"] == 100
    assert {r["status"] for r in rows} == {"ok"} and all(r["drift"] == 0.0 for r in rows)
    assert sorted(p.name for p in (tmp_path / "run").glob("*.parquet")) == sorted(
        f"{job.job_id}.parquet" for job in jobs
    )


def test_a_lost_job_is_not_saved_and_the_run_is_resumable(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    cluster = FakeCluster()
    cluster.lose = {("a", "time")}  # its first round never comes back
    sweep = _sweep(tmp_path, jobs, cluster)
    rows = _run(sweep)
    assert set(sweep.lost) == {"a@torch:cpu"}
    assert sweep.manifest.data["jobs"]["a@torch:cpu"]["status"] == "lost"
    assert not (tmp_path / "run" / "a@torch:cpu.parquet").exists()
    lost = next(r for r in rows if r["variant"] == "a")
    assert lost["status"] == "error" and "--resume runs it again" in lost["reason"]

    again = FakeCluster()
    resumed = _sweep(tmp_path, jobs, again)
    resumed.measure_all(resumed.store.finished_jobs(), retry_errors=False)
    assert resumed.resumed_jobs == 1 and ("baseline", "evaluate") not in again.calls
    resumed.more_rounds()
    resumed.drift_check()
    assert {r["rounds"] for r in resumed.finish()} == {3}


def test_rounds_from_another_host_start_the_job_again_there(tmp_path) -> None:
    jobs = [_job("baseline"), _job("a")]
    cluster = FakeCluster()
    sweep = _sweep(tmp_path, jobs, cluster)
    sweep.measure_all({}, retry_errors=False)
    cluster.node, cluster.host = "node-2", "host-2"  # node 1 died, the target moved
    sweep.more_rounds()
    for record in sweep.records.values():
        assert len(record.rounds) == 3 and record.metrics["hostname"] == "host-2"
    assert sweep.manifest.data["jobs"]["a@torch:cpu"]["moved_hosts"] is True
    assert cluster.calls.count(("a", "time")) == 4  # round 1 again, on the new host


def test_a_drift_check_on_another_host_is_not_compared(tmp_path) -> None:
    jobs = [_job("baseline", rounds=1)]
    cluster = FakeCluster()
    sweep = _sweep(tmp_path, jobs, cluster)
    sweep.measure_all({}, retry_errors=False)
    sweep.more_rounds()
    cluster.node = "node-2"
    sweep.drift_check()
    assert "not comparable" in sweep.manifest.data["drift"]["torch:cpu"]["error"]
