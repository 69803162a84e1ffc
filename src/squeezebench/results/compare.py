"""``squeezebench compare``: did a change make any variant bigger, slower or less accurate?

Rows of the two sides are matched by job identity: ``job_id`` (a hash of the model, dataset,
variant name and pipeline, target and seed) and ``batch_size``. For every matched row each
metric's change is reported, and judged:

- **latency** (``latency_p50_ms``): a regression only when the p50 grew by more than the
  threshold (``--threshold``, default 10 %) *and* a one-sided Mann-Whitney U test on the raw
  samples (``latency_samples_ms``, new slower than baseline) is significant at ``alpha``.
  Improvements are judged the same way in the other direction. Without raw samples on either
  side, the threshold alone decides (the verdict says so).
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

Exit codes are :class:`CompareExit`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.results.runs import RunSelection, select_runs
from squeezebench.suggest import unknown_name_message


class CompareExit(IntEnum):
    """Exit status of ``squeezebench compare``."""

    OK = 0
    """No regression (improvements, unchanged metrics and unmatched rows are fine)."""
    REGRESSION = 1
    """At least one metric of one matched row regressed (see the report)."""
    USAGE_ERROR = 2
    """Bad command line or unreadable results: nothing was compared."""


@dataclass(frozen=True)
class Metric:
    """How a metric is compared."""

    column: str
    label: str
    unit: str
    lower_is_better: bool
    kind: str  # "latency" (threshold + test), "exact", or "info" (judged only with a threshold)
    relative: bool  # thresholds and changes relative (ratio) or absolute
    per_batch: bool  # measured per batch size, or once per job (repeated on its rows)


METRICS: tuple[Metric, ...] = (
    Metric("artifact_bytes", "artifact size", "bytes", True, "exact", True, False),
    Metric("encoded_bytes", "encoded size", "bytes", True, "exact", True, False),
    Metric("accuracy", "accuracy", "fraction", False, "exact", False, False),
    Metric("fidelity", "fidelity", "fraction", False, "exact", False, False),
    Metric("latency_p50_ms", "p50 latency", "ms", True, "latency", True, True),
    Metric("latency_p99_ms", "p99 latency", "ms", True, "info", True, True),
    Metric("peak_memory_bytes", "peak memory", "bytes", True, "info", True, True),
)
METRIC_NAMES = tuple(m.column for m in METRICS)
DEFAULT_THRESHOLD = 0.10
DEFAULT_ALPHA = 0.05
FORMATS = ("md", "text")
_EPSILON = 1e-12

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
WITHIN = "within threshold"
NOT_SIGNIFICANT = "not significant"
INFO = "info"


@dataclass
class Change:
    """One metric of one matched row, before and after."""

    job_id: str
    variant: str
    target: str
    batch_size: int | None  # None for metrics of the whole job (size, quality)
    metric: Metric
    baseline: float
    new: float
    threshold: float | None
    verdict: str
    p_value: float | None = None
    note: str = ""

    @property
    def delta(self) -> float:
        """new - baseline."""
        return self.new - self.baseline

    @property
    def relative(self) -> float | None:
        """(new - baseline) / baseline, None when the baseline is 0."""
        return self.delta / self.baseline if self.baseline else None

    @property
    def row(self) -> str:
        """``variant @ target b=N`` (without ``b=`` for job-level metrics)."""
        batch = "" if self.batch_size is None else f" b={self.batch_size}"
        return f"{self.variant} @ {self.target}{batch}"


@dataclass
class Unmatched:
    """A row on one side only, or matched but not comparable (a status other than ok)."""

    variant: str
    target: str
    batch_size: int
    detail: str

    @property
    def row(self) -> str:
        """``variant @ target b=N``."""
        return f"{self.variant} @ {self.target} b={self.batch_size}"


@dataclass
class Comparison:
    """Everything ``compare`` found."""

    baseline: RunSelection
    new: RunSelection
    threshold: float
    thresholds: dict[str, float]
    alpha: float
    changes: list[Change] = field(default_factory=list)
    status_regressions: list[Unmatched] = field(default_factory=list)
    only_baseline: list[Unmatched] = field(default_factory=list)
    only_new: list[Unmatched] = field(default_factory=list)
    not_compared: list[Unmatched] = field(default_factory=list)
    matched: int = 0

    @property
    def regressions(self) -> list[Change]:
        """Metric changes judged regressions."""
        return [c for c in self.changes if c.verdict == REGRESSION]

    @property
    def improvements(self) -> list[Change]:
        """Metric changes judged improvements."""
        return [c for c in self.changes if c.verdict == IMPROVEMENT]

    @property
    def regressed(self) -> bool:
        """Any regression (metric or status)."""
        return bool(self.regressions or self.status_regressions)

    @property
    def exit_code(self) -> CompareExit:
        """What the process should exit with."""
        return CompareExit.REGRESSION if self.regressed else CompareExit.OK


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


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _index(rows: Sequence[dict[str, Any]], side: str) -> dict[tuple[str, int], dict[str, Any]]:
    indexed: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (str(row["job_id"]), int(row["batch_size"]))
        if key in indexed:
            raise UserError(
                f"the {side} results hold job {key[0]} at batch size {key[1]} twice (several "
                "runs?); point compare at one run folder"
            )
        indexed[key] = row
    return indexed


def _mann_whitney(new: Sequence[float], baseline: Sequence[float], alternative: str) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(new, baseline, alternative=alternative).pvalue)


def _judge(
    metric: Metric,
    base_row: dict[str, Any],
    new_row: dict[str, Any],
    threshold: float | None,
    alpha: float,
) -> Change | None:
    baseline, new = _number(base_row.get(metric.column)), _number(new_row.get(metric.column))
    if baseline is None and new is None:
        return None
    change = Change(
        job_id=str(new_row["job_id"]),
        variant=str(new_row["variant"]),
        target=str(new_row["target"]),
        batch_size=int(new_row["batch_size"]) if metric.per_batch else None,
        metric=metric,
        baseline=math.nan if baseline is None else baseline,
        new=math.nan if new is None else new,
        threshold=threshold,
        verdict=INFO,
    )
    if baseline is None or new is None:
        change.note = "missing on one side"
        return change
    if metric.kind == "info" and threshold is None:
        return change
    worse_by = (new - baseline) if metric.lower_is_better else (baseline - new)
    if metric.relative:
        worse = (worse_by / abs(new) if new else 0.0) if baseline == 0 else worse_by / abs(baseline)
    else:
        worse = worse_by
    limit = threshold or 0.0
    if abs(worse) <= _EPSILON:
        change.verdict = UNCHANGED
        return change
    beyond = abs(worse) > limit + _EPSILON
    if not beyond:
        change.verdict = WITHIN
        return change
    direction = REGRESSION if worse > 0 else IMPROVEMENT
    if metric.column.startswith("latency_"):
        samples_base = base_row.get("latency_samples_ms") or []
        samples_new = new_row.get("latency_samples_ms") or []
        if len(samples_base) and len(samples_new):
            alternative = "greater" if direction == REGRESSION else "less"
            change.p_value = _mann_whitney(samples_new, samples_base, alternative)
            if not change.p_value < alpha:
                change.verdict = NOT_SIGNIFICANT
                return change
        else:
            change.note = "no raw samples: judged on the threshold alone"
    change.verdict = direction
    noisy = [side for side, row in (("baseline", base_row), ("new", new_row)) if row.get("noisy")]
    if noisy and metric.column.startswith("latency_"):
        change.note = (change.note + "; " if change.note else "") + f"noisy ({', '.join(noisy)})"
    return change


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
        comparison.only_baseline.append(
            Unmatched(row["variant"], row["target"], key[1], f"status {row['status']}")
        )
    for key in new.keys() - base.keys():
        row = new[key]
        comparison.only_new.append(
            Unmatched(row["variant"], row["target"], key[1], f"status {row['status']}")
        )
    jobs_done: set[str] = set()
    for key in sorted(base.keys() & new.keys(), key=lambda k: _order(new[k])):
        before, after = base[key], new[key]
        comparison.matched += 1
        if before["status"] != "ok" or after["status"] != "ok":
            detail = (
                f"baseline {before['status']}"
                + (f" ({before.get('reason')})" if before["status"] != "ok" else "")
                + f", new {after['status']}"
                + (f" ({after.get('reason')})" if after["status"] != "ok" else "")
            )
            item = Unmatched(after["variant"], after["target"], key[1], detail)
            if before["status"] == "ok" and after["status"] == "error":
                comparison.status_regressions.append(item)
            else:
                comparison.not_compared.append(item)
            continue
        first_of_job = key[0] not in jobs_done
        jobs_done.add(key[0])
        for metric in METRICS:
            if not metric.per_batch and not first_of_job:
                continue  # size and quality repeat on every batch size's row of a job
            threshold = thresholds.get(metric.column)
            if threshold is None and metric.column == "latency_p50_ms":
                threshold = comparison.threshold
            change = _judge(metric, before, after, threshold, comparison.alpha)
            if change is not None:
                comparison.changes.append(change)
    for items in (comparison.only_baseline, comparison.only_new):
        items.sort(key=lambda u: (u.target, u.variant, u.batch_size))
    return comparison


def _order(row: Mapping[str, Any]) -> tuple:
    return (
        str(row.get("target")),
        row.get("variant") != "baseline",
        str(row.get("started_at")),
        int(row["batch_size"]),
    )


def compare(
    baseline: str | Path,
    new: str | Path,
    threshold: float = DEFAULT_THRESHOLD,
    thresholds: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """Compare the results under ``baseline`` and ``new`` (a run, or the latest of a folder)."""
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1, got {alpha}")
    if threshold < 0:
        raise UserError(f"threshold must be zero or positive, got {threshold}")
    base_selection = select_runs(baseline)
    new_selection = select_runs(new)
    comparison = Comparison(base_selection, new_selection, threshold, dict(thresholds or {}), alpha)
    return compare_rows(base_selection.rows(), new_selection.rows(), comparison)


# --------------------------------------------------------------------------------------------
# Rendering


def _value(metric: Metric, value: float) -> str:
    if math.isnan(value):
        return "—"
    if metric.unit == "ms":
        digits = 0 if value >= 100 else 1 if value >= 10 else 2 if value >= 1 else 4
        return f"{value:.{digits}f} ms"
    if metric.unit == "bytes":
        return f"{value:,.0f} B"
    return f"{100 * value:.2f}%"


def _change_text(change: Change) -> str:
    if math.isnan(change.delta):
        return "—"
    if change.metric.relative:
        relative = change.relative
        return "—" if relative is None else f"{100 * relative:+.1f}%"
    return f"{100 * change.delta:+.2f} pp"


def _threshold_text(metric: Metric, threshold: float | None) -> str:
    if threshold is None:
        return "—" if metric.kind == "info" else "exact"
    if metric.relative:
        return f"{100 * threshold:g}%"
    return f"{100 * threshold:g} pp"


def _verdict_text(change: Change, markdown: bool) -> str:
    icons = {REGRESSION: "❌ ", IMPROVEMENT: "✅ "} if markdown else {}
    text = icons.get(change.verdict, "") + change.verdict
    if change.p_value is not None:
        text += f" (p={change.p_value:.2g})"
    if change.note:
        text += f"; {change.note}"
    return text


def _change_rows(changes: Sequence[Change], markdown: bool) -> list[list[str]]:
    return [
        [
            c.row,
            c.metric.column,
            _value(c.metric, c.baseline),
            _value(c.metric, c.new),
            _change_text(c),
            _threshold_text(c.metric, c.threshold),
            _verdict_text(c, markdown),
        ]
        for c in changes
    ]


CHANGE_HEADERS = ["row", "metric", "baseline", "new", "change", "threshold", "verdict"]


def _headline(comparison: Comparison, markdown: bool) -> str:
    regressions = len(comparison.regressions) + len(comparison.status_regressions)
    if regressions:
        icon = "❌ " if markdown else ""
        return f"{icon}{regressions} regression{'s' if regressions != 1 else ''}"
    icon = "✅ " if markdown else ""
    return f"{icon}no regression"


def _sources(comparison: Comparison) -> list[str]:
    def describe(selection: RunSelection) -> str:
        if selection.paths == [selection.root]:
            return str(selection.root)
        return f"{selection.root} (run {', '.join(selection.names)})"

    return [f"baseline: {describe(comparison.baseline)}", f"new: {describe(comparison.new)}"]


def _settings(comparison: Comparison) -> str:
    extra = ", ".join(
        f"{name} {_threshold_text(next(m for m in METRICS if m.column == name), value)}"
        for name, value in sorted(comparison.thresholds.items())
    )
    latency = comparison.thresholds.get("latency_p50_ms", comparison.threshold)
    return (
        f"latency: p50 change above {100 * latency:g}%"
        f" and one-sided Mann-Whitney U p < {comparison.alpha:g}; size and quality: exact"
        + (f"; per-metric thresholds: {extra}" if extra else "")
    )


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown, for a CI comment."""
    lines = [f"## squeezebench compare: {_headline(comparison, True)}", ""]
    lines += [f"- {line}" for line in _sources(comparison)]
    lines += [
        f"- {comparison.matched} matched rows, {len(comparison.changes)} metric comparisons;"
        f" {len(comparison.improvements)} improvements",
        f"- {_settings(comparison)}",
        "",
    ]
    if comparison.status_regressions:
        lines += ["### Jobs that now fail", ""]
        lines += _md_table(
            ["row", "status"], [[u.row, u.detail] for u in comparison.status_regressions]
        )
        lines.append("")
    if comparison.regressions:
        lines += ["### Regressions", ""]
        lines += [*_md_table(CHANGE_HEADERS, _change_rows(comparison.regressions, True)), ""]
    if comparison.improvements:
        lines += ["### Improvements", ""]
        lines += [*_md_table(CHANGE_HEADERS, _change_rows(comparison.improvements, True)), ""]
    for title, items in (
        ("Only in the baseline", comparison.only_baseline),
        ("Only in the new results", comparison.only_new),
        ("Not compared (not ok on a side)", comparison.not_compared),
    ):
        if items:
            lines += [f"### {title}", ""]
            lines += [*_md_table(["row", "detail"], [[u.row, u.detail] for u in items]), ""]
    if comparison.changes:
        lines += [
            f"<details><summary>All {len(comparison.changes)} metric comparisons</summary>",
            "",
        ]
        lines += _md_table(CHANGE_HEADERS, _change_rows(comparison.changes, True))
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return lines


