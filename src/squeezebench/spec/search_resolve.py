"""Resolving ``search:`` against the registry and the rest of the spec.

Each pipeline's steps are parsed like a variant's; each searched param must name a param of
one of its steps, and both ends of every range (and every listed value) must be valid for
that param -- checked by the method's own ``Params``, with errors at the offending value.
Objectives and constraints must name columns the spec measures (a dataset for accuracy, a
batch size the benchmark times), on a target the spec lists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from squeezebench.spec.issues import Path
from squeezebench.spec.models import Spec, TargetSpec
from squeezebench.spec.resolve import Resolver, Step, Variant, _RawStep
from squeezebench.spec.search_models import ChoiceParam, FloatParam, IntParam, SearchSpec
from squeezebench.spec.search_terms import (
    COLUMNS,
    FRACTION,
    ColumnReference,
    Constraint,
    Objective,
    parse_constraint,
    parse_objective,
)
from squeezebench.suggest import unknown_name_message

ACCURACY_COLUMNS = ("accuracy", "accuracy_delta", "fidelity", "embedding_cosine")


@dataclass(frozen=True)
class SearchAxis:
    """One searched param of a pipeline: where it goes, and what values it takes."""

    key: str  # as written: '<method>.<param>' or '<step index>.<param>'
    step_index: int
    param: str
    kind: str  # choice, int or float
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False

    def corners(self) -> tuple[Any, Any]:
        """The axis's two ends: first and last choice, or low and high."""
        if self.kind == "choice":
            return self.choices[0], self.choices[-1]
        cast = int if self.kind == "int" else float
        return cast(self.low), cast(self.high)


@dataclass(frozen=True)
class SearchPipeline:
    """A pipeline of the space: its steps (method, fixed params) and its searched params."""

    name: str
    steps: tuple[tuple[str, dict[str, Any]], ...]
    axes: tuple[SearchAxis, ...]

    def variant(
        self,
        name: str,
        values: dict[str, Any],
        registry: Any,
        excluded: dict[int, list[str]] | None = None,
    ) -> Variant:
        """The variant with ``values`` (by axis key) filled in; ``excluded`` adds layer
        patterns to the ``exclude`` of steps (by index). Raises pydantic's
        ``ValidationError`` when the params do not fit together."""
        overrides: dict[int, dict[str, Any]] = {}
        for axis in self.axes:
            overrides.setdefault(axis.step_index, {})[axis.param] = values[axis.key]
        steps = []
        for index, (method, params) in enumerate(self.steps):
            merged = {**params, **overrides.get(index, {})}
            if excluded and excluded.get(index):
                merged["exclude"] = [*merged.get("exclude", []), *excluded[index]]
            steps.append(Step(method, registry.get("method", method).Params.model_validate(merged)))
        return Variant(name, tuple(steps), dict(values))


