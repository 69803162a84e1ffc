"""Packed layers stored by format version 1 (row layout) still load and compute the same.

``data/rows_layout_v1_*.pt`` were written by ``data/make_rows_layout_v1.py`` with the code
of commit ae649a7, before the tiled layout existed: state dicts with the format they were
packed with, and the whole layers pickled (as the artifact cache stores them).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from squeezebench.quantized.layers import QuantizedLinear
from squeezebench.quantized.packing import FORMAT_VERSION, PackedFormat, PackedWeight

DATA = Path(__file__).parent / "data"
STATES = torch.load(DATA / "rows_layout_v1_states.pt", weights_only=True)


def _format(fields: dict) -> PackedFormat:
    return PackedFormat(**{**fields, "scale_dtype": getattr(torch, fields["scale_dtype"])})


@pytest.mark.parametrize("name", sorted(STATES))
def test_version_1_state_dicts_load_and_compute_identically(name) -> None:
    stored = STATES[name]
    fmt = _format(stored["format"])
    assert fmt.layout == "rows" and FORMAT_VERSION == 2
    layer = QuantizedLinear(fmt, bias=stored["bias"])
    layer.load_state_dict(stored["state_dict"])
    assert torch.equal(layer(stored["input"]), stored["output"])


@pytest.mark.parametrize("name", sorted(STATES))
def test_version_1_weights_repack_tiled_with_the_same_results(name) -> None:
    stored = STATES[name]
    fmt = _format(stored["format"])
    state = stored["state_dict"]
    rows = PackedWeight(fmt, state["packed_weight"], state["scales"], state.get("zero_points"))
    dense = torch.nn.Linear(fmt.in_features, fmt.out_features, bias=stored["bias"])
    if stored["bias"]:
        dense.bias.data = state["bias"]
    repacked = QuantizedLinear.from_float(dense, rows)
    expected_layout = "rows" if name == "int4_g32_odd" else "tiled"
    assert repacked.format.layout == expected_layout
    assert torch.equal(repacked(stored["input"]), stored["output"])


def test_version_1_pickled_layers_load_as_the_row_layout() -> None:
    # trusted: written by this repository's script (see the module docstring)
    modules = torch.load(DATA / "rows_layout_v1_modules.pt", weights_only=False)
    for name, layer in modules.items():
        assert "layout" not in vars(layer.format)  # pickled before the field existed
        assert layer.format.layout == "rows"
        assert torch.equal(layer(STATES[name]["input"]), STATES[name]["output"])


def test_tiled_state_dicts_load_into_a_layer_of_the_same_format() -> None:
    torch.manual_seed(3)
    dense = torch.nn.Linear(256, 32)
    from squeezebench.quantized.packing import quantize_affine

    layer = QuantizedLinear.from_float(dense, quantize_affine(dense.weight, 4, True, 64))
    assert layer.format.layout == "tiled"
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    fresh = QuantizedLinear(layer.format, bias=True)
    fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    x = torch.randn(2, 256)
    assert torch.equal(fresh(x), layer(x))
