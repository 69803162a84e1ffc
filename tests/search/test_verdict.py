"""A trial's verdict from its rows: values, constraint checks, violations, failures."""

from __future__ import annotations

import math

import pytest

from squeezebench.search.verdict import column_value, goals_met, judge
from squeezebench.spec import load_spec
from squeezebench.spec.search_terms import ColumnReference

from .conftest import SEARCH_HEAD, row

SEARCH = """
benchmark: {batch_sizes: [1, 8]}
search:
  objectives: [minimize shipped_bytes, minimize latency_p50_ms@b=1]
  constraints:
    - accuracy_delta >= -1.0 pp
    - artifact_bytes <= 0.5 x baseline
    - latency_p50_ms@b=8 <= 0.9 x baseline
  budget: {stop_when: ["shipped_bytes <= 10 KiB"]}
  space:
    km: {steps: [cluster.kmeans]}
"""

BASELINE = [
    row(artifact_bytes=1000, accuracy=0.99, latency_p50_ms=1.0),
    row(batch_size=8, artifact_bytes=1000, accuracy=0.99, latency_p50_ms=4.0),
]


@pytest.fixture
def search(write_spec, registry):
    return load_spec(write_spec(SEARCH_HEAD, SEARCH), registry).search


def trial_rows(**values):
    shared = {"artifact_bytes": 400, "encoded_bytes": 300, "accuracy_delta": -0.005} | values
    return [
        row(latency_p50_ms=0.8, **shared),
        row(batch_size=8, latency_p50_ms=3.0, **shared),
    ]


def test_a_feasible_trial_has_its_values_and_every_check(search) -> None:
    verdict = judge(trial_rows(), BASELINE, search, timed=True)
    assert verdict.values == [300.0, 0.8]  # shipped_bytes: the encoded bytes
    assert verdict.feasible and not verdict.violated
    assert [c.bound for c in verdict.checks] == [pytest.approx(-0.01), 500.0, 3.6]


def test_before_timing_latency_is_unknown_and_the_worst(search) -> None:
    verdict = judge(trial_rows(accuracy_delta=-0.02), BASELINE, search, timed=False)
    assert verdict.values == [300.0, math.inf]
    assert [c.holds for c in verdict.checks] == [False, True, None]
    (violated,) = verdict.violated
    assert violated.violation == pytest.approx(1.0)  # one percentage point short
    assert violated.failure() == "accuracy_delta -2.00 pp, needs >= -1.00 pp (1.00 pp short)"
    assert not verdict.feasible


def test_violations_of_other_columns_are_shares_of_the_bound(search) -> None:
    verdict = judge(trial_rows(artifact_bytes=750), BASELINE, search, timed=True)
    size = verdict.checks[1]
    assert size.violation == pytest.approx(0.5)  # 250 bytes over a bound of 500
    assert size.failure() == "artifact_bytes 750 B, needs <= 500 B (250 B over)"
    assert verdict.total_violation == pytest.approx(0.5)


def test_a_failed_job_or_an_unmeasured_objective_fails_the_trial(search) -> None:
    failed = judge(
        [{"status": "error", "reason": "boom", "batch_size": 1}], BASELINE, search, timed=False
    )
    assert failed.failed and failed.reason == "error: boom" and not failed.feasible
    unmeasured = judge(
        trial_rows(encoded_bytes=None, artifact_bytes=None), BASELINE, search, timed=True
    )
    assert unmeasured.failed and "shipped_bytes was not measured" in unmeasured.reason


def test_column_values_pick_the_batch_size(search) -> None:
    rows = trial_rows()
    assert column_value(rows, ColumnReference("latency_p50_ms", 8)) == 3.0
    assert column_value(rows, ColumnReference("shipped_bytes")) == 300
    assert column_value(rows, ColumnReference("fidelity")) is None
    assert goals_met(trial_rows(encoded_bytes=10 * 1024), BASELINE, search.goals)
    assert not goals_met(trial_rows(encoded_bytes=10 * 1024 + 1), BASELINE, search.goals)


def test_a_constraint_never_measured_fails_with_its_reason_and_a_positive_violation(
    search,
) -> None:
    # the trial has no artifact size; the baseline lacks the latency its bound needs
    baseline = [{**r, "latency_p50_ms": None} for r in BASELINE]
    verdict = judge(trial_rows(artifact_bytes=None), baseline, search, timed=True)
    assert [c.holds for c in verdict.checks] == [True, False, False]
    assert not verdict.feasible and len(verdict.violated) == 2
    assert all(c.violation == 1.0 for c in verdict.violated)  # Optuna sees them fail
    assert verdict.total_violation == 2.0
    failures = [c.failure() for c in verdict.violated]
    assert failures == [
        "artifact_bytes was not measured",
        "latency_p50_ms@b=8: the baseline's value (the bound) was not measured",
    ]
