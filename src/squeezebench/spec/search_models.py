"""The ``search:`` section of a spec: the space, the objectives, the constraints, the budget.

Only shapes are checked here (and the wording of objectives and constraints, so that their
errors point at the string); :mod:`squeezebench.spec.search_resolve` checks the pipelines,
their params and the columns against the registry and the rest of the spec.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from squeezebench.spec.search_terms import TermError, parse_constraint, parse_objective

# The JSON Schema swaps this placeholder for the Step definition (see spec.schema; the same
# as spec.models.STEP_PLACEHOLDER, which cannot be imported here: models imports this module).
_StepInput = Annotated[Any, WithJsonSchema({"$comment": "squeezebench:Step"})]
_MAX_TRIALS = 100_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ChoiceParam(_Strict):
    """One of the listed values (unordered), e.g. ``{choice: [2, 4, 8]}``; a bare list too."""

    choice: list[Any] = Field(min_length=1, description="The values to choose from.")


class IntParam(_Strict):
    """An integer from ``low`` to ``high`` (both included), e.g. ``{int: [2, 64], log: true}``."""

    int_range: tuple[int, int] = Field(alias="int", description="[low, high], both included.")
    step: int = Field(1, ge=1, description="Only low, low + step, ... are sampled.")
    log: bool = Field(False, description="Sample on a log scale (low must be at least 1).")

    @model_validator(mode="after")
    def _ordered(self) -> IntParam:
        _check_range(self.int_range, self.log, self.step if self.step != 1 else None)
        return self


class FloatParam(_Strict):
    """A number from ``low`` to ``high``, e.g. ``{float: [0.3, 0.95], step: 0.05}``."""

    float_range: tuple[float, float] = Field(
        alias="float", description="[low, high], both included."
    )
    step: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Only low, low + step, ... are sampled."
    )
    log: bool = Field(False, description="Sample on a log scale (low must be above 0).")

    @field_validator("float_range")
    @classmethod
    def _finite(cls, value: tuple[float, float]) -> tuple[float, float]:
        if any(x != x or x in (float("inf"), float("-inf")) for x in value):
            raise ValueError(f"a range's ends must be finite numbers, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> FloatParam:
        _check_range(self.float_range, self.log, self.step)
        return self


def _check_range(bounds: tuple[float, float], log: bool, step: float | None) -> None:
    low, high = bounds
    if low > high:
        raise ValueError(f"a range is [low, high] with low <= high, got [{low}, {high}]")
    if log and low <= 0:
        raise ValueError(f"a log-scale range needs low above 0, got [{low}, {high}]")
    if log and step is not None:
        raise ValueError("a range is either on a log scale or in steps, not both")


def _param_kind(value: Any) -> str | None:
    for model, kind in ((ChoiceParam, "choice"), (IntParam, "int"), (FloatParam, "float")):
        if isinstance(value, model):  # serializing
            return kind
    if isinstance(value, dict):
        for key in ("choice", "int", "float", "int_range", "float_range"):
            if key in value:
                return key.removesuffix("_range")
    return None


def _choice_from_list(value: Any) -> Any:
    return {"choice": value} if isinstance(value, list) else value


def _list_shorthand_in_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema of ``params`` also takes a bare list (validation turns it into a
    choice before the union sees it)."""
    alternatives = schema["additionalProperties"]["oneOf"]
    alternatives.insert(0, {"type": "array", "minItems": 1, "description": "values to choose from"})


SearchedParam = Annotated[
    Annotated[ChoiceParam, Tag("choice")]
    | Annotated[IntParam, Tag("int")]
    | Annotated[FloatParam, Tag("float")],
    Discriminator(
        _param_kind,
        custom_error_type="searched_param",
        custom_error_message=(
            "a searched param is a list of values, {choice: [...]}, {int: [low, high]} or "
            "{float: [low, high]} (with optional step: and log:)"
        ),
    ),
]


