"""What the CLI draws: the progress bar over jobs, the summary table, the plugin list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from squeezebench.harness.jobs import Job
from squeezebench.plugins.contracts import summary_of
from squeezebench.plugins.registry import Registry
from squeezebench.results import columns as col
from squeezebench.results.formatting import short_reason, without_log_reference
from squeezebench.results.status import ERROR, OK


class ProgressReporter:
    """A rich progress bar with one step per job (``with reporter: run_spec(...)``)."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
            # No refresh thread: redrawing while a job is timed steals a core from it
            # (measured: +50% p50 latency on 2 cores). The bar is redrawn between jobs.
            auto_refresh=False,
        )
        self._task: Any = None
        self._rounds: Any = None
        self._trials: Any = None

    def __enter__(self) -> ProgressReporter:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def targets_unavailable(self, targets: list[tuple[Any, str]]) -> None:
        """Say, once and before any work, which targets cannot run here and why."""
        for target, reason in targets:
            then = "fail" if target.if_unavailable == "fail" else "be skipped"
            self._progress.console.print(
                Text("unavailable ", "yellow")
                + Text(f"{target.label}: {reason} (its jobs will {then})"),
                highlight=False,
            )

    def run_started(self, jobs: list[Job]) -> None:
        """Create the bar."""
        self._task = self._progress.add_task("jobs", total=len(jobs))
        self._progress.refresh()

    def job_started(self, job: Job) -> None:
        """Show the job in flight."""
        description = escape(f"{job.variant.name} @ {job.target.label}")
        self._progress.update(self._task, description=description)
        self._progress.refresh()

    def job_finished(self, job: Job, rows: list[dict[str, Any]]) -> None:
        """Advance the bar."""
        self._progress.update(self._task, advance=1)
        self._progress.refresh()
        if rows and rows[0][col.STATUS] != OK:
            self._progress.console.print(
                Text(f"{rows[0]['status']} {job.variant.name} @ {job.target.label}: ", "yellow")
                + Text(short_reason(rows[0][col.REASON], limit=400))
            )

    def rounds_started(self, steps: int) -> None:
        """A second bar for the later timing rounds and the drift checks."""
        if steps:
            self._rounds = self._progress.add_task("timing rounds", total=steps)
            self._progress.refresh()

    def round_started(self, job: Job, number: int) -> None:
        """Show the round in flight."""
        description = escape(f"round {number}: {job.variant.name} @ {job.target.label}")
        self._progress.update(self._rounds, description=description)
        self._progress.refresh()

    def round_finished(self, job: Job, number: int) -> None:
        """Advance the rounds bar."""
        self._progress.update(self._rounds, advance=1)
        self._progress.refresh()

    def drift_check_started(self, job: Job) -> None:
        """Show the drift check in flight."""
        description = escape(f"drift check: baseline @ {job.target.label}")
        self._progress.update(self._rounds, description=description)
        self._progress.refresh()

    def drift_check_finished(self, job: Job) -> None:
        """Advance the rounds bar."""
        self._progress.update(self._rounds, advance=1, description="timing rounds")
        self._progress.refresh()

    def search_started(self, trials: int, done: int) -> None:
        """A bar over the search's trial budget (``done`` trials kept from an earlier run)."""
        self._trials = self._progress.add_task("trials", total=trials, completed=done)
        self._progress.refresh()

    def trial_started(self, job: Job, phase: str) -> None:
        """Show the trial in flight and its phase (evaluate, measure or time)."""
        if self._trials is None:
            return
        self._progress.update(self._trials, description=escape(f"{phase}: {job.variant.name}"))
        self._progress.refresh()

    def trial_finished(self, summary: Any, line: str) -> None:
        """Advance the trials bar; one line per trial says what came of it."""
        if self._trials is not None:
            self._progress.update(self._trials, advance=1, description="trials")
        if not self._progress.disable:  # --quiet: no progress of any kind
            self._progress.console.print(Text(line), highlight=False)
        self._progress.refresh()


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


