"""``prune.n_m``: N:M semi-structured sparsity (2:4 by default), the sparse tensor core layout.

In every group of ``m`` consecutive weights along a layer's *input* dimension, the ``n``
largest in magnitude are kept and the other ``m - n`` set to zero (ties: the earlier weight
is kept). Layout, per layer type:

- ``Linear`` (weight ``(out, in)``): groups are ``m`` consecutive entries of a row, i.e.
  along ``in_features``, the contiguous dimension of PyTorch's row-major weight. This is the
  layout ``torch.sparse.to_sparse_semi_structured`` (CUTLASS / cuSPARSELt) and TensorRT
  expect for 2:4 on Ampere and newer GPUs.
- ``Conv`` (weight ``(out, in / groups, *kernel)``): groups run along the input channels at
  each kernel position (``weight.movedim(1, -1)``: ``(out, *kernel, in)``), the layout of
  NVIDIA's ASP and of TensorRT's sparse convolutions (channels-last implicit GEMM, where
  the reduction dimension is ordered ``kernel position, input channel``).

A layer whose input dimension (``in_features``, or input channels per group for a Conv) is
not a multiple of ``m`` cannot hold the pattern: with ``on_indivisible: error`` (default)
that is an error naming the layer; with ``skip`` the layer is left dense and the method log
says so (a typical case is a network's first Conv with 1 or 3 input channels).

The artifact is still a dense float model with zeros in place: on CPU its size and speed
do not change; ``nonzero_params``, ``sparse_bytes`` and ``theoretical_speedup`` (2x for
the pruned layers at 2:4) show the potential. On CUDA, ``to_sparse_semi_structured`` turns
each 2:4 fp16/bf16/int8 Linear weight into the compressed form (half the values plus 2-bit
indices) that sparse tensor cores run. Biases are never pruned.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    describe_selection,
    display_name,
    select_layers,
)
from squeezebench.plugins.builtin.methods.prune_magnitude import pruning_note
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl


class NMSparsityParams(LayerSelection):
    """Parameters of ``prune.n_m``."""

    n: int = Field(2, ge=1, description="Weights kept in every group of m (N of N:M).")
    m: int = Field(4, ge=2, description="Size of the groups along the input dimension (M).")
    on_indivisible: Literal["error", "skip"] = Field(
        "error",
        description=(
            "What to do with a selected layer whose input dimension is not a multiple of m: "
            "fail naming it, or leave it dense (noted in the method log)."
        ),
    )

    @model_validator(mode="after")
    def _n_below_m(self) -> NMSparsityParams:
        if self.n >= self.m:
            raise ValueError(f"n must be less than m (got n={self.n}, m={self.m})")
        return self


class NMSparsity(Method):
    """N:M semi-structured sparsity (2:4 default) along the input dimension of each layer."""

    name = "prune.n_m"
    Params = NMSparsityParams

    def apply(self, artifact: Any, params: NMSparsityParams, ctx: MethodContext) -> Any:
        import torch

        selected = select_layers(artifact, params, self.name, "prune")
        layers, skipped = [], []
        for name, layer in selected:
            width = group_dimension(layer)
            if width % params.m == 0:
                layers.append((name, layer))
                continue
            reason = (
                f"layer '{display_name(name)}' ({type(layer).__name__}) has an input dimension "
                f"of {width}, not a multiple of m={params.m}"
            )
            if params.on_indivisible == "error":
                raise MethodError(
                    f"{self.name}: {reason}; exclude it (exclude: ['{name}']) or set "
                    "on_indivisible: skip"
                )
            skipped.append(reason)
        if not layers:
            raise MethodError(f"{self.name}: no selected layer can hold {params.n}:{params.m}")
        before = [int(layer.weight.count_nonzero()) for _, layer in layers]
        with torch.no_grad():
            for _, layer in layers:
                layer.weight.masked_fill_(~n_m_mask(layer.weight, params.n, params.m), 0)
        after = [int(layer.weight.count_nonzero()) for _, layer in layers]
        how = f"{params.n}:{params.m} along the input dimension"
        if describe_selection(params):
            how += f", {describe_selection(params)}"
        note = pruning_note(
            [name for name, _ in layers],
            [layer.weight.numel() for _, layer in layers],
            before,
            after,
            how,
        )
        if skipped:
            note += "; left dense: " + "; ".join(skipped)
        ctx.note(note)
        return artifact


def group_dimension(layer: Any) -> int:
    """Length of the dimension the N:M groups run along (input features / channels)."""
    return int(layer.weight.shape[1])


def grouped_view(weight: Any, m: int) -> Any:
    """``weight`` as ``(rows, groups, m)`` in the N:M layout (a copy for Conv weights)."""
    if weight.dim() == 2:
        return weight.reshape(weight.shape[0], -1, m)
    channels_last = weight.movedim(1, -1)  # (out, *kernel, in)
    return channels_last.reshape(-1, channels_last.shape[-1] // m, m)


def n_m_mask(weight: Any, n: int, m: int) -> Any:
    """Boolean mask of ``weight``'s shape keeping the ``n`` largest of every ``m`` (N:M layout)."""
    import torch

    groups = grouped_view(weight.detach().abs(), m)
    order = torch.argsort(groups, dim=-1, descending=True, stable=True)
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(-1, order[..., :n], True)
    if weight.dim() == 2:
        return keep.reshape(weight.shape)
    channels_last_shape = (weight.shape[0], *weight.shape[2:], weight.shape[1])
    return keep.reshape(channels_last_shape).movedim(-1, 1)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``prune.n_m``."""
    registry.add_method(NMSparsity)
