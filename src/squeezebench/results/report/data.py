"""Building a report from result rows: grouping, mean ± std across seeds, Pareto marks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from squeezebench.errors import UserError
from squeezebench.results import columns as col
from squeezebench.results.formatting import number_or_none, slugify
from squeezebench.results.pareto import Interval, pareto_optimal
from squeezebench.results.report.model import (
    BatchEntry,
    Group,
    Problem,
    Report,
    RunInfo,
    VariantEntry,
    stat,
)
from squeezebench.results.runs import RunSelection
from squeezebench.results.status import OK

BASELINE = "baseline"
DEFAULT_NOISE_THRESHOLD = 0.1
"""The spec's default ``benchmark.noise_threshold``, for results without a manifest."""


def _environment(manifest: dict[str, Any]) -> str:
    env = manifest.get("environment") or {}
    packages = env.get("packages") or {}
    git = env.get("git") or {}
    parts = []
    if env.get("cpu"):
        parts.append(f"{env['cpu']} ({env.get('cpu_count', '?')} CPUs)")
    if env.get("platform"):
        parts.append(str(env["platform"]))
    if env.get("python"):
        parts.append(f"Python {env['python']}")
    if packages.get("torch"):
        parts.append(f"torch {packages['torch']}")
    if env.get("torch_threads"):
        parts.append(f"{env['torch_threads']} torch threads")
    if git.get("sha"):
        parts.append(f"git {str(git['sha'])[:10]}{' (dirty)' if git.get('dirty') else ''}")
    return ", ".join(parts)


def _thresholds(manifests: Iterable[dict[str, Any]]) -> set[float]:
    return {
        ((m.get("spec") or {}).get("benchmark") or {}).get("noise_threshold") for m in manifests
    } - {None}


def _noise_threshold(manifests: Iterable[dict[str, Any]]) -> float | None:
    """The runs' noise_threshold, None when they differ or no manifest says."""
    values = _thresholds(manifests)
    return values.pop() if len(values) == 1 else None


def _widest(manifests: Iterable[dict[str, Any]]) -> float:
    """The latency tie margin when the runs disagree: the widest, else the spec's default."""
    values = _thresholds(manifests)
    return max(values) if values else DEFAULT_NOISE_THRESHOLD


def build_report(rows: Sequence[dict[str, Any]], selection: RunSelection) -> Report:
    """Aggregate result rows into groups (model, dataset, target) of variant entries."""
    if not rows:
        raise UserError(f"no result rows under {selection.root}")
    manifests = list(selection.manifests.values())
    threshold = _noise_threshold(manifests)
    order = sorted(
        range(len(rows)), key=lambda i: (str(rows[i].get(col.STARTED_AT) or ""), i)
    )  # spec order: jobs start baseline first
    grouped: dict[tuple, dict[tuple, list[dict[str, Any]]]] = {}
    for index in order:
        row = rows[index]
        key = (row.get(col.MODEL), row.get(col.DATASET), row.get(col.TARGET))
        variant = (row.get(col.VARIANT), row.get(col.STEPS))
        grouped.setdefault(key, {}).setdefault(variant, []).append(row)
    groups = []
    slugs: set[str] = set()
    for (model, dataset, target), variants in grouped.items():
        entries = [_variant_entry(name, steps, vrows) for (name, steps), vrows in variants.items()]
        entries.sort(key=lambda e: not e.is_baseline)  # stable: baseline first, then spec order
        batch_sizes = sorted({int(r[col.BATCH_SIZE]) for v in variants.values() for r in v})
        metrics = {r.get(col.METRIC) for v in variants.values() for r in v} - {None}
        group = Group(
            model=str(model),
            dataset=dataset,
            target=str(target),
            metric=metrics.pop() if len(metrics) == 1 else None,
            batch_sizes=batch_sizes,
            variants=entries,
            noise_threshold=threshold,
        )
        slug = slugify(f"{model}-{dataset or ''}-{target}")
        while slug in slugs:
            slug += "-2"
        slugs.add(slug)
        group.slug = slug
        _mark_pareto(group, threshold if threshold is not None else _widest(manifests))
        groups.append(group)
    runs = [
        RunInfo(
            run_id=name,
            spec_name=selection.manifests.get(name, {}).get(col.SPEC_NAME),
            started_at=selection.manifests.get(name, {}).get(col.STARTED_AT),
            status=selection.manifests.get(name, {}).get(col.STATUS),
            environment=_environment(selection.manifests.get(name, {})),
        )
        for name in selection.names
    ]
    return Report(groups, runs, selection.root, selection.available)


