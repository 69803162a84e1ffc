"""Noise-aware Pareto marks in the report: latency ties within the measured noise, intervals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from squeezebench.results.report import build_report
from squeezebench.results.report.data import DEFAULT_NOISE_THRESHOLD
from squeezebench.results.report.model import method_family
from squeezebench.results.report.table import cells, columns
from squeezebench.results.runs import RunSelection
from squeezebench.spec.models import BenchmarkSpec

STEP = json.dumps([{"method": "prune.magnitude", "params": {"sparsity": 0.5}}])


def _row(variant: str, p50: float, low: float | None, high: float | None, **extra: Any) -> dict:
    row = {
        "run_id": "r1",
        "job_id": variant,
        "model": "m",
        "dataset": "d",
        "variant": variant,
        "steps": "[]" if variant == "baseline" else STEP,
        "target": "torch:cpu",
        "batch_size": 1,
        "status": "ok",
        "metric": "top1",
        "artifact_bytes": 1000,
        "accuracy": 0.99,
        "latency_p50_ms": p50,
        "rounds": 3 if low is not None else 1,
        "latency_p50_low_ms": low,
        "latency_p50_high_ms": high,
    }
    row.update(extra)
    return row


def _group(rows: list[dict], threshold: float | None = 0.1) -> Any:
    manifests = (
        {} if threshold is None else {"r1": {"spec": {"benchmark": {"noise_threshold": threshold}}}}
    )
    report = build_report(rows, RunSelection(Path("results"), [], manifests))
    return report.groups[0]


def _marks(group: Any) -> dict[str, bool]:
    return {v.name: v.batches[1].pareto for v in group.variants}


def test_overlapping_round_intervals_tie_and_disjoint_ones_do_not() -> None:
    group = _group(
        [
            _row("baseline", 0.067, 0.065, 0.070),
            _row("tied", 0.069, 0.066, 0.072),  # slower median, overlapping interval
            _row("slower", 0.080, 0.078, 0.083),  # entirely above the baseline's
        ]
    )
    assert _marks(group) == {"baseline": True, "tied": True, "slower": False}
    tied = next(v for v in group.variants if v.name == "tied")
    assert tied.batches[1].interval == (0.066, 0.072)


def test_without_rounds_the_noise_threshold_is_the_margin() -> None:
    rows = [
        _row("baseline", 0.100, None, None),
        _row("close", 0.108, None, None),  # 8 % slower: within a 10 % threshold
        _row("far", 0.115, None, None),
    ]
    assert _marks(_group(rows, 0.1)) == {"baseline": True, "close": True, "far": False}
    assert _marks(_group(rows, 0.05)) == {"baseline": True, "close": False, "far": False}
    # No manifest: the spec's default threshold.
    assert _marks(_group(rows, None)) == {"baseline": True, "close": True, "far": False}
    assert BenchmarkSpec().noise_threshold == DEFAULT_NOISE_THRESHOLD


def test_a_single_round_or_a_missing_end_gives_no_interval() -> None:
    group = _group(
        [
            _row("baseline", 0.067, 0.065, 0.070),
            _row("one-round", 0.067, 0.065, 0.070, rounds=1),
            _row("no-high", 0.067, 0.065, None),
        ]
    )
    entries = {v.name: v.batches[1] for v in group.variants}
    assert entries["baseline"].interval == (0.065, 0.070)
    assert entries["one-round"].interval is None and entries["no-high"].interval is None


def test_sizes_stay_exact() -> None:
    group = _group(
        [
            _row("baseline", 0.067, 0.065, 0.070, artifact_bytes=1000),
            _row("one-byte-more", 0.067, 0.065, 0.070, artifact_bytes=1001),
        ]
    )
    assert {v.name: v.pareto_size for v in group.variants} == {
        "baseline": True,
        "one-byte-more": False,
    }


def test_table_shows_the_interval_where_timed_in_rounds() -> None:
    group = _group([_row("baseline", 0.067, 0.065, 0.070), _row("single", 0.071, None, None)])
    header = columns(group)
    p50 = header.index("p50 b=1")
    baseline, single = (cells(group, v)[p50] for v in group.variants)
    assert baseline.text == "0.0670 ms [0.0650-0.0700] ★"
    assert "3 timing rounds" in baseline.title
    assert single.text.startswith("0.0710 ms") and "[" not in single.text


def test_method_family() -> None:
    assert method_family("[]") == "baseline"
    assert method_family(STEP) == "prune"
    pipeline = [
        {"method": "prune.magnitude"},
        {"method": "quantize.weight_only"},
        {"method": "quantize.cast"},
        {"method": "encode.zstd"},
    ]
    assert method_family(json.dumps(pipeline)) == "prune+quantize+encode"
    assert method_family("not json") == "other"
