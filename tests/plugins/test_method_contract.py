"""Contracts every built-in method's Params must keep."""

from __future__ import annotations

import pytest

from squeezebench.plugins.manager import build_plugin_manager, build_registry

# The smallest valid params of methods that have required ones.
REQUIRED_PARAMS: dict[str, dict] = {
    "lowrank.svd": {"rank": 8},
    "prune.magnitude": {"sparsity": 0.5},
    "prune.random": {"sparsity": 0.5},
    "prune.structured": {"ratio": 0.25},
}

# Params with non-default values worth round-tripping, by method name.
NON_DEFAULT_PARAMS: dict[str, list[dict]] = {
    "quantize.binary": [
        {"mode": "ternary"},
        {"mode": "ternary", "threshold": 0.5, "keep_first_last": False},
    ],
    "quantize.cast": [{"dtype": "bfloat16", "compute": "float32"}],
    "quantize.static_int8": [
        {"weight_granularity": "per_tensor", "calibration_batches": 2, "batch_size": 8}
    ],
    "quantize.weight_only": [
        {"bits": 4, "group_size": 32, "scheme": "asymmetric", "exclude": ["5"]},
        {"bits": 2, "indivisible": "skip", "include_conv": False},
    ],
}

# the parameter list is built at collection time, before fixtures exist
_METHODS = build_registry(build_plugin_manager(autoload=False)).names("method")
_CASES = [(name, REQUIRED_PARAMS.get(name, {})) for name in _METHODS] + [
    (name, params) for name, cases in NON_DEFAULT_PARAMS.items() for params in cases
]


@pytest.mark.parametrize(("method", "params"), _CASES)
def test_params_survive_the_job_payload_round_trip(registry, method: str, params: dict) -> None:
    # jobs travel to worker processes as model_dump() data and are validated again there
    Params = registry.get("method", method).Params
    validated = Params(**params)  # a method with required params needs REQUIRED_PARAMS
    assert Params.model_validate(validated.model_dump(mode="json")) == validated


def test_cases_name_registered_methods(registry) -> None:
    assert set(NON_DEFAULT_PARAMS) | set(REQUIRED_PARAMS) <= set(registry.names("method"))
