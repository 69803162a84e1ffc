"""What a report's tables and notes say, the same in Markdown and HTML.

Cells carry their text and how to show it (CSS classes, a tooltip); :mod:`report_markdown`
and :mod:`report_html` only lay them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from squeezebench.results.formatting import (
    MISSING,
    accuracy_name,
    byte_unit_scale,
    human_bytes,
    ms_digits,
    short_reason,
)
from squeezebench.results.report.model import (
    BatchEntry,
    Group,
    Problem,
    Report,
    Stat,
    VariantEntry,
)
from squeezebench.results.status import ERROR, OK

PARETO_MARK = "★"
NOISY_MARK = "~"

LEGEND = (
    f"{PARETO_MARK} Pareto-optimal: no other variant is at least as small (size column) or as"
    " fast (p50 column) and at least as accurate, and strictly better in one of the two."
    " Latencies within their noise are ties: one is faster only when its [lowest-highest"
    " per-round median] lies entirely below the other's, or, without rounds, when the other's"
    " p50 is more than the spec's noise_threshold above it."
    f" {NOISY_MARK} noisy: the latency's IQR/median is above the spec's noise_threshold."
    " pp: percentage points. Speedup: the baseline's p50 / this p50 on the same target."
    " Sizes are bytes of the artifact the target deploys (KiB = 1024 bytes)."
)


@dataclass
class Cell:
    """One table cell: its text, and how to show it (CSS classes, a tooltip)."""

    text: str
    classes: tuple[str, ...] = ()
    title: str = ""


@dataclass
class Flag:
    """A line under a table: what is flagged, and the full reason when it was shortened."""

    text: str
    detail: str = ""


def _bytes_stat(stat: Stat) -> str:
    if stat.mean is None:
        return MISSING
    if stat.spread is None:
        return human_bytes(stat.mean)
    value, unit = human_bytes(stat.mean).split(" ")
    return f"{value} ± {stat.spread / byte_unit_scale(unit):.1f} {unit}"


def _ms(stat: Stat) -> str:
    if stat.mean is None:
        return MISSING
    digits = ms_digits(abs(stat.mean))
    if stat.spread is None:
        return f"{stat.mean:.{digits}f} ms"
    return f"{stat.mean:.{digits}f} ± {stat.spread:.{digits}f} ms"


def _latency(at: BatchEntry) -> str:
    """The p50, with ``[lowest-highest]`` per-round median when timed in several rounds."""
    text = _ms(at.p50)
    interval = at.interval
    if interval is None or at.p50.mean is None:
        return text
    digits = ms_digits(abs(at.p50.mean))
    return f"{text} [{interval[0]:.{digits}f}-{interval[1]:.{digits}f}]"


def _number(stat: Stat, pattern: str, scale: float = 1.0, suffix: str = "") -> str:
    if stat.mean is None:
        return MISSING
    if stat.spread is None:
        return pattern.format(stat.mean * scale) + suffix
    return f"{pattern.format(stat.mean * scale)} ± {abs(stat.spread * scale):.2f}{suffix}"


def _problem_groups(problems: Sequence[Problem]) -> dict[tuple[str, str], list[Problem]]:
    grouped: dict[tuple[str, str], list[Problem]] = {}
    for problem in problems:
        grouped.setdefault((problem.status, short_reason(problem.reason)), []).append(problem)
    return grouped


def _seeds(problems: Sequence[Problem], entry: VariantEntry) -> str:
    if entry.measurements < 2 or len(problems) == entry.measurements:
        return ""
    seeds = ", ".join(str(p.seed) for p in problems)
    return f" (seed{'s' if len(problems) > 1 else ''} {seeds})"


def _status_cell(entry: VariantEntry) -> Cell:
    if entry.status == OK:
        return Cell(OK)
    shown = "; ".join(
        f"{status}{_seeds(problems, entry)}: {reason}"
        for (status, reason), problems in _problem_groups(entry.problems).items()
    )
    if entry.status == "partial":
        return Cell(f"⚠ {len(entry.problems)} of {entry.measurements} not ok: {shown}", ("flag",))
    mark = "✗" if entry.status == ERROR else "⊘"
    return Cell(f"{mark} {shown}", ("flag",))


def columns(group: Group) -> list[str]:
    """The header of a group's table."""
    names = ["variant", "status", "size"]
    if any(v.encoded.n for v in group.variants):
        names.append("encoded")
    fidelity = "cosine" if group.metric == "embedding" else "fidelity"  # see report_data
    names += ["ratio", accuracy_name(group.metric), "Δ acc", fidelity]
    for batch in group.batch_sizes:
        names += [f"p50 b={batch}", f"p99 b={batch}", f"speedup b={batch}"]
    names.append("Pareto")
    return names


