"""``squeezebench report``: one page per results folder, in Markdown or self-contained HTML.

Per model and target, a table of the variants (size, compression ratio, accuracy and its
delta to the baseline, fidelity, then per batch size the p50/p99 latency and the speedup over
the baseline), with:

- the Pareto-optimal variants marked ★ (size vs accuracy, and latency vs accuracy per batch
  size: no other variant is at least as small (fast) and at least as accurate, and strictly
  better in one of the two);
- noisy latencies (the ``noisy`` column) marked ``~``, and failed or skipped jobs flagged with
  their reason, in the table and again in a list under it;
- ``mean ± std`` across measurements when several runs (seeds) measured the same variant,
  target and batch size (``--all-runs`` or several ``--run``).

Plots (matplotlib, imported lazily; :mod:`squeezebench.results.plots`) are written as PNG
files next to the report and embedded (base64) in the HTML, which needs no other file.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squeezebench.errors import UserError
from squeezebench.results.pareto import pareto_optimal
from squeezebench.results.runs import RunSelection, select_runs

BASELINE = "baseline"
FORMATS = ("md", "html")
PARETO_MARK = "★"
NOISY_MARK = "~"
REPORT_HINT = "pip install squeezebench[report]"


# --------------------------------------------------------------------------------------------
# The model of the report


@dataclass
class Stat:
    """A metric over the measurements (seeds, runs) of one variant: mean, std, count."""

    values: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        """How many measurements."""
        return len(self.values)

    @property
    def mean(self) -> float | None:
        """Their mean, None without any."""
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Their sample standard deviation, None with fewer than two."""
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def spread(self) -> float | None:
        """The standard deviation when the measurements differ, else None (shown without ±)."""
        std = self.std
        return std if std else None


