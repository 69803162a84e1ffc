"""The answer: the best (or the front), ties, and the closest trials when none is feasible."""

from __future__ import annotations

from squeezebench.search.answer import (
    FOUND,
    NONE_FEASIBLE,
    TrialSummary,
    answer_json,
    answer_lines,
    choose,
)
from squeezebench.search.verdict import judge
from squeezebench.spec import load_spec

from .conftest import SEARCH_HEAD, row

BASELINE = [row(artifact_bytes=1000, accuracy=0.99, latency_p50_ms=1.0)]


def load(write_spec, registry, objectives: str, constraints: str = "[accuracy_delta >= -1.0 pp]"):
    text = f"""
search:
  objectives: {objectives}
  constraints: {constraints}
  space:
    km: {{steps: [cluster.kmeans]}}
"""
    return load_spec(write_spec(SEARCH_HEAD, text), registry).search


def summary(search, number: int, **values) -> TrialSummary:
    rows = [row(**({"accuracy_delta": 0.0, "rounds": 3} | values))]
    verdict = judge(rows, BASELINE, search, timed=True)
    return TrialSummary(
        number, {"pipeline": "km"}, verdict, f"#{number} km", f"j{number}", "[]", rows
    )


def test_the_best_is_the_smallest_feasible_and_equal_values_go_to_the_most_room(
    write_spec, registry
) -> None:
    search = load(write_spec, registry, "minimize artifact_bytes")
    trials = [
        summary(search, 0, artifact_bytes=500, accuracy_delta=-0.008),
        summary(search, 1, artifact_bytes=500, accuracy_delta=-0.002),  # same size, more room
        summary(search, 2, artifact_bytes=300, accuracy_delta=-0.05),  # infeasible
        summary(search, 3, artifact_bytes=800),
    ]
    trials.append(trials[1].__class__(**(vars(trials[1]) | {"number": 4, "same_as": 1})))
    answer = choose(trials, search)
    assert answer.status == FOUND and [s.number for s in answer.best] == [1]
    assert [s.number for s in answer.ties] == [0]
    assert "  ties (the same value, or a latency within its noise): #0 km" in answer_lines(
        answer, search
    )
    assert (answer.trials, answer.feasible, answer.repeats) == (5, 3, 1)
    lines = answer_lines(answer, search)
    assert lines[0].startswith("search: 5 trials (3 feasible, 0 failed, 1 repeats")
    assert "  #1 km: artifact_bytes 500 B, accuracy_delta -0.20 pp" in lines
    assert answer_json(answer, search)["best"][0]["trial"] == 1


def test_latencies_whose_round_intervals_overlap_are_ties(write_spec, registry) -> None:
    search = load(write_spec, registry, "minimize latency_p50_ms")
    fast = summary(search, 0, latency_p50_ms=1.0, latency_p50_low_ms=0.95, latency_p50_high_ms=1.1)
    close = summary(search, 1, latency_p50_ms=1.05, latency_p50_low_ms=1.0, latency_p50_high_ms=1.2)
    slow = summary(search, 2, latency_p50_ms=2.0, latency_p50_low_ms=1.9, latency_p50_high_ms=2.1)
    answer = choose([fast, close, slow], search)
    assert [s.number for s in answer.best] == [0] and [s.number for s in answer.ties] == [1]
    assert any(
        "ties (the same value, or a latency within its noise): #1 km" in x
        for x in answer_lines(answer, search)
    )


def test_several_objectives_give_the_pareto_front(write_spec, registry) -> None:
    search = load(write_spec, registry, "[minimize artifact_bytes, maximize accuracy]")
    a = summary(search, 0, artifact_bytes=100, accuracy=0.95)
    b = summary(search, 1, artifact_bytes=200, accuracy=0.99)
    dominated = summary(search, 2, artifact_bytes=300, accuracy=0.97)
    same = summary(search, 3, artifact_bytes=100, accuracy=0.95)
    answer = choose([a, b, dominated, same], search)
    assert [s.number for s in answer.best] == [0, 1]
    assert answer_lines(answer, search)[-3] == "Pareto front (2):"


def test_nothing_feasible_names_the_closest_and_by_how_much(write_spec, registry) -> None:
    search = load(
        write_spec,
        registry,
        "minimize artifact_bytes",
        "[accuracy_delta >= -1.0 pp, artifact_bytes <= 100]",
    )
    trials = [
        summary(search, 0, artifact_bytes=150, accuracy_delta=-0.02),
        summary(search, 1, artifact_bytes=120, accuracy_delta=0.0),
        summary(search, 2, artifact_bytes=900, accuracy_delta=-0.3),
        summary(search, 3, artifact_bytes=100, accuracy_delta=-0.011),
        TrialSummary(
            4,
            {"pipeline": "km"},
            judge([{"status": "error", "reason": "x"}], BASELINE, search, timed=True),
        ),
    ]
    answer = choose(trials, search)
    assert answer.status == NONE_FEASIBLE and answer.failed == 1
    assert [s.number for s in answer.closest] == [3, 1, 0]  # by total violation
    lines = answer_lines(answer, search)
    assert "no trial meets every constraint; the closest:" in lines
    assert "  #3 km: accuracy_delta -1.10 pp, needs >= -1.00 pp (0.10 pp short)" in lines
    assert "  #1 km: artifact_bytes 120 B, needs <= 100 B (20 B over)" in lines
    assert answer_json(answer, search)["closest"][0]["failures"] == [
        "accuracy_delta -1.10 pp, needs >= -1.00 pp (0.10 pp short)"
    ]


def test_no_trial_at_all(write_spec, registry) -> None:
    search = load(write_spec, registry, "minimize artifact_bytes")
    answer = choose([], search)
    assert answer.status == "no trials" and answer_lines(answer, search)[-1] == "no trial finished"
    assert not answer.found and answer.best == []


def test_the_json_answer_is_strict_json_when_a_trial_stopped_before_timing(
    write_spec, registry
) -> None:
    import json

    search = load(write_spec, registry, "[minimize artifact_bytes, minimize latency_p50_ms]")
    rows = [row(artifact_bytes=100, accuracy_delta=-0.05)]  # fails before it is timed
    untimed = TrialSummary(
        0, {"pipeline": "km"}, judge(rows, BASELINE, search, timed=False), "#0 km", "j0", "[]", rows
    )
    assert untimed.verdict.values == [100.0, float("inf")]
    data = answer_json(choose([untimed], search), search)
    assert data["closest"][0]["values"] == [100.0, None]
    json.dumps(data, allow_nan=False)  # no Infinity: jq and browsers can read the manifest
