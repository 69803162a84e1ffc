"""Integer codes for weight matrices, and their packing into bytes.

A weight is handled as a matrix ``W`` of shape ``(N, K)``: ``N`` output channels (rows) by
``K`` inputs per output (a Linear layer's ``in_features``; a convolution's
``in_channels / groups * prod(kernel_size)``, its weight reshaped row-major). Each row is cut
into groups of ``group_size`` consecutive columns that share one scale (and, asymmetric, one
zero point); per-channel quantization is one group per row. Rows are padded with columns
on the right up to ``padded_in_features`` (a multiple of the group size, and of ``8 / bits``
so that every row starts on a byte).

Codes are unsigned integers ``0 .. 2**bits - 1``, one per weight, dequantized as

* ``symmetric`` (bits 2, 4, 8): ``w = (code - 2**(bits-1)) * scale``, codes restricted to
  ``1 .. 2**bits - 1`` (the signed range ``-(2**(bits-1) - 1) .. 2**(bits-1) - 1``);
  ternary weights are symmetric 2-bit codes ``1, 2, 3`` for ``-1, 0, +1``;
* ``asymmetric`` (bits 2, 4, 8): ``w = (code - zero_point) * scale`` with an integer zero
  point per group in ``0 .. 2**bits - 1`` (float zero is exactly representable);
* ``binary`` (bits 1): ``w = (2 * code - 1) * scale``, so code 1 is ``+scale`` and code 0
  is ``-scale``.

Packing (:func:`pack_codes`) puts ``8 / bits`` consecutive codes of a row into one byte,
the first code in the least significant bits: code ``j`` of a byte occupies bits
``j*bits .. j*bits + bits - 1``. The full specification, with examples, is in
``docs/methods/quantization.md``.

That row layout is format version 1, and still the ``rows`` layout of version 2. Version 2
adds the ``tiled`` layout (:mod:`squeezebench.quantized.layout`): the same bytes, scales and
zero points, permuted into the order the CUDA kernels read them. A format's ``layout`` says
which one a layer stores; both load, and both dequantize to the same matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Scheme = Literal["symmetric", "asymmetric", "binary"]
SCHEMES: tuple[str, ...] = ("symmetric", "asymmetric", "binary")
PACKABLE_BITS: tuple[int, ...] = (1, 2, 4, 8)
SCALE_DTYPES: dict[str, torch.dtype] = {"float16": torch.float16, "float32": torch.float32}
FORMAT_VERSION = 2
"""Version 1: the row layout only. Version 2: adds the tiled layout (Linear layers whose
shape allows it are packed tiled); version-1 artifacts load as the ``rows`` layout."""
LAYOUTS: tuple[str, ...] = ("rows", "tiled")


# ---------------------------------------------------------------------------------------------
# Bytes
# ---------------------------------------------------------------------------------------------


def codes_per_byte(bits: int) -> int:
    """How many codes of ``bits`` bits one byte holds (8, 4, 2 or 1)."""
    if bits not in PACKABLE_BITS:
        raise ValueError(f"bits must be one of {PACKABLE_BITS} (got {bits})")
    return 8 // bits


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack unsigned ``codes`` (uint8, shape ``(..., K)``) into bytes along the last axis.

    ``K`` must be a multiple of ``8 / bits``; the result is uint8 of shape
    ``(..., K * bits / 8)``. Byte ``m`` of a row holds codes ``m * 8/bits ..`` of that row,
    the first one in the lowest bits.
    """
    per_byte = codes_per_byte(bits)
    if codes.dtype != torch.uint8:
        raise TypeError(f"codes must be uint8 (got {codes.dtype})")
    if codes.shape[-1] % per_byte:
        raise ValueError(
            f"the last dimension ({codes.shape[-1]}) must be a multiple of {per_byte} "
            f"to pack {bits}-bit codes into whole bytes"
        )
    if codes.numel() and int(codes.max()) >= 1 << bits:
        raise ValueError(f"codes must be within 0..{(1 << bits) - 1} for {bits} bits")
    if bits == 8:
        return codes.contiguous().clone()
    grouped = codes.reshape(*codes.shape[:-1], codes.shape[-1] // per_byte, per_byte)
    shifts = torch.arange(0, 8, bits, dtype=torch.int32, device=codes.device)
    return (grouped.to(torch.int32) << shifts).sum(dim=-1).to(torch.uint8)


def unpack_codes(packed: torch.Tensor, bits: int) -> torch.Tensor:
    """The codes of :func:`pack_codes`: uint8 of shape ``(..., bytes * 8 / bits)``."""
    per_byte = codes_per_byte(bits)
    if packed.dtype != torch.uint8:
        raise TypeError(f"packed bytes must be uint8 (got {packed.dtype})")
    if bits == 8:
        return packed
    shifts = torch.arange(0, 8, bits, dtype=torch.uint8, device=packed.device)
    mask = (1 << bits) - 1
    codes = torch.bitwise_right_shift(packed.unsqueeze(-1), shifts) & mask
    return codes.reshape(*packed.shape[:-1], packed.shape[-1] * per_byte)


# ---------------------------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackedFormat:
    """How one ``(out_features, in_features)`` weight matrix is stored.

    ``group_size`` is the number of (padded) columns sharing a scale; for per-channel
    formats it equals ``padded_in_features`` (one group per row). ``layout`` is ``rows``
    (format version 1's row-major bytes) or ``tiled`` (see :mod:`squeezebench.quantized.
    layout`); a format pickled before the field existed reads as ``rows`` (the class
    default).
    """

    out_features: int
    in_features: int
    bits: int
    scheme: str
    group_size: int
    padded_in_features: int
    scale_dtype: torch.dtype = torch.float16
    layout: str = "rows"

    def __post_init__(self) -> None:
        codes_per_byte(self.bits)
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES} (got {self.scheme!r})")
        if (self.scheme == "binary") != (self.bits == 1):
            raise ValueError("the binary scheme is the 1-bit one (and 1 bit is binary only)")
        if self.padded_in_features % self.group_size or self.group_size % (8 // self.bits):
            raise ValueError(
                f"group size {self.group_size} must divide padded_in_features "
                f"{self.padded_in_features} and hold whole bytes of {self.bits}-bit codes"
            )
        if not 0 <= self.padded_in_features - self.in_features < self.group_size:
            raise ValueError("padding must be less than one group")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS} (got {self.layout!r})")
        if self.layout == "tiled":
            from squeezebench.quantized.layout import tiled_problem

            problem = tiled_problem(self)
            if problem is not None:
                raise ValueError(f"the tiled layout does not take this format: {problem}")

    @property
    def groups(self) -> int:
        """Groups per row (1 for per-channel formats)."""
        return self.padded_in_features // self.group_size

    @property
    def row_bytes(self) -> int:
        """Bytes of one packed row."""
        return self.padded_in_features * self.bits // 8

    @property
    def has_zero_points(self) -> bool:
        """Whether a ``zero_points`` tensor is stored (asymmetric only)."""
        return self.scheme == "asymmetric"

    @property
    def packed_shape(self) -> tuple[int, int]:
        """Shape of the uint8 ``packed_weight`` tensor."""
        return (self.out_features, self.row_bytes)

    @property
    def scale_shape(self) -> tuple[int, int]:
        """Shape of ``scales`` (and of ``zero_points``): one per group of each row."""
        return (self.out_features, self.groups)

    def nbytes(self) -> int:
        """Bytes of the packed weight, its scales and zero points (bias not included)."""
        scales = self.out_features * self.groups * torch.empty((), dtype=self.scale_dtype).itemsize
        zero_points = self.out_features * self.groups if self.has_zero_points else 0
        return self.out_features * self.row_bytes + scales + zero_points