@dataclass(frozen=True)
class ResolvedSearch:
    """A valid ``search:`` section: the space, the terms with batch sizes filled in, the
    target trials run on and the sampler's seed."""

    settings: SearchSpec
    pipelines: tuple[SearchPipeline, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    goals: tuple[Constraint, ...]
    target: TargetSpec
    seed: int

    @property
    def search_id(self) -> str:
        """A hash of what defines the search (the same search in two runs has the same id)."""
        payload = {
            "settings": self.settings.model_dump(mode="json"),
            "target": self.target.model_dump(mode="json"),
            "seed": self.seed,
        }
        text = json.dumps(payload, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def timed(self) -> bool:
        """Whether an objective or constraint needs latency (trials are then timed)."""
        terms = [o.reference for o in self.objectives] + [c.reference for c in self.constraints]
        return any(COLUMNS[t.column].timed for t in terms)

    @property
    def sampler(self) -> str:
        """The sampler to use: the spec's, with ``auto`` as TPE for one objective, else NSGA-II."""
        if self.settings.sampler != "auto":
            return self.settings.sampler
        return "tpe" if len(self.objectives) == 1 else "nsga2"

    @property
    def accuracy_constraint(self) -> Constraint | None:
        """The first constraint on accuracy or another share (what sensitivity judges by)."""
        return accuracy_constraint(self.constraints)


def accuracy_constraint(constraints: tuple[Constraint, ...]) -> Constraint | None:
    """The first of ``constraints`` on an accuracy column or another share, or None."""
    for constraint in constraints:
        column = constraint.reference.column
        if column in ACCURACY_COLUMNS or COLUMNS[column].kind == FRACTION:
            return constraint
    return None


def resolve_search(
    resolver: Resolver,
    raw: Any,
    spec: Spec | None,
    targets: list[TargetSpec],
    dataset: str | None,
) -> ResolvedSearch | None:
    """The resolved search, or None (without one, or with issues added to ``resolver``)."""
    if not isinstance(raw, dict):
        return None
    before = len(resolver.issues)
    pipelines = _pipelines(resolver, raw.get("space"))
    settings = spec.search if spec is not None else None
    if settings is None or not targets:
        return None
    batch_sizes = spec.benchmark.batch_sizes
    terms = _Terms(resolver, batch_sizes, dataset)
    objectives = tuple(
        Objective(o.direction, terms.reference(o.reference, ("search", "objectives", i)), o.text)
        for i, o in enumerate(map(parse_objective, settings.objectives))
    )
    constraints = terms.constraints(settings.constraints, ("search", "constraints"))
    goals = terms.constraints(settings.budget.stop_when, ("search", "budget", "stop_when"))
    target = _target(resolver, settings.target, targets)
    _check_settings(resolver, settings, pipelines or [], constraints)
    if pipelines is None or target is None or len(resolver.issues) > before:
        return None
    seed = settings.seed if settings.seed is not None else spec.seeds[0] % 2**32
    return ResolvedSearch(settings, tuple(pipelines), objectives, constraints, goals, target, seed)


# -- pipelines -----------------------------------------------------------------------------


def _pipelines(resolver: Resolver, raw_space: Any) -> list[SearchPipeline] | None:
    if not isinstance(raw_space, dict):
        return None
    pipelines, failed = [], False
    for name, raw in raw_space.items():
        path: Path = ("search", "space", name)
        if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list):
            failed = True
            continue  # the top-level model reports the shape
        steps = [
            resolver._parse_step(item, (*path, "steps", index))
            for index, item in enumerate(raw["steps"])
        ]
        if not steps or any(step is None for step in steps):
            failed = True
            continue
        parsed = [step for step in steps if step is not None]
        resolver._check_formats(parsed)
        axes = _axes(resolver, name, parsed, raw.get("params"))
        if axes is None:
            failed = True
            continue
        pipelines.append(
            SearchPipeline(name, tuple((s.method, dict(s.params)) for s in parsed), tuple(axes))
        )
    return None if failed else pipelines


def _axes(
    resolver: Resolver, name: str, steps: list[_RawStep], raw_params: Any
) -> list[SearchAxis] | None:
    params = raw_params if isinstance(raw_params, dict) else {}
    axes: list[SearchAxis] = []
    failed = False
    for key, raw in params.items():
        path: Path = ("search", "space", name, "params", key)
        target = (
            resolver.param_target(steps, key, path, "pipeline", name, "a searched param is")
            if isinstance(key, str)
            else None
        )
        axis = _axis(key, target, raw) if target is not None else None
        if axis is None:
            failed = True
            continue
        if any((a.step_index, a.param) == (axis.step_index, axis.param) for a in axes):
            resolver._issue("searches the same parameter twice", path, key=True)
            failed = True
            continue
        axes.append(axis)
        # every listed value, and both ends of a range, must be valid for the param
        for position, value in _probe_values(axis, raw, path):
            overrides = {axis.step_index: {axis.param: value}}
            where = {axis.step_index: {axis.param: position}}
            if resolver._validate_steps(steps, overrides, where, allow_missing=True) is None:
                failed = True
    if failed:
        return None
    # and together (required params set by no step and no axis are reported here)
    first = {}
    for axis in axes:
        first.setdefault(axis.step_index, {})[axis.param] = axis.corners()[0]
    if resolver._validate_steps(steps, first, {}) is None:
        return None
    return axes


def _axis(key: str, target: tuple[int, str], raw: Any) -> SearchAxis | None:
    index, param = target
    parsed = _parsed_param(raw)
    if isinstance(parsed, ChoiceParam):
        return SearchAxis(key, index, param, "choice", tuple(parsed.choice))
    if isinstance(parsed, IntParam):
        low, high = parsed.int_range
        return SearchAxis(key, index, param, "int", (), low, high, parsed.step, parsed.log)
    if isinstance(parsed, FloatParam):
        low, high = parsed.float_range
        return SearchAxis(key, index, param, "float", (), low, high, parsed.step, parsed.log)
    return None  # the top-level model reports the shape


def _parsed_param(raw: Any) -> Any:
    from pydantic import TypeAdapter, ValidationError

    from squeezebench.spec.search_models import PipelineSpace

    try:
        space = TypeAdapter(PipelineSpace).validate_python({"steps": ["x"], "params": {"k": raw}})
    except ValidationError:
        return None
    return space.params["k"]


def _probe_values(axis: SearchAxis, raw: Any, path: Path) -> list[tuple[Path, Any]]:
    """(document path, value) of every listed value, or of both ends of the range."""
    if axis.kind == "choice":
        base = path if isinstance(raw, list) else (*path, "choice")
        return [((*base, i), value) for i, value in enumerate(axis.choices)]
    low, high = axis.corners()
    return [((*path, axis.kind, 0), low), ((*path, axis.kind, 1), high)]


# -- objectives, constraints, settings ------------------------------------------------------


class _Terms:
    """Checks column references against the spec: batch sizes, a dataset."""

    def __init__(self, resolver: Resolver, batch_sizes: list[int], dataset: str | None):
        self.resolver = resolver
        self.batch_sizes = batch_sizes
        self.dataset = dataset
        self.failed = False

    def reference(self, reference: ColumnReference, path: Path) -> ColumnReference:
        column = COLUMNS[reference.column]
        if column.needs_dataset and self.dataset is None:
            self._fail(f"{column.name} is only measured with a dataset (add 'dataset:')", path)
        if not column.per_batch:
            return reference
        sizes = ", ".join(map(str, self.batch_sizes))
        if reference.batch_size is None:
            if len(self.batch_sizes) == 1:
                return ColumnReference(column.name, self.batch_sizes[0])
            self._fail(
                f"{column.name} is measured per batch size: write "
                f"'{column.name}@b={self.batch_sizes[0]}' (benchmark.batch_sizes: {sizes})",
                path,
            )
        elif reference.batch_size not in self.batch_sizes:
            self._fail(
                f"{reference.label}: batch size {reference.batch_size} is not timed "
                f"(benchmark.batch_sizes: {sizes})",
                path,
            )
        return reference

    def constraints(self, texts: list[str], path: Path) -> tuple[Constraint, ...]:
        found = []
        for index, text in enumerate(texts):
            parsed = parse_constraint(text)
            reference = self.reference(parsed.reference, (*path, index))
            found.append(Constraint(reference, parsed.op, parsed.kind, parsed.amount, parsed.text))
        return tuple(found)

    def _fail(self, message: str, path: Path) -> None:
        self.failed = True
        self.resolver._issue(message, path)


def _target(resolver: Resolver, label: str | None, targets: list[TargetSpec]) -> TargetSpec | None:
    if label is None:
        return targets[0]
    for target in targets:
        if target.label == label:
            return target
    labels = [target.label for target in targets]
    resolver._issue(unknown_name_message("target", label, labels), ("search", "target"))
    return None


def _check_settings(
    resolver: Resolver,
    settings: SearchSpec,
    pipelines: list[SearchPipeline],
    constraints: tuple[Constraint, ...],
) -> None:
    if settings.sampler == "grid":
        for pipeline in pipelines:
            for axis in pipeline.axes:
                if axis.kind == "float" and axis.step is None:
                    resolver._issue(
                        "the grid sampler needs a step for every float range "
                        "(e.g. {float: [0.5, 0.9], step: 0.1})",
                        ("search", "space", pipeline.name, "params", axis.key),
                    )
    if settings.budget.patience is not None and len(settings.objectives) > 1:
        resolver._issue(
            "patience needs a single objective (several give a Pareto front)",
            ("search", "budget", "patience"),
        )
    if settings.sensitivity and accuracy_constraint(constraints) is None:
        resolver._issue(
            "sensitivity judges layers by an accuracy constraint: add one on "
            + ", ".join(ACCURACY_COLUMNS),
            ("search", "sensitivity"),
        )
