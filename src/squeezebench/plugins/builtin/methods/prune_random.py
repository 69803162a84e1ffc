"""``prune.random``: the baseline every pruning criterion must beat.

Same params and same exact-sparsity guarantee as ``prune.magnitude`` (it shares the params
model, the layer selection and the zeroing code), but the weights to remove are drawn
uniformly at random instead of ranked by magnitude. Weights that are already zero count
toward the sparsity first (as they do for magnitude pruning, where they rank lowest), so the
selected weights end up exactly ``round(sparsity * n)`` zeros. The draw comes from a
``torch.Generator`` seeded with the spec's seed: the same seed gives the same mask, another
seed another one, whatever else ran before in the process.
"""

from __future__ import annotations

from typing import Any

from squeezebench.plugins.builtin.methods.prune_magnitude import UnstructuredPruning
from squeezebench.plugins.contracts import MethodContext
from squeezebench.plugins.markers import hookimpl


class RandomPruning(UnstructuredPruning):
    """Unstructured random pruning (exact sparsity, seeded): the baseline for criteria."""

    name = "prune.random"
    stochastic = True  # which weights go depends on the seed
    ranking = "uniformly at random"

    def scores(self, weights: list[Any], ctx: MethodContext) -> list[Any]:
        import torch

        generator = torch.Generator().manual_seed(ctx.seed)
        scores = []
        for weight in weights:
            score = torch.rand(weight.shape, generator=generator, dtype=torch.float64)
            # existing zeros first (score -1), then a uniformly random order of the rest
            scores.append(torch.where(weight.detach().cpu() == 0, -1.0, score))
        return scores


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``prune.random``."""
    registry.add_method(RandomPruning)