def plan_format(
    out_features: int,
    in_features: int,
    bits: int,
    scheme: str,
    group_size: int | None = None,
    scale_dtype: torch.dtype = torch.float16,
    layout: str = "rows",
) -> PackedFormat:
    """The format of a weight with these dimensions, padding rows as needed.

    ``group_size`` None is per channel (rows padded to whole bytes); otherwise it must be a
    multiple of ``8 / bits`` and rows are padded to a whole number of groups. ``layout``
    ``rows`` or ``tiled`` (ValueError when the tiled layout does not take the format).
    """
    per_byte = codes_per_byte(bits)
    if group_size is None:
        padded = -(-in_features // per_byte) * per_byte
        group_size = padded
    else:
        if group_size <= 0 or group_size % per_byte:
            raise ValueError(
                f"group_size must be a positive multiple of {per_byte} for {bits} bits"
            )
        padded = -(-in_features // group_size) * group_size
    return PackedFormat(
        out_features, in_features, bits, scheme, group_size, padded, scale_dtype, layout
    )


@dataclass(frozen=True)
class PackedWeight:
    """A weight matrix as stored: its format, packed codes, scales and zero points."""

    format: PackedFormat
    packed: torch.Tensor
    scales: torch.Tensor
    zero_points: torch.Tensor | None = None

    def dequantize(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` float32 matrix these bytes stand for."""
        return dequantize(self.format, self.packed, self.scales, self.zero_points)


# ---------------------------------------------------------------------------------------------
# Quantizing and dequantizing
# ---------------------------------------------------------------------------------------------


def _stored_scales(scales: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Scales as stored: clamped to the dtype's normal range (never zero), then cast."""
    info = torch.finfo(dtype)
    return scales.clamp(min=info.tiny, max=info.max).to(dtype)


def _padded_groups(weight: torch.Tensor, fmt: PackedFormat) -> torch.Tensor:
    """``weight`` (N, K) as float32 (N, groups, group_size), zero-padded on the right."""
    weight = weight.detach().to(torch.float32)
    padding = fmt.padded_in_features - fmt.in_features
    if padding:
        weight = torch.nn.functional.pad(weight, (0, padding))
    return weight.reshape(fmt.out_features, fmt.groups, fmt.group_size)


def quantize_affine(
    weight: torch.Tensor,
    bits: int,
    symmetric: bool,
    group_size: int | None = None,
    scale_dtype: torch.dtype = torch.float16,
) -> PackedWeight:
    """Round-to-nearest quantization of an ``(N, K)`` matrix to 2, 4 or 8 bits, packed.

    Symmetric: ``scale = max|w| / (2**(bits-1) - 1)`` per group. Asymmetric: the group's
    range, widened to include zero, over ``2**bits - 1`` levels, with an integer zero point.
    Codes are computed with the scales as stored (rounded to ``scale_dtype``).
    """
    if bits not in (2, 4, 8):
        raise ValueError(f"affine quantization takes 2, 4 or 8 bits (got {bits})")
    scheme = "symmetric" if symmetric else "asymmetric"
    fmt = plan_format(weight.shape[0], weight.shape[1], bits, scheme, group_size, scale_dtype)
    groups = _padded_groups(weight, fmt)
    if symmetric:
        qmax = (1 << (bits - 1)) - 1
        offset = 1 << (bits - 1)
        scales = _stored_scales(groups.abs().amax(dim=-1) / qmax, scale_dtype)
        q = torch.round(groups / scales.float().unsqueeze(-1)).clamp(-qmax, qmax)
        codes = (q + offset).to(torch.uint8)
        zero_points = None
    else:
        levels = (1 << bits) - 1
        low = groups.amin(dim=-1).clamp(max=0)
        high = groups.amax(dim=-1).clamp(min=0)
        scales = _stored_scales((high - low) / levels, scale_dtype)
        zero = torch.round(-low / scales.float()).clamp(0, levels)
        q = torch.round(groups / scales.float().unsqueeze(-1)) + zero.unsqueeze(-1)
        codes = q.clamp(0, levels).to(torch.uint8)
        zero_points = zero.to(torch.uint8)
    packed = pack_codes(codes.reshape(fmt.out_features, fmt.padded_in_features), bits)
    return PackedWeight(fmt, packed, scales, zero_points)


def quantize_binary(weight: torch.Tensor, scale_dtype: torch.dtype = torch.float16) -> PackedWeight:
    """XNOR-Net binarization: ``sign(w) * mean|w|`` per row (sign(0) is +1), 1 bit each."""
    weight = weight.detach().to(torch.float32)
    fmt = plan_format(weight.shape[0], weight.shape[1], 1, "binary", None, scale_dtype)
    scales = _stored_scales(weight.abs().mean(dim=1, keepdim=True), scale_dtype)
    codes = torch.nn.functional.pad((weight >= 0).to(torch.uint8), _row_padding(fmt))
    return PackedWeight(fmt, pack_codes(codes, 1), scales)


def quantize_ternary(
    weight: torch.Tensor, threshold: float = 0.7, scale_dtype: torch.dtype = torch.float16
) -> PackedWeight:
    """Ternary weights (TWN): ``{-1, 0, +1} * scale`` per row, as symmetric 2-bit codes.

    Per row, weights with ``|w| > threshold * mean|w|`` keep their sign, the others become
    zero, and the scale is the mean ``|w|`` of the kept weights (1 if none is kept).
    """
    weight = weight.detach().to(torch.float32)
    fmt = plan_format(weight.shape[0], weight.shape[1], 2, "symmetric", None, scale_dtype)
    magnitude = weight.abs()
    delta = threshold * magnitude.mean(dim=1, keepdim=True)
    kept = magnitude > delta
    count = kept.sum(dim=1, keepdim=True)
    mean_kept = (magnitude * kept).sum(dim=1, keepdim=True) / count.clamp(min=1)
    scales = _stored_scales(
        torch.where(count > 0, mean_kept, torch.ones_like(mean_kept)), scale_dtype
    )
    q = torch.sign(weight) * kept
    codes = torch.nn.functional.pad((q + 2).to(torch.uint8), _row_padding(fmt), value=2)
    return PackedWeight(fmt, pack_codes(codes, 2), scales)


def _row_padding(fmt: PackedFormat) -> tuple[int, int]:
    return (0, fmt.padded_in_features - fmt.in_features)


def dequantize(
    fmt: PackedFormat,
    packed: torch.Tensor,
    scales: torch.Tensor,
    zero_points: torch.Tensor | None = None,
) -> torch.Tensor:
    """The float32 ``(out_features, in_features)`` matrix of stored codes (reference path)."""
    if fmt.layout == "tiled":
        from squeezebench.quantized.layout import untile_bytes, untile_groups

        packed = untile_bytes(packed, fmt)
        scales = untile_groups(scales, fmt)
        zero_points = None if zero_points is None else untile_groups(zero_points, fmt)
    codes = unpack_codes(packed, fmt.bits).reshape(fmt.out_features, fmt.groups, fmt.group_size)
    values = codes.to(torch.float32)
    if fmt.scheme == "binary":
        values = values * 2 - 1
    elif fmt.scheme == "symmetric":
        values = values - (1 << (fmt.bits - 1))
    else:
        if zero_points is None:
            raise ValueError("asymmetric weights need their zero points")
        values = values - zero_points.to(torch.float32).unsqueeze(-1)
    weight = values * scales.to(torch.float32).unsqueeze(-1)
    return weight.reshape(fmt.out_features, fmt.padded_in_features)[:, : fmt.in_features]
