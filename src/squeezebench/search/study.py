"""The Optuna study of a search: its sampler and its journal in the run folder.

The study lives in ``<run>/_search/study.journal`` (Optuna's append-only JournalStorage,
each record flushed and fsynced), so ``--resume`` continues the same study after a kill.
The run folder's lock guarantees one writer, so a journal lock left behind by a killed run
is stale and removed, and a last record cut short by the kill is dropped before Optuna reads
the file (appending after it would corrupt the next record).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.spec.search_resolve import ResolvedSearch

SEARCH_DIR = "_search"  # leading underscore: Parquet readers skip it
JOURNAL = "study.journal"
STUDY_NAME = "search"
OPTUNA_HINT = "pip install 'squeezebench[search]'"


def import_optuna() -> Any:
    """Optuna, quietly (one log line per trial would bury the progress), or a UserError."""
    try:
        import optuna
    except ImportError:
        raise UserError(f"a search needs Optuna: {OPTUNA_HINT}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def journal_path(run_directory: Path) -> Path:
    """Where the study of the run in ``run_directory`` is kept."""
    return run_directory / SEARCH_DIR / JOURNAL


def open_study(run_directory: Path, search: ResolvedSearch) -> Any:
    """Create the run's study, or load it when the run is resumed.

    The sampler is seeded with the search's seed plus the number of trials the study holds,
    so a resumed search does not draw its first random trials again, and the same history
    always gives the same next trials.
    """
    optuna = import_optuna()
    path = journal_path(run_directory)
    path.parent.mkdir(exist_ok=True)
    repair_journal(path)
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(path), JournalFileOpenLock(str(path))))
    directions = ["minimize" if o.minimize else "maximize" for o in search.objectives]
    existing = [s.study_name for s in storage.get_all_studies()]
    held = (
        len(storage.get_all_trials(storage.get_study_id_from_name(STUDY_NAME)))
        if (STUDY_NAME in existing)
        else 0
    )
    sampler = build_sampler(search, seed=search.seed + held)
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        study_name=STUDY_NAME,
        directions=directions,
        load_if_exists=True,
    )
    if [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"{path} holds a study with other objectives; start a new run")
    return study


def build_sampler(search: ResolvedSearch, seed: int) -> Any:
    """The sampler the spec asks for (``auto``: TPE for one objective, else NSGA-II)."""
    optuna = import_optuna()
    settings = search.settings
    kind = search.sampler
    seed %= 2**32
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "grid":  # every combination of a conditional space, in a seeded order
        with warnings.catch_warnings():  # "experimental" in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return _exhaustive_sampler(optuna)(seed=seed)
    trials = settings.budget.trials
    if kind == "nsga2":
        # a generation of a tenth of the budget (4 to 50): several generations even on a
        # small budget, where NSGA-II's default of 50 would never leave the random first one
        population = min(50, max(4, trials // 10))
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    startup = settings.startup_trials
    if startup is None:
        startup = min(10, max(4, trials // 4))
    with warnings.catch_warnings():  # multivariate and group are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=startup,
            multivariate=True,
            group=True,  # the space is conditional: each pipeline's params form a group
            constant_liar=True,  # trials in flight count as mediocre: parallel trials differ
        )


def _exhaustive_sampler(optuna: Any) -> type:
    """Optuna's BruteForceSampler, saying when every combination was tried.

    It calls ``study.stop()`` then, which only works inside ``study.optimize``; an
    ask-and-tell loop reads ``exhausted`` instead.
    """

    class ExhaustiveSampler(optuna.samplers.BruteForceSampler):
        exhausted = False

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            study.stop = self._stop  # shadows the method for this call only
            try:
                super().after_trial(study, trial, state, values)
            finally:
                del study.stop

        def _stop(self) -> None:
            self.exhausted = True

    return ExhaustiveSampler


def repair_journal(path: Path) -> None:
    """Remove a stale lock and a last record cut short by a kill (we hold the run lock)."""
    try:  # a private name of Optuna's; its value since Optuna 3.x
        from optuna.storages.journal._file import LOCK_FILE_SUFFIX
    except ImportError:
        LOCK_FILE_SUFFIX = ".lock"

    lock = Path(str(path) + LOCK_FILE_SUFFIX)
    if lock.exists() or lock.is_symlink():
        lock.unlink()
    if not path.is_file():
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
