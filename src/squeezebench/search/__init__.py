"""Constraint-driven search for the best compression (``search:`` in a spec).

A loop around planning, not a new harness: Optuna (ask and tell) proposes a pipeline and
its params, the trial runs as an ordinary job through the run's dispatcher, and what came of
it (objective values, constraint violations) is told back. Optuna is optional
(``pip install 'squeezebench[search]'``) and imported only when a search runs.
"""

from squeezebench.search.answer import Answer, TrialSummary, answer_lines, choose
from squeezebench.search.best_spec import BEST_SPEC, best_spec_data, write_best_spec
from squeezebench.search.context import SearchContext
from squeezebench.search.run import SearchOutcome, run_search
from squeezebench.search.study import OPTUNA_HINT, journal_path

__all__ = [
    "BEST_SPEC",
    "OPTUNA_HINT",
    "Answer",
    "SearchContext",
    "SearchOutcome",
    "TrialSummary",
    "answer_lines",
    "best_spec_data",
    "choose",
    "journal_path",
    "run_search",
    "write_best_spec",
]
