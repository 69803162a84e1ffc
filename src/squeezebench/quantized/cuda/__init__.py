"""CUDA kernels for packed (weight-only quantized) layers, compiled at run time by CuPy.

:class:`~squeezebench.quantized.layers.QuantizedLinear` calls :func:`cuda_linear` for CUDA
inputs: 4- and 8-bit affine formats with float16/bfloat16 activations run our fused kernel
(``kernels/weight_only_gemm.cu``), larger batches and other formats dequantize with our
kernel and multiply with cuBLAS. CuPy is an optional extra (``squeezebench[cuda]``); without
it the layers run their reference path and say so once. See ``docs/kernels.md``.
"""

from squeezebench.quantized.cuda.dispatch import cuda_linear, cupy_problem, plan

__all__ = ["cuda_linear", "cupy_problem", "plan"]
