"""The loop across a kill: every trial number once, a trial in flight retried once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

from squeezebench.harness.dispatch import JobDispatcher
from squeezebench.harness.run import run_spec
from squeezebench.results import MANIFEST_NAME, load
from squeezebench.search import journal_path
from squeezebench.search.loop import INTERRUPTED, RETRY_OF
from squeezebench.spec import load_spec

from .conftest import SEARCH_HEAD

SPEC = """
benchmark: {batch_sizes: [1], warmup_seconds: 0.01, min_repeats: 3, min_seconds: 0.01,
            rounds: 1, drift_check: false}
search:
  objectives: minimize shipped_bytes
  constraints: [accuracy_delta >= -1.0 pp]
  budget: {trials: 7}
  space:
    km:
      steps: [cluster.kmeans]
      params:
        cluster.kmeans.k: {int: [2, 64]}
        cluster.kmeans.iterations: {int: [5, 25]}
"""


def study_of(directory) -> optuna.Study:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal_path(directory)))
    )
    return optuna.load_study(study_name="search", storage=storage)


def check_each_trial_once(directory, budget: int) -> optuna.Study:
    study = study_of(directory)
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state in (states.COMPLETE, states.FAIL) for t in trials)
    counted = [t for t in trials if not t.user_attrs.get(INTERRUPTED)]
    assert len(counted) == budget
    rows = load(directory).query("trial == trial")
    assert rows["trial"].is_unique
    assert set(rows["trial"].astype(int)) <= {t.number for t in counted}
    return study


def test_a_trial_stopped_in_flight_is_failed_and_asked_again_once(
    write_spec, registry, tmp_path, monkeypatch
) -> None:
    spec = load_spec(write_spec(SEARCH_HEAD, SPEC), registry)
    real_submit = JobDispatcher.submit
    calls = []

    def stopped_at_the_fourth(self, job, mode):
        calls.append(job.variant.name)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C while the fourth trial runs
        return real_submit(self, job, mode)

    monkeypatch.setattr(JobDispatcher, "submit", stopped_at_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        run_spec(spec, registry, tmp_path / "out", isolate=False)
    monkeypatch.setattr(JobDispatcher, "submit", real_submit)
    (directory,) = (tmp_path / "out").iterdir()
    left = study_of(directory).get_trials(deepcopy=False)
    assert left[-1].state == optuna.trial.TrialState.RUNNING

    outcome = run_spec(spec, registry, tmp_path / "out", isolate=False, resume=True)
    assert outcome.directory == directory
    study = check_each_trial_once(directory, budget=7)
    interrupted = [t for t in study.trials if t.user_attrs.get(INTERRUPTED)]
    (lost,) = interrupted
    (retry,) = [t for t in study.trials if t.user_attrs.get(RETRY_OF) == lost.number]
    assert retry.params == lost.params and retry.state == optuna.trial.TrialState.COMPLETE
    assert [s.number for s in outcome.search.summaries] == [
        t.number for t in study.trials if not t.user_attrs.get(INTERRUPTED)
    ]
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    (entry,) = [job for job in manifest["jobs"].values() if job.get("trial") == lost.number]
    assert entry["status"] == "interrupted"


def test_sigkill_mid_search_then_resume_counts_each_trial_once(
    write_spec, registry, tmp_path
) -> None:
    spec = write_spec(SEARCH_HEAD, SPEC)
    output = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "squeezebench", "run", str(spec), "-o", str(output), "-q"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        files = list(output.glob("*/*.parquet"))
        if len(files) >= 3:  # the baseline and two trials
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole run: parent and worker
    process.wait()
    (directory,) = output.iterdir()
    assert len(list(directory.glob("*.parquet"))) < 8, "the search should have been killed mid-way"

    outcome = run_spec(load_spec(spec, registry), registry, output, resume=True)
    assert outcome.directory == directory and outcome.search.answer.trials == 7
    check_each_trial_once(directory, budget=7)
