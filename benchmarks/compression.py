"""Every spec in ``benchmarks/specs/*.yaml`` as asv benchmarks.

For a spec ``tiny-mlp.yaml`` this module defines two classes:

- ``TinyMlpLatency``: ``track_latency_p50_ms``, ``track_latency_p99_ms`` (unit ``ms``) and
  ``track_peak_memory_bytes`` (``bytes``), parameterized by variant, target and batch size;
- ``TinyMlpArtifact``: ``track_artifact_bytes`` (``bytes``) and ``track_accuracy_drop_points``
  (``points``: percentage points of accuracy below the baseline on the same target),
  parameterized by variant and target (they do not depend on the batch size).

For every one of them a larger number is worse, so asv's regression detection ("up is bad")
applies as is. The harness runs once, in ``setup_cache`` (shared by all the classes: asv keys
its cache by the function, so one cache holds every spec's results, each spec run once);
each benchmark then only reads its number. Jobs that failed or were skipped (no GPU here)
raise ``NotImplementedError`` in ``setup``, which asv records as skipped (n/a).

A class's ``version`` is the spec's hash: editing a spec starts a new history for its
benchmarks, while changes to squeezebench itself (what the nightly run is there to catch)
keep comparing against the old numbers.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Any

SPECS_DIR = Path(__file__).resolve().parent / "specs"
SETUP_TIMEOUT = 3600


def spec_paths() -> list[Path]:
    """The specs that become benchmarks."""
    return sorted(SPECS_DIR.glob("*.yaml"))


def class_prefix(stem: str) -> str:
    """``tiny-mlp`` -> ``TinyMlp`` (a valid, readable class name)."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", stem) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Spec"
    return name if name[0].isalpha() else f"Spec{name}"


def _registry() -> Any:
    from squeezebench.plugins.manager import default_registry

    return default_registry()


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict]:
    """The numbers the benchmarks read, from a run's rows (picklable, small)."""
    batches: dict[tuple, dict[str, Any]] = {}
    jobs: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        status = {"status": row["status"], "reason": row.get("reason")}
        batches[(row["variant"], row["target"], int(row["batch_size"]))] = status | {
            "latency_p50_ms": _number(row.get("latency_p50_ms")),
            "latency_p99_ms": _number(row.get("latency_p99_ms")),
            "peak_memory_bytes": _number(row.get("peak_memory_bytes")),
        }
        delta = row.get("accuracy_delta")
        job = jobs.setdefault((row["variant"], row["target"]), dict(status))
        if row["status"] != "ok":
            job.update(status)
        job.setdefault("artifact_bytes", _number(row.get("artifact_bytes")))
        drop = math.nan if delta is None else 0.0 - 100.0 * delta + 0.0  # no -0.0
        job.setdefault("accuracy_drop_points", drop)
    return {"batches": batches, "jobs": jobs}


def run_all_specs() -> dict[str, dict]:
    """Run every spec once (into a temporary folder) and keep what the benchmarks read."""
    from squeezebench.harness.run import run_spec
    from squeezebench.spec.load import load_spec

    registry = _registry()
    results = {}
    with tempfile.TemporaryDirectory(prefix="squeezebench-asv-") as folder:
        for path in spec_paths():
            outcome = run_spec(load_spec(path, registry), registry, Path(folder) / path.stem)
            results[path.stem] = summarize(outcome.rows)
    return results


def _require(entry: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if entry is None:
        raise NotImplementedError(f"{what}: not in the results")
    if entry["status"] != "ok":
        raise NotImplementedError(f"{what}: {entry['status']}: {entry.get('reason')}")
    return entry


class _SpecBenchmark:
    """What every generated class shares: the one harness run, and its spec's name."""

    spec_stem = ""
    timeout = 120

    def setup_cache(self) -> dict[str, dict]:
        return run_all_specs()

    setup_cache.timeout = SETUP_TIMEOUT  # type: ignore[attr-defined]


class _LatencyBenchmark(_SpecBenchmark):
    param_names = ["variant", "target", "batch_size"]

    def setup(self, cache: dict, variant: str, target: str, batch_size: int) -> None:
        _require(
            cache[self.spec_stem]["batches"].get((variant, target, batch_size)),
            f"{variant} @ {target} b={batch_size}",
        )

    def _value(self, cache: dict, variant: str, target: str, batch_size: int, key: str) -> float:
        return cache[self.spec_stem]["batches"][(variant, target, batch_size)][key]

    def track_latency_p50_ms(self, cache: dict, variant: str, target: str, batch_size: int):
        return self._value(cache, variant, target, batch_size, "latency_p50_ms")

    track_latency_p50_ms.unit = "ms"  # type: ignore[attr-defined]

    def track_latency_p99_ms(self, cache: dict, variant: str, target: str, batch_size: int):
        return self._value(cache, variant, target, batch_size, "latency_p99_ms")

    track_latency_p99_ms.unit = "ms"  # type: ignore[attr-defined]

    def track_peak_memory_bytes(self, cache: dict, variant: str, target: str, batch_size: int):
        return self._value(cache, variant, target, batch_size, "peak_memory_bytes")

    track_peak_memory_bytes.unit = "bytes"  # type: ignore[attr-defined]


class _ArtifactBenchmark(_SpecBenchmark):
    param_names = ["variant", "target"]

    def setup(self, cache: dict, variant: str, target: str) -> None:
        _require(cache[self.spec_stem]["jobs"].get((variant, target)), f"{variant} @ {target}")

    def track_artifact_bytes(self, cache: dict, variant: str, target: str):
        return cache[self.spec_stem]["jobs"][(variant, target)]["artifact_bytes"]

    track_artifact_bytes.unit = "bytes"  # type: ignore[attr-defined]

    def track_accuracy_drop_points(self, cache: dict, variant: str, target: str):
        return cache[self.spec_stem]["jobs"][(variant, target)]["accuracy_drop_points"]

    track_accuracy_drop_points.unit = "points"  # type: ignore[attr-defined]


def benchmark_classes() -> dict[str, type]:
    """One latency and one artifact class per spec, named after the spec's file."""
    from squeezebench.spec.load import load_spec

    registry = _registry()
    classes: dict[str, type] = {}
    for path in spec_paths():
        resolved = load_spec(path, registry)
        variants = [variant.name for variant in resolved.variants]
        targets = [target.label for target in resolved.targets]
        batch_sizes = list(resolved.spec.benchmark.batch_sizes)
        prefix = class_prefix(path.stem)
        common = {"spec_stem": path.stem, "version": resolved.spec_hash, "__module__": __name__}
        for suffix, base, params in (
            ("Latency", _LatencyBenchmark, [variants, targets, batch_sizes]),
            ("Artifact", _ArtifactBenchmark, [variants, targets]),
        ):
            name = prefix + suffix
            if name in classes:
                raise ValueError(f"two specs in {SPECS_DIR} give the class name {name}")
            doc = f"{suffix} metrics of {path.name} ({resolved.spec.name})."
            classes[name] = type(name, (base,), {**common, "params": params, "__doc__": doc})
    return classes


globals().update(benchmark_classes())
