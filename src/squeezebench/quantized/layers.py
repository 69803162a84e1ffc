"""Layers with packed low-bit weights: :class:`QuantizedLinear` and :class:`QuantizedConv`.

A layer's ``state_dict`` holds exactly the stored form of its weight (see
:mod:`squeezebench.quantized.packing` and ``docs/methods/quantization.md``):

* ``packed_weight``: uint8 ``(out_features, padded_in_features * bits / 8)``, codes packed
  along each row, first code in the low bits;
* ``scales``: float16 or float32 ``(out_features, groups)``;
* ``zero_points``: uint8 ``(out_features, groups)``, asymmetric formats only;
* ``bias``: the float layer's bias, unchanged (float32), when it had one.

The bytes, scales and zero points are in the format's ``layout``: ``rows`` (format version
1, every layer before version 2, and every convolution) or ``tiled`` (the order the CUDA
kernels read, :mod:`squeezebench.quantized.layout`), which ``QuantizedLinear.from_float``
picks wherever the format allows it. Shapes and sizes are the same in both.

On the CPU the forward pass is the reference path: dequantize the whole weight to the
input's dtype, then run ``F.linear`` / ``F.convNd``. It is exact with respect to the stored
codes, slow, and the thing faster kernels must reproduce. On CUDA, ``QuantizedLinear`` runs
squeezebench's own kernels (:mod:`squeezebench.quantized.cuda`, CuPy), with the same result
up to float rounding. Layers expose ``dequantized_weight()``,
``in_features``, ``out_features`` and ``bias`` so that parameter and FLOP counting see the
logical float layer; for a convolution ``in_features`` is the reduction length of one
output (``in_channels / groups * prod(kernel_size)``), so ``2 * in_features`` FLOPs per
output element is its true cost.

To load a saved ``state_dict``, build the layer with the same format (``PackedFormat`` and
``bias``; for a convolution, the same geometry) and call ``load_state_dict``, as for
``nn.Linear``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from squeezebench.quantized.layout import preferred_layout, with_layout
from squeezebench.quantized.packing import PackedFormat, PackedWeight, dequantize

_CONV_FUNCTIONS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class PackedLayer(nn.Module):
    """Buffers and dequantization shared by the packed layers."""

    def __init__(self, fmt: PackedFormat, bias: bool = True) -> None:
        super().__init__()
        self.format = fmt
        self.in_features = fmt.in_features
        self.out_features = fmt.out_features
        self.register_buffer("packed_weight", torch.zeros(fmt.packed_shape, dtype=torch.uint8))
        self.register_buffer("scales", torch.ones(fmt.scale_shape, dtype=fmt.scale_dtype))
        zero_points = torch.zeros(fmt.scale_shape, dtype=torch.uint8)
        self.register_buffer("zero_points", zero_points if fmt.has_zero_points else None)
        self.register_buffer("bias", torch.zeros(fmt.out_features) if bias else None)

    @property
    def bits(self) -> int:
        """Bits per stored weight."""
        return self.format.bits

    @property
    def scheme(self) -> str:
        """``symmetric``, ``asymmetric`` or ``binary``."""
        return self.format.scheme

    @property
    def group_size(self) -> int:
        """Columns sharing a scale (``padded_in_features`` when per channel)."""
        return self.format.group_size

    def load_packed(self, weight: PackedWeight, bias: torch.Tensor | None) -> PackedLayer:
        """Copy ``weight``'s tensors (and ``bias``) into this layer's buffers; returns self.

        A weight in the other layout of the same format is converted to this layer's.
        """
        if weight.format != self.format:
            if replace(weight.format, layout=self.format.layout) != self.format:
                raise ValueError(f"format mismatch: {weight.format} is not {self.format}")
            weight = with_layout(weight, self.format.layout)
        if (bias is None) != (self.bias is None):
            raise ValueError("bias presence differs from the layer's")
        with torch.no_grad():
            self.packed_weight.copy_(weight.packed)
            self.scales.copy_(weight.scales)
            if self.zero_points is not None and weight.zero_points is not None:
                self.zero_points.copy_(weight.zero_points)
            if self.bias is not None and bias is not None:
                self.bias.copy_(bias.detach())
        return self

    def packed(self) -> PackedWeight:
        """This layer's stored weight as a :class:`PackedWeight`."""
        return PackedWeight(self.format, self.packed_weight, self.scales, self.zero_points)

    def dequantized_matrix(self) -> torch.Tensor:
        """The float32 ``(out_features, in_features)`` weight matrix."""
        return dequantize(self.format, self.packed_weight, self.scales, self.zero_points)

    def dequantized_weight(self) -> torch.Tensor:
        """The float32 weight in the float layer's shape (parameter and FLOP counting)."""
        return self.dequantized_matrix()

    def _bias_for(self, x: torch.Tensor) -> torch.Tensor | None:
        return None if self.bias is None else self.bias.to(x.dtype)

    def extra_repr(self) -> str:
        fmt = self.format
        groups = "per_channel" if fmt.groups == 1 else f"group_size={fmt.group_size}"
        return (
            f"in_features={fmt.in_features}, out_features={fmt.out_features}, bits={fmt.bits}, "
            f"scheme={fmt.scheme}, {groups}, scale_dtype={fmt.scale_dtype}, "
            f"layout={fmt.layout}, bias={self.bias is not None}"
        )


