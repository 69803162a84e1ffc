"""Packed layers of ``cluster.kmeans``: a codebook plus bit-packed indices per weight.

This module imports torch at the top, so plugins import it only inside ``apply`` (listing
plugins and validating specs stay free of torch); the leading underscore keeps it from
being loaded as a plugin. Restoring a saved ``state_dict`` needs the same module structure,
exactly as for ``nn.Linear``: build the layer with the same shapes and ``k``, then
``load_state_dict``.

Bit layout of ``packed_indices`` (a uint8 buffer of ``ceil(n * b / 8)`` bytes) for the
``n`` weights in row-major order of the weight tensor (``out, in`` or ``out, in/groups, kh,
kw``) and ``b = ceil(log2 k)`` bits per index: the indices form one bit stream, least
significant bit first. Index ``i`` occupies stream bits ``i*b .. i*b + b - 1`` (its bit 0
first), and stream bit ``j`` is bit ``j % 8`` (value ``1 << (j % 8)``) of byte ``j // 8``.
The unused high bits of the last byte are zero. So with ``b = 4`` byte ``m`` holds index
``2m`` in its low nibble and index ``2m + 1`` in its high nibble, with ``b = 8`` each byte is
one index, and with ``b = 3`` the indices ``1, 2, 3`` pack to the bytes ``0xD1 0x00``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def index_bits(k: int) -> int:
    """Bits per index for ``k`` centroids: ``ceil(log2 k)``, at least 1."""
    return max(1, (k - 1).bit_length())


def packed_size(count: int, bits: int) -> int:
    """Bytes of ``count`` packed indices of ``bits`` bits: ``ceil(count * bits / 8)``."""
    return -(-count * bits // 8)


def pack_indices(indices: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack integers in ``0 .. 2**bits - 1`` (any shape, row-major) into uint8 bytes."""
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be within 1..8 (got {bits})")
    indices = indices.detach().flatten().cpu().to(torch.int64)
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= 1 << bits):
        raise ValueError(f"indices must be within 0..{(1 << bits) - 1} for {bits} bits")
    stream = ((indices[:, None] >> torch.arange(bits)) & 1).flatten()
    stream = F.pad(stream, (0, (-stream.numel()) % 8))
    return (stream.view(-1, 8) << torch.arange(8)).sum(dim=1).to(torch.uint8)


