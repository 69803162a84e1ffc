"""The path a packed Linear layer takes on CUDA, and the fallback without CuPy (no GPU)."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch

from squeezebench.quantized.cuda import dispatch
from squeezebench.quantized.layers import QuantizedLinear
from squeezebench.quantized.packing import quantize_affine


def _plan(dtype: torch.dtype, batch: int, **fmt) -> str:
    fmt = {"bits": 4, "scheme": "symmetric", "group_size": 128, "groups": 32} | fmt
    return dispatch.plan(dtype, batch, padded_in_features=4096, **fmt)


def test_half_activations_take_the_fused_kernel_up_to_128_rows() -> None:
    assert _plan(torch.float16, 1) == "fused"
    assert _plan(torch.bfloat16, 128) == "fused"
    assert _plan(torch.float16, 129) == "dequantize"  # compute-bound: cuBLAS


def test_other_dtypes_and_formats_fall_to_dequantize_or_reference() -> None:
    assert _plan(torch.float32, 1) == "dequantize"
    assert _plan(torch.float64, 1) == "reference"
    assert _plan(torch.float16, 1, bits=2) == "dequantize"
    assert _plan(torch.float16, 1, group_size=48) == "dequantize"


@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ModuleNotFoundError
    monkeypatch.setattr(dispatch, "_cupy_state", {})


def _layer() -> QuantizedLinear:
    torch.manual_seed(0)
    dense = torch.nn.Linear(64, 8)
    return QuantizedLinear.from_float(dense, quantize_affine(dense.weight, 4, True, 32))


def test_without_cupy_the_reference_path_runs_and_says_so_once(no_cupy) -> None:
    layer, x = _layer(), torch.randn(3, 64)
    with pytest.warns(RuntimeWarning, match=r"pip install 'squeezebench\[cuda\]'"):
        first = dispatch.cuda_linear(x, layer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise
        second = dispatch.cuda_linear(x, layer)
    torch.testing.assert_close(first, layer.reference_forward(x))
    torch.testing.assert_close(second, first)


def test_kernels_can_be_switched_off(monkeypatch) -> None:
    monkeypatch.setenv(dispatch.KERNELS_VARIABLE, "0")
    assert not dispatch.kernels_enabled()
    layer, x = _layer(), torch.randn(2, 64)
    torch.testing.assert_close(dispatch.cuda_linear(x, layer), layer.reference_forward(x))


def test_cpu_inputs_never_reach_the_cuda_path(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("cuda_linear called for a CPU tensor")

    import squeezebench.quantized.cuda as cuda_package

    monkeypatch.setattr(cuda_package, "cuda_linear", fail)  # what the layer imports
    layer, x = _layer(), torch.randn(2, 64)
    torch.testing.assert_close(layer(x), layer.reference_forward(x))


def test_launchers_are_prepared_once_per_shape_until_the_buffers_change(monkeypatch) -> None:
    from squeezebench.quantized.cuda import launch

    prepared: list[int] = []

    def fake_prepare(*args, rows, **kwargs):
        prepared.append(rows)
        return lambda x_pointer, out_pointer, stream: None

    monkeypatch.setattr(launch, "prepare_fused", fake_prepare)
    layer = _layer()
    one = dispatch._fused_launchers(layer, torch.float16, 1)
    assert dispatch._fused_launchers(layer, torch.float16, 1) is one  # cached
    forty = dispatch._fused_launchers(layer, torch.float16, 40)
    assert [start for start, _ in forty] == [0, 32] and prepared == [1, 32, 8]
    assert dispatch._fused_launchers(layer, torch.float16, 1) is one  # both shapes kept
    with torch.no_grad():
        layer.scales.mul_(2)  # in place: the tensor's version moves on
    assert dispatch._fused_launchers(layer, torch.float16, 1) is not one
    assert prepared == [1, 32, 8, 1]
    assert len(dispatch._launcher_cache[layer]) == 1  # the stale 40-row launchers are gone
