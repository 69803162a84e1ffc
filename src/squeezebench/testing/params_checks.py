"""The params (or options) model of a method or backend: closed, and JSON round-trips."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from squeezebench.testing.failures import fail


def check_params_model(owner: str, model: Any, values: Mapping[str, Any]) -> BaseModel:
    """``model`` is a closed pydantic model whose ``values`` survive the trip through JSON.

    Specs are validated against the model's JSON Schema in editors, and jobs reach the
    worker processes as ``model_dump(mode="json")`` data validated again there; a model that
    does not round-trip gives workers other params than the spec had. Returns the params.
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        fail(owner, f"{model!r} is not a pydantic BaseModel subclass")
    if model.model_config.get("extra") != "forbid":
        fail(
            owner,
            f"{model.__name__} must say model_config = ConfigDict(extra='forbid'), so that "
            "a misspelt key is an error rather than silently ignored",
        )
    try:
        schema = model.model_json_schema()
        json.dumps(schema)
    except Exception as error:
        fail(owner, f"{model.__name__} has no JSON Schema: {type(error).__name__}: {error}")
    try:
        params = model.model_validate(dict(values))
    except ValidationError as error:
        fail(owner, f"{model.__name__} refuses {dict(values)!r}: {error}")
    dumped = params.model_dump(mode="json")
    try:
        text = json.dumps(dumped)
    except TypeError as error:
        fail(owner, f"{model.__name__}.model_dump(mode='json') is not JSON: {error}")
    _validate_against_schema(owner, json.loads(text), schema, model.__name__)
    try:
        again = model.model_validate(json.loads(text))
    except ValidationError as error:
        fail(owner, f"{model.__name__} refuses its own JSON dump {dumped!r}: {error}")
    if again != params:
        fail(owner, f"{model.__name__} changes through JSON: {params!r} became {again!r}")
    return params


def _validate_against_schema(owner: str, value: Any, schema: dict, name: str) -> None:
    try:
        import jsonschema
    except ImportError:  # optional: the round trip through the model still ran
        return
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as error:
        fail(owner, f"the JSON Schema of {name} rejects its own dump {value!r}: {error.message}")
