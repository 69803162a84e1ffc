"""From an Optuna trial to a candidate variant: the pipeline chosen and its params.

Optuna sees one categorical parameter ``pipeline`` and, per pipeline, its searched params
named ``<pipeline>/<key>`` (conditional: only the chosen pipeline's params are sampled).
Listed values that Optuna cannot store (lists, mappings) travel as their JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from squeezebench.spec.search_resolve import SearchAxis, SearchPipeline

PIPELINE = "pipeline"
_PLAIN = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Candidate:
    """A pipeline of the space and a value for each of its searched params (by key)."""

    pipeline: SearchPipeline
    values: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        """``{"pipeline": name, key: value...}``: what the trial chose, for results."""
        return {PIPELINE: self.pipeline.name, **self.values}

    def params_json(self) -> str:
        """The chosen params as canonical JSON (the ``trial_params`` column)."""
        return json.dumps(self.params, sort_keys=True)

    def variant_name(self, number: int) -> str:
        """``#7 pruned[sparsity=0.73]``: the trial number keeps names unique."""
        shown: dict[str, Any] = {}
        for axis in self.pipeline.axes:
            label = axis.param if axis.param not in shown else axis.key
            shown[label] = self.values[axis.key]
        inside = ",".join(f"{key}={_short(value)}" for key, value in shown.items())
        return f"#{number} {self.pipeline.name}" + (f"[{inside}]" if inside else "")


def suggest(trial: Any, pipelines: tuple[SearchPipeline, ...]) -> Candidate:
    """Ask ``trial`` (an ``optuna.Trial``) for a pipeline and its params."""
    names = [pipeline.name for pipeline in pipelines]
    name = trial.suggest_categorical(PIPELINE, names)
    pipeline = pipelines[names.index(name)]
    values = {axis.key: _suggest_axis(trial, pipeline.name, axis) for axis in pipeline.axes}
    return Candidate(pipeline, values)


def from_params(params: dict[str, Any], pipelines: tuple[SearchPipeline, ...]) -> Candidate:
    """The candidate of a finished trial's Optuna params (a resumed study)."""
    pipeline = next(p for p in pipelines if p.name == params[PIPELINE])
    values = {}
    for axis in pipeline.axes:
        stored = params[optuna_name(pipeline.name, axis)]
        values[axis.key] = _decode(axis, stored) if axis.kind == "choice" else _tidy(stored)
    return Candidate(pipeline, values)


def optuna_name(pipeline: str, axis: SearchAxis) -> str:
    """The name of ``axis`` in the Optuna study."""
    return f"{pipeline}/{axis.key}"


def _suggest_axis(trial: Any, pipeline: str, axis: SearchAxis) -> Any:
    name = optuna_name(pipeline, axis)
    if axis.kind == "choice":
        encoded = [_encode(value) for value in axis.choices]
        return _decode(axis, trial.suggest_categorical(name, encoded))
    if axis.kind == "int":
        step = int(axis.step or 1)
        return trial.suggest_int(name, int(axis.low), int(axis.high), step=step, log=axis.log)
    value = trial.suggest_float(name, axis.low, axis.high, step=axis.step, log=axis.log)
    return _tidy(value)


def _encode(value: Any) -> Any:
    return value if isinstance(value, _PLAIN) else json.dumps(value, sort_keys=True)


def _decode(axis: SearchAxis, stored: Any) -> Any:
    for value in axis.choices:
        if _encode(value) == stored and type(_encode(value)) is type(stored):
            return value
    raise ValueError(f"{stored!r} is not one of the values of {axis.key}")


def _tidy(value: Any) -> Any:
    """Floats without the noise of ``low + k * step`` (0.7000000000000001 -> 0.7)."""
    return float(f"{value:.12g}") if isinstance(value, float) else value


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return value if isinstance(value, str) else json.dumps(value)
