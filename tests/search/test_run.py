"""A search end to end through ``run_spec``: trials as rows, the answer, best.yaml."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future

import optuna
import pytest
import yaml

from squeezebench.harness import run as harness_run
from squeezebench.harness.dispatch import TaskLost
from squeezebench.harness.executor import InlineExecutor
from squeezebench.harness.run import run_spec
from squeezebench.results import MANIFEST_NAME, load
from squeezebench.search import BEST_SPEC, journal_path
from squeezebench.spec import load_spec

from .conftest import SEARCH_HEAD

FAST = """
benchmark: {batch_sizes: [1], warmup_seconds: 0.01, min_repeats: 3, min_seconds: 0.01,
            rounds: 1, drift_check: false, contention: {on_contention: warn}}
"""

SIZE_SEARCH = """
search:
  objectives: minimize shipped_bytes
  constraints: [accuracy_delta >= -1.0 pp]
  budget: {trials: 8}
  seed: 1
  space:
    wo:
      steps: [quantize.weight_only]
      params:
        quantize.weight_only.bits: [2, 4, 8]
    km:
      steps: [cluster.kmeans, encode.zstd]
      params:
        cluster.kmeans.k: {int: [2, 16], log: true}
"""


@pytest.fixture(scope="module")
def size_search(tmp_path_factory, registry):
    """One small search (inline: no workers), shared by the tests that read it."""
    folder = tmp_path_factory.mktemp("size-search")
    spec = folder / "spec.yaml"
    spec.write_text(SEARCH_HEAD + FAST + SIZE_SEARCH)
    resolved = load_spec(spec, registry)
    return resolved, run_spec(resolved, registry, folder / "out", isolate=False)


def test_trials_are_rows_with_their_number_params_and_feasibility(size_search) -> None:
    resolved, outcome = size_search
    frame = load(outcome.directory)
    trials = frame[frame["trial"].notna()]
    answer = outcome.search.answer
    measured = [s for s in outcome.search.summaries if s.same_as is None and s.job_id]
    assert trials["trial"].is_unique and len(trials) == len(measured)
    assert set(trials["search_id"]) == {resolved.search.search_id}
    for summary in measured:
        (line,) = trials[trials["trial"] == summary.number].to_dict("records")
        assert json.loads(line["trial_params"]) == summary.params
        assert line["trial_feasible"] == summary.verdict.feasible
        assert line["variant"] == summary.variant and line["variant"].startswith(
            f"#{summary.number} "
        )
        assert line["latency_p50_ms"] != line["latency_p50_ms"]  # NaN: a size search never times
    assert answer.trials == 8 and answer.found
    feasible = trials[trials["trial_feasible"].astype(bool)]
    shipped = feasible["encoded_bytes"].fillna(feasible["artifact_bytes"])
    assert answer.best[0].verdict.values == [shipped.min()]
    assert (feasible["accuracy_delta"] >= -0.01).all()
    assert outcome.failed_jobs == 0


def test_the_manifest_keeps_the_search_and_its_answer(size_search) -> None:
    _, outcome = size_search
    manifest = json.loads((outcome.directory / MANIFEST_NAME).read_text())
    search = manifest["search"]
    assert search["status"] == "finished" and search["sampler"] == "tpe"
    assert search["constraints"][0]["meaning"].startswith("accuracy_delta at least -1.00 pp")
    assert search["answer"]["best"][0]["trial"] == outcome.search.answer.best[0].number
    assert search["answer"]["lines"] == outcome.search.lines
    assert search["best_spec"] == BEST_SPEC
    trial_jobs = [job for job in manifest["jobs"].values() if "trial" in job]
    assert trial_jobs and {job["status"] for job in trial_jobs} == {"ok"}


def test_best_yaml_is_a_spec_that_measures_the_answer_again(size_search, registry) -> None:
    _, outcome = size_search
    best = outcome.search.answer.best[0]
    path = outcome.directory / BEST_SPEC
    assert outcome.search.best_spec == path
    text = path.read_text()
    assert text.startswith("# The answer of the search in run ")
    again = load_spec(path, registry)
    assert again.search is None
    (variant,) = [v for v in again.variants if v.name != "baseline"]
    assert variant.name == f"trial-{best.number}-{best.params['pipeline']}"
    assert json.loads(variant.steps_json()) == json.loads(best.steps)
    assert yaml.safe_load(text)["benchmark"]["rounds"] == 1


def test_repeated_params_reuse_the_result(write_spec, registry, tmp_path) -> None:
    spec = write_spec(
        SEARCH_HEAD,
        FAST,
        """
        search:
          objectives: minimize artifact_bytes
          sampler: random
          budget: {trials: 6}
          space:
            wo:
              steps: [quantize.weight_only]
              params:
                quantize.weight_only.bits: [4, 8]
        """,
    )
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out", isolate=False)
    summaries = outcome.search.summaries
    repeats = [s for s in summaries if s.same_as is not None]
    assert len(summaries) == 6 and len(repeats) == 6 - len({s.steps for s in summaries})
    assert len(load(outcome.directory).query("trial == trial")) == 6 - len(repeats)
    for repeat in repeats:
        assert repeat.verdict is next(s.verdict for s in summaries if s.number == repeat.same_as)
    # Optuna hears of a repeat as pruned: a repeated value would bias TPE towards repeating
    study = optuna.load_study(
        study_name="search",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(journal_path(outcome.directory)))
        ),
    )
    states = {t.number: t.state for t in study.trials}
    assert {states[r.number] for r in repeats} == {optuna.trial.TrialState.PRUNED}
    assert study.trials[repeats[0].number].user_attrs["same_as"] == repeats[0].same_as


def test_cheap_first_times_only_the_trials_that_pass(write_spec, registry, tmp_path) -> None:
    spec = write_spec(
        SEARCH_HEAD,
        """
        benchmark: {batch_sizes: [1], warmup_seconds: 0.01, min_repeats: 3, min_seconds: 0.01,
                    rounds: 2, drift_check: false}
        search:
          objectives: minimize latency_p50_ms
          constraints: [accuracy_delta >= -1.0 pp]
          sampler: grid
          budget: {trials: 2}
          space:
            wo:
              steps: [quantize.weight_only]
              params:
                quantize.weight_only.bits: [2, 8]
        """,
    )
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out", isolate=False)
    frame = load(outcome.directory).query("trial == trial").set_index("trial_params")
    two = frame.loc[json.dumps({"pipeline": "wo", "quantize.weight_only.bits": 2}, sort_keys=True)]
    eight = frame.loc[
        json.dumps({"pipeline": "wo", "quantize.weight_only.bits": 8}, sort_keys=True)
    ]
    assert not two["trial_feasible"] and two["rounds"] != two["rounds"]  # not timed at all
    assert eight["trial_feasible"] and eight["rounds"] == 2 and eight["latency_p50_ms"] > 0
    assert outcome.search.answer.best[0].verdict.values == [eight["latency_p50_ms"]]


class _TwoSlots(InlineExecutor):
    """An executor that runs two requests at a time, finishing the later one first."""

    slots = 2

    def __init__(self, registry) -> None:
        super().__init__(registry)
        self.pending: list[tuple] = []
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.worker = threading.Thread(target=self._serve, daemon=True)
        self.worker.start()

    def submit(self, request, timeout=None) -> Future:
        future: Future = Future()
        with self.lock:
            self.pending.append((request, future))
            self.most_in_flight = max(self.most_in_flight, len(self.pending))
        return future

    def _serve(self) -> None:
        while True:
            time.sleep(0.05)
            with self.lock:
                job = self.pending.pop() if self.pending else None  # the latest first
            if job is not None:
                request, future = job
                future.set_result(self.execute(request))


def test_trials_run_several_at_once_on_an_executor_with_slots(
    write_spec, registry, tmp_path, monkeypatch
) -> None:
    executors = []

    def two_slots(registry_):
        executors.append(_TwoSlots(registry_))
        return executors[-1]

    monkeypatch.setattr(harness_run, "InlineExecutor", two_slots)
    spec = write_spec(SEARCH_HEAD, FAST, SIZE_SEARCH.replace("trials: 8", "trials: 6"))
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out", isolate=False)
    assert executors[0].most_in_flight == 2
    numbers = [s.number for s in outcome.search.summaries]
    assert numbers == list(range(6)) and outcome.search.answer.found
    frame = load(outcome.directory)
    assert frame.query("trial == trial")["trial"].is_unique


class _LosesTrialOne(InlineExecutor):
    """An executor whose cluster loses every task of trial #1 (a node that keeps dying)."""

    def submit(self, request, timeout=None) -> Future:
        future: Future = Future()
        if request.job["variant"]["name"].startswith("#1 "):
            future.set_exception(TaskLost("node n1 died (retried 2 times)"))
        else:
            future.set_result(self.execute(request, timeout))
        return future


