"""Objectives and constraints: what each spelling means, and what cannot be written."""

from __future__ import annotations

import pytest

from squeezebench.spec.search_terms import (
    ABSOLUTE,
    OFFSET,
    RATIO,
    ColumnReference,
    TermError,
    parse_constraint,
    parse_objective,
)


def test_objectives_read_direction_column_and_batch_size() -> None:
    objective = parse_objective("minimize latency_p50_ms@b=32")
    assert objective.minimize and objective.reference == ColumnReference("latency_p50_ms", 32)
    assert not parse_objective("maximize speedup @ b = 1").minimize
    assert parse_objective("  minimize shipped_bytes ").reference.label == "shipped_bytes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("minimise artifact_bytes", "an objective is 'minimize <column>'"),
        ("minimize artifact_byte", "did you mean 'artifact_bytes'"),
        ("minimize artifact_bytes@b=1", "does not depend on the batch size"),
        ("artifact_bytes", "an objective is"),
    ],
)
def test_bad_objectives_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(TermError, match=message):
        parse_objective(text)


def test_absolute_bounds_are_in_the_columns_units() -> None:
    size = parse_constraint("artifact_bytes <= 2 MiB")
    assert (size.kind, size.amount, size.op) == (ABSOLUTE, 2 * 1024**2, "<=")
    assert parse_constraint("artifact_bytes < 1.5 kB").amount == 1500
    assert parse_constraint("latency_p50_ms@b=1 <= 500 us").amount == pytest.approx(0.5)
    assert parse_constraint("accuracy >= 95 %").amount == pytest.approx(0.95)
    assert parse_constraint("accuracy >= 0.95").amount == pytest.approx(0.95)
    assert parse_constraint("embedding_cosine >= 0.98").amount == pytest.approx(0.98)


def test_deltas_are_in_percentage_points_and_need_the_unit() -> None:
    delta = parse_constraint("accuracy_delta >= -1.0 pp")
    assert (delta.kind, delta.amount) == (ABSOLUTE, pytest.approx(-0.01))
    assert delta.bound(None) == pytest.approx(-0.01)  # absolute: no baseline needed
    with pytest.raises(TermError, match="needs a unit: pp"):
        parse_constraint("accuracy_delta >= -1.0")


def test_ratios_and_differences_name_the_baseline() -> None:
    ratio = parse_constraint("latency_p50_ms@b=1 <= 0.5 x baseline")
    assert (ratio.kind, ratio.amount) == (RATIO, 0.5)
    assert ratio.bound(2.0) == pytest.approx(1.0) and ratio.bound(None) is None
    assert "a ratio: 50% of the baseline's value" in ratio.meaning()
    offset = parse_constraint("accuracy >= baseline - 1.0 pp")
    assert (offset.kind, offset.amount) == (OFFSET, pytest.approx(-0.01))
    assert offset.bound(0.99) == pytest.approx(0.98)
    assert "an absolute difference" in offset.meaning()
    assert parse_constraint("artifact_bytes <= baseline - 100 KiB").amount == -100 * 1024


@pytest.mark.parametrize(
    "text",
    [
        "accuracy_delta >= -1 %",  # 1% of what? (INC #498)
        "accuracy >= baseline - 1 %",
        "accuracy_delta >= -1%",
    ],
)
def test_percent_is_refused_where_it_reads_two_ways(text: str) -> None:
    with pytest.raises(TermError, match=r"'%' is ambiguous here.*'pp'.*x baseline"):
        parse_constraint(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accuracy >= 95", "a share from 0 to 1"),
        ("speedup@b=1 >= 1.2 x baseline", "already a comparison with the baseline"),
        ("accuracy_delta >= baseline - 1 pp", "already a comparison with the baseline"),
        ("artifact_bytes <= 2 MiBs", "unknown unit 'MiBs'.*valid: b, kb, kib"),
        ("latency_p50_ms <= 0 x baseline", "must be above 0"),
        ("artifact_bytes == 2 MiB", "a constraint is"),
        ("latency_p50_ms@b=0 <= 1 ms", "batch sizes start at 1"),
    ],
)
def test_bad_constraints_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(TermError, match=message):
        parse_constraint(text)


def test_holds_and_shortfall_follow_the_operator() -> None:
    at_most = parse_constraint("artifact_bytes <= 100")
    assert at_most.holds(100, 100) and not at_most.holds(101, 100)
    assert at_most.shortfall(110, 100) == 10
    below = parse_constraint("artifact_bytes < 100")
    assert not below.holds(100, 100)
    at_least = parse_constraint("accuracy >= 0.9")
    assert at_least.shortfall(0.85, 0.9) == pytest.approx(0.05)
