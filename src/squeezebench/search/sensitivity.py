"""The sensitivity pass (``search.sensitivity: true``): one layer at a time.

For each pipeline of the space that selects layers (its steps take ``include`` /
``exclude``), each Linear or Conv layer the pipeline would touch is compressed alone
(``include: [<layer>]`` on every such step) at both corners of the pipeline's space (every
searched param at its low end or first value, then at its high end or last value), and
scored without timing. A layer that alone breaks the search's first accuracy constraint is
left out (added to ``exclude``) of every trial of that pipeline when no setting keeps it
(it breaks at both corners) or when it is small (see :func:`_exclusions`) -- unless every
layer breaks, when nothing is left out (the sampler then learns the space is bad).

Probes are ordinary jobs run through the dispatcher, but not result rows: the table lives
in ``_search/sensitivity.json`` (kept across ``--resume``) and in the manifest, and the
report shows it.
"""

from __future__ import annotations

import json
from concurrent.futures import FIRST_COMPLETED, Future, wait
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from squeezebench.harness.baseline import BaselineReference
from squeezebench.harness.dispatch import TaskLost
from squeezebench.harness.workspace import Workspace
from squeezebench.search.context import SearchContext
from squeezebench.search.study import SEARCH_DIR
from squeezebench.search.trials import trial_job
from squeezebench.search.verdict import check_constraints, column_value
from squeezebench.spec.search_resolve import SearchPipeline
from squeezebench.spec.search_terms import COLUMNS, Constraint

SENSITIVITY_FILE = "sensitivity.json"
CORNERS = ("low", "high")
SMALL_SHARE = 0.1
"""A layer under this share of a pipeline's parameters is cheap to leave out."""


def run_sensitivity(
    context: SearchContext, baseline_rows: list[dict[str, Any]]
) -> tuple[dict[str, dict[int, list[str]]], dict[str, Any]]:
    """Probe every layer of every layer-selecting pipeline; what to leave out, and the table."""
    search = context.resolved.search
    constraint = search.accuracy_constraint
    assert constraint is not None  # validation asks for one when sensitivity is on
    layers = _model_layers(context)
    path = context.store.directory / SEARCH_DIR / SENSITIVITY_FILE
    done: dict[str, dict[str, Any]] = _load(path)
    reference = _baseline_reference(context, baseline_rows)
    probes = [
        (pipeline, corner, name, size)
        for pipeline in search.pipelines
        if _selecting_steps(context, pipeline)
        for corner in CORNERS
        for name, size in layers
        if _touched(context, pipeline, name)
    ]
    jobs = {}  # job id -> (pipeline, corner, layer, size, job), each probe once
    for pipeline, corner, layer, size in probes:
        job = _probe_job(context, pipeline, corner, layer)
        jobs[job.job_id] = (pipeline, corner, layer, size, job)
    pending = [key for key in jobs if key not in done]
    flying: dict[Future, str] = {}
    slots = max(1, context.dispatcher.slots)
    while pending or flying:
        while pending and len(flying) < slots:  # as many in flight as the executor runs
            key = pending.pop(0)
            flying[context.dispatcher.submit(jobs[key][4], "evaluate")] = key
        finished, _ = wait(list(flying), return_when=FIRST_COMPLETED)
        for future in finished:
            pipeline, corner, layer, size, job = jobs[flying.pop(future)]
            done[job.job_id] = _entry(
                future, pipeline, corner, layer, size, job, reference, baseline_rows, constraint
            )
            _save(path, done)  # each probe as it ends: a kill loses none that finished
    entries = [done[key] for key in jobs]
    excluded, notes = _exclusions(context, search.pipelines, entries)
    base = column_value(baseline_rows, constraint.reference)
    table = {
        "constraint": constraint.text,
        "bound": constraint.bound(base),
        "column": constraint.reference.column,
        "kind": COLUMNS[constraint.reference.column].kind,
        "entries": entries,
        "excluded": {
            name: sorted({p for ps in steps.values() for p in ps})
            for name, steps in excluded.items()
        },
        "notes": notes,
    }
    return excluded, table


def _entry(
    future: Future,
    pipeline: SearchPipeline,
    corner: str,
    layer: str,
    size: int,
    job: Any,
    reference: BaselineReference,
    baseline_rows: list[dict[str, Any]],
    constraint: Constraint,
) -> dict[str, Any]:
    """The table entry of one finished probe (a probe the cluster lost is an error)."""
    try:
        result = future.result()
    except TaskLost as lost:
        status, reason, value, holds = "error", str(lost), None, None
    else:
        rows = _rows(result, reference, job.benchmark.batch_sizes)
        check = check_constraints(rows, baseline_rows, [constraint], timed=False)[0]
        status, reason, value, holds = result.status, result.reason, check.value, check.holds
    return {
        "pipeline": pipeline.name,
        "corner": corner,
        "params": _corner_values(pipeline, corner),
        "layer": layer,
        "parameters": size,
        "status": status,
        "reason": reason,
        "value": value,
        # a probe that fails (a layer the method does not handle) is no reason to leave
        # the layer out: an exclude pattern the method cannot match would be an error
        "breaks": status == "ok" and holds is False,
    }


