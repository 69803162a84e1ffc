"""Resolving a parsed spec against the plugin registry: steps, sweeps, targets, sources.

Every check here collects issues instead of stopping at the first, and works on the raw
document where the top-level model failed, so one run of ``validate`` reports everything.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from pydantic import BaseModel, ValidationError

from squeezebench.plugins.contracts import TORCH_MODULE
from squeezebench.plugins.registry import Registry
from squeezebench.spec.issues import Path, SpecIssue, render_path
from squeezebench.spec.models import TargetSpec
from squeezebench.spec.pydantic_issues import issues_from_validation_error
from squeezebench.spec.yaml_loader import LocatedDocument
from squeezebench.suggest import unknown_name_message

BASELINE = "baseline"


@dataclass(frozen=True)
class Step:
    """One method application with validated params."""

    method: str
    params: BaseModel

    def to_json(self) -> dict[str, Any]:
        """``{"method": ..., "params": {...}}`` with every default filled in."""
        return {"method": self.method, "params": self.params.model_dump(mode="json")}


@dataclass(frozen=True)
class Variant:
    """A named pipeline (possibly one point of a sweep); the baseline has no steps."""

    name: str
    steps: tuple[Step, ...] = ()
    sweep_values: dict[str, Any] = field(default_factory=dict)

    def steps_json(self) -> str:
        """The pipeline as canonical JSON (stored in every result row)."""
        return json.dumps([s.to_json() for s in self.steps], sort_keys=True)


@dataclass
class _RawStep:
    method: str
    params: dict[str, Any]
    path: Path  # of the step in the document
    params_path: Path  # of the params mapping (for positions of individual params)


class Resolver:
    """Collects issues while turning raw variants, sweeps and targets into resolved ones."""

    def __init__(self, registry: Registry, document: LocatedDocument, base_dir: FilePath):
        self.registry = registry
        self.document = document
        self.base_dir = base_dir
        self._issues: dict[SpecIssue, None] = {}  # an ordered set: linear in the issues

    @property
    def issues(self) -> list[SpecIssue]:
        """Every issue found so far, once each, in the order found."""
        return list(self._issues)

    # -- helpers ------------------------------------------------------------------------------

    def _issue(self, message: str, path: Path, *, key: bool = False, label: str | None = None):
        self._add(SpecIssue(message, path, self.document.position(path, key=key), label))

    def _add(self, *issues: SpecIssue) -> None:
        self._issues.update(dict.fromkeys(issues))

    # -- model and dataset --------------------------------------------------------------------

    def check_model(self, reference: Any, *, deep: bool = False, trusted: bool = False) -> None:
        """Check that the model reference names a registered scheme that accepts it.

        With ``deep`` (``validate --deep``), the source's ``deep_check`` runs too: it may
        import code or load the model (``trusted``: the spec's ``trust_model_files``).
        """
        if not isinstance(reference, str):
            return  # the top-level model reports the type error
        scheme, colon, rest = reference.partition(":")
        if not colon or ("model source", scheme) not in self.registry:
            self._issue(self._reference_problem(reference, scheme if colon else None), ("model",))
            return
        source = self.registry.get("model source", scheme)()
        problem = source.check(rest, self.base_dir)
        if problem is None and deep:
            try:
                problem = source.deep_check(rest, self.base_dir, trusted=trusted)
            except Exception as error:  # a deep check loads user code and files: anything goes
                problem = f"{reference}: {type(error).__name__}: {error}"
        if problem:
            self._issue(problem, ("model",))

    def _reference_problem(self, reference: str, scheme: str | None) -> str:
        """A reference without a registered scheme: what is expected, and the full reference
        when a registered source accepts what was written."""
        schemes = self.registry.names("model source")
        if scheme is None:
            message = f"a model reference is '<scheme>:<reference>', got {reference!r}"
        else:
            message = unknown_name_message("model source", scheme, schemes)
        accepted = [
            f"{name}:{reference}"
            for name in schemes
            if not _rejects(self.registry.get("model source", name)(), reference, self)
        ]
        if accepted:
            message += f"; did you mean {' or '.join(repr(a) for a in accepted)}?"
        if scheme is None:
            message += f" (registered schemes: {', '.join(schemes)})"
        return message

    def resolve_dataset(self, reference: Any) -> str | None:
        """The registered dataset name of ``builtin:<name>`` (or ``<name>``), else an issue."""
        if not isinstance(reference, str):
            return None
        name = reference.removeprefix("builtin:")
        if ("dataset", name) not in self.registry:
            self._issue(
                unknown_name_message("dataset", name, self.registry.names("dataset")),
                ("dataset",),
            )
            return None
        return name

    # -- variants and sweeps ------------------------------------------------------------------

    def resolve_variants(self, raw_variants: Any, raw_sweep: Any) -> list[Variant]:
        """Baseline first, then each variant (sweeps expanded), in spec order.

        Names that are not strings are skipped here: the top-level model reports them.
        """
        variants = [Variant(BASELINE)]
        if not isinstance(raw_variants, dict):
            return variants
        sweep = raw_sweep if isinstance(raw_sweep, dict) else {}
        names = [name for name in raw_variants if isinstance(name, str)]
        for name in sweep:
            if isinstance(name, str) and name not in raw_variants:
                self._issue(
                    unknown_name_message("variant", name, names),
                    ("sweep", name),
                    key=True,
                    label="sweep",
                )
        origins = {BASELINE: (BASELINE, False)}  # variant name -> (its variant key, swept?)
        for name, raw_steps in raw_variants.items():
            path: Path = ("variants", name)
            if not isinstance(raw_steps, list) or not isinstance(name, str):
                continue  # reported by the top-level model
            if name == BASELINE:
                if raw_steps:
                    self._issue(
                        "'baseline' is reserved for the unmodified model, which is always "
                        "measured; give this pipeline another name",
                        path,
                        key=True,
                    )
                elif name in sweep:
                    self._issue("the baseline has no steps to sweep", ("sweep", name), key=True)
                continue
            if not raw_steps:
                self._issue(
                    "a variant needs at least one step (the baseline is always measured)",
                    path,
                )
                continue
            steps = [self._parse_step(item, (*path, index)) for index, item in enumerate(raw_steps)]
            if any(step is None for step in steps):
                continue
            parsed = [s for s in steps if s is not None]
            self._check_formats(parsed)
            grid = sweep.get(name) if isinstance(sweep.get(name), dict) else None
            for variant in self._expand(name, parsed, grid):
                if self._check_unique(variant, name, origins):
                    variants.append(variant)
        return variants

    def _check_unique(self, variant: Variant, name: str, origins: dict) -> bool:
        """Whether no earlier variant has this one's name (a sweep point can take a name)."""
        swept = bool(variant.sweep_values)
        if variant.name not in origins:
            origins[variant.name] = (name, swept)
            return True
        other, other_swept = origins[variant.name]
        if swept and other_swept:
            message = f"the sweeps of {other!r} and {name!r} both give a variant {variant.name!r}"
            self._issue(message, ("sweep", name), key=True)
        else:
            literal, sweep = (other, name) if swept else (name, other)
            message = f"variant {literal!r} has the name of a point of the sweep of {sweep!r}"
            self._issue(message + "; rename it", ("variants", literal), key=True)
        return False

    def _parse_step(self, item: Any, path: Path) -> _RawStep | None:
        if isinstance(item, str):
            method, params, params_path, key = item, {}, path, False
        elif isinstance(item, dict) and len(item) == 1:
            method, params = next(iter(item.items()))
            params_path, key = (*path, method), True
            if params is None:
                params = {}
            if not isinstance(params, dict):
                self._issue(
                    f"the params of {method} must be a mapping of name: value (got {params!r})",
                    params_path,
                )
                return None
        else:
            self._issue(
                "a step is a method name ('quantize.dynamic_int8') or a single-key mapping "
                "('prune.magnitude: {sparsity: 0.5}')",
                path,
            )
            return None
        if ("method", str(method)) not in self.registry:
            names = self.registry.names("method")
            self._issue(
                unknown_name_message("method", str(method), names),
                (*path, method) if key else path,
                key=key,
                label=render_path(path),
            )
            return None
        return _RawStep(str(method), params, path, params_path)

    def _check_formats(self, steps: list[_RawStep]) -> None:
        """Each step must take the previous step's format, or one registered converters
        reach from it (the harness inserts them when the pipeline runs)."""
        from squeezebench.plugins.conversion import find_chain

        current = TORCH_MODULE
        for index, step in enumerate(steps):
            method = self.registry.get("method", step.method)
            if find_chain(self.registry, current, method.takes) is None:
                given = "the previous step gives" if index else "the model is"
                self._issue(
                    f"{step.method} takes {', '.join(method.takes)} but {given} {current}, "
                    "and no registered converter connects them",
                    step.path,
                )
                return
            current = method.gives

    def _expand(self, name: str, steps: list[_RawStep], grid: dict | None) -> list[Variant]:
        if not grid:
            resolved = self._validate_steps(steps, {}, {})
            return [] if resolved is None else [Variant(name, resolved)]
        axes = []  # (step index, param, values, sweep key)
        targets: dict[tuple[int, str], Any] = {}  # (step index, param) -> sweep key
        for key, values in grid.items():
            target = self._sweep_target(name, steps, key) if isinstance(key, str) else None
            if target is None:
                continue  # reported (a key that is not a string: by the top-level model)
            if target in targets:
                self._issue(
                    f"sweeps the same parameter as {targets[target]!r}",
                    ("sweep", name, key),
                    key=True,
                )
                continue
            targets[target] = key
            if not isinstance(values, list):
                continue  # reported by the top-level model
            if not values:
                self._issue("a sweep axis needs a non-empty list of values", ("sweep", name, key))
                continue
            axes.append((*target, values, key))
        # a bad key still lets the values of the other keys be checked (and reported), but
        # its variant expands to nothing: a partial grid would be a different sweep
        complete = len(axes) == len(grid)
        variants: list[Variant] = []
        first: dict[tuple[str, str], tuple[int, ...]] = {}  # name or pipeline -> combination
        for combination in itertools.product(*(range(len(axis[2])) for axis in axes)):
            overrides: dict[int, dict[str, Any]] = {}
            positions: dict[int, dict[str, Path]] = {}
            values: dict[str, Any] = {}
            for (index, param, axis_values, key), choice in zip(axes, combination, strict=True):
                overrides.setdefault(index, {})[param] = axis_values[choice]
                positions.setdefault(index, {})[param] = ("sweep", name, key, choice)
                values[param if param not in values else key] = axis_values[choice]
            # without a bad key's values, a param it meant to set may look missing: say nothing
            resolved = self._validate_steps(steps, overrides, positions, allow_missing=not complete)
            if resolved is None:
                continue
            label = ",".join(f"{k}={_render_value(v)}" for k, v in values.items())
            variant = Variant(f"{name}[{label}]", resolved, values)
            seen = [("name", variant.name), ("steps", variant.steps_json())]
            earlier = next((first[s] for s in seen if s in first), None)
            if earlier is not None:
                self._duplicate_sweep_value(name, axes, earlier, combination)
                continue
            first.update(dict.fromkeys(seen, combination))
            variants.append(variant)
        return variants if complete else []

    def _duplicate_sweep_value(
        self, name: str, axes: list, earlier: tuple[int, ...], combination: tuple[int, ...]
    ) -> None:
        """Report the value of ``combination`` that gives the same variant as ``earlier``."""
        for (_, _, values, key), before, now in zip(axes, earlier, combination, strict=True):
            if before != now:
                self._issue(
                    f"duplicate sweep value {values[now]!r}: item {before} "
                    f"({values[before]!r}) gives the same variant",
                    ("sweep", name, key, now),
                )
                return

    def _sweep_target(self, name: str, steps: list[_RawStep], key: str) -> tuple[int, str] | None:
        return self.param_target(
            steps, key, ("sweep", name, key), "variant", name, "sweep key must be"
        )

    def param_target(
        self, steps: list[_RawStep], key: str, path: Path, kind: str, name: str, lead: str
    ) -> tuple[int, str] | None:
        """(step index, param) that ``key`` (``<method>.<param>`` or ``<index>.<param>``)
        names in ``steps`` of the ``kind`` (variant, pipeline) ``name``, or None after an issue
        at ``path`` (``lead`` starts the message about a key that names no step)."""
        owner = f"{kind} {name!r}"
        head, _, param = key.rpartition(".")
        if head.isdigit():
            index = int(head)
            if index >= len(steps):
                self._issue(f"{owner} has no step {index}", path, key=True)
                return None
        else:
            matches = [i for i, step in enumerate(steps) if step.method == head]
            if not matches:
                methods = sorted({step.method for step in steps})
                self._issue(
                    f"{lead} '<method>.<param>' or '<step index>.<param>' of a step of "
                    f"{owner}: " + unknown_name_message("method", head or key, methods),
                    path,
                    key=True,
                )
                return None
            if len(matches) > 1:
                self._issue(
                    f"{head} appears {len(matches)} times in {name!r}: name the step by its "
                    f"index, e.g. '{matches[0]}.{param}'",
                    path,
                    key=True,
                )
                return None
            index = matches[0]
        fields = self.registry.get("method", steps[index].method).Params.model_fields
        if param not in fields:
            self._issue(
                unknown_name_message(f"parameter of {steps[index].method}", param, fields),
                path,
                key=True,
            )
            return None
        return index, param

    def _validate_steps(
        self,
        steps: list[_RawStep],
        overrides: dict[int, dict[str, Any]],
        positions: dict[int, dict[str, Path]],
        *,
        allow_missing: bool = False,
    ) -> tuple[Step, ...] | None:
        resolved, failed = [], False
        for index, step in enumerate(steps):
            params_model = self.registry.get("method", step.method).Params
            merged = {**step.params, **overrides.get(index, {})}
            try:
                params = params_model.model_validate(merged)
            except ValidationError as error:
                failed = True
                for issue in issues_from_validation_error(
                    error,
                    params_model,
                    self.document,
                    prefix=step.params_path,
                    label=f"{render_path(step.path)} {step.method}",
                    positions=positions.get(index),
                ):
                    if allow_missing and issue.message.startswith("missing required key"):
                        continue
                    self._add(issue)
                continue
            resolved.append(Step(step.method, params))
        return None if failed else tuple(resolved)

    # -- targets ------------------------------------------------------------------------------

    def resolve_targets(self, raw_targets: Any) -> list[TargetSpec]:
        """Targets with backend names and options checked against the registry."""
        if not isinstance(raw_targets, list):
            return []
        targets: list[TargetSpec] = []
        labels: set[str] = set()
        for index, raw in enumerate(raw_targets):
            path: Path = ("targets", index)
            try:
                target = TargetSpec.model_validate(raw)
            except ValidationError as error:
                self._add(
                    *issues_from_validation_error(error, TargetSpec, self.document, prefix=path)
                )
                continue
            if ("backend", target.backend) not in self.registry:
                names = self.registry.names("backend")
                where = (*path, "backend") if isinstance(raw, dict) else path
                self._issue(unknown_name_message("backend", target.backend, names), where)
                continue
            backend = self.registry.get("backend", target.backend)
            problem = backend.check_device(target.device)
            if problem:
                self._issue(problem, (*path, "device") if isinstance(raw, dict) else path)
                continue
            try:
                options = backend.Options.model_validate(target.options)
            except ValidationError as error:
                self._add(
                    *issues_from_validation_error(
                        error, backend.Options, self.document, prefix=(*path, "options")
                    )
                )
                continue
            target = target.model_copy(update={"options": options.model_dump(mode="json")})
            if target.label in labels:
                self._issue(
                    f"target {target.label!r} is listed twice; give one a distinct 'name'", path
                )
                continue
            labels.add(target.label)
            targets.append(target)
        return targets


def _rejects(source: Any, reference: str, resolver: Resolver) -> bool:
    """Whether ``source.check`` rejects ``reference`` (a check that raises rejects it)."""
    try:
        return source.check(reference, resolver.base_dir) is not None
    except Exception:  # a third-party check that cannot handle a foreign reference
        return True


def _render_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