def unpack_indices(packed: torch.Tensor, count: int, bits: int) -> torch.Tensor:
    """The first ``count`` indices (int64) of bytes made by :func:`pack_indices`."""
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be within 1..8 (got {bits})")
    if packed.numel() < packed_size(count, bits):
        raise ValueError(
            f"{packed.numel()} bytes cannot hold {count} indices of {bits} bits "
            f"({packed_size(count, bits)} bytes needed)"
        )
    if bits == 8:
        return packed[:count].to(torch.int64)
    # every 8 indices fill exactly `bits` bytes: read each group of bytes as one
    # little-endian word, then shift the 8 indices out of it
    groups = -(-count // 8)
    data = F.pad(packed[: packed_size(count, bits)].to(torch.int64), (0, groups * bits))
    data = data[: groups * bits].view(groups, bits)
    byte_shifts = torch.arange(0, 8 * bits, 8, device=packed.device, dtype=torch.int64)
    words = (data << byte_shifts).sum(dim=1)
    index_shifts = torch.arange(0, 8 * bits, bits, device=packed.device, dtype=torch.int64)
    return ((words[:, None] >> index_shifts) & ((1 << bits) - 1)).flatten()[:count]


def byte_table(bits: int, k: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(256, 8 // bits)`` codebook indices that each byte value holds, for 1, 2, 4, 8 bits.

    Row ``v`` lists the indices packed in a byte of value ``v``, lowest bits first. Indices
    at or above ``k`` (bit patterns no valid byte holds) are clamped to ``k - 1``.
    """
    codes = torch.arange(256, device=device, dtype=torch.int64)
    shifts = torch.arange(0, 8, bits, device=device, dtype=torch.int64)
    return ((codes[:, None] >> shifts) & ((1 << bits) - 1)).clamp_(max=k - 1)


class ClusteredLayer(nn.Module):
    """Storage shared by the clustered layers: ``codebook`` and ``packed_indices`` buffers.

    The number of centroids ``k`` is the codebook's length and fixes the bits per index.
    ``bias`` is a (frozen) parameter or None. ``in_features`` / ``out_features`` are the
    weight's dimensions as a matrix, which parameter and FLOP counting read.
    """

    in_features: int
    out_features: int

    def _init_storage(
        self,
        codebook: torch.Tensor,
        packed: torch.Tensor,
        bias: torch.Tensor | None,
        shape: tuple[int, ...],
    ) -> None:
        self.weight_shape = tuple(int(size) for size in shape)
        self.weight_count = int(torch.Size(self.weight_shape).numel())
        self.bits = index_bits(codebook.numel())
        if packed.numel() != packed_size(self.weight_count, self.bits):
            raise ValueError(
                f"{packed.numel()} packed bytes for {self.weight_count} indices of "
                f"{self.bits} bits (expected {packed_size(self.weight_count, self.bits)})"
            )
        self.register_buffer("codebook", codebook.detach().clone())
        self.register_buffer("packed_indices", packed.detach().to(torch.uint8).clone())
        # which indices each byte value holds: fixed by bits and k, so not saved
        table = byte_table(self.bits, codebook.numel(), codebook.device)
        self.register_buffer("byte_indices", None if 8 % self.bits else table, persistent=False)
        if bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)

    @property
    def k(self) -> int:
        """Number of shared values (codebook entries)."""
        return self.codebook.numel()

    def indices(self) -> torch.Tensor:
        """The codebook index of every weight, row-major, as int64."""
        return unpack_indices(self.packed_indices, self.weight_count, self.bits)

    def dequantized_weight(self) -> torch.Tensor:
        """The dense float32 weight, ``codebook[indices]`` in the original shape.

        With 1, 2, 4 or 8 bits a byte holds whole indices, so the bytes are looked up
        directly in a 256-row table of the values each byte stands for (one gather instead
        of unpacking and then gathering); other widths unpack first. Nothing decoded is
        kept between calls.
        """
        codebook = self.codebook.float()
        if self.byte_indices is None:
            return codebook.index_select(0, self.indices()).view(self.weight_shape)
        table = codebook[self.byte_indices]  # (256, 8 // bits) float32
        if table.shape[1] > 1:  # gather 8-byte words rather than short rows (2x faster)
            table = table.view(torch.int64)
        if table.shape[1] == 1:
            table = table.flatten()
        values = table.index_select(0, self.packed_indices.to(torch.int32)).view(torch.float32)
        return values.flatten()[: self.weight_count].view(self.weight_shape)

    def _bias_like(self, x: torch.Tensor) -> torch.Tensor | None:
        return None if self.bias is None else self.bias.to(x.dtype)


class ClusteredLinear(ClusteredLayer):
    """A Linear layer whose weight is ``codebook[indices]``; decoded at every forward."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        codebook: torch.Tensor,
        packed: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self._init_storage(codebook, packed, bias, (out_features, in_features))

    @classmethod
    def from_linear(
        cls, layer: nn.Linear, codebook: torch.Tensor, packed: torch.Tensor
    ) -> ClusteredLinear:
        """The clustered replacement of ``layer`` (its bias is copied)."""
        return cls(layer.in_features, layer.out_features, codebook, packed, layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantized_weight().to(x.dtype), self._bias_like(x))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"k={self.k}, bits={self.bits}, bias={self.bias is not None}"
        )


CONV_OPTIONS = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
)


class ClusteredConv2d(ClusteredLayer):
    """A Conv2d layer whose kernel is ``codebook[indices]``; decoded at every forward.

    ``in_features`` is ``in_channels / groups * kh * kw`` and ``out_features`` is
    ``out_channels``: the kernel as a matrix, as FLOP counting expects.
    """

    def __init__(
        self,
        options: dict[str, Any],
        codebook: torch.Tensor,
        packed: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> None:
        super().__init__()
        unknown = set(options) - set(CONV_OPTIONS)
        if unknown:
            raise ValueError(f"unknown Conv2d options: {sorted(unknown)}")
        self.in_channels = int(options["in_channels"])
        self.out_channels = int(options["out_channels"])
        self.kernel_size = tuple(options["kernel_size"])
        self.stride = tuple(options.get("stride", (1, 1)))
        self.padding = options.get("padding", (0, 0))
        self.dilation = tuple(options.get("dilation", (1, 1)))
        self.groups = int(options.get("groups", 1))
        self.padding_mode = options.get("padding_mode", "zeros")
        if self.padding_mode != "zeros" and isinstance(self.padding, str):
            raise ValueError(f"padding={self.padding!r} with padding_mode={self.padding_mode!r}")
        kh, kw = self.kernel_size
        self.in_features = self.in_channels // self.groups * kh * kw
        self.out_features = self.out_channels
        shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self._init_storage(codebook, packed, bias, shape)

    @classmethod
    def from_conv(
        cls, layer: nn.Conv2d, codebook: torch.Tensor, packed: torch.Tensor
    ) -> ClusteredConv2d:
        """The clustered replacement of ``layer`` (its geometry and bias are copied)."""
        options = {key: getattr(layer, key) for key in CONV_OPTIONS}
        return cls(options, codebook, packed, layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.dequantized_weight().to(x.dtype)
        padding = self.padding
        if self.padding_mode != "zeros":
            # as nn.Conv2d does: pad explicitly, then convolve without padding
            pad = [p for size in reversed(self.padding) for p in (size, size)]
            x = F.pad(x, pad, mode=self.padding_mode)
            padding = 0
        return F.conv2d(
            x, weight, self._bias_like(x), self.stride, padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, groups={self.groups}, "
            f"k={self.k}, bits={self.bits}, bias={self.bias is not None}"
        )


def clustered_layer(layer: nn.Module, codebook: torch.Tensor, packed: torch.Tensor) -> Any:
    """The clustered replacement of a Linear or Conv2d ``layer``."""
    if isinstance(layer, nn.Conv2d):
        return ClusteredConv2d.from_conv(layer, codebook, packed)
    if isinstance(layer, nn.Linear):
        return ClusteredLinear.from_linear(layer, codebook, packed)
    raise TypeError(f"cannot cluster a {type(layer).__name__}")
