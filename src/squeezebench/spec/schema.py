"""The JSON Schema of spec files, including every registered method's and backend's params.

Steps are a union discriminated by the method name: a step is either the bare name of a
method whose params all have defaults, or a single-key mapping ``{<method>: {params}}``
whose value is that method's own params schema. Target options are chosen by ``backend``.
"""

from __future__ import annotations

import json
from typing import Any

from squeezebench.plugins.contracts import summary_of
from squeezebench.plugins.registry import Registry
from squeezebench.spec.models import (
    _SHORT_TARGET,
    STEP_PLACEHOLDER,
    TARGET_PLACEHOLDER,
    Spec,
    TargetSpec,
)

SCHEMA_ID = "https://squeezebench.dev/schema/spec.json"


def build_json_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec, given the installed plugins."""
    schema = Spec.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    defs["Step"] = _step_schema(registry, defs)
    defs["Target"] = _target_schema(registry, defs)
    schema = _replace(
        schema,
        {
            json.dumps(STEP_PLACEHOLDER): {"$ref": "#/$defs/Step"},
            json.dumps(TARGET_PLACEHOLDER): {"$ref": "#/$defs/Target"},
        },
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def render_json_schema(registry: Registry) -> str:
    """The schema as stable, pretty JSON text (what is committed and printed)."""
    return json.dumps(build_json_schema(registry), indent=2, sort_keys=True) + "\n"


def _replace(node: Any, replacements: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        key = json.dumps(node, sort_keys=True)
        if key in replacements:
            return replacements[key]
        return {k: _replace(v, replacements) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(item, replacements) for item in node]
    return node


def _hoist(model_schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    defs.update(model_schema.pop("$defs", {}))
    return model_schema


def _step_schema(registry: Registry, defs: dict[str, Any]) -> dict[str, Any]:
    bare_names, alternatives = [], []
    for name, registration in sorted(registry.entries("method").items()):
        params = registration.cls.Params
        key = "Params." + name
        defs[key] = _hoist(params.model_json_schema(ref_template="#/$defs/{model}"), defs)
        summary = summary_of(registration.cls)
        optional_params = not any(f.is_required() for f in params.model_fields.values())
        value_schema: dict[str, Any] = {"$ref": f"#/$defs/{key}"}
        if optional_params:
            bare_names.append(name)
            value_schema = {"anyOf": [value_schema, {"type": "null"}]}
        alternatives.append(
            {
                "title": name,
                "description": summary,
                "type": "object",
                "properties": {name: value_schema},
                "required": [name],
                "additionalProperties": False,
            }
        )
    if bare_names:
        alternatives.insert(
            0,
            {
                "title": "method without params",
                "description": "The name of a method whose params all have defaults.",
                "type": "string",
                "enum": bare_names,
            },
        )
    return {
        "title": "Step",
        "description": "A method name, or a single-key mapping {<method>: {<params>}}.",
        "oneOf": alternatives,
    }


def _target_schema(registry: Registry, defs: dict[str, Any]) -> dict[str, Any]:
    long_form = _hoist(TargetSpec.model_json_schema(ref_template="#/$defs/{model}"), defs)
    backends = sorted(registry.entries("backend").items())
    long_form["properties"]["backend"]["enum"] = [name for name, _ in backends]
    conditions = []
    for name, registration in backends:
        key = "Options." + name
        defs[key] = _hoist(
            registration.cls.Options.model_json_schema(ref_template="#/$defs/{model}"), defs
        )
        conditions.append(
            {
                "if": {"properties": {"backend": {"const": name}}, "required": ["backend"]},
                "then": {"properties": {"options": {"$ref": f"#/$defs/{key}"}}},
            }
        )
    if conditions:
        long_form["allOf"] = conditions
    defs["TargetSpec"] = long_form
    return {
        "title": "Target",
        "description": "'backend:device' (e.g. 'torch:cpu') or a mapping with options.",
        "oneOf": [
            {"type": "string", "pattern": _SHORT_TARGET.pattern},
            {"$ref": "#/$defs/TargetSpec"},
        ],
    }
