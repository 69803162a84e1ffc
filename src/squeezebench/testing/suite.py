"""``conformance(...)``: one parametrized pytest test running every check on your plugins."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from squeezebench.testing import backend_checks, method_checks, source_checks
from squeezebench.testing.cases import (
    BackendCase,
    ConverterCase,
    DatasetCase,
    MethodCase,
    ModelSourceCase,
    as_case,
)

CHECKS: dict[type, list[tuple[str, Callable[[Any], None]]]] = {
    MethodCase: [
        ("declares_its_contract", method_checks.check_method_declares_its_contract),
        ("params_round_trip", method_checks.check_method_params),
        ("changes_the_model", method_checks.check_method_changes_the_model),
        ("result_runs_and_serializes", method_checks.check_method_result_runs_and_serializes),
        ("is_deterministic", method_checks.check_method_is_deterministic),
    ],
    BackendCase: [
        ("declares_its_contract", backend_checks.check_backend_declares_its_contract),
        ("options_round_trip", backend_checks.check_backend_options),
        ("check_says_why", backend_checks.check_backend_check_says_why),
        ("runner_runs_batches", backend_checks.check_runner_runs_batches),
        ("close_releases", backend_checks.check_runner_close_releases),
    ],
    DatasetCase: [
        ("splits_are_well_formed", source_checks.check_dataset_splits),
        ("splits_are_fixed", source_checks.check_dataset_is_fixed),
    ],
    ModelSourceCase: [
        ("loads_deterministically", source_checks.check_model_source),
        ("check_is_cheap", source_checks.check_model_source_check_is_cheap),
    ],
    ConverterCase: [("converts_deterministically", source_checks.check_converter)],
}


@dataclass(frozen=True)
class Check:
    """One rule of one plugin's contract; ``run()`` passes, fails or skips."""

    case: Any
    name: str
    function: Callable[[Any], None]

    @property
    def id(self) -> str:
        """``<plugin>-<rule>``, e.g. ``example.round_weights-changes_the_model``."""
        return f"{self.case.label}-{self.name}"

    def run(self) -> None:
        """Run the check (raises :class:`ConformanceFailure`, or pytest's skip)."""
        self.function(self.case)


def conformance_checks(
    methods: Iterable[Any] = (),
    backends: Iterable[Any] = (),
    datasets: Iterable[Any] = (),
    model_sources: Iterable[Any] = (),
    converters: Iterable[Any] = (),
) -> list[Check]:
    """Every check of every plugin given (classes, or cases that say more)."""
    cases = [
        *(as_case(value, MethodCase) for value in methods),
        *(as_case(value, BackendCase) for value in backends),
        *(as_case(value, DatasetCase) for value in datasets),
        *(as_case(value, ModelSourceCase) for value in model_sources),
        *(as_case(value, ConverterCase) for value in converters),
    ]
    return [Check(case, name, function) for case in cases for name, function in CHECKS[type(case)]]


def conformance(
    methods: Iterable[Any] = (),
    backends: Iterable[Any] = (),
    datasets: Iterable[Any] = (),
    model_sources: Iterable[Any] = (),
    converters: Iterable[Any] = (),
) -> Callable[[Check], None]:
    """A pytest test function parametrized over every check of the given plugins.

    Assign it to a ``test_`` name in a test module::

        from squeezebench.testing import MethodCase, conformance

        test_conformance = conformance(
            methods=[MyMethod, MethodCase(MyMethod, params={"bits": 2})],
            backends=[MyBackend],
        )

    Each check is its own test (``test_conformance[my.method-changes_the_model]``); a
    check that cannot run here (a backend whose ``check`` says why) is skipped with the
    reason.
    """
    import pytest

    checks = conformance_checks(methods, backends, datasets, model_sources, converters)
    if not checks:
        raise ValueError("conformance() needs at least one plugin class or case")

    @pytest.mark.parametrize("squeezebench_check", checks, ids=[check.id for check in checks])
    def test_conformance(squeezebench_check: Check) -> None:
        squeezebench_check.run()

    return test_conformance
