"""Parameter counts of torch modules, quantized layers included."""

from __future__ import annotations

from typing import Any


def weight_tensors(module: Any) -> list[Any]:
    """Every weight and bias tensor of ``module``, dequantized where stored quantized.

    ``parameters()`` misses the packed weights of quantized layers: torch's own expose
    ``weight()`` and ``bias()`` methods, and squeezebench's packed layers a
    ``dequantized_weight()`` method (with ``bias`` a tensor or None). Those are included
    here so that a quantized model reports the same parameter count as its float original.
    """
    import torch

    tensors = []
    for layer in module.modules():
        if callable(getattr(layer, "dequantized_weight", None)):
            # a packed layer (see docs/plugins.md, "Packed layers"): count its logical weights
            tensors.append(layer.dequantized_weight())
            bias = getattr(layer, "bias", None)
            if isinstance(bias, torch.Tensor):
                tensors.append(bias)
            continue
        tensors.extend(layer.parameters(recurse=False))
        for attribute in ("weight", "bias"):
            accessor = getattr(type(layer), attribute, None)
            if callable(accessor):  # quantized layers expose weight() / bias()
                value = getattr(layer, attribute)()
                if isinstance(value, torch.Tensor):
                    tensors.append(value.dequantize() if value.is_quantized else value)
    return tensors


def count_parameters(module: Any) -> tuple[int, int]:
    """``(parameters, nonzero parameters)`` of ``module``."""
    total = nonzero = 0
    for tensor in weight_tensors(module):
        total += tensor.numel()
        nonzero += int(tensor.detach().count_nonzero())
    return total, nonzero


def sparse_tensor_bytes(module: Any) -> int:
    """Bytes of the module's tensors if each float tensor were stored as bitmask + nonzeros.

    A size estimate for pruned models (one bit per entry plus the nonzero values), taking
    the dense size where that is smaller; quantized and packed tensors count densely. It is
    not a file: an ``encode.*`` step makes a real, measured encoding.
    """
    import torch

    total = 0
    for value in module.state_dict().values():
        if not isinstance(value, torch.Tensor):
            continue
        dense = value.numel() * value.element_size()
        if value.is_floating_point() and not value.is_quantized:
            sparse = -(-value.numel() // 8) + int(value.count_nonzero()) * value.element_size()
            total += min(dense, sparse)
        else:
            total += dense
    return total
