"""Packed low-bit weights and the torch modules that run them.

``squeezebench.quantized.packing`` quantizes a weight matrix to integer codes and packs
them into bytes; ``squeezebench.quantized.layers`` has :class:`QuantizedLinear` and
:class:`QuantizedConv`, modules whose ``state_dict`` holds the packed bytes, scales and zero
points (nothing in float but the bias), and whose forward is a reference path (dequantize,
then a float matmul or convolution). ``squeezebench.quantized.cast`` wraps a model stored
in float16 / bfloat16. The byte layout is specified in ``docs/methods/quantization.md``;
accelerated kernels plug in behind the same modules and the same layout.

These modules import torch at the top: plugins import them inside ``apply`` only.
"""