def test_a_trial_the_cluster_lost_fails_without_rows_and_the_search_goes_on(
    write_spec, registry, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(harness_run, "InlineExecutor", _LosesTrialOne)
    spec = write_spec(SEARCH_HEAD, FAST, SIZE_SEARCH.replace("trials: 8", "trials: 4"))
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out", isolate=False)
    lost = next(s for s in outcome.search.summaries if s.number == 1)
    assert lost.verdict.failed and "lost to the infrastructure" in lost.verdict.reason
    assert [s.number for s in outcome.search.summaries] == [0, 1, 2, 3]
    frame = load(outcome.directory)
    assert 1 not in set(frame["trial"].dropna())  # never measured: no rows
    manifest = json.loads((outcome.directory / "_manifest.json").read_text())
    (entry,) = [e for e in manifest["jobs"].values() if e.get("trial") == 1]
    assert entry["status"] == "lost" and "node n1 died" in entry["reason"]
    assert "running" not in {e["status"] for e in manifest["jobs"].values()}


def test_without_a_baseline_on_the_target_there_is_no_search(
    write_spec, registry, tmp_path
) -> None:
    spec = write_spec(
        SEARCH_HEAD.replace(
            "targets: [{backend: torch, device: cpu, options: {threads: 1}}]",
            "targets: [{backend: torch, device: cpu, options: {threads: 1}}, "
            "{backend: torch, device: cuda, name: gpu}]",
        ),
        FAST,
        SIZE_SEARCH.replace("seed: 1", "seed: 1\n  target: gpu"),
    )
    outcome = run_spec(load_spec(spec, registry), registry, tmp_path / "out", isolate=False)
    if outcome.rows[-1]["status"] == "ok":
        pytest.skip("this machine has a CUDA device")
    answer = outcome.search.answer
    assert answer.status == "no baseline" and not answer.found and answer.trials == 0
    assert outcome.search.lines[-1].startswith("no search: the baseline did not measure on gpu")