def _number(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def summary_table(rows: Sequence[dict[str, Any]], title: str) -> Table:
    """Variant x target: size, ratio, accuracy, delta, fidelity, p50 and speedup per batch."""
    batch_sizes = sorted({r[col.BATCH_SIZE] for r in rows})
    table = Table(title=title, title_justify="left")
    encoded = any(row.get(col.ENCODED_BYTES) for row in rows)
    headers = ["variant", "target", "size", "ratio", *(["encoded"] if encoded else [])]
    embedding = any(row.get(col.EMBEDDING_COSINE) is not None for row in rows)
    fidelity = "cosine" if embedding else "fidelity"  # embeddings: cosine to the baseline's
    for header in (*headers, "accuracy", "Δ acc", fidelity):
        table.add_column(header, justify="left" if header in ("variant", "target") else "right")
    for batch in batch_sizes:
        table.add_column(f"p50 b={batch}", justify="right")
        table.add_column(f"speedup b={batch}", justify="right")
    table.add_column("status")
    several_seeds = len({row.get(col.SEED) for row in rows}) > 1
    reasons: dict[str, int] = {}  # one numbered note per distinct reason, under the table
    logs: dict[str, list[str]] = {}  # the traceback files of the jobs behind each reason
    groups: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for row in rows:
        variant = row[col.VARIANT]
        if several_seeds:
            variant += f" (seed {row.get('seed')})"
        groups.setdefault((variant, row[col.TARGET]), {})[row[col.BATCH_SIZE]] = row
    for (variant, target), by_batch in groups.items():
        first = next(iter(by_batch.values()))
        cells: list[str | Text] = [
            Text(variant),
            Text(target),
            _bytes(first.get(col.ARTIFACT_BYTES)),
            _number(first.get(col.COMPRESSION_RATIO), "{:.2f}x"),
            *([_bytes(first.get(col.ENCODED_BYTES))] if encoded else []),
            _number(first.get(col.ACCURACY), "{:.2%}"),
            _number(
                None if first.get(col.ACCURACY_DELTA) is None else first[col.ACCURACY_DELTA] * 100,
                "{:+.2f} pp",
            ),
            _number(first.get(col.EMBEDDING_COSINE), "{:.4f}")
            if embedding
            else _number(first.get(col.FIDELITY), "{:.2%}"),
        ]
        for batch in batch_sizes:
            row = by_batch.get(batch, {})
            p50 = _number(row.get(col.LATENCY_P50_MS), "{:.3f} ms")
            p50 += "".join(
                mark for column, mark in _MARKS if row.get(column) and row.get(col.LATENCY_P50_MS)
            )
            cells += [p50, _number(row.get(col.SPEEDUP), "{:.2f}x")]
        status = first[col.STATUS]
        if status == OK:
            cells.append(Text(status))
        else:
            reason, log = without_log_reference(short_reason(first.get(col.REASON), 400))
            note = reasons.setdefault(reason, len(reasons) + 1)
            logs.setdefault(reason, []).extend([log] if log else [])
            cells.append(Text(f"{status} [{note}]", "red" if status == ERROR else "yellow"))
        table.add_row(*cells)
    notes = [
        f"[{number}] {reason}{_logs_phrase(logs[reason])}" for reason, number in reasons.items()
    ]
    table.caption = Text(  # Text, not a str: reasons may contain [brackets] (no markup)
        "\n".join([_LEGEND, *drift_lines(rows), *condition_lines(rows), *notes])
    )
    table.caption_justify = "left"
    return table


_MARKS = (("noisy", " ~"), ("contended", " !"), ("drifted", " ≈"))
_LEGEND = (
    "~ noisy (rounds spread above the spec's noise_threshold); ! timed under contention; "
    "≈ the machine's speed drifted; pp: percentage points"
)


def condition_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """A line on the rows timed under contention or on too many threads, if any."""
    timed = [row for row in rows if row.get(col.LATENCY_P50_MS) is not None]
    contended = [row for row in timed if row.get(col.CONTENDED)]
    lines = []
    if contended:
        others = [row[col.OTHER_CPU_CORES] for row in contended if row.get(col.OTHER_CPU_CORES)]
        cores = max((row.get(col.CPU_CORES_AVAILABLE) or 0 for row in contended), default=0)
        retries = max(row.get(col.CONTENTION_RETRIES) or 0 for row in contended)
        busy = f"; other processes used up to {max(others):.2f} of {cores} cores" if others else ""
        lines.append(
            f"! {len(contended)} of {len(timed)} rows timed under contention{busy} "
            f"(after up to {retries} retries); compare calls their changes inconclusive"
        )
    oversubscribed = {
        row[col.CONDITIONS].split(";")[0]
        for row in timed
        if isinstance(row.get(col.CONDITIONS), str) and "threads requested" in row[col.CONDITIONS]
    }
    lines += sorted(oversubscribed)
    return lines


def drift_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per target: how much its baseline's speed changed from start to end."""
    by_target: dict[str, dict[int, float | None]] = {}
    for row in rows:
        if row.get(col.VARIANT) == "baseline" and row.get(col.STATUS) == OK and row.get(col.ROUNDS):
            by_target.setdefault(row[col.TARGET], {})[row[col.BATCH_SIZE]] = row.get(col.DRIFT)
    lines = []
    for target, changes in by_target.items():
        if all(change is None for change in changes.values()):
            continue  # no drift check, or only contended ones (said by the ! line)
        parts = ", ".join(
            f"b={b} {'unknown (contended)' if change is None else f'{change:+.1%}'}"
            for b, change in sorted(changes.items())
        )
        lines.append(f"drift on {target} (baseline timed again at the end): {parts}")
    return lines


def _logs_phrase(logs: list[str]) -> str:
    if not logs:
        return ""
    if len(logs) == 1:
        return f" (see {logs[0]})"
    return f" ({len(logs)} jobs; tracebacks in _logs/ of the run folder)"


def plugins_table(registry: Registry) -> Table:
    """Every registered name, its kind, distribution and one-line summary."""
    table = Table(title="registered plugins", title_justify="left")
    for header in ("kind", "name", "distribution", "summary"):
        table.add_column(header)
    for kind in ("method", "backend", "converter", "model source", "dataset"):
        for name, registration in sorted(registry.entries(kind).items()):
            table.add_row(kind, name, registration.distribution, summary_of(registration.cls))
    return table
