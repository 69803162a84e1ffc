"""What ``squeezebench compare`` compares and finds: metrics, verdicts, changes, exit codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from squeezebench.results.runs import RunSelection


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

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
WITHIN = "within threshold"
NOT_SIGNIFICANT = "not significant"
INCONCLUSIVE = "inconclusive"
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
    other_hardware: int = 0  # matched rows measured on different CPUs or GPUs

    @property
    def regressions(self) -> list[Change]:
        """Metric changes judged regressions."""
        return [c for c in self.changes if c.verdict == REGRESSION]

    @property
    def inconclusive(self) -> list[Change]:
        """Latency changes beyond the threshold that the measurements cannot judge."""
        return [c for c in self.changes if c.verdict == INCONCLUSIVE]

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
