"""The study: samplers, the journal in the run folder, and what a kill leaves behind."""

from __future__ import annotations

import optuna
import pytest

from squeezebench.search.study import build_sampler, journal_path, open_study, repair_journal
from squeezebench.spec import load_spec

from .conftest import SEARCH_HEAD


def load(write_spec, registry, extra: str = "", objectives: str = "minimize artifact_bytes"):
    text = f"""
search:
  objectives: {objectives}
  {extra}
  budget: {{trials: 40}}
  space:
    km:
      steps: [cluster.kmeans]
      params:
        cluster.kmeans.k: {{int: [2, 8]}}
"""
    return load_spec(write_spec(SEARCH_HEAD, text), registry).search


@pytest.mark.parametrize(
    ("extra", "objectives", "kind"),
    [
        ("", "minimize artifact_bytes", optuna.samplers.TPESampler),
        ("", "[minimize artifact_bytes, maximize accuracy]", optuna.samplers.NSGAIISampler),
        (
            "sampler: tpe",
            "[minimize artifact_bytes, maximize accuracy]",
            optuna.samplers.TPESampler,
        ),
        ("sampler: random", "minimize artifact_bytes", optuna.samplers.RandomSampler),
        ("sampler: grid", "minimize artifact_bytes", optuna.samplers.BruteForceSampler),
    ],
)
def test_the_sampler_follows_the_spec(write_spec, registry, extra, objectives, kind) -> None:
    sampler = build_sampler(load(write_spec, registry, extra, objectives), seed=3)
    assert isinstance(sampler, kind)
    if isinstance(sampler, optuna.samplers.NSGAIISampler):
        assert sampler._population_size == 4  # a tenth of 40 trials


def test_the_study_lives_in_the_run_folder_and_resumes(write_spec, registry, tmp_path) -> None:
    search = load(write_spec, registry)
    study = open_study(tmp_path, search)
    trial = study.ask()
    trial.suggest_int("x", 0, 3)
    study.tell(trial, 1.0)
    assert journal_path(tmp_path).is_file()
    again = open_study(tmp_path, search)
    assert [t.number for t in again.trials] == [0]
    assert again.sampler._rng.rng.randint(1 << 30) != build_sampler(
        search, search.seed
    )._rng.rng.randint(
        1 << 30
    )  # seeded with the trials held: the first random draws are not repeated


def test_a_record_cut_short_and_a_stale_lock_are_removed(tmp_path) -> None:
    path = tmp_path / "study.journal"
    path.write_bytes(b'{"op": 1}\n{"op": 2}\n{"op": 3, "cut')
    lock = tmp_path / "study.journal.lock"
    lock.write_text("")
    repair_journal(path)
    assert path.read_bytes() == b'{"op": 1}\n{"op": 2}\n' and not lock.exists()
    repair_journal(path)  # idempotent
    assert path.read_bytes() == b'{"op": 1}\n{"op": 2}\n'
    repair_journal(tmp_path / "missing.journal")
