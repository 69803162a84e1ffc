from __future__ import annotations

from squeezebench.harness.reproducibility import compare_runs


def _row(**values):
    row = {
        "job_id": "j",
        "batch_size": 1,
        "variant": "v",
        "target": "t",
        "status": "ok",
        "artifact_bytes": 100,
        "accuracy": 0.9,
        "fidelity": 1.0,
        "latency_p50_ms": 1.0,
    }
    return row | values


def test_identical_runs_are_reproducible_and_latency_drift_is_reported() -> None:
    report = compare_runs([_row()], [_row(latency_p50_ms=1.1)])
    assert report.reproducible
    assert report.latency_drift == [pytest_approx(0.1)]
    assert "reproducible" in report.summary() and "drift" in report.summary()


def test_a_changed_accuracy_or_a_missing_job_is_not_reproducible() -> None:
    report = compare_runs([_row(), _row(job_id="k")], [_row(accuracy=0.91)])
    assert not report.reproducible
    text = report.summary()
    assert "accuracy 0.9 != 0.91" in text
    assert "only in the first run" in text


def pytest_approx(value):
    import pytest

    return pytest.approx(value)