class QuantizedLinear(PackedLayer):
    """A Linear layer whose weight is stored packed (1, 2, 4 or 8 bits per weight)."""

    @classmethod
    def from_float(
        cls, layer: nn.Linear, weight: PackedWeight, layout: str = "auto"
    ) -> QuantizedLinear:
        """The packed counterpart of ``layer``, with ``weight`` quantized from its weight.

        ``layout`` ``auto`` stores it tiled where the format allows (the CUDA kernels'
        order, packed once here), else in rows; ``rows`` or ``tiled`` choose.
        """
        if weight.format.in_features != layer.in_features:
            raise ValueError("packed weight does not match the layer's in_features")
        if layout == "auto":
            layout = preferred_layout(weight.format)
        fmt = replace(weight.format, layout=layout)
        return cls(fmt, bias=layer.bias is not None).load_packed(weight, layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_cuda:
            from squeezebench.quantized.cuda import cuda_linear

            return cuda_linear(x, self)
        return self.reference_forward(x)

    def reference_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Dequantize the whole weight to ``x``'s dtype, then ``F.linear`` (any device)."""
        return F.linear(x, self.dequantized_matrix().to(x.dtype), self._bias_for(x))


class QuantizedConv(PackedLayer):
    """A Conv1d/2d/3d layer (zero padding) whose weight is stored packed.

    The stored matrix is the convolution weight ``(out, in/groups, *kernel)`` reshaped
    row-major to ``(out, in/groups * prod(kernel))``.
    """

    def __init__(
        self,
        fmt: PackedFormat,
        in_channels: int,
        kernel_size: tuple[int, ...],
        stride: tuple[int, ...],
        padding: tuple[int, ...] | str,
        dilation: tuple[int, ...],
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        if fmt.in_features != in_channels // groups * math.prod(kernel_size):
            raise ValueError("format in_features must be in_channels / groups * prod(kernel)")
        super().__init__(fmt, bias)
        self.in_channels = in_channels
        self.out_channels = fmt.out_features
        self.kernel_size = tuple(kernel_size)
        self.stride = tuple(stride)
        self.padding = padding if isinstance(padding, str) else tuple(padding)
        self.dilation = tuple(dilation)
        self.groups = groups

    @classmethod
    def from_float(cls, layer: nn.modules.conv._ConvNd, weight: PackedWeight) -> QuantizedConv:
        """The packed counterpart of a Conv1d/2d/3d ``layer`` (``padding_mode='zeros'``)."""
        if layer.padding_mode != "zeros":
            raise ValueError(f"padding_mode '{layer.padding_mode}' is not supported (only zeros)")
        if layer.transposed:
            raise ValueError("transposed convolutions are not supported")
        quantized = cls(
            weight.format,
            layer.in_channels,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.groups,
            bias=layer.bias is not None,
        )
        return quantized.load_packed(weight, layer.bias)  # type: ignore[return-value]

    def dequantized_weight(self) -> torch.Tensor:
        return self.dequantized_matrix().reshape(
            self.out_channels, self.in_channels // self.groups, *self.kernel_size
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convolve = _CONV_FUNCTIONS[len(self.kernel_size)]
        weight = self.dequantized_weight().to(x.dtype)
        return convolve(
            x, weight, self._bias_for(x), self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, {super().extra_repr()}"
        )


def weight_matrix(layer: Any) -> torch.Tensor:
    """A Linear or Conv layer's weight as an ``(out, K)`` matrix (row-major reshape)."""
    return layer.weight.detach().reshape(layer.weight.shape[0], -1)


def packed_layer_types() -> tuple[type, ...]:
    """The packed layer classes of this module."""
    return (QuantizedLinear, QuantizedConv)
