"""Which path a packed Linear layer takes on a CUDA tensor, and running it.

* ``fused``: our weight-only kernel (4 or 8 bits, affine, float16/bfloat16 activations, up
  to :data:`~squeezebench.quantized.cuda.source.MAX_CHUNKED_BATCH` rows): the packed bytes
  are read once per 32 rows, dequantized in registers and multiplied on the tensor cores;
* ``dequantize``: our dequantize kernel writes the dense weight once, then cuBLAS
  (``F.linear``) multiplies: large batches, where the product is compute-bound, and formats
  the fused kernel does not take (1 and 2 bits, odd group sizes, float32 activations);
* ``reference``: the layer's pure-torch path, when CuPy is missing (said once per process),
  kernels are switched off (``SQUEEZEBENCH_CUDA_KERNELS=0``) or the dtype is float64.
"""

from __future__ import annotations

import logging
import os
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F

from squeezebench.quantized.cuda import source

if TYPE_CHECKING:
    from squeezebench.quantized.layers import QuantizedLinear

Path = Literal["fused", "dequantize", "reference"]
KERNELS_VARIABLE = "SQUEEZEBENCH_CUDA_KERNELS"
MISSING_CUPY = (
    "CuPy is not installed, so packed (weight-only quantized) layers on CUDA run the "
    "reference path: the weight is dequantized on every forward. For squeezebench's CUDA "
    "kernels install the extra: pip install 'squeezebench[cuda]' (cupy-cuda12x; use the "
    "CuPy wheel matching your CUDA version)"
)

_logger = logging.getLogger("squeezebench")
_cupy_state: dict[str, object] = {}


def kernels_enabled() -> bool:
    """False when ``SQUEEZEBENCH_CUDA_KERNELS`` is ``0`` (compare with the reference path)."""
    return os.environ.get(KERNELS_VARIABLE, "1").strip().lower() not in ("0", "false", "no")


def cupy_problem() -> str | None:
    """Why CuPy cannot be used here (a message), or None; said once per process."""
    if "problem" not in _cupy_state:
        try:
            import cupy  # noqa: F401
        except Exception as error:  # ImportError, or a CUDA library CuPy cannot load
            problem = (
                MISSING_CUPY
                if isinstance(error, ModuleNotFoundError)
                else (
                    f"CuPy cannot be imported ({error}); packed layers on CUDA run the "
                    "reference path"
                )
            )
        else:
            problem = None
        _cupy_state["problem"] = problem
    problem = _cupy_state["problem"]
    if problem is not None and not _cupy_state.get("warned"):
        _cupy_state["warned"] = True
        warnings.warn(str(problem), RuntimeWarning, stacklevel=3)
        _logger.warning("%s", problem)
    return problem  # type: ignore[return-value]


def plan(
    activation: torch.dtype,
    batch: int,
    *,
    bits: int,
    scheme: str,
    group_size: int,
    groups: int,
    padded_in_features: int,
) -> Path:
    """The path for ``batch`` rows of ``activation`` through a layer of this format."""
    name = str(activation).removeprefix("torch.")
    if name not in ("float16", "bfloat16", "float32"):
        return "reference"
    fused_format = source.fused_supported(bits, scheme, group_size, groups, padded_in_features)
    if name in source.ACTIVATIONS and fused_format and batch <= source.MAX_CHUNKED_BATCH:
        return "fused"
    return "dequantize"


def cuda_linear(x: torch.Tensor, layer: QuantizedLinear) -> torch.Tensor:
    """``layer(x)`` for a CUDA tensor ``x``, through our kernels where they apply."""
    fmt = layer.format
    if not kernels_enabled() or cupy_problem() is not None:
        return layer.reference_forward(x)
    rows = x.reshape(-1, fmt.in_features)
    path = plan(
        x.dtype,
        rows.shape[0],
        bits=fmt.bits,
        scheme=fmt.scheme,
        group_size=fmt.group_size,
        groups=fmt.groups,
        padded_in_features=fmt.padded_in_features,
    )
    if path == "reference" or rows.shape[0] == 0:
        return layer.reference_forward(x)
    if path == "dequantize":
        return _dequantize_then_linear(x, layer)
    inputs = _aligned_rows(rows, fmt.padded_in_features)
    out = torch.empty(rows.shape[0], fmt.out_features, dtype=x.dtype, device=x.device)
    stream = torch.cuda.current_stream(x.device).cuda_stream
    for start, launcher in _fused_launchers(layer, x.dtype, rows.shape[0]):
        launcher(inputs[start].data_ptr(), out[start].data_ptr(), stream)
    return out.reshape(*x.shape[:-1], fmt.out_features)


