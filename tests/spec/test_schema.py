"""The JSON Schema of spec files: committed copy up to date, valid, and agreeing with the loader."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
import yaml

from squeezebench.spec.schema import SCHEMA_ID, build_json_schema, render_json_schema

from .conftest import COMMITTED_SCHEMA, QUICKSTART

REGENERATE = (
    "SQUEEZEBENCH_DISABLE_PLUGIN_AUTOLOAD=1 squeezebench schema -o schema/squeezebench.schema.json"
)


@pytest.fixture(scope="module")
def schema(registry) -> dict:
    return build_json_schema(registry)


@pytest.fixture(scope="module")
def validator(schema) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def quickstart() -> dict:
    return yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))


def messages(validator, instance) -> list[str]:
    return [error.message for error in validator.iter_errors(instance)]


def test_committed_schema_is_up_to_date(registry):
    fresh = render_json_schema(registry)
    committed = COMMITTED_SCHEMA.read_text(encoding="utf-8")
    assert committed == fresh, (
        f"{COMMITTED_SCHEMA.relative_to(COMMITTED_SCHEMA.parents[1])} is stale; "
        f"regenerate it with:\n    {REGENERATE}"
    )


def test_rendered_schema_is_stable_pretty_json(registry, schema):
    text = render_json_schema(registry)
    assert text.endswith("}\n")
    assert json.loads(text) == schema
    assert render_json_schema(registry) == text


def test_schema_is_a_valid_draft_2020_12_schema(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_schema_has_no_placeholders_or_dangling_refs(schema):
    text = json.dumps(schema)
    assert "squeezebench:Step" not in text
    assert "squeezebench:Target" not in text

    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs(schema))
    assert {"#/$defs/Step", "#/$defs/Target"} <= found
    for ref in found:
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


def test_quickstart_validates(validator, quickstart):
    assert messages(validator, quickstart) == []


def test_quickstart_validates_against_the_committed_schema(quickstart):
    committed = json.loads(COMMITTED_SCHEMA.read_text(encoding="utf-8"))
    assert messages(jsonschema.Draft202012Validator(committed), quickstart) == []


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "t", "model": "builtin:digits-mlp"},
        {"name": "t", "model": "file:m.pt2", "targets": ["torch:cuda:0"]},
        {
            "name": "t",
            "model": "python:pkg.mod:build",
            "variants": {
                "a": ["quantize.dynamic_int8"],
                "b": [{"quantize.dynamic_int8": None}, {"prune.magnitude": {"sparsity": 0}}],
            },
            "sweep": {"b": {"1.sparsity": [0.1, 0.2]}},
            "targets": [{"backend": "torch", "device": "cpu", "name": "x", "options": {}}],
        },
    ],
)
def test_valid_specs_validate(validator, spec):
    assert messages(validator, spec) == []


def _set(spec: dict, path: tuple, value) -> dict:
    spec = copy.deepcopy(spec)
    node = spec
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return spec


STEP = ("variants", "pruned", 0)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((*STEP, "prune.magnitude", "sparsity"), 1.5),
        ((*STEP, "prune.magnitude", "sparsity"), -0.1),
        ((*STEP, "prune.magnitude", "scope"), "everywhere"),
        ((*STEP, "prune.magnitude", "extra"), 1),
        (STEP, {"prune.magnitud": {"sparsity": 0.5}}),
        (STEP, "prune.magnitud"),
        (STEP, "prune.magnitude"),  # has a required param: not allowed bare
        (STEP, {"prune.magnitude": {"sparsity": 0.5}, "quantize.dynamic_int8": None}),
        (("variants", "int8", 0), {"quantize.dynamic_int8": {"bits": 4}}),
        (("varaints",), {}),
        (("model",), "digits"),
        (("seed",), "zero"),
        (("benchmark", "batch_sizes"), [0]),
        (("benchmark", "batch_size"), [1]),
        (("targets",), []),
        (("targets",), ["torch"]),
        (("targets", 0, "backend"), "tourch"),
        (("targets", 0, "options", "threads"), 0),
        (("targets", 0, "options", "thread"), 2),
        (("targets", 0, "devise"), "cpu"),
        (("sweep", "pruned"), [0.5]),
    ],
)
def test_broken_specs_do_not_validate(validator, quickstart, path, value):
    assert messages(validator, _set(quickstart, path, value)), (path, value)


def test_missing_required_keys_do_not_validate(validator, quickstart):
    for key in ("name", "model"):
        broken = copy.deepcopy(quickstart)
        del broken[key]
        assert messages(validator, broken) == [f"'{key}' is a required property"]


def test_every_registered_method_is_in_the_schema(registry, schema):
    methods = registry.names("method")
    assert methods  # the built-ins at least
    step_titles = {alternative["title"] for alternative in schema["$defs"]["Step"]["oneOf"]}
    for name in methods:
        assert f"Params.{name}" in schema["$defs"], name
        assert name in step_titles, name
        params = registry.get("method", name).Params
        assert set(schema["$defs"][f"Params.{name}"].get("properties", {})) == set(
            params.model_fields
        )


def test_methods_without_required_params_may_be_bare_names(registry, schema):
    (bare,) = [
        alternative
        for alternative in schema["$defs"]["Step"]["oneOf"]
        if alternative.get("type") == "string"
    ]
    expected = [
        name
        for name in registry.names("method")
        if not any(
            f.is_required() for f in registry.get("method", name).Params.model_fields.values()
        )
    ]
    assert bare["enum"] == expected
    assert "quantize.dynamic_int8" in bare["enum"]
    assert "prune.magnitude" not in bare["enum"]


def test_every_registered_backend_is_in_the_schema(registry, schema):
    backends = registry.names("backend")
    assert schema["$defs"]["TargetSpec"]["properties"]["backend"]["enum"] == backends
    for name in backends:
        assert f"Options.{name}" in schema["$defs"], name
