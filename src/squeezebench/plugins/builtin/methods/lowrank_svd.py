"""``lowrank.svd``: truncated-SVD factorization of Linear and Conv2d layers.

A Linear layer ``W`` (out x in) becomes ``nn.Sequential(Linear(in, r, bias=False),
Linear(r, out))`` with ``W ~= U_r S_r V_r^T`` split as ``(S_r^1/2 V_r^T)`` and ``(U_r S_r^1/2)``.
A Conv2d kernel (out, in, kh, kw) is factored as the matrix (out, in*kh*kw): a conv with ``r``
filters of the original kernel size, stride, padding and dilation (no bias), then a 1x1
conv from ``r`` to ``out`` channels carrying the original bias. The result is a plain torch
module; its artifact really is smaller because the layers are.

The rank ``r`` of each layer comes from exactly one of ``rank`` (the same for every layer,
capped at the layer's full rank), ``rank_ratio`` (a fraction of each layer's full rank,
rounded up) or ``energy`` (the smallest rank keeping that fraction of the sum of squared
singular values). A layer whose two factors would hold as many weights as the original or
more, ``r * (in' + out) >= out * in'``, is kept as it is, and a note says so.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator

from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    display_name,
    replace_module,
    select_layers,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl

RANK_CHOICES = ("rank", "rank_ratio", "energy")


class LowRankParams(LayerSelection):
    """Parameters of ``lowrank.svd``: one rank rule plus layer patterns."""

    rank: int | None = Field(
        None, ge=1, description="Rank of every factored layer (capped at its full rank)."
    )
    rank_ratio: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Rank as a fraction of each layer's full rank min(out, in*kh*kw), rounded up.",
    )
    energy: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Keep the smallest rank whose squared singular values sum to at least "
        "this fraction of the total.",
    )

    @model_validator(mode="after")
    def _exactly_one_rank_rule(self) -> LowRankParams:
        given = [name for name in RANK_CHOICES if getattr(self, name) is not None]
        if len(given) != 1:
            got = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"lowrank.svd takes exactly one of rank, rank_ratio or energy ({got})")
        return self


class LowRankSVD(Method):
    """Truncated-SVD factorization of Linear and Conv2d layers into two smaller layers."""

    name = "lowrank.svd"
    Params = LowRankParams

    def apply(self, artifact: Any, params: LowRankParams, ctx: MethodContext) -> Any:
        import torch

        kinds = (torch.nn.Linear, torch.nn.Conv2d)
        layers = select_layers(artifact, params, self.name, "compress", kinds, exact_types=True)
        before_total = after_total = factored = 0
        for name, layer in layers:
            label = display_name(name)
            if isinstance(layer, torch.nn.Conv2d) and layer.groups != 1:
                ctx.note(f"skipped {label}: grouped convolution (groups={layer.groups})")
                continue
            matrix = layer.weight.detach().reshape(layer.weight.shape[0], -1).double()
            out_size, in_size = matrix.shape
            u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
            rank = choose_rank(s, params)
            before, after = out_size * in_size, rank * (out_size + in_size)
            if after >= before:
                ctx.note(
                    f"skipped {label}: rank {rank} of {len(s)} would not save weights "
                    f"({before:,} -> {after:,})"
                )
                continue
            root = s[:rank].sqrt()
            first = (root[:, None] * vh[:rank]).to(layer.weight.dtype)
            second = (u[:, :rank] * root[None, :]).to(layer.weight.dtype)
            artifact = replace_module(artifact, name, factor_layer(layer, first, second))
            kept = float((s[:rank] ** 2).sum() / (s**2).sum()) if s.numel() else 1.0
            ctx.note(
                f"factored {label}: rank {rank} of {len(s)}, {before:,} -> {after:,} weights, "
                f"{kept:.1%} of the energy kept"
            )
            before_total += before
            after_total += after
            factored += 1
        ctx.note(
            f"factored {factored} of {len(layers)} layers: {before_total:,} -> "
            f"{after_total:,} weights"
        )
        return artifact


def choose_rank(singular_values: Any, params: LowRankParams) -> int:
    """The rank of one layer under ``params``' rule (at least 1, at most the full rank)."""
    full = int(singular_values.numel())
    if params.rank is not None:
        return min(params.rank, full)
    if params.rank_ratio is not None:
        return max(1, min(full, math.ceil(params.rank_ratio * full - 1e-9)))
    squares = singular_values.double() ** 2
    total = float(squares.sum())
    if total == 0.0:
        return 1
    fractions = squares.cumsum(0) / total
    reached = int((fractions < params.energy - 1e-12).sum()) + 1
    return max(1, min(full, reached))


def factor_layer(layer: Any, first: Any, second: Any) -> Any:
    """``nn.Sequential`` of the two factors of ``layer`` (first: r x in', second: out x r)."""
    import torch
    from torch import nn

    rank = first.shape[0]
    bias = layer.bias
    factory = {"device": layer.weight.device, "dtype": layer.weight.dtype}
    if isinstance(layer, nn.Linear):
        head = nn.Linear(layer.in_features, rank, bias=False, **factory)
        tail = nn.Linear(rank, layer.out_features, bias=bias is not None, **factory)
        head_weight, tail_weight = first, second
    else:
        head = nn.Conv2d(
            layer.in_channels,
            rank,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            bias=False,
            padding_mode=layer.padding_mode,
            **factory,
        )
        tail = nn.Conv2d(rank, layer.out_channels, 1, bias=bias is not None, **factory)
        head_weight = first.reshape(rank, layer.in_channels, *layer.kernel_size)
        tail_weight = second.reshape(layer.out_channels, rank, 1, 1)
    with torch.no_grad():
        head.weight.copy_(head_weight)
        tail.weight.copy_(tail_weight)
        if bias is not None:
            tail.bias.copy_(bias.detach())
    return nn.Sequential(head, tail).train(layer.training)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``lowrank.svd``."""
    registry.add_method(LowRankSVD)