_launcher_cache: weakref.WeakKeyDictionary[Any, dict[tuple, tuple[tuple, list, tuple]]] = (
    weakref.WeakKeyDictionary()
)
"""Per layer, per (dtype, rows): the buffers' state the launchers were made for, the
launchers, and the tensors they point to."""


def _fused_launchers(
    layer: QuantizedLinear, dtype: torch.dtype, rows: int
) -> list[tuple[int, Callable[[int, int, int], None]]]:
    """One prepared launch per chunk of 32 rows, cached per layer while its buffers stay
    the same tensors, unmodified (a ``load_state_dict`` or ``.to()`` invalidates it)."""
    from squeezebench.quantized.cuda import launch

    buffers = (layer.packed_weight, layer.scales, layer.zero_points, layer.bias)
    state = tuple((b.data_ptr(), b._version) if b is not None else None for b in buffers)
    per_shape = _launcher_cache.setdefault(layer, {})
    cached = per_shape.get((dtype, rows))
    if cached is not None and cached[0] == state:
        return cached[1]
    fmt = layer.format
    scales = _kernel_scales(layer.scales)
    zero_points = None if layer.zero_points is None else layer.zero_points.contiguous()
    packed = layer.packed_weight.contiguous()
    bias = None if layer.bias is None else layer.bias.to(torch.float32).contiguous()
    launchers: list[tuple[int, Callable[[int, int, int], None]]] = []
    for start in range(0, rows, source.MAX_FUSED_BATCH):
        chunk = min(source.MAX_FUSED_BATCH, rows - start)
        run = launch.prepare_fused(
            packed,
            scales,
            zero_points,
            bias,
            activation=dtype,
            rows=chunk,
            padded_in_features=fmt.padded_in_features,
            bits=fmt.bits,
            group_size=fmt.group_size,
            config=source.fused_config(chunk),
        )
        launchers.append((start, run))
    # the launchers hold raw pointers: keep the tensors they point to alive with them
    if any(entry[0] != state for entry in per_shape.values()):
        per_shape.clear()  # the buffers changed: every older launcher is stale
    per_shape[(dtype, rows)] = (state, launchers, (packed, scales, zero_points, bias))
    return launchers


def _dequantize_then_linear(x: torch.Tensor, layer: QuantizedLinear) -> torch.Tensor:
    from squeezebench.quantized.cuda import launch

    fmt = layer.format
    weight = torch.empty(fmt.out_features, fmt.in_features, dtype=x.dtype, device=x.device)
    launch.dequantize(
        layer.packed_weight.contiguous(),
        _kernel_scales(layer.scales),
        None if layer.zero_points is None else layer.zero_points.contiguous(),
        weight,
        bits=fmt.bits,
        scheme=fmt.scheme,
        padded_in_features=fmt.padded_in_features,
        group_size=fmt.group_size,
    )
    bias = None if layer.bias is None else layer.bias.to(x.dtype)
    return F.linear(x, weight, bias)


def _kernel_scales(scales: torch.Tensor) -> torch.Tensor:
    """Scales as the kernels read them: float16 or float32 (bfloat16 ones are widened)."""
    if scales.dtype not in (torch.float16, torch.float32):
        scales = scales.to(torch.float32)
    return scales.contiguous()


def _aligned_rows(rows: torch.Tensor, padded: int) -> torch.Tensor:
    """``rows`` zero-padded to ``padded`` columns, contiguous, rows 16-byte aligned."""
    if rows.shape[1] != padded:
        rows = F.pad(rows, (0, padded - rows.shape[1]))
    rows = rows.contiguous()
    if rows.data_ptr() % 16:
        rows = rows.clone()
    return rows