def _variant_entry(name: str, steps: str, rows: list[dict[str, Any]]) -> VariantEntry:
    # One measurement = one job of one run; its job-level metrics repeat on each batch's row.
    jobs: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        jobs.setdefault((row.get(col.RUN_ID), row.get(col.JOB_ID)), []).append(row)
    firsts = [job_rows[0] for job_rows in jobs.values()]
    ok_jobs = [job_rows for job_rows in jobs.values() if all(r[col.STATUS] == OK for r in job_rows)]
    problems = []
    for job_rows in jobs.values():
        bad = next((r for r in job_rows if r[col.STATUS] != OK), None)
        if bad is not None:
            problems.append(
                Problem(
                    bad[col.STATUS],
                    str(bad.get(col.REASON) or ""),
                    bad.get(col.SEED),
                    bad[col.RUN_ID],
                )
            )
    if not problems:
        status = OK
    elif ok_jobs:
        status = "partial"
    else:
        status = problems[0].status
    ok_firsts = [job_rows[0] for job_rows in ok_jobs]
    ok_rows = [r for job_rows in ok_jobs for r in job_rows]
    batches = {}
    for batch in sorted({int(r[col.BATCH_SIZE]) for r in rows}):
        at = [r for r in ok_rows if int(r[col.BATCH_SIZE]) == batch]
        spreads = [r[col.LATENCY_SPREAD] for r in at if r.get(col.LATENCY_SPREAD) is not None]
        rounds, low, high = _round_range(at)
        batches[batch] = BatchEntry(
            batch_size=batch,
            p50=stat(r.get(col.LATENCY_P50_MS) for r in at),
            p99=stat(r.get(col.LATENCY_P99_MS) for r in at),
            speedup=stat(r.get(col.SPEEDUP) for r in at),
            noisy=any(bool(r.get(col.NOISY)) for r in at),
            spread=max(spreads) if spreads else None,
            rounds=rounds,
            low=low,
            high=high,
        )
    steps_list = json.loads(steps) if steps else []
    return VariantEntry(
        name=str(name),
        steps=steps or "[]",
        is_baseline=name == BASELINE or steps_list == [],
        measurements=len(jobs),
        seeds=sorted({r.get(col.SEED) for r in firsts if r.get(col.SEED) is not None}),
        status=status,
        problems=problems,
        size=stat(r.get(col.ARTIFACT_BYTES) for r in ok_firsts),
        encoded=stat(r.get(col.ENCODED_BYTES) for r in ok_firsts),
        ratio=stat(r.get(col.COMPRESSION_RATIO) for r in ok_firsts),
        accuracy=stat(r.get(col.ACCURACY) for r in ok_firsts),
        delta=stat(r.get(col.ACCURACY_DELTA) for r in ok_firsts),
        fidelity=stat(_fidelity(r) for r in ok_firsts),
        batches=batches,
    )


def _round_range(rows: list[dict[str, Any]]) -> tuple[int, float | None, float | None]:
    """Fewest rounds of the rows, and the lowest and highest per-round median over them all.

    The range only exists when every row was timed in several rounds: a single round's
    median says nothing about the noise, and mixing it in would hide that.
    """
    if not rows:
        return 1, None, None
    rounds = min(int(r.get(col.ROUNDS) or 1) for r in rows)
    lows = [number_or_none(r.get(col.LATENCY_P50_LOW_MS)) for r in rows]
    highs = [number_or_none(r.get(col.LATENCY_P50_HIGH_MS)) for r in rows]
    if rounds < 2 or None in lows or None in highs:
        return rounds, None, None
    return rounds, min(lows), max(highs)  # type: ignore[type-var]


def _fidelity(row: dict[str, Any]) -> Any:
    """Argmax agreement, or for embeddings (which have none) the cosine to the baseline's."""
    value = row.get(col.FIDELITY)
    return row.get(col.EMBEDDING_COSINE) if value is None else value


def _latency(entry: VariantEntry, batch: int) -> Interval | None:
    at = entry.batches.get(batch)
    if at is None or at.p50.mean is None:
        return None
    low, high = at.interval or (None, None)
    return Interval(at.p50.mean, low, high)


def _mark_pareto(group: Group, margin: float) -> None:
    """Sizes exactly; latencies by their round intervals, else within ``margin`` (relative)."""
    measured = [v for v in group.variants if v.measured]
    accuracy = [v.accuracy.mean for v in measured]
    for entry, optimal in zip(
        measured, pareto_optimal([v.shipped.mean for v in measured], accuracy), strict=True
    ):
        entry.pareto_size = optimal
    for batch in group.batch_sizes:
        latency = [_latency(v, batch) for v in measured]
        marks = pareto_optimal(latency, accuracy, margin)
        for entry, optimal in zip(measured, marks, strict=True):
            if batch in entry.batches:
                entry.batches[batch].pareto = optimal