class PipelineSpace(_Strict):
    """A pipeline the search may choose: its steps, and the params it searches over."""

    steps: list[_StepInput] = Field(
        min_length=1,
        description="The pipeline, as in variants: method names or {method: {params}}.",
    )
    params: dict[str, SearchedParam] = Field(
        default_factory=dict,
        json_schema_extra=_list_shorthand_in_schema,
        description="Searched params: {'<method>.<param>' or '<step index>.<param>': "
        "[values] | {choice: [...]} | {int: [low, high]} | {float: [low, high]}}.",
    )

    @field_validator("params", mode="before")
    @classmethod
    def _lists_are_choices(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _choice_from_list(item) for key, item in value.items()}
        return value


def _read(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except TermError as error:
        raise ValueError(str(error)) from None


def _objective(text: str) -> str:
    _read(parse_objective, text)
    return text


def _constraint(text: str) -> str:
    _read(parse_constraint, text)
    return text


ObjectiveText = Annotated[str, AfterValidator(_objective)]
ConstraintText = Annotated[str, AfterValidator(_constraint)]


class SearchBudget(_Strict):
    """When the search stops: whichever limit comes first."""

    trials: int = Field(
        50,
        ge=1,
        le=_MAX_TRIALS,
        description="Trials at most (failed ones and repeats of earlier params included).",
    )
    minutes: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="Wall time at most (over every --resume); trials in flight finish.",
    )
    stop_when: list[ConstraintText] = Field(
        default_factory=list,
        description="Goals, written like constraints: stop as soon as a feasible trial "
        "meets all of them. Without goals the whole budget is spent looking for the best.",
    )
    patience: int | None = Field(
        None,
        ge=1,
        description="Stop after this many trials in a row without a better feasible one "
        "(one objective only).",
    )


class SearchSpec(_Strict):
    """Search for the best variants instead of (or beside) listing them in ``variants``."""

    space: dict[str, PipelineSpace] = Field(
        min_length=1,
        description="Named pipelines the search chooses between, each with searched params.",
    )
    objectives: list[ObjectiveText] = Field(
        min_length=1,
        description="'minimize <column>' or 'maximize <column>' ('<column>@b=<batch size>' "
        "for latency and other per-batch columns). Several objectives give a Pareto front.",
    )
    constraints: list[ConstraintText] = Field(
        default_factory=list,
        description="Bounds every answer must meet: '<column> <op> <number> [unit]' "
        "(absolute), '<factor> x baseline' (ratio) or 'baseline - <number> [unit]' "
        "(difference); e.g. 'accuracy_delta >= -1.0 pp', 'artifact_bytes <= 2 MiB'.",
    )
    target: str | None = Field(
        None,
        description="Label of the target trials run on (default: the first target).",
    )
    sampler: Literal["auto", "tpe", "nsga2", "random", "grid"] = Field(
        "auto",
        description="auto: TPE for one objective, NSGA-II for several; random and grid "
        "(every combination, floats need a step) are baselines.",
    )
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed of the sampler (default: the spec's seed)."
    )
    startup_trials: int | None = Field(
        None,
        ge=0,
        description="Random trials before TPE models the space (default: a quarter of the "
        "trials, from 4 to 10).",
    )
    parallel: int | None = Field(
        None,
        ge=1,
        description="Trials in flight at once (default: what the executor runs at once).",
    )
    sensitivity: bool = Field(
        False,
        description="First compress one layer at a time at the space's corners, record each "
        "layer's accuracy cost, and leave out of a pipeline's trials the layers that alone "
        "break the first accuracy constraint at every corner (or at one, when small).",
    )
    budget: SearchBudget = Field(default_factory=SearchBudget)

    @field_validator("objectives", mode="before")
    @classmethod
    def _one_objective_may_be_a_string(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("objectives")
    @classmethod
    def _objectives_differ(cls, objectives: list[str]) -> list[str]:
        columns = [parse_objective(text).reference.label for text in objectives]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"objective {repeated[0]} is listed twice")
        return objectives
