"""The paths a packed Linear layer can take on CUDA, each prepared once as a callable.

A runner takes the layer's input rows (``(B, in_features)``, contiguous) and returns
``(B, out_features)`` in the input's dtype:

* ``fused``: our fused kernel, one launch per 32 rows (either layout);
* ``wide``: our wide kernel, one launch per 64 rows (tiled layout, float16 scales);
* ``dequantize``: our dequantize kernel writes the dense weight, then cuBLAS (``F.linear``);
* ``dense``: cuBLAS on a dense copy of the weight kept on the device
  (:mod:`~squeezebench.quantized.cuda.dense` holds the budget).

Runners hold raw pointers: the dispatcher keeps them, with the tensors they point to, only
while the layer's buffers stay the same tensors, unmodified.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from squeezebench.quantized.cuda import source, wide_source
from squeezebench.quantized.cuda.dense import BUDGET

if TYPE_CHECKING:
    from squeezebench.quantized.layers import QuantizedLinear

Runner = Callable[[torch.Tensor], torch.Tensor]


def available_paths(layer: QuantizedLinear, dtype: torch.dtype, batch: int) -> list[str]:
    """The paths that can run ``batch`` rows of ``dtype`` through ``layer`` (no dense copy
    check: that is the budget's)."""
    fmt = layer.format
    name = str(dtype).removeprefix("torch.")
    paths = []
    fused = source.fused_supported(
        fmt.bits, fmt.scheme, fmt.group_size, fmt.groups, fmt.padded_in_features
    )
    if name in source.ACTIVATIONS and fused and batch <= source.MAX_CHUNKED_BATCH:
        paths.append("fused")
    scale_dtype = str(layer.scales.dtype).removeprefix("torch.")
    wide = wide_source.wide_supported(fmt.bits, fmt.scheme, fmt.layout, scale_dtype, name)
    if wide and fused and batch <= wide_source.MAX_WIDE_CHUNKED_BATCH:
        paths.append("wide")
    paths += ["dequantize", "dense"]
    return paths


def heuristic_path(available: list[str], batch: int) -> str:
    """The static plan (what was measured on an H200 before calibration existed): the fused
    kernel up to 128 rows, then dequantize + cuBLAS."""
    return "fused" if "fused" in available else "dequantize"


def kernel_buffers(layer: QuantizedLinear) -> tuple[Any, ...]:
    """packed, scales (float16 or float32), zero points, float32 bias: as kernels read them."""
    scales = layer.scales
    if scales.dtype not in (torch.float16, torch.float32):
        scales = scales.to(torch.float32)
    zero_points = None if layer.zero_points is None else layer.zero_points.contiguous()
    bias = None if layer.bias is None else layer.bias.to(torch.float32).contiguous()
    return layer.packed_weight.contiguous(), scales.contiguous(), zero_points, bias


def fused_runner(layer: QuantizedLinear, dtype: torch.dtype, batch: int) -> Runner:
    """One prepared fused launch per chunk of 32 rows."""
    from squeezebench.quantized.cuda import launch

    fmt = layer.format
    packed, scales, zero_points, bias = kernel_buffers(layer)
    launchers = []
    for start in range(0, batch, source.MAX_FUSED_BATCH):
        chunk = min(source.MAX_FUSED_BATCH, batch - start)
        launchers.append(
            (
                start,
                launch.prepare_fused(
                    packed, scales, zero_points, bias,
                    activation=dtype, rows=chunk, padded_in_features=fmt.padded_in_features,
                    bits=fmt.bits, group_size=fmt.group_size,
                    config=source.fused_config(chunk), tiled=fmt.layout == "tiled",
                ),
            )
        )  # fmt: skip
    keep = (packed, scales, zero_points, bias)

    def run(rows: torch.Tensor) -> torch.Tensor:
        inputs = aligned_rows(rows, fmt.padded_in_features)
        out = torch.empty(rows.shape[0], fmt.out_features, dtype=rows.dtype, device=rows.device)
        stream = torch.cuda.current_stream(rows.device).cuda_stream
        for start, launcher in launchers:
            launcher(inputs[start].data_ptr(), out[start].data_ptr(), stream)
        return out

    run.keep = keep  # type: ignore[attr-defined]  # the tensors the launchers point to
    return run


def wide_runner(layer: QuantizedLinear, dtype: torch.dtype, batch: int) -> Runner:
    """One prepared wide launch per chunk of 64 rows, with the stream's scratch buffers."""
    from squeezebench.quantized.cuda import launch

    fmt = layer.format
    packed, scales, zero_points, bias = kernel_buffers(layer)
    sms = torch.cuda.get_device_properties(packed.device).multi_processor_count
    launchers = []
    for start in range(0, batch, wide_source.MAX_WIDE_BATCH):
        chunk = min(wide_source.MAX_WIDE_BATCH, batch - start)
        config = wide_source.wide_config(chunk)
        grid = config.grid(fmt.out_features, fmt.padded_in_features, fmt.bits, sms)
        launchers.append(
            (
                start,
                launch.prepare_wide(
                    packed, scales, zero_points, bias,
                    activation=dtype, rows=chunk, padded_in_features=fmt.padded_in_features,
                    bits=fmt.bits, group_size=fmt.group_size, config=config, grid=grid,
                ),
            )
        )  # fmt: skip
    keep = (packed, scales, zero_points, bias)

    def run(rows: torch.Tensor) -> torch.Tensor:
        inputs = aligned_rows(rows, fmt.padded_in_features)
        out = torch.empty(rows.shape[0], fmt.out_features, dtype=rows.dtype, device=rows.device)
        stream = torch.cuda.current_stream(rows.device).cuda_stream
        workspace, counters = scratch(rows.device, stream, fmt.out_features)
        for start, launcher in launchers:
            launcher(
                inputs[start].data_ptr(), out[start].data_ptr(), stream,
                workspace.data_ptr(), counters.data_ptr(),
            )  # fmt: skip
        return out

    run.keep = keep  # type: ignore[attr-defined]
    return run


_scratch: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
_retired: list[tuple[torch.Tensor, torch.Tensor]] = []


def scratch(device: torch.device, stream: int, out_features: int) -> tuple[Any, Any]:
    """The wide kernel's zeroed workspace and counters for one stream (the kernel leaves them
    zero, so layers take turns on them). Grown by doubling; outgrown buffers are kept, never
    freed, as a captured CUDA graph may still point to them."""
    from squeezebench.quantized.cuda.launch import device_index

    key = (device_index(device), stream)
    found = _scratch.get(key)
    need = out_features * 8 * wide_source.DEFAULT_WIDE_CONFIGS[8].batch_tiles
    if found is None or found[0].numel() < need:
        if found is not None:
            _retired.append(found)
        size = max(need, 2 * found[0].numel() if found is not None else 0)
        workspace = torch.zeros(size, dtype=torch.float32, device=device)
        counters = torch.zeros(size // 64, dtype=torch.int32, device=device)  # >= N tiles
        found = _scratch[key] = (workspace, counters)
    return found


def dequantize_runner(layer: QuantizedLinear, dtype: torch.dtype) -> Runner:
    """Dequantize into a fresh dense weight on every call, then ``F.linear``."""

    def run(rows: torch.Tensor) -> torch.Tensor:
        weight = dense_weight(layer, dtype, rows.device)
        bias = None if layer.bias is None else layer.bias.to(dtype)
        return F.linear(rows, weight, bias)

    return run


def dense_weight(layer: QuantizedLinear, dtype: torch.dtype, device: torch.device) -> Any:
    """The dense ``(N, K)`` weight in ``dtype``, written by our dequantize kernel."""
    from squeezebench.quantized.cuda import launch

    fmt = layer.format
    packed, scales, zero_points, _ = kernel_buffers(layer)
    weight = torch.empty(fmt.out_features, fmt.in_features, dtype=dtype, device=device)
    launch.dequantize(
        packed, scales, zero_points, weight,
        bits=fmt.bits, scheme=fmt.scheme, padded_in_features=fmt.padded_in_features,
        group_size=fmt.group_size, tiled=fmt.layout == "tiled",
    )  # fmt: skip
    return weight


_dense: weakref.WeakKeyDictionary[Any, dict[Any, list]] = weakref.WeakKeyDictionary()
"""Per layer, per dtype: [buffers' state, dense copy, whether a plan uses it]."""


def dense_runner(layer: QuantizedLinear, dtype: torch.dtype, state: tuple) -> Runner | None:
    """``F.linear`` on a dense copy kept on the device, or None when the budget refuses it.
    ``state`` identifies the layer's buffers (the copy is remade when they change)."""
    copies = _dense.setdefault(layer, {})
    found = copies.get(dtype)
    if found is None or found[0] != state:
        device = layer.packed_weight.device
        fmt = layer.format
        nbytes = fmt.out_features * fmt.in_features * torch.empty((), dtype=dtype).element_size()
        free, total = torch.cuda.mem_get_info(device)
        index = device.index if device.index is not None else torch.cuda.current_device()
        if not BUDGET.reserve(index, nbytes, total, free):
            return None
        copy = dense_weight(layer, dtype, device)
        weakref.finalize(copy, BUDGET.release, index, nbytes)  # back to the budget when freed
        found = copies[dtype] = [state, copy, False]
    weight = found[1]

    def run(rows: torch.Tensor) -> torch.Tensor:
        bias = None if layer.bias is None else layer.bias.to(rows.dtype)
        return F.linear(rows, weight, bias)

    return run


def mark_dense_used(layer: QuantizedLinear, dtype: torch.dtype) -> None:
    """A plan runs on the layer's dense copy: keep it."""
    found = _dense.get(layer, {}).get(dtype)
    if found is not None:
        found[2] = True


def drop_unused_dense(layer: QuantizedLinear, dtype: torch.dtype) -> None:
    """Forget a dense copy made for a calibration that no plan uses (its memory returns to
    the budget once the calibration's references are gone)."""
    copies = _dense.get(layer)
    if copies is not None and dtype in copies and not copies[dtype][2]:
        del copies[dtype]


def aligned_rows(rows: torch.Tensor, padded: int) -> torch.Tensor:
    """``rows`` zero-padded to ``padded`` columns, contiguous, rows 16-byte aligned."""
    if rows.shape[1] != padded:
        rows = F.pad(rows, (0, padded - rows.shape[1]))
    rows = rows.contiguous()
    if rows.data_ptr() % 16:
        rows = rows.clone()
    return rows
