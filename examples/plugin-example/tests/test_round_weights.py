"""Tests of the example plugin: squeezebench's conformance kit, then the method's own rules.

Run them with ``pytest`` once the package is installed (``pip install -e .``): the kit
comes with squeezebench (``squeezebench.testing``), nothing else is needed.
"""

import pytest
import torch
from pydantic import ValidationError
from squeezebench_example_plugin import RoundWeights, RoundWeightsParams

from squeezebench.errors import MethodError
from squeezebench.plugins import MethodContext
from squeezebench.testing import MethodCase, conformance

# Every rule of the Method contract, for the defaults and for one bit of mantissa.
test_conformance = conformance(
    methods=[RoundWeights, MethodCase(RoundWeights, params={"mantissa_bits": 1}, id="1-bit")]
)


def test_seven_bits_round_like_bfloat16():
    model = torch.nn.Sequential(torch.nn.Linear(8, 4))
    original = model[0].weight.detach().clone()
    RoundWeights().apply(model, RoundWeightsParams(mantissa_bits=7), MethodContext(seed=0))
    assert torch.equal(model[0].weight, original.bfloat16().float())


def test_nothing_to_round_is_a_method_error():
    with pytest.raises(MethodError):
        RoundWeights().apply(torch.nn.ReLU(), RoundWeightsParams(), MethodContext(seed=0))


def test_params_are_bounded():
    with pytest.raises(ValidationError):
        RoundWeightsParams(mantissa_bits=24)


def test_registers_with_squeezebench(squeezebench_registry):
    # the kit's fixture: the registry `squeezebench run` builds, found through the entry point
    assert squeezebench_registry.method("example.round_weights") is RoundWeights
    registration = squeezebench_registry.entries("method")["example.round_weights"]
    assert registration.distribution == "squeezebench-example-plugin 0.1.0"
