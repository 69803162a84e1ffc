"""``prune.magnitude``: unstructured magnitude pruning with an exact sparsity.

The smallest-magnitude weights of every ``Linear`` and ``Conv`` layer are set to zero,
either ranked across all layers together (``scope: global``) or layer by layer
(``scope: layer``). The zeros are written into the weights themselves (no masks remain),
so the artifact is a plain dense model; its size only shrinks once it is encoded sparsely.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from squeezebench.errors import MethodError
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl


class MagnitudePruningParams(BaseModel):
    """Parameters of ``prune.magnitude``."""

    model_config = ConfigDict(extra="forbid")

    sparsity: float = Field(
        ge=0, lt=1, description="Fraction of the selected weights set to zero (exact)."
    )
    scope: Literal["global", "layer"] = Field(
        "global",
        description="Rank weights across all layers together, or within each layer.",
    )


class MagnitudePruning(Method):
    """Unstructured magnitude pruning of Linear and Conv weights (exact sparsity)."""

    name = "prune.magnitude"
    Params = MagnitudePruningParams

    def apply(self, artifact: Any, params: MagnitudePruningParams, ctx: MethodContext) -> Any:
        import torch

        weights = prunable_weights(artifact)
        if not weights:
            raise MethodError("prune.magnitude found no Linear or Conv weights to prune")
        with torch.no_grad():
            if params.scope == "global":
                zero_smallest([w for _, w in weights], params.sparsity)
            else:
                for _, weight in weights:
                    zero_smallest([weight], params.sparsity)
        return artifact


def prunable_weights(module: Any) -> list[tuple[str, Any]]:
    """``(name, weight)`` of every Linear and ConvNd layer of ``module``, in module order."""
    import torch

    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return [
        (name, layer.weight)
        for name, layer in module.named_modules()
        if isinstance(layer, kinds) and isinstance(getattr(layer, "weight", None), torch.Tensor)
    ]


def zero_smallest(weights: list[Any], sparsity: float) -> None:
    """Zero exactly ``round(sparsity * n)`` of the ``n`` entries of ``weights`` (in place).

    Ties are broken by position (a stable sort), so the result is deterministic.
    """
    import torch

    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
    count = round(sparsity * magnitudes.numel())
    if count == 0:
        return
    order = torch.argsort(magnitudes, stable=True)
    keep = torch.ones_like(magnitudes, dtype=torch.bool)
    keep[order[:count]] = False
    offset = 0
    for weight in weights:
        size = weight.numel()
        weight.mul_(keep[offset : offset + size].view_as(weight).to(weight.dtype))
        offset += size


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``prune.magnitude``."""
    registry.add_method(MagnitudePruning)