def render_text(comparison: Comparison) -> str:
    """The comparison as plain text, for a terminal."""
    lines = [f"squeezebench compare: {_headline(comparison, False)}"]
    lines += _sources(comparison)
    lines += [
        f"{comparison.matched} matched rows, {len(comparison.changes)} metric comparisons, "
        f"{len(comparison.improvements)} improvements",
        _settings(comparison),
        "",
    ]
    sections = [
        (
            "jobs that now fail",
            ["row", "status"],
            [[u.row, u.detail] for u in comparison.status_regressions],
        ),
        ("regressions", CHANGE_HEADERS, _change_rows(comparison.regressions, False)),
        ("improvements", CHANGE_HEADERS, _change_rows(comparison.improvements, False)),
        (
            "only in the baseline",
            ["row", "detail"],
            [[u.row, u.detail] for u in comparison.only_baseline],
        ),
        (
            "only in the new results",
            ["row", "detail"],
            [[u.row, u.detail] for u in comparison.only_new],
        ),
        (
            "not compared (not ok on a side)",
            ["row", "detail"],
            [[u.row, u.detail] for u in comparison.not_compared],
        ),
        ("all metric comparisons", CHANGE_HEADERS, _change_rows(comparison.changes, False)),
    ]
    for title, headers, rows in sections:
        if rows:
            lines += [f"{title}:", *_text_table(headers, rows), ""]
    return "\n".join(lines)


def render(comparison: Comparison, fmt: str) -> str:
    """Markdown (``md``) or plain text (``text``)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown compare format {fmt!r} (valid: {', '.join(FORMATS)})")
    return render_markdown(comparison) if fmt == "md" else render_text(comparison)
