"""CUDA kernels for packed (weight-only quantized) layers, compiled at run time by CuPy.

:class:`~squeezebench.quantized.layers.QuantizedLinear` calls :func:`cuda_linear` for CUDA
inputs. For each layer shape, activation dtype and batch bucket it runs the fastest of our
fused kernel, our wide kernel (tiled layout, 9-64 rows), dequantize + cuBLAS and a cached
dense copy (within a memory budget), as calibrated once on the device and recorded
(``docs/kernels.md``). CuPy is an optional extra (``squeezebench[cuda]``); without it the
layers run their reference path and say so once.
"""

from squeezebench.quantized.cuda.dispatch import cuda_linear, cupy_problem, plan_for

__all__ = ["cuda_linear", "cupy_problem", "plan_for"]
