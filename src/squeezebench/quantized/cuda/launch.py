"""Compiling the kernels with NVRTC through CuPy, and launching them on torch's stream.

Tensors stay torch tensors: kernels get their device pointers (``data_ptr``) as ``uint64``
and every scalar with an explicit numpy type, so nothing is copied or converted, and the
launch goes to torch's current stream (wrapped as a CuPy ``ExternalStream``), ordered with
the torch work around it. CuPy caches compiled binaries on disk
(``~/.cupy/kernel_cache``); this module also keeps one loaded function per template
instance and device.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from squeezebench.quantized.cuda import source, wide_source
from squeezebench.quantized.cuda.source import FusedConfig
from squeezebench.quantized.cuda.wide_source import WideConfig


@functools.cache
def _function(name: str, device_index: int) -> Any:
    """The kernel of template instance ``name``, compiled for device ``device_index``.

    The source gets an explicit instantiation of ``name`` and the kernel is looked up by its
    mangled name: CuPy then keeps the binary in its disk cache (with ``name_expressions`` it
    would recompile in every process).
    """
    import cupy

    code = source.source() + "\n" + source.explicit_instantiations([name])
    with cupy.cuda.Device(device_index):
        module = cupy.RawModule(code=code, options=source.COMPILE_OPTIONS)
        return module.get_function(source.mangled_name(name))


@functools.cache
def _external_stream(pointer: int, device_index: int) -> Any:
    import cupy

    with warnings.catch_warnings():  # CuPy 14 prefers Stream.from_external(protocol object)
        warnings.simplefilter("ignore", DeprecationWarning)
        return cupy.cuda.ExternalStream(pointer, device_index)


def group_shift(group_size: int, groups: int) -> int:
    """log2 of a power-of-two group size: the fused and wide kernels shift, never divide
    (0 per channel, where it is not used)."""
    if groups == 1:
        return 0
    if group_size & (group_size - 1):
        raise ValueError(f"the fused kernels take power-of-two group sizes (got {group_size})")
    return group_size.bit_length() - 1


def _pointer(tensor: torch.Tensor | None) -> np.uint64:
    return np.uint64(0 if tensor is None else tensor.data_ptr())


def device_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def _run(kernel: Any, grid: int, block: int, args: tuple, index: int, stream: int) -> None:
    """Launch on device ``index`` and stream pointer ``stream`` (torch's current one)."""
    import cupy

    if cupy.cuda.runtime.getDevice() == index and cupy.cuda.get_current_stream().ptr == stream:
        kernel((grid,), (block,), args)  # the common case: nothing to switch
        return
    with cupy.cuda.Device(index), _external_stream(stream, index):
        kernel((grid,), (block,), args)


def _launch(name: str, device: torch.device, grid: int, block: int, args: tuple) -> None:
    index = device_index(device)
    stream = torch.cuda.current_stream(device).cuda_stream
    _run(_function(name, index), grid, block, args, index, stream)


def prepare_fused(
    packed: torch.Tensor,
    scales: torch.Tensor,
    zero_points: torch.Tensor | None,
    bias: torch.Tensor | None,
    *,
    activation: torch.dtype,
    rows: int,
    padded_in_features: int,
    bits: int,
    group_size: int,
    config: FusedConfig,
    tiled: bool = False,
) -> Callable[[int, int, int], None]:
    """A launcher of the fused kernel for ``rows`` rows, all but x and out fixed.

    The returned function takes the data pointers of x (rows, padded_in_features,
    contiguous) and of out (rows, N, contiguous), and torch's current stream pointer. It
    saves the per-call cost of naming, looking up and packing the constant arguments.
    ``tiled``: the buffers are in the tiled layout.
    """
    out_features = packed.shape[0]
    name = source.fused_name(
        str(activation).removeprefix("torch."),
        bits,
        zero_points is not None,
        scales.dtype == torch.float32,
        config,
        source.scale_after(bits, group_size, scales.shape[1], config),
        tiled,
    )
    index = device_index(packed.device)
    kernel = _function(name, index)
    head = (_pointer(packed), _pointer(scales), _pointer(zero_points), _pointer(bias))
    tail = (
        np.int32(out_features),
        np.int32(padded_in_features),
        np.int32(rows),
        np.int32(scales.shape[1]),
        np.int32(group_shift(group_size, scales.shape[1])),
        np.int64(padded_in_features),
        np.int64(out_features),
    )
    grid, block = config.blocks(out_features), config.threads

    def run(x_pointer: int, out_pointer: int, stream: int) -> None:
        args = (*head, np.uint64(x_pointer), np.uint64(out_pointer), *tail)
        _run(kernel, grid, block, args, index, stream)

    return run


def prepare_wide(
    packed: torch.Tensor,
    scales: torch.Tensor,
    zero_points: torch.Tensor | None,
    bias: torch.Tensor | None,
    *,
    activation: torch.dtype,
    rows: int,
    padded_in_features: int,
    bits: int,
    group_size: int,
    config: WideConfig,
    grid: int,
) -> Callable[[int, int, int, int, int], None]:
    """A launcher of the wide kernel (tiled layout, float16 scales) for up to 64 ``rows``.

    The returned function takes the data pointers of x and out (as for
    :func:`prepare_fused`), torch's current stream pointer, and the pointers of a zeroed
    float32 workspace of at least ``N * 8 * config.batch_tiles`` elements and of zeroed
    uint32 counters, one per output tile: the kernel leaves both zero.
    """
    out_features = packed.shape[0]
    after = wide_source.wide_scale_after(bits, group_size, scales.shape[1], config)
    name = wide_source.wide_name(
        str(activation).removeprefix("torch."), bits, zero_points is not None, config, after
    )
    index = device_index(packed.device)
    kernel = _function(name, index)
    head = (_pointer(packed), _pointer(scales), _pointer(zero_points), _pointer(bias))
    tail = (
        np.int32(out_features),
        np.int32(padded_in_features),
        np.int32(rows),
        np.int32(scales.shape[1]),
        np.int32(group_shift(group_size, scales.shape[1])),
        np.int64(padded_in_features),
        np.int64(out_features),
    )
    threads = config.threads

    def run(x_pointer: int, out_pointer: int, stream: int, workspace: int, counters: int) -> None:
        pointers = (np.uint64(x_pointer), np.uint64(out_pointer))
        scratch = (np.uint64(workspace), np.uint64(counters))
        _run(kernel, grid, threads, (*head, *pointers, *scratch, *tail), index, stream)

    return run


def fused_gemm(
    x: torch.Tensor,
    packed: torch.Tensor,
    scales: torch.Tensor,
    zero_points: torch.Tensor | None,
    bias: torch.Tensor | None,
    out: torch.Tensor,
    *,
    bits: int,
    group_size: int,
    config: FusedConfig,
    tiled: bool = False,
) -> torch.Tensor:
    """``out = x @ W.T (+ bias)`` for up to 32 rows of ``x``, W read from its packed bytes.

    ``x`` (B, Kp) float16/bfloat16 with 16-byte aligned rows; ``packed`` (N, Kp*bits/8)
    uint8; ``scales`` (N, G) float16 or float32; ``zero_points`` (N, G) uint8 or None;
    ``bias`` float32 (N) or None; ``out`` (B, N) of x's dtype. All contiguous, one device.
    """
    run = prepare_fused(
        packed,
        scales,
        zero_points,
        bias,
        activation=x.dtype,
        rows=x.shape[0],
        padded_in_features=x.shape[1],
        bits=bits,
        group_size=group_size,
        config=config,
        tiled=tiled,
    )
    run(x.data_ptr(), out.data_ptr(), torch.cuda.current_stream(x.device).cuda_stream)
    return out


def dequantize(
    packed: torch.Tensor,
    scales: torch.Tensor,
    zero_points: torch.Tensor | None,
    out: torch.Tensor,
    *,
    bits: int,
    scheme: str,
    padded_in_features: int,
    group_size: int,
    tiled: bool = False,
) -> torch.Tensor:
    """Write the dense ``(N, K)`` weight into ``out`` (float16, bfloat16 or float32)."""
    out_features, in_features = out.shape
    name = source.dequantize_name(
        bits, scheme, scales.dtype == torch.float32, str(out.dtype).removeprefix("torch."), tiled
    )
    args = (
        _pointer(packed),
        _pointer(scales),
        _pointer(zero_points),
        _pointer(out),
        np.int32(out_features),
        np.int32(in_features),
        np.int32(padded_in_features),
        np.int32(scales.shape[1]),
        np.int32(group_size),
        np.int64(out.stride(0)),
    )
    threads = 256
    blocks = min(-(-out_features * in_features // threads), 65535)
    _launch(name, out.device, blocks, threads, args)
    return out
