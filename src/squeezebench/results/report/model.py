"""What a report shows: groups (model, dataset, target) of variants, aggregated over seeds."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from squeezebench.results.formatting import number_or_none
from squeezebench.results.status import OK


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


def stat(values: Iterable[Any]) -> Stat:
    """The :class:`Stat` of ``values``, leaving out missing (None) and NaN ones."""
    return Stat([x for x in map(number_or_none, values) if x is not None])


def method_family(steps: str) -> str:
    """The method-name prefixes of a pipeline's steps (JSON), in order, joined with ``+``.

    ``[{"method": "prune.magnitude"}, {"method": "quantize.weight_only"}]`` is
    ``prune+quantize``; a method repeated in a row counts once; no steps is ``baseline``.
    """
    try:
        parsed = json.loads(steps) if steps else []
    except json.JSONDecodeError:
        return "other"
    prefixes: list[str] = []
    for step in parsed if isinstance(parsed, list) else []:
        method = step.get("method") if isinstance(step, dict) else step
        prefix = str(method).split(".", 1)[0] if method else "other"
        if not prefixes or prefixes[-1] != prefix:
            prefixes.append(prefix)
    return "+".join(prefixes) or "baseline"


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
    rounds: int = 1
    low: float | None = None
    high: float | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        """(lowest, highest) per-round median over several rounds, None without one."""
        if self.rounds > 1 and self.low is not None and self.high is not None:
            return (self.low, self.high)
        return None


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
        return self.status in (OK, "partial")

    @property
    def family(self) -> str:
        """``baseline``, or the method families of its steps (``prune+quantize``)."""
        return "baseline" if self.is_baseline else method_family(self.steps)


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