def _stat(values: Iterable[Any]) -> Stat:
    return Stat(
        [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    )


@dataclass
class Problem:
    """A failed or skipped job of a variant (one of its measurements)."""

    status: str
    reason: str
    seed: Any
    run_id: str


@dataclass
class BatchEntry:
    """A variant's latency at one batch size."""

    batch_size: int
    p50: Stat
    p99: Stat
    speedup: Stat
    noisy: bool = False
    spread: float | None = None
    pareto: bool = False


@dataclass
class VariantEntry:
    """One variant on one target, aggregated over its measurements."""

    name: str
    steps: str
    is_baseline: bool
    measurements: int
    seeds: list[Any]
    status: str
    problems: list[Problem]
    size: Stat
    encoded: Stat
    ratio: Stat
    accuracy: Stat
    delta: Stat
    fidelity: Stat
    batches: dict[int, BatchEntry]
    pareto_size: bool = False

    @property
    def shipped(self) -> Stat:
        """The bytes one would ship: encoded if the pipeline encodes, else the artifact."""
        return self.encoded if self.encoded.n else self.size

    @property
    def measured(self) -> bool:
        """At least one measurement finished."""
        return self.status in ("ok", "partial")


@dataclass
class Group:
    """The variants of one model and dataset on one target."""

    model: str
    dataset: str | None
    target: str
    metric: str | None
    batch_sizes: list[int]
    variants: list[VariantEntry]
    noise_threshold: float | None
    slug: str = ""

    @property
    def title(self) -> str:
        """``model (dataset) on target``."""
        data = f" ({self.dataset})" if self.dataset else ""
        return f"{self.model}{data} on {self.target}"

    @property
    def has_accuracy(self) -> bool:
        """Some variant has an accuracy (a dataset was given)."""
        return any(v.accuracy.n for v in self.variants)


@dataclass
class RunInfo:
    """What a run's manifest says about it (empty fields without a manifest)."""

    run_id: str
    spec_name: str | None
    started_at: str | None
    status: str | None
    environment: str


@dataclass
class Report:
    """Everything a report shows."""

    groups: list[Group]
    runs: list[RunInfo]
    source: Path
    available_runs: list[str]

    @property
    def aggregated(self) -> bool:
        """Some variant was measured more than once (mean ± std shown)."""
        return any(v.measurements > 1 for g in self.groups for v in g.variants)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "group"


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


def _noise_threshold(manifests: Iterable[dict[str, Any]]) -> float | None:
    values = {
        ((m.get("spec") or {}).get("benchmark") or {}).get("noise_threshold") for m in manifests
    } - {None}
    return values.pop() if len(values) == 1 else None


def build_report(rows: Sequence[dict[str, Any]], selection: RunSelection) -> Report:
    """Aggregate result rows into groups (model, dataset, target) of variant entries."""
    if not rows:
        raise UserError(f"no result rows under {selection.root}")
    threshold = _noise_threshold(selection.manifests.values())
    order = sorted(
        range(len(rows)), key=lambda i: (str(rows[i].get("started_at") or ""), i)
    )  # spec order: jobs start baseline first
    grouped: dict[tuple, dict[tuple, list[dict[str, Any]]]] = {}
    for index in order:
        row = rows[index]
        key = (row.get("model"), row.get("dataset"), row.get("target"))
        variant = (row.get("variant"), row.get("steps"))
        grouped.setdefault(key, {}).setdefault(variant, []).append(row)
    groups = []
    slugs: set[str] = set()
    for (model, dataset, target), variants in grouped.items():
        entries = [_variant_entry(name, steps, vrows) for (name, steps), vrows in variants.items()]
        entries.sort(key=lambda e: not e.is_baseline)  # stable: baseline first, then spec order
        batch_sizes = sorted({int(r["batch_size"]) for v in variants.values() for r in v})
        metrics = {r.get("metric") for v in variants.values() for r in v} - {None}
        group = Group(
            model=str(model),
            dataset=dataset,
            target=str(target),
            metric=metrics.pop() if len(metrics) == 1 else None,
            batch_sizes=batch_sizes,
            variants=entries,
            noise_threshold=threshold,
        )
        slug = _slug(f"{model}-{dataset or ''}-{target}")
        while slug in slugs:
            slug += "-2"
        slugs.add(slug)
        group.slug = slug
        _mark_pareto(group)
        groups.append(group)
    runs = [
        RunInfo(
            run_id=name,
            spec_name=selection.manifests.get(name, {}).get("spec_name"),
            started_at=selection.manifests.get(name, {}).get("started_at"),
            status=selection.manifests.get(name, {}).get("status"),
            environment=_environment(selection.manifests.get(name, {})),
        )
        for name in selection.names
    ]
    return Report(groups, runs, selection.root, selection.available)


def _variant_entry(name: str, steps: str, rows: list[dict[str, Any]]) -> VariantEntry:
    # One measurement = one job of one run; its job-level metrics repeat on each batch's row.
    jobs: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        jobs.setdefault((row.get("run_id"), row.get("job_id")), []).append(row)
    firsts = [job_rows[0] for job_rows in jobs.values()]
    ok_jobs = [job_rows for job_rows in jobs.values() if all(r["status"] == "ok" for r in job_rows)]
    problems = []
    for job_rows in jobs.values():
        bad = next((r for r in job_rows if r["status"] != "ok"), None)
        if bad is not None:
            problems.append(
                Problem(bad["status"], str(bad.get("reason") or ""), bad.get("seed"), bad["run_id"])
            )
    if not problems:
        status = "ok"
    elif ok_jobs:
        status = "partial"
    else:
        status = problems[0].status
    ok_firsts = [job_rows[0] for job_rows in ok_jobs]
    ok_rows = [r for job_rows in ok_jobs for r in job_rows]
    batches = {}
    for batch in sorted({int(r["batch_size"]) for r in rows}):
        at = [r for r in ok_rows if int(r["batch_size"]) == batch]
        spreads = [r["latency_spread"] for r in at if r.get("latency_spread") is not None]
        batches[batch] = BatchEntry(
            batch_size=batch,
            p50=_stat(r.get("latency_p50_ms") for r in at),
            p99=_stat(r.get("latency_p99_ms") for r in at),
            speedup=_stat(r.get("speedup") for r in at),
            noisy=any(bool(r.get("noisy")) for r in at),
            spread=max(spreads) if spreads else None,
        )
    steps_list = json.loads(steps) if steps else []
    return VariantEntry(
        name=str(name),
        steps=steps or "[]",
        is_baseline=name == BASELINE or steps_list == [],
        measurements=len(jobs),
        seeds=sorted({r.get("seed") for r in firsts if r.get("seed") is not None}),
        status=status,
        problems=problems,
        size=_stat(r.get("artifact_bytes") for r in ok_firsts),
        encoded=_stat(r.get("encoded_bytes") for r in ok_firsts),
        ratio=_stat(r.get("compression_ratio") for r in ok_firsts),
        accuracy=_stat(r.get("accuracy") for r in ok_firsts),
        delta=_stat(r.get("accuracy_delta") for r in ok_firsts),
        fidelity=_stat(r.get("fidelity") for r in ok_firsts),
        batches=batches,
    )


def _mark_pareto(group: Group) -> None:
    measured = [v for v in group.variants if v.measured]
    accuracy = [v.accuracy.mean for v in measured]
    for entry, optimal in zip(
        measured, pareto_optimal([v.shipped.mean for v in measured], accuracy), strict=True
    ):
        entry.pareto_size = optimal
    for batch in group.batch_sizes:
        latency = [v.batches[batch].p50.mean if batch in v.batches else None for v in measured]
        for entry, optimal in zip(measured, pareto_optimal(latency, accuracy), strict=True):
            if batch in entry.batches:
                entry.batches[batch].pareto = optimal


# --------------------------------------------------------------------------------------------
# Formatting


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _bytes_stat(stat: Stat) -> str:
    if stat.mean is None:
        return "—"
    if stat.spread is None:
        return _bytes(stat.mean)
    value, unit = _bytes(stat.mean).split(" ")
    scale = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[unit]
    return f"{value} ± {stat.spread / scale:.1f} {unit}"


def _ms_digits(value: float) -> int:
    value = abs(value)
    if value >= 100:
        return 0
    if value >= 10:
        return 1
    if value >= 1:
        return 2
    return 3 if value >= 0.1 else 4


def _ms(stat: Stat) -> str:
    if stat.mean is None:
        return "—"
    digits = _ms_digits(stat.mean)
    if stat.spread is None:
        return f"{stat.mean:.{digits}f} ms"
    return f"{stat.mean:.{digits}f} ± {stat.spread:.{digits}f} ms"


def _number(stat: Stat, pattern: str, scale: float = 1.0, suffix: str = "") -> str:
    if stat.mean is None:
        return "—"
    if stat.spread is None:
        return pattern.format(stat.mean * scale) + suffix
    return f"{pattern.format(stat.mean * scale)} ± {abs(stat.spread * scale):.2f}{suffix}"


def _metric_name(metric: str | None) -> str:
    return {"top1": "top-1 accuracy"}.get(
        metric or "", f"{metric} accuracy" if metric else "accuracy"
    )


@dataclass
class Cell:
    """One table cell: its text, and how to show it (CSS classes, a tooltip)."""

    text: str
    classes: tuple[str, ...] = ()
    title: str = ""


def short_reason(reason: str, limit: int = 160) -> str:
    """A reason's first non-empty line, shortened (tracebacks stay in the results)."""
    line = next((x.strip() for x in reason.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


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
    if entry.status == "ok":
        return Cell("ok")
    shown = "; ".join(
        f"{status}{_seeds(problems, entry)}: {reason}"
        for (status, reason), problems in _problem_groups(entry.problems).items()
    )
    if entry.status == "partial":
        return Cell(f"⚠ {len(entry.problems)} of {entry.measurements} not ok: {shown}", ("flag",))
    mark = "✗" if entry.status == "error" else "⊘"
    return Cell(f"{mark} {shown}", ("flag",))


def _columns(group: Group) -> list[str]:
    columns = ["variant", "status", "size"]
    if any(v.encoded.n for v in group.variants):
        columns.append("encoded")
    columns += ["ratio", _metric_name(group.metric), "Δ acc", "fidelity"]
    for batch in group.batch_sizes:
        columns += [f"p50 b={batch}", f"p99 b={batch}", f"speedup b={batch}"]
    columns.append("Pareto")
    return columns


def _cells(group: Group, entry: VariantEntry) -> list[Cell]:
    encoded = any(v.encoded.n for v in group.variants)
    size = Cell(_bytes_stat(entry.size))
    encoded_cell = Cell(_bytes_stat(entry.encoded))
    shipped = encoded_cell if entry.encoded.n else size
    if entry.pareto_size:
        shipped.text += f" {PARETO_MARK}"
        shipped.classes = ("pareto",)
    name = entry.name + (f" (n={entry.measurements})" if entry.measurements > 1 else "")
    cells = [Cell(name, ("baseline",) if entry.is_baseline else ()), _status_cell(entry), size]
    if encoded:
        cells.append(encoded_cell)
    cells += [
        Cell(_number(entry.ratio, "{:.2f}", suffix="x")),
        Cell(_number(entry.accuracy, "{:.2f}", 100, "%")),
        Cell(_number(entry.delta, "{:+.2f}", 100, " pp")),
        Cell(_number(entry.fidelity, "{:.2f}", 100, "%")),
    ]
    pareto = ["size"] if entry.pareto_size else []
    for batch in group.batch_sizes:
        at = entry.batches.get(batch)
        if at is None:
            cells += [Cell("—"), Cell("—"), Cell("—")]
            continue
        p50 = Cell(_ms(at.p50))
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
        p50.classes = tuple(classes)
        cells += [p50, Cell(_ms(at.p99)), Cell(_number(at.speedup, "{:.2f}", suffix="x"))]
    cells.append(Cell(", ".join(pareto) if pareto else "", ("pareto",) if pareto else ()))
    return cells


@dataclass
class Flag:
    """A line under a table: what is flagged, and the full reason when it was shortened."""

    text: str
    detail: str = ""


def _flags(group: Group) -> list[Flag]:
    """Failed and skipped jobs (variants with the same reason together), then noisy latencies."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    details: dict[tuple[str, str], str] = {}
    for entry in group.variants:
        for (status, reason), problems in _problem_groups(entry.problems).items():
            by_reason.setdefault((status, reason), []).append(entry.name + _seeds(problems, entry))
            full = problems[0].reason.strip()
            if full != reason:
                details.setdefault((status, reason), full)
    flags = [
        Flag(f"{status}: {', '.join(names)}: {reason}", details.get((status, reason), ""))
        for (status, reason), names in by_reason.items()
    ]
    for entry in group.variants:
        for batch, at in entry.batches.items():
            if at.noisy:
                limit = f" > {group.noise_threshold:g}" if group.noise_threshold else ""
                spread = f" (IQR/median {at.spread:.3f}{limit})" if at.spread is not None else ""
                flags.append(Flag(f"noisy: {entry.name} at batch size {batch}{spread}"))
    return flags


LEGEND = (
    f"{PARETO_MARK} Pareto-optimal: no other variant is at least as small (size column) or as"
    " fast (p50 column) and at least as accurate, and strictly better in one of the two."
    f" {NOISY_MARK} noisy: the latency's IQR/median is above the spec's noise_threshold."
    " pp: percentage points. Speedup: the baseline's p50 / this p50 on the same target."
    " Sizes are bytes of the artifact the target deploys (KiB = 1024 bytes)."
)


def _aggregation_note(report: Report) -> str:
    if not report.aggregated:
        return ""
    return (
        "Variants measured more than once (n = runs or seeds, see the variant column) show"
        " mean ± sample standard deviation across their measurements (a value without ± was"
        " the same in every measurement); Pareto marks and plots use the means."
    )


# --------------------------------------------------------------------------------------------
# Markdown


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report, images: Sequence[Any] = (), note: str = "") -> str:
    """The report as Markdown; ``images`` (PNG files next to it) are linked by file name."""
    lines = [f"# squeezebench report: {_md_escape(_report_title(report))}", ""]
    lines += [f"- {_md_escape(line)}" for line in _run_lines(report)]
    lines.append("")
    if note:
        lines += [f"> {note}", ""]
    aggregation = _aggregation_note(report)
    for group in report.groups:
        lines += [f"## {_md_escape(group.title)}", ""]
        columns = _columns(group)
        lines.append("| " + " | ".join(_md_escape(c) for c in columns) + " |")
        lines.append(
            "| " + " | ".join(":--" if i < 2 else "--:" for i in range(len(columns))) + " |"
        )
        for entry in group.variants:
            cells = _cells(group, entry)
            texts = []
            for cell in cells:
                text = _md_escape(cell.text)
                if "baseline" in cell.classes or ("pareto" in cell.classes and text):
                    text = f"**{text}**"
                texts.append(text)
            lines.append("| " + " | ".join(texts) + " |")
        lines.append("")
        flags = _flags(group)
        if flags:
            lines += ["Flagged:", ""] + [f"- {_md_escape(flag.text)}" for flag in flags] + [""]
        for image in images:
            if image.group == group.slug:
                lines += [f"![{_md_escape(image.alt)}]({image.path.name})", ""]
    lines += [f"_{LEGEND}_", ""]
    if aggregation:
        lines += [f"_{aggregation}_", ""]
    return "\n".join(lines)


def _report_title(report: Report) -> str:
    specs = sorted({r.spec_name for r in report.runs if r.spec_name})
    return ", ".join(specs) if specs else str(report.source)


def _run_lines(report: Report) -> list[str]:
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


# --------------------------------------------------------------------------------------------
# HTML

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d4da; padding: 0.3em 0.55em; text-align: right; vertical-align: top; }
th { background: #f2f4f7; }
td:nth-child(1), td:nth-child(2), th:nth-child(1) { text-align: left; }
tr.baseline td:first-child { font-weight: 600; }
tr.error td { background: #fde8e8; } tr.skipped td { background: #f1f1f1; color: #666; }
tr.partial td { background: #fff6e0; }
td.flag { color: #a40000; text-align: left; max-width: 32em; }
tr.skipped td.flag { color: #555; }
td.pareto { font-weight: 600; color: #0b5394; }
td.noisy { background: #fff3c4; }
ul.flags li { margin: 0.15em 0; } .legend, .meta { color: #555; font-size: 0.92em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #e3e6ea; }
figcaption { color: #555; font-size: 0.9em; }
"""


def _html_cell(cell: Cell, tag: str = "td") -> str:
    attributes = ""
    if cell.classes:
        attributes += f' class="{" ".join(cell.classes)}"'
    if cell.title:
        attributes += f' title="{html.escape(cell.title)}"'
    return f"<{tag}{attributes}>{html.escape(cell.text)}</{tag}>"


def render_html(report: Report, images: Sequence[Any] = (), note: str = "") -> str:
    """The report as one self-contained HTML page (CSS inline, PNGs embedded as base64)."""
    escape = html.escape
    title = f"squeezebench report: {_report_title(report)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        '<ul class="meta">' + "".join(f"<li>{escape(x)}</li>" for x in _run_lines(report)),
        f"<li>generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}</li></ul>",
    ]
    if note:
        parts.append(f'<p class="legend">{escape(note)}</p>')
    for group in report.groups:
        parts.append(f'<h2 id="{escape(group.slug)}">{escape(group.title)}</h2>')
        parts.append("<table><thead><tr>")
        parts += [f"<th>{escape(c)}</th>" for c in _columns(group)]
        parts.append("</tr></thead><tbody>")
        for entry in group.variants:
            classes = [entry.status] + (["baseline"] if entry.is_baseline else [])
            parts.append(f'<tr class="{" ".join(classes)}">')
            parts += [_html_cell(cell) for cell in _cells(group, entry)]
            parts.append("</tr>")
        parts.append("</tbody></table>")
        flags = _flags(group)
        if flags:
            parts.append('<p><strong>Flagged</strong></p><ul class="flags">')
            for flag in flags:
                detail = (
                    f"<details><summary>full reason</summary><pre>{escape(flag.detail)}</pre>"
                    "</details>"
                    if flag.detail
                    else ""
                )
                parts.append(f"<li>{escape(flag.text)}{detail}</li>")
            parts.append("</ul>")
        for image in images:
            if image.group != group.slug:
                continue
            data = base64.b64encode(image.png).decode("ascii")
            parts.append(
                f'<figure><img alt="{escape(image.alt)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{escape(image.caption)}</figcaption></figure>"
            )
    parts.append(f'<p class="legend">{escape(LEGEND)}</p>')
    aggregation = _aggregation_note(report)
    if aggregation:
        parts.append(f'<p class="legend">{escape(aggregation)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# Writing


@dataclass
class ReportOutcome:
    """What ``write_report`` wrote."""

    path: Path
    format: str
    images: list[Path]
    runs: list[str]
    note: str = ""


def default_output(results: Path, fmt: str) -> Path:
    """``<RESULTS>/report.<fmt>`` (next to the file when RESULTS is a Parquet file)."""
    folder = results.parent if results.is_file() else results
    return folder / f"report.{fmt}"


def write_report(
    results: str | Path,
    fmt: str | None = None,
    output: str | Path | None = None,
    runs: Sequence[str] = (),
    all_runs: bool = False,
    plots: bool = True,
) -> ReportOutcome:
    """Read ``results``, write the report (and its PNGs) and say what was written.

    ``fmt`` None means HTML when matplotlib is installed, else Markdown. HTML with plots
    needs matplotlib; without it the error says how to install it.
    """
    from squeezebench.results.plots import matplotlib_available, render_plots

    results = Path(results)
    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r} (valid: {', '.join(FORMATS)})")
    available = matplotlib_available()
    note = ""
    if fmt is None:
        fmt = "html" if available or not plots else "md"
        if not available and plots:
            note = f"Plots and the HTML report need matplotlib: {REPORT_HINT}"
    elif plots and not available:
        if fmt == "html":
            raise UserError(
                f"the HTML report draws its plots with matplotlib, which is not installed: "
                f"{REPORT_HINT} (or use --format md, or --no-plots)"
            )
        note = f"Plots need matplotlib: {REPORT_HINT}"
    selection = select_runs(results, runs, all_runs)
    report = build_report(selection.rows(), selection)
    path = Path(output) if output is not None else default_output(results, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = render_plots(report, path.parent, path.stem) if plots and available else []
    render = render_html if fmt == "html" else render_markdown
    path.write_text(render(report, images, note), encoding="utf-8")
    return ReportOutcome(path, fmt, [image.path for image in images], selection.names, note)
