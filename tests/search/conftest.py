"""Fixtures of the search tests: a resolved search, rows as a run would write them.

Tests marked ``slow`` (a whole example search) are skipped unless asked for with
``pytest -m slow`` or ``SQUEEZEBENCH_SLOW_TESTS=1``: CI stays within its budget.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("optuna", reason="needs squeezebench[search]")

SEARCH_HEAD = """
name: s
model: builtin:digits-cnn
dataset: builtin:digits
targets: [{backend: torch, device: cpu, options: {threads: 1}}]
"""


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: a whole example search (minutes); skipped unless -m slow or "
        "SQUEEZEBENCH_SLOW_TESTS=1",
    )


def pytest_collection_modifyitems(config, items) -> None:
    asked = os.environ.get("SQUEEZEBENCH_SLOW_TESTS") == "1"
    expression = config.getoption("markexpr") or ""
    if asked or ("slow" in expression and "not slow" not in expression):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or SQUEEZEBENCH_SLOW_TESTS=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def row(**values) -> dict:
    """A result row of a finished job (status ok, batch size 1) with ``values``."""
    return {"status": "ok", "batch_size": 1} | values
