"""``prune.magnitude``: unstructured magnitude pruning with an exact sparsity.

The smallest-magnitude weights of the selected ``Linear`` and ``Conv`` layers are set to
zero, either ranked across all selected layers together (``scope: global``) or layer by
layer (``scope: layer``). ``include`` / ``exclude`` glob patterns on the qualified module
names choose the layers (see ``_layer_selection``). The zeros are written into the weights
themselves (no masks or ``weight_orig`` remain), so the artifact is a plain dense model;
its size only shrinks once it is encoded sparsely. Biases are never pruned.

This module also holds what ``prune.random`` shares with it: the params model and the
:class:`UnstructuredPruning` base class, which differ only in how weights are ranked.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    candidate_layers,
    describe_selection,
    display_name,
    select_layers,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl

NOTE_LAYER_LIMIT = 40
"""Per-layer counts listed in a note, at most (a summary line always comes first)."""


class UnstructuredPruningParams(LayerSelection):
    """Parameters of ``prune.magnitude`` and ``prune.random`` (the same on purpose)."""

    sparsity: float = Field(
        ge=0,
        lt=1,
        description="Fraction of the selected weights that are zero afterwards (exact).",
    )
    scope: Literal["global", "layer"] = Field(
        "global",
        description=(
            "Rank weights across all selected layers together (global), or reach the "
            "sparsity in each selected layer separately (layer)."
        ),
    )


MagnitudePruningParams = UnstructuredPruningParams
"""The name this model had before ``prune.random`` shared it."""


class UnstructuredPruning(Method):
    """Zero the lowest-ranked weights of the selected layers; subclasses define the rank."""

    Params = UnstructuredPruningParams
    ranking: ClassVar[str] = ""

    def scores(self, weights: list[Any], ctx: MethodContext) -> list[Any]:
        """One score tensor per weight (same shape); the lowest scores are zeroed."""
        raise NotImplementedError

    def apply(self, artifact: Any, params: UnstructuredPruningParams, ctx: MethodContext) -> Any:
        import torch

        layers = select_layers(artifact, params, self.name, "prune")
        weights = [layer.weight for _, layer in layers]
        before = [int(w.count_nonzero()) for w in weights]
        with torch.no_grad():
            scores = self.scores(weights, ctx)
            if params.scope == "global":
                zero_lowest(weights, scores, params.sparsity)
            else:
                for weight, score in zip(weights, scores, strict=True):
                    zero_lowest([weight], [score], params.sparsity)
        after = [int(w.count_nonzero()) for w in weights]
        ctx.note(
            pruning_note(
                [name for name, _ in layers],
                [w.numel() for w in weights],
                before,
                after,
                f"{self.ranking}, scope {params.scope}, sparsity {params.sparsity:g}"
                + (f", {describe_selection(params)}" if describe_selection(params) else ""),
                untouched=len(candidate_layers(artifact)) - len(layers),
            )
        )
        return artifact


class MagnitudePruning(UnstructuredPruning):
    """Unstructured magnitude pruning of Linear and Conv weights (exact sparsity)."""

    name = "prune.magnitude"
    ranking = "by |weight|"

    def scores(self, weights: list[Any], ctx: MethodContext) -> list[Any]:
        return [w.detach().abs() for w in weights]


def prunable_weights(module: Any) -> list[tuple[str, Any]]:
    """``(name, weight)`` of every Linear and ConvNd layer of ``module``, in module order."""
    return [(name, layer.weight) for name, layer in candidate_layers(module)]


def zero_lowest(weights: list[Any], scores: list[Any], sparsity: float) -> None:
    """Zero exactly ``round(sparsity * n)`` of the ``n`` entries of ``weights`` (in place):
    those with the lowest ``scores`` (one tensor per weight, same shapes).

    Ties are broken by position (a stable sort), so the result is deterministic.
    """
    import torch

    flat = torch.cat([s.detach().flatten() for s in scores])
    count = round(sparsity * flat.numel())
    if count == 0:
        return
    order = torch.argsort(flat, stable=True)
    keep = torch.ones_like(flat, dtype=torch.bool)
    keep[order[:count]] = False
    offset = 0
    for weight in weights:
        size = weight.numel()
        weight.masked_fill_(~keep[offset : offset + size].view_as(weight).to(weight.device), 0)
        offset += size


def pruning_note(
    names: list[str],
    sizes: list[int],
    before: list[int],
    after: list[int],
    how: str,
    untouched: int = 0,
) -> str:
    """``pruned 3 layers (...): 51,456 -> 10,291 nonzero weights (80.0% zero); 1: ...``."""
    total = sum(sizes)
    zero = total - sum(after)
    layer_word = "layer" if len(names) == 1 else "layers"
    head = (
        f"pruned {len(names)} {layer_word} ({how}): {sum(before):,} -> {sum(after):,} nonzero "
        f"weights of {total:,} ({zero / max(total, 1):.1%} zero)"
    )
    if untouched:
        head += f"; {untouched} Linear/Conv layer(s) left untouched"
    per_layer = [
        f"{display_name(name)}: {b:,} -> {a:,}"
        for name, b, a in zip(names, before, after, strict=True)
    ]
    shown = per_layer[:NOTE_LAYER_LIMIT]
    if len(per_layer) > NOTE_LAYER_LIMIT:
        shown.append(f"... ({len(per_layer) - NOTE_LAYER_LIMIT} more)")
    return head + "; nonzero per layer: " + ", ".join(shown)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``prune.magnitude``."""
    registry.add_method(MagnitudePruning)
