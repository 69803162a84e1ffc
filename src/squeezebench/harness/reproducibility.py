"""Checking that two runs of one spec agree: exactly on size, accuracy and fidelity, and
within reason on latency (reported as drift, never as a failure: timings are noisy)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from squeezebench.results import columns as col

DETERMINISTIC_COLUMNS = (
    "status",
    "params",
    "nonzero_params",
    "artifact_bytes",
    "encoded_bytes",
    "accuracy",
    "fidelity",
    "flops_per_sample",
)


@dataclass
class ReproducibilityReport:
    """Mismatches of deterministic columns, jobs missing on one side, and latency drift."""

    mismatches: list[str] = field(default_factory=list)
    latency_drift: list[float] = field(default_factory=list)  # |p50 change| / p50, per row

    @property
    def reproducible(self) -> bool:
        """True when every deterministic column matched for every row."""
        return not self.mismatches

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = []
        if self.reproducible:
            lines.append(
                "reproducible: " + ", ".join(DETERMINISTIC_COLUMNS) + " identical in both runs"
            )
        else:
            lines.append(f"NOT reproducible: {len(self.mismatches)} difference(s)")
            lines.extend(f"  {m}" for m in self.mismatches[:20])
        if self.latency_drift:
            median = statistics.median(self.latency_drift)
            lines.append(
                f"latency p50 drift between the runs: median {median:.1%}, "
                f"max {max(self.latency_drift):.1%}"
            )
        return "\n".join(lines)


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row[col.JOB_ID], row[col.BATCH_SIZE])


def _same(first: Any, second: Any) -> bool:
    return first == second or (first != first and second != second)  # NaN == NaN here


def compare_runs(
    first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> ReproducibilityReport:
    """Compare two runs' rows, matched by job identity and batch size."""
    report = ReproducibilityReport()
    left = {_key(row): row for row in first}
    right = {_key(row): row for row in second}
    for key in sorted(set(left) ^ set(right)):
        side = "first" if key in left else "second"
        row = left.get(key) or right[key]
        report.mismatches.append(
            f"{row['variant']} @ {row['target']} b={key[1]}: only in the {side} run"
        )
    for key in sorted(set(left) & set(right)):
        a, b = left[key], right[key]
        for column in DETERMINISTIC_COLUMNS:
            if not _same(a.get(column), b.get(column)):
                report.mismatches.append(
                    f"{a['variant']} @ {a['target']} b={key[1]}: {column} "
                    f"{a.get(column)!r} != {b.get(column)!r}"
                )
        p50a, p50b = a.get(col.LATENCY_P50_MS), b.get(col.LATENCY_P50_MS)
        if p50a and p50b:
            report.latency_drift.append(abs(p50b - p50a) / p50a)
    return report
