"""``squeezebench compare``: did a change make any variant bigger, slower or less accurate?

Rows of the two sides are matched by job identity: ``job_id`` (a hash of the model, dataset,
variant name and pipeline, target and seed) and ``batch_size``. For every matched row each
metric's change is reported, and judged:

- **latency** (``latency_p50_ms``): a regression only when the p50 grew by more than the
  threshold (``--threshold``, the spec's ``compare.threshold``, default 10 %) *and* a
  one-sided Welch t-test on the per-round medians (``latency_round_p50_ms``, each round a
  fresh process) is significant at ``alpha``. Improvements are judged the same way in the
  other direction. A row measured under contention or drift, or in fewer than two rounds,
  gives an *inconclusive* verdict instead, which is not a regression.
- **size** (``artifact_bytes``, ``encoded_bytes``) and **quality** (``accuracy``,
  ``fidelity``) are deterministic: any worsening is a regression, unless a threshold is given
  for that metric (``--threshold-for artifact_bytes=0.02``). Size thresholds are relative
  (0.02 = 2 %), quality thresholds absolute in the metric's own unit (accuracy 0.005 = half a
  percentage point).
- **informational** metrics (``latency_p99_ms``, ``peak_memory_bytes``) are reported but never
  judged, unless given a threshold (p99 is then judged like p50, with the same test).

A job that was ``ok`` in the baseline and is an ``error`` in the new results is a regression;
other status changes (skipped on either side, error on both) are listed as not compared. Rows
found on one side only are listed too, and are not regressions.

Exit codes are :class:`CompareExit`. This module matches the rows and is the entry point;
:mod:`~squeezebench.results.compare.model` holds the metrics and what a comparison finds,
:mod:`~squeezebench.results.compare.judge` judges one metric, and
:mod:`~squeezebench.results.compare.render` writes the result as Markdown or text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.results import columns as col
from squeezebench.results.compare.judge import hardware_difference, judge
from squeezebench.results.compare.model import (
    DEFAULT_ALPHA,
    DEFAULT_THRESHOLD,
    METRIC_NAMES,
    METRICS,
    Comparison,
    Unmatched,
)
from squeezebench.results.formatting import short_reason
from squeezebench.results.runs import RunSelection, select_runs
from squeezebench.results.status import ERROR, OK
from squeezebench.suggest import unknown_name_message


def parse_threshold(text: str) -> float:
    """``0.1`` or ``10%`` as a fraction; negative values are refused."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UserError(f"threshold {text!r} is not a number (e.g. 0.1 or 10%)") from None
    if value < 0 or math.isnan(value):
        raise UserError(f"threshold {text!r} must be zero or positive")
    return value


def parse_threshold_for(items: Sequence[str]) -> dict[str, float]:
    """``["accuracy=0.005", "artifact_bytes=2%"]`` as ``{metric: fraction}``."""
    thresholds = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserError(f"--threshold-for takes METRIC=VALUE, got {item!r}")
        if name not in METRIC_NAMES:
            raise UserError(unknown_name_message("metric", name, METRIC_NAMES))
        thresholds[name] = parse_threshold(value)
    return thresholds


def _index(rows: Sequence[dict[str, Any]], side: str) -> dict[tuple[str, int], dict[str, Any]]:
    indexed: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (str(row[col.JOB_ID]), int(row[col.BATCH_SIZE]))
        if key in indexed:
            raise UserError(
                f"the {side} results hold job {key[0]} at batch size {key[1]} twice (several "
                "runs?); point compare at one run folder"
            )
        indexed[key] = row
    return indexed


def _unmatched(row: Mapping[str, Any], batch_size: int, detail: str) -> Unmatched:
    return Unmatched(row[col.VARIANT], row[col.TARGET], batch_size, detail)