def _model_layers(context: SearchContext) -> list[tuple[str, int]]:
    """(name, parameters) of the model's Linear and Conv layers, in order."""
    from squeezebench.plugins.builtin.methods._layer_selection import candidate_layers

    resolved = context.resolved
    workspace = Workspace(
        context.registry,
        resolved.base_dir.resolve(),
        resolved.spec.model,
        resolved.dataset,
        resolved.spec.seeds[0],
        trusted=resolved.spec.trust_model_files,
    )
    module = workspace.model.artifact
    return [
        (name, sum(p.numel() for p in layer.parameters()))
        for name, layer in candidate_layers(module)
    ]


def _selecting_steps(context: SearchContext, pipeline: SearchPipeline) -> list[int]:
    """Indices of the pipeline's steps that take ``include`` / ``exclude``."""
    return [
        index
        for index, (method, _) in enumerate(pipeline.steps)
        if {"include", "exclude"} <= set(context.registry.get("method", method).Params.model_fields)
    ]


def _touched(context: SearchContext, pipeline: SearchPipeline, layer: str) -> bool:
    """Whether some layer-selecting step's own patterns select ``layer``."""
    for index in _selecting_steps(context, pipeline):
        params = pipeline.steps[index][1]
        include = params.get("include", ["*"])
        exclude = params.get("exclude", [])
        if any(fnmatchcase(layer, p) for p in include) and not any(
            fnmatchcase(layer, p) for p in exclude
        ):
            return True
    return False


def literal(name: str) -> str:
    """A glob pattern that matches exactly ``name`` (``[``, ``*``, ``?`` escaped)."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in name)


def _corner_values(pipeline: SearchPipeline, corner: str) -> dict[str, Any]:
    index = CORNERS.index(corner)
    return {axis.key: axis.corners()[index] for axis in pipeline.axes}


def _probe_job(context: SearchContext, pipeline: SearchPipeline, corner: str, layer: str) -> Any:
    only = {index: [literal(layer)] for index in _selecting_steps(context, pipeline)}
    values = _corner_values(pipeline, corner)
    variant = pipeline.variant(
        f"sensitivity {pipeline.name} {corner} {layer}", values, context.registry
    )
    steps = []
    for index, step in enumerate(variant.steps):
        if index in only:
            params = step.params.model_copy(update={"include": only[index]})
            step = type(step)(step.method, params)
        steps.append(step)
    variant = type(variant)(variant.name, tuple(steps), variant.sweep_values)
    return trial_job(context.resolved, context.registry, context.fingerprint, variant)


def _baseline_reference(context: SearchContext, baseline_rows: list[dict]) -> BaselineReference:
    reference = BaselineReference()
    record = context.sweep.records.get(baseline_rows[0]["job_id"])
    reference.learn(baseline_rows, record.outputs if record is not None else None)
    return reference


def _rows(result: Any, reference: BaselineReference, batch_sizes: list[int]) -> list[dict]:
    base = dict(result.metrics) | {"status": result.status, "reason": result.reason}
    return [base | {"batch_size": b} | reference.compare(base, result.outputs) for b in batch_sizes]


def _exclusions(
    context: SearchContext, pipelines: tuple[SearchPipeline, ...], entries: list[dict]
) -> tuple[dict[str, dict[int, list[str]]], list[str]]:
    """Layers to leave out of each pipeline's trials, and a note per pipeline.

    A layer is left out when it breaks the constraint alone at both corners (no setting of
    the space keeps it), or at one corner while holding under ``SMALL_SHARE`` of the
    parameters the pipeline touches (cheap to keep: the first and last layers, typically).
    A large layer that breaks at one corner only is kept, marked sensitive: leaving it out
    of every trial would cost more than the settings it breaks at.
    """
    excluded: dict[str, dict[int, list[str]]] = {}
    notes = []
    for pipeline in pipelines:
        mine = [e for e in entries if e["pipeline"] == pipeline.name]
        if not mine:
            continue
        sizes = {e["layer"]: e["parameters"] for e in mine}
        total = sum(sizes.values()) or 1
        left_out, sensitive = [], []
        for layer, size in sizes.items():
            breaks = [e["corner"] for e in mine if e["layer"] == layer and e["breaks"]]
            if len(set(breaks)) == len(CORNERS) or (breaks and size / total < SMALL_SHARE):
                left_out.append(layer)
            elif breaks:
                sensitive.append(layer)
        if left_out and len(left_out) == len(sizes):
            notes.append(f"{pipeline.name}: every layer breaks the constraint; none left out")
            continue
        if left_out:
            patterns = [literal(layer) for layer in left_out]
            excluded[pipeline.name] = {i: patterns for i in _selecting_steps(context, pipeline)}
            notes.append(f"{pipeline.name}: left out {', '.join(left_out)}")
        if sensitive:
            notes.append(
                f"{pipeline.name}: kept {', '.join(sensitive)} (sensitive at one corner only, "
                "and too large to leave out)"
            )
        for entry in mine:
            entry["decision"] = (
                "left out"
                if entry["layer"] in left_out
                else "sensitive"
                if entry["layer"] in sensitive
                else "kept"
            )
    return excluded, notes


def _load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save(path: Path, done: dict[str, dict[str, Any]]) -> None:
    from squeezebench.results.storage import atomic_write

    path.parent.mkdir(exist_ok=True)
    data = json.dumps(done, indent=1, sort_keys=True).encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data))