def cells(group: Group, entry: VariantEntry) -> list[Cell]:
    """A variant's row in its group's table, one cell per column of :func:`columns`."""
    encoded = any(v.encoded.n for v in group.variants)
    size = Cell(_bytes_stat(entry.size))
    encoded_cell = Cell(_bytes_stat(entry.encoded))
    shipped = encoded_cell if entry.encoded.n else size
    if entry.pareto_size:
        shipped.text += f" {PARETO_MARK}"
        shipped.classes = ("pareto",)
    name = entry.name + (f" (n={entry.measurements})" if entry.measurements > 1 else "")
    row = [Cell(name, ("baseline",) if entry.is_baseline else ()), _status_cell(entry), size]
    if encoded:
        row.append(encoded_cell)
    row += [
        Cell(_number(entry.ratio, "{:.2f}", suffix="x")),
        Cell(_number(entry.accuracy, "{:.2f}", 100, "%")),
        Cell(_number(entry.delta, "{:+.2f}", 100, " pp")),
        Cell(_number(entry.fidelity, "{:.2f}", 100, "%")),
    ]
    pareto = ["size"] if entry.pareto_size else []
    for batch in group.batch_sizes:
        at = entry.batches.get(batch)
        if at is None:
            row += [Cell(MISSING), Cell(MISSING), Cell(MISSING)]
            continue
        p50 = Cell(_latency(at))
        classes: list[str] = []
        if at.pareto:
            p50.text += f" {PARETO_MARK}"
            classes.append("pareto")
            pareto.append(f"latency b={batch}")
        if at.noisy:
            p50.text += f" {NOISY_MARK}"
            classes.append("noisy")
            p50.title = f"noisy: IQR/median {at.spread:.2f}" + (
                f" > {group.noise_threshold:g}" if group.noise_threshold else ""
            )
        if at.interval is not None and not p50.title:
            p50.title = f"lowest-highest median of {at.rounds} timing rounds"
        p50.classes = tuple(classes)
        row += [p50, Cell(_ms(at.p99)), Cell(_number(at.speedup, "{:.2f}", suffix="x"))]
    row.append(Cell(", ".join(pareto) if pareto else "", ("pareto",) if pareto else ()))
    return row


def flags(group: Group) -> list[Flag]:
    """Failed and skipped jobs (variants with the same reason together), then noisy latencies."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    details: dict[tuple[str, str], str] = {}
    for entry in group.variants:
        for (status, reason), problems in _problem_groups(entry.problems).items():
            by_reason.setdefault((status, reason), []).append(entry.name + _seeds(problems, entry))
            full = problems[0].reason.strip()
            if full != reason:
                details.setdefault((status, reason), full)
    found = [
        Flag(f"{status}: {', '.join(names)}: {reason}", details.get((status, reason), ""))
        for (status, reason), names in by_reason.items()
    ]
    for entry in group.variants:
        for batch, at in entry.batches.items():
            if at.noisy:
                limit = f" > {group.noise_threshold:g}" if group.noise_threshold else ""
                spread = f" (IQR/median {at.spread:.3f}{limit})" if at.spread is not None else ""
                found.append(Flag(f"noisy: {entry.name} at batch size {batch}{spread}"))
    return found


def aggregation_note(report: Report) -> str:
    """What ``mean ± std`` means, when some variant was measured more than once."""
    if not report.aggregated:
        return ""
    return (
        "Variants measured more than once (n = runs or seeds, see the variant column) show"
        " mean ± sample standard deviation across their measurements (a value without ± was"
        " the same in every measurement); Pareto marks and plots use the means."
    )


def report_title(report: Report) -> str:
    """The specs' names, or the results path without any."""
    specs = sorted({r.spec_name for r in report.runs if r.spec_name})
    return ", ".join(specs) if specs else str(report.source)


def run_lines(report: Report) -> list[str]:
    """One line per run shown (start, status, environment), and one about runs not shown."""
    lines = []
    for run in report.runs:
        started = f", started {run.started_at}" if run.started_at else ""
        status = f", {run.status}" if run.status else ""
        env = f"; {run.environment}" if run.environment else ""
        lines.append(f"run {run.run_id}{started}{status}{env}")
    if len(report.available_runs) > len(report.runs):
        lines.append(
            f"{len(report.available_runs)} runs under {report.source}; this report shows "
            f"{len(report.runs)} (choose with --run RUN_ID, or --all-runs)"
        )
    return lines
