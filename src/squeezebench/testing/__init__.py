"""The conformance kit: check your squeezebench plugins against their contracts with pytest.

In a plugin package's tests::

    from squeezebench.testing import BackendCase, MethodCase, conformance

    test_conformance = conformance(
        methods=[MyMethod, MethodCase(MyMethod, params={"bits": 2})],
        backends=[BackendCase(MyBackend, options={"threads": 1})],
        datasets=[MyDataset],
        model_sources=[ModelSourceCase(MySource, reference="tiny")],
    )

Every rule is one test; ``docs/plugins.md`` ("Testing a plugin") lists them. The ``check_*``
functions run single rules, and the pytest plugin (entry point ``pytest11``, module
:mod:`squeezebench.testing.pytest_plugin`) adds fixtures: ``squeezebench_reference_model``,
``squeezebench_data``, ``squeezebench_method_context`` and ``squeezebench_registry``.

Names are imported on first use, so that pytest loading the plugin in any environment where
squeezebench is installed stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from squeezebench.testing.backend_checks import (
        check_backend_check_says_why,
        check_backend_declares_its_contract,
        check_backend_options,
        check_runner_close_releases,
        check_runner_runs_batches,
        target_for,
    )
    from squeezebench.testing.cases import (
        BackendCase,
        ConverterCase,
        DatasetCase,
        MethodCase,
        ModelSourceCase,
    )
    from squeezebench.testing.failures import ConformanceFailure
    from squeezebench.testing.method_checks import (
        check_method_changes_the_model,
        check_method_declares_its_contract,
        check_method_is_deterministic,
        check_method_params,
        check_method_result_runs_and_serializes,
    )
    from squeezebench.testing.params_checks import check_params_model
    from squeezebench.testing.reference import reference_data, reference_model
    from squeezebench.testing.source_checks import (
        check_converter,
        check_dataset_is_fixed,
        check_dataset_splits,
        check_model_source,
        check_model_source_check_is_cheap,
    )
    from squeezebench.testing.suite import Check, conformance, conformance_checks

_WHERE = {
    "BackendCase": "cases",
    "ConverterCase": "cases",
    "DatasetCase": "cases",
    "MethodCase": "cases",
    "ModelSourceCase": "cases",
    "Check": "suite",
    "conformance": "suite",
    "conformance_checks": "suite",
    "ConformanceFailure": "failures",
    "check_params_model": "params_checks",
    "reference_data": "reference",
    "reference_model": "reference",
    "target_for": "backend_checks",
    "check_backend_check_says_why": "backend_checks",
    "check_backend_declares_its_contract": "backend_checks",
    "check_backend_options": "backend_checks",
    "check_runner_close_releases": "backend_checks",
    "check_runner_runs_batches": "backend_checks",
    "check_method_changes_the_model": "method_checks",
    "check_method_declares_its_contract": "method_checks",
    "check_method_is_deterministic": "method_checks",
    "check_method_params": "method_checks",
    "check_method_result_runs_and_serializes": "method_checks",
    "check_converter": "source_checks",
    "check_dataset_is_fixed": "source_checks",
    "check_dataset_splits": "source_checks",
    "check_model_source": "source_checks",
    "check_model_source_check_is_cheap": "source_checks",
}

__all__ = [
    "BackendCase",
    "Check",
    "ConformanceFailure",
    "ConverterCase",
    "DatasetCase",
    "MethodCase",
    "ModelSourceCase",
    "check_backend_check_says_why",
    "check_backend_declares_its_contract",
    "check_backend_options",
    "check_converter",
    "check_dataset_is_fixed",
    "check_dataset_splits",
    "check_method_changes_the_model",
    "check_method_declares_its_contract",
    "check_method_is_deterministic",
    "check_method_params",
    "check_method_result_runs_and_serializes",
    "check_model_source",
    "check_model_source_check_is_cheap",
    "check_params_model",
    "check_runner_close_releases",
    "check_runner_runs_batches",
    "conformance",
    "conformance_checks",
    "reference_data",
    "reference_model",
    "target_for",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
