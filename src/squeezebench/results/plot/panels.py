"""What the report plots show: per group, a size panel and a latency panel per batch size.

The same panels feed the static PNGs (:mod:`~squeezebench.results.plot.figure`) and the
interactive HTML figures (:mod:`~squeezebench.results.plot.interactive`); neither library is
needed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from squeezebench.results.formatting import KIB, MIB, accuracy_name, human_bytes, ms_digits

BASELINE_FAMILY = "baseline"


@dataclass
class Point:
    """A variant in a panel: position, error bars, how to mark it, what hovering shows."""

    label: str
    x: float
    y: float
    xerr: tuple[float, float] | None  # (below, above) x
    yerr: float | None
    baseline: bool
    pareto: bool
    family: str = ""
    hover: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        """Only the baseline and the Pareto front carry a name on the plot."""
        return self.baseline or self.pareto


@dataclass
class Panel:
    """One scatter: title, axis labels, points."""

    title: str
    xlabel: str
    ylabel: str
    points: list[Point]
    kind: str  # "size" or "latency"


def families(panels: Sequence[Panel]) -> list[str]:
    """The method families shown, in order of first appearance, the baseline left out."""
    seen: dict[str, None] = {}
    for panel in panels:
        for point in panel.points:
            if not point.baseline:
                seen.setdefault(point.family)
    return list(seen)


def _size_unit(values: Sequence[float]) -> tuple[str, float]:
    return ("MiB", MIB) if max(values) >= 10 * MIB else ("KiB", KIB)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def describe_steps(steps: str) -> list[str]:
    """A pipeline (JSON) as one line per step: ``prune.magnitude(sparsity=0.5, scope=global)``."""
    try:
        parsed = json.loads(steps) if steps else []
    except json.JSONDecodeError:
        return [steps]
    lines = []
    for step in parsed if isinstance(parsed, list) else []:
        if not isinstance(step, dict):
            lines.append(str(step))
            continue
        params = step.get("params") or {}
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in params.items() if v not in ([], {}))
        lines.append(f"{step.get('method')}({shown.replace(chr(34), '')})")
    return lines


def _hover(group: Any, entry: Any, batch: int | None = None) -> list[str]:
    """Everything about a variant worth a glance: identity, pipeline, measured values."""
    lines = [entry.name, f"family: {entry.family}", f"target: {group.target}"]
    steps = describe_steps(entry.steps)
    lines += [f"step: {s}" for s in steps] if steps else ["steps: none (the unmodified model)"]
    if entry.shipped.mean is not None:
        lines.append(f"size: {human_bytes(entry.shipped.mean)} ({entry.shipped.mean:,.0f} B)")
    if entry.ratio.mean is not None:
        lines.append(f"ratio: {entry.ratio.mean:.2f}x")
    if entry.accuracy.mean is not None:
        delta = f" ({100 * entry.delta.mean:+.2f} pp)" if entry.delta.mean is not None else ""
        lines.append(f"{accuracy_name(group.metric)}: {100 * entry.accuracy.mean:.2f}%{delta}")
    for size, at in sorted(entry.batches.items()):
        if (batch is not None and size != batch) or at.p50.mean is None:
            continue
        digits = ms_digits(at.p50.mean)
        text = f"p50 b={size}: {at.p50.mean:.{digits}f} ms"
        if at.interval is not None:
            low, high = at.interval
            text += f" [{low:.{digits}f}-{high:.{digits}f}] over {at.rounds} rounds"
        if at.speedup.mean is not None:
            text += f", speedup {at.speedup.mean:.2f}x"
        lines.append(text + (" (noisy)" if at.noisy else ""))
    if entry.measurements > 1:
        lines.append(f"mean of {entry.measurements} measurements")
    return lines


def size_panel(group: Any, measured: Sequence[Any], ylabel: str) -> Panel | None:
    """Shipped size vs accuracy, None when no variant has a size."""
    sizes = [v.shipped.mean for v in measured if v.shipped.mean is not None]
    if not sizes:
        return None
    unit, scale = _size_unit(sizes)
    points = []
    for v in measured:
        if v.shipped.mean is None:
            continue
        xerr = None if v.shipped.std is None else (v.shipped.std / scale,) * 2
        points.append(
            Point(
                v.name,
                v.shipped.mean / scale,
                100 * v.accuracy.mean,
                xerr,  # type: ignore[arg-type]
                _scaled(v.accuracy.std, 100),
                v.is_baseline,
                v.pareto_size,
                v.family,
                _hover(group, v),
            )
        )
    encoded = any(v.encoded.n for v in measured)
    xlabel = f"{'shipped (encoded)' if encoded else 'artifact'} size ({unit})"
    return Panel(f"size vs accuracy: {group.title}", xlabel, ylabel, points, "size")


def _latency_error(at: Any) -> tuple[float, float] | None:
    """The round interval around the p50 when timed in rounds, else the std across runs."""
    if at.interval is not None:
        low, high = at.interval
        return (max(at.p50.mean - low, 0.0), max(high - at.p50.mean, 0.0))
    return None if at.p50.std is None else (at.p50.std, at.p50.std)


def latency_panels(group: Any, measured: Sequence[Any], ylabel: str) -> list[Panel]:
    """p50 latency vs accuracy, one panel per batch size that has any latency."""
    panels: list[Panel] = []
    for batch in group.batch_sizes:
        points = []
        for v in measured:
            at = v.batches.get(batch)
            if at is None or at.p50.mean is None:
                continue
            points.append(
                Point(
                    v.name,
                    at.p50.mean,
                    100 * v.accuracy.mean,
                    _latency_error(at),
                    _scaled(v.accuracy.std, 100),
                    v.is_baseline,
                    at.pareto,
                    v.family,
                    _hover(group, v, batch),
                )
            )
        if points:
            xlabel = f"p50 latency per batch of {batch} (ms)"
            panels.append(Panel(f"batch size {batch}", xlabel, ylabel, points, "latency"))
    return panels


def group_panels(group: Any) -> tuple[Panel | None, list[Panel]]:
    """A group's size panel and latency panels (nothing without accuracy or measurements)."""
    if not group.has_accuracy:
        return None, []
    measured = [v for v in group.variants if v.measured and v.accuracy.mean is not None]
    if not measured:
        return None, []
    ylabel = f"{accuracy_name(group.metric)} (%)"
    return size_panel(group, measured, ylabel), latency_panels(group, measured, ylabel)
