"""A comparison as Markdown (for a CI comment) or plain text (for a terminal)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from squeezebench.errors import UserError
from squeezebench.results.compare.model import (
    IMPROVEMENT,
    INCONCLUSIVE,
    METRICS,
    REGRESSION,
    Change,
    Comparison,
    Metric,
    Unmatched,
)
from squeezebench.results.formatting import MISSING, ms_digits, percent, percentage_points
from squeezebench.results.runs import RunSelection

FORMATS = ("md", "text")
CHANGE_HEADERS = ["row", "metric", "baseline", "new", "change", "threshold", "verdict"]


def _value(metric: Metric, value: float) -> str:
    if math.isnan(value):
        return MISSING
    if metric.unit == "ms":
        return f"{value:.{ms_digits(value, below_one=4)}f} ms"
    if metric.unit == "bytes":
        return f"{value:,.0f} B"
    return percent(value)


def _change_text(change: Change) -> str:
    if math.isnan(change.delta):
        return MISSING
    if change.metric.relative:
        relative = change.relative
        return MISSING if relative is None else percent(relative, "+.1f")
    return percentage_points(change.delta)


def _threshold_text(metric: Metric, threshold: float | None) -> str:
    if threshold is None:
        return MISSING if metric.kind == "info" else "exact"
    if metric.relative:
        return percent(threshold, "g")
    return percentage_points(threshold, "g")


def _verdict_text(change: Change, markdown: bool) -> str:
    icons = {REGRESSION: "❌ ", IMPROVEMENT: "✅ ", INCONCLUSIVE: "⚠️ "} if markdown else {}
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


def _unmatched_rows(items: Sequence[Unmatched]) -> list[list[str]]:
    return [[u.row, u.detail] for u in items]


def _headline(comparison: Comparison, markdown: bool) -> str:
    regressions = len(comparison.regressions) + len(comparison.status_regressions)
    if regressions:
        icon = "❌ " if markdown else ""
        return f"{icon}{regressions} regression{'s' if regressions != 1 else ''}"
    icon = "✅ " if markdown else ""
    inconclusive = len(comparison.inconclusive)
    if inconclusive:
        return (
            f"{icon}no regression ({inconclusive} inconclusive: measured under contention, "
            "drift, in fewer than 2 rounds or on different hardware)"
        )
    return f"{icon}no regression"


def _hardware_warning(comparison: Comparison) -> list[str]:
    """One line when matched rows were measured on different CPUs or GPUs."""
    count = comparison.other_hardware
    if not count:
        return []
    return [
        f"warning: {count} matched row(s) were measured on different hardware (CPU model or "
        "GPU): their latencies are inconclusive, not compared"
    ]


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
        f"latency: p50 change above {percent(latency, 'g')}"
        f" and one-sided Welch t-test on per-round medians p < {comparison.alpha:g};"
        " size and quality: exact" + (f"; per-metric thresholds: {extra}" if extra else "")
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
    lines += [f"- **{line}**" for line in _hardware_warning(comparison)]
    lines += [f"- {line}" for line in _sources(comparison)]
    lines += [
        f"- {comparison.matched} matched rows, {len(comparison.changes)} metric comparisons;"
        f" {len(comparison.improvements)} improvements",
        f"- {_settings(comparison)}",
        "",
    ]
    if comparison.status_regressions:
        lines += ["### Jobs that now fail", ""]
        lines += _md_table(["row", "status"], _unmatched_rows(comparison.status_regressions))
        lines.append("")
    for title, changes in (
        ("Regressions", comparison.regressions),
        ("Inconclusive (conditions did not hold)", comparison.inconclusive),
        ("Improvements", comparison.improvements),
    ):
        if changes:
            lines += [f"### {title}", ""]
            lines += [*_md_table(CHANGE_HEADERS, _change_rows(changes, True)), ""]
    for title, items in (
        ("Only in the baseline", comparison.only_baseline),
        ("Only in the new results", comparison.only_new),
        ("Not compared (not ok on a side)", comparison.not_compared),
    ):
        if items:
            lines += [f"### {title}", ""]
            lines += [*_md_table(["row", "detail"], _unmatched_rows(items)), ""]
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
    lines += _hardware_warning(comparison)
    lines += _sources(comparison)
    lines += [
        f"{comparison.matched} matched rows, {len(comparison.changes)} metric comparisons, "
        f"{len(comparison.improvements)} improvements",
        _settings(comparison),
        "",
    ]
    detail = ["row", "detail"]
    sections = [
        ("jobs that now fail", ["row", "status"], _unmatched_rows(comparison.status_regressions)),
        ("regressions", CHANGE_HEADERS, _change_rows(comparison.regressions, False)),
        ("inconclusive", CHANGE_HEADERS, _change_rows(comparison.inconclusive, False)),
        ("improvements", CHANGE_HEADERS, _change_rows(comparison.improvements, False)),
        ("only in the baseline", detail, _unmatched_rows(comparison.only_baseline)),
        ("only in the new results", detail, _unmatched_rows(comparison.only_new)),
        ("not compared (not ok on a side)", detail, _unmatched_rows(comparison.not_compared)),
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