def _status_detail(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    return (
        f"baseline {before['status']}"
        + (f" ({short_reason(before.get('reason'))})" if before[col.STATUS] != OK else "")
        + f", new {after['status']}"
        + (f" ({short_reason(after.get('reason'))})" if after[col.STATUS] != OK else "")
    )


def compare_rows(
    baseline_rows: Sequence[dict[str, Any]],
    new_rows: Sequence[dict[str, Any]],
    comparison: Comparison,
) -> Comparison:
    """Fill ``comparison`` with the changes between two sets of rows."""
    base = _index(baseline_rows, "baseline")
    new = _index(new_rows, "new")
    thresholds = comparison.thresholds
    for key in base.keys() - new.keys():
        row = base[key]
        comparison.only_baseline.append(_unmatched(row, key[1], f"status {row['status']}"))
    for key in new.keys() - base.keys():
        row = new[key]
        comparison.only_new.append(_unmatched(row, key[1], f"status {row['status']}"))
    jobs_done: set[str] = set()
    for key in sorted(base.keys() & new.keys(), key=lambda k: _order(new[k])):
        before, after = base[key], new[key]
        comparison.matched += 1
        if before[col.STATUS] != OK or after[col.STATUS] != OK:
            item = _unmatched(after, key[1], _status_detail(before, after))
            if before[col.STATUS] == OK and after[col.STATUS] == ERROR:
                comparison.status_regressions.append(item)
            else:
                comparison.not_compared.append(item)
            continue
        first_of_job = key[0] not in jobs_done
        jobs_done.add(key[0])
        comparison.other_hardware += hardware_difference(before, after) is not None
        for metric in METRICS:
            if not metric.per_batch and not first_of_job:
                continue  # size and quality repeat on every batch size's row of a job
            threshold = thresholds.get(metric.column)
            if threshold is None and metric.column == "latency_p50_ms":
                threshold = comparison.threshold
            change = judge(metric, before, after, threshold, comparison.alpha)
            if change is not None:
                comparison.changes.append(change)
    for items in (comparison.only_baseline, comparison.only_new):
        items.sort(key=lambda u: (u.target, u.variant, u.batch_size))
    return comparison


def _order(row: Mapping[str, Any]) -> tuple:
    return (
        str(row.get(col.TARGET)),
        row.get(col.VARIANT) != "baseline",
        str(row.get(col.STARTED_AT)),
        int(row[col.BATCH_SIZE]),
    )


def compare(
    baseline: str | Path,
    new: str | Path,
    threshold: float | None = None,
    thresholds: Mapping[str, float] | None = None,
    alpha: float | None = None,
) -> Comparison:
    """Compare the results under ``baseline`` and ``new`` (a run, or the latest of a folder).

    Settings left None come from the new run's spec (its ``compare:`` section), else from
    the defaults; per-metric ``thresholds`` given here override the spec's one by one.
    """
    base_selection = select_runs(baseline)
    new_selection = select_runs(new)
    settings = spec_compare_settings(new_selection)
    threshold = settings.get("threshold", DEFAULT_THRESHOLD) if threshold is None else threshold
    alpha = settings.get("alpha", DEFAULT_ALPHA) if alpha is None else alpha
    merged = {**settings.get("thresholds", {}), **(thresholds or {})}
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1, got {alpha}")
    if threshold < 0:
        raise UserError(f"threshold must be zero or positive, got {threshold}")
    for name in merged:
        if name not in METRIC_NAMES:
            raise UserError(unknown_name_message("metric", name, METRIC_NAMES))
    comparison = Comparison(base_selection, new_selection, threshold, merged, alpha)
    return compare_rows(base_selection.rows(), new_selection.rows(), comparison)


def spec_compare_settings(selection: RunSelection) -> dict[str, Any]:
    """The ``compare:`` section of the spec of the selection's latest run, or ``{}``."""
    for name in reversed(selection.names):
        spec = (selection.manifests.get(name) or {}).get("spec") or {}
        if spec.get("compare"):
            return dict(spec["compare"])
    return {}
