"""``best.yaml``: the answer of a search as a ready-to-run spec.

The spec re-measures the chosen variants (the best, or the Pareto front) against the
baseline, on every target of the searched spec, with its benchmark settings and every param
of every step written out (defaults included), so that the result can be pinned in a nightly
suite and does not move when a default changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from squeezebench._version import __version__
from squeezebench.search.answer import Answer, describe
from squeezebench.spec.load import ResolvedSpec

BEST_SPEC = "best.yaml"


def best_spec_data(resolved: ResolvedSpec, answer: Answer) -> dict[str, Any]:
    """The spec of the answer's variants (plain data, in spec key order)."""
    spec = resolved.spec
    variants = {}
    for summary in answer.best:
        name = f"trial-{summary.number}-{summary.params['pipeline']}"
        steps = json.loads(summary.steps or "[]")
        variants[name] = [{step["method"]: step["params"]} for step in steps]
    data: dict[str, Any] = {
        "name": f"{spec.name}-best",
        "seed": spec.seed,
        "model": _model_reference(resolved),
        **({"dataset": spec.dataset} if spec.dataset else {}),
        "variants": variants,
        "targets": [
            target.model_dump(mode="json", exclude_defaults=True) for target in resolved.targets
        ],
        "benchmark": spec.benchmark.model_dump(mode="json"),
        "compare": spec.compare.model_dump(mode="json"),
        "output": spec.output.model_dump(mode="json"),
    }
    if spec.trust_model_files:
        data["trust_model_files"] = True
    return data


def write_best_spec(directory: Path, resolved: ResolvedSpec, answer: Answer, run_id: str) -> Path:
    """Write ``<run>/best.yaml``, with a header saying where it comes from; its path."""
    search = resolved.search
    lines = [
        f"# The answer of the search in run {run_id} of {resolved.path}",
        f"# (squeezebench {__version__}), as a spec that measures it again against the baseline:",
        f"#     squeezebench run {directory / BEST_SPEC}",
        f"# objectives: {', '.join(o.text for o in search.objectives)}",
        *(f"# constraint: {c.text}  ({c.meaning()})" for c in search.constraints),
        *(f"# {describe(summary, search)}" for summary in answer.best),
    ]
    if resolved.spec.model.startswith("python:"):
        lines.append(f"# the python: model is imported from {resolved.base_dir.resolve()}")
    body = yaml.safe_dump(best_spec_data(resolved, answer), sort_keys=False, allow_unicode=True)
    path = directory / BEST_SPEC
    path.write_text("\n".join(lines) + "\n" + body, encoding="utf-8")
    return path


def _model_reference(resolved: ResolvedSpec) -> str:
    """``file:`` paths made absolute: best.yaml lives in the run folder, not the spec's."""
    model = resolved.spec.model
    scheme, _, reference = model.partition(":")
    if scheme == "file" and not Path(reference).is_absolute():
        return f"file:{(resolved.base_dir / reference).resolve()}"
    return model
