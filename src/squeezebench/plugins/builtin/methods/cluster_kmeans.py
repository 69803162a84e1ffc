"""``cluster.kmeans``: weight sharing by k-means (Deep Compression, Han et al. 2016).

The weights of every selected Linear and Conv2d layer are clustered (1-D k-means, per
layer) into ``k`` shared values. The layer becomes a :class:`ClusteredLinear` or
:class:`ClusteredConv2d` that stores only a codebook of ``k`` floats (float32 or float16)
and one packed index of ``b = ceil(log2 k)`` bits per weight; biases stay float32. Its
``forward`` unpacks the indices, looks the weights up (``codebook[indices]``) and runs the
ordinary op, so the saved ``state_dict`` really is about ``b / 32`` of the float weights.

The bit layout of the packed indices is documented in ``_clustered_layers`` (one
little-endian bit stream, least significant bit first, ``b`` bits per weight in row-major
order) and in docs/methods/lowrank-cluster-encode.md.

Centroids start linearly spaced between the layer's smallest and largest weight (the
paper's best initialisation) or by k-means++ seeded with the spec's seed, then take
``iterations`` Lloyd steps (stopping early when no assignment changes); an empty cluster
keeps its centroid. With ``keep_zeros`` (the default), a layer that contains exact zeros (a
pruned layer) keeps them: centroid 0 is fixed at 0.0 and the nonzero weights share the other
``k - 1``, so pruning survives clustering. Centroids are not fine-tuned afterwards (the
paper's retraining of the shared weights is not done here).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    display_name,
    replace_module,
    select_layers,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl


class ClusterParams(LayerSelection):
    """Parameters of ``cluster.kmeans``."""

    k: int = Field(16, ge=2, le=256, description="Shared values (centroids) per layer.")
    iterations: int = Field(
        20, ge=1, le=1000, description="Most Lloyd iterations of k-means per layer."
    )
    init: Literal["linear", "kmeans++"] = Field(
        "linear",
        description="Centroid initialisation: linearly spaced between the smallest and "
        "largest weight (as in the paper), or k-means++ seeded by the spec's seed.",
    )
    codebook_dtype: Literal["float32", "float16"] = Field(
        "float32", description="Storage type of each layer's codebook."
    )
    keep_zeros: bool = Field(
        True,
        description="In a layer with exact zeros (pruned), fix one centroid at 0.0 so that "
        "pruned weights stay zero.",
    )


class KMeansClustering(Method):
    """Weight sharing: k-means codebook and packed indices per Linear and Conv2d layer."""

    name = "cluster.kmeans"
    Params = ClusterParams

    def apply(self, artifact: Any, params: ClusterParams, ctx: MethodContext) -> Any:
        import torch

        from squeezebench.plugins.builtin.methods._clustered_layers import (
            clustered_layer,
            index_bits,
            pack_indices,
        )

        kinds = (torch.nn.Linear, torch.nn.Conv2d)
        layers = select_layers(artifact, params, self.name, "compress", kinds, exact_types=True)
        generator = torch.Generator().manual_seed(ctx.seed)
        bits = index_bits(params.k)
        codebook_dtype = getattr(torch, params.codebook_dtype)
        before_total = after_total = clustered_count = 0
        for name, layer in layers:
            weight = layer.weight.detach()
            if getattr(layer, "padding_mode", "zeros") != "zeros" and isinstance(
                getattr(layer, "padding", None), str
            ):
                ctx.note(f"skipped {name}: padding={layer.padding!r} with {layer.padding_mode}")
                continue
            codebook, indices = cluster_weights(
                weight.flatten().cpu().double(),
                params.k,
                params.iterations,
                params.init,
                params.keep_zeros,
                generator,
            )
            packed = pack_indices(indices, bits).to(weight.device)
            codebook = codebook.to(device=weight.device, dtype=codebook_dtype)
            clustered = clustered_layer(layer, codebook, packed)
            artifact = replace_module(artifact, name, clustered)
            before = weight.numel() * weight.element_size()
            after = packed.numel() + codebook.numel() * codebook.element_size()
            before_total += before
            after_total += after
            used = int(torch.unique(indices).numel())
            ctx.note(
                f"clustered {display_name(name)}: {weight.numel():,} weights onto {used} of "
                f"{params.k} shared values ({bits}-bit indices), {before:,} -> {after:,} bytes"
            )
            clustered_count += 1
        ctx.note(
            f"clustered {clustered_count} of {len(layers)} layers, k={params.k}: weight bytes "
            f"{before_total:,} -> {after_total:,} (indices + codebooks; biases unchanged)"
        )
        return artifact


# ---------------------------------------------------------------------------------------------
# k-means
# ---------------------------------------------------------------------------------------------


def cluster_weights(
    values: Any, k: int, iterations: int, init: str, keep_zeros: bool, generator: Any
) -> tuple[Any, Any]:
    """``(codebook (k,), indices (n,))`` of a 1-D float64 tensor of weights.

    With ``keep_zeros`` and exact zeros present, entry 0 of the codebook is 0.0 and holds
    exactly the zero weights; the nonzero weights are clustered into the other ``k - 1``.
    """
    import torch

    zeros = values == 0
    if keep_zeros and bool(zeros.any()):
        nonzero = values[~zeros]
        codebook = torch.zeros(k, dtype=values.dtype)
        indices = torch.zeros(values.numel(), dtype=torch.int64)
        if nonzero.numel():
            centroids, assignment = kmeans_1d(nonzero, k - 1, iterations, init, generator)
            codebook[1:] = centroids
            indices[~zeros] = assignment + 1
        return codebook, indices
    return kmeans_1d(values, k, iterations, init, generator)


def kmeans_1d(values: Any, k: int, iterations: int, init: str, generator: Any) -> tuple[Any, Any]:
    """Lloyd's k-means on a 1-D tensor: ``(sorted centroids (k,), assignment (n,))``."""
    import torch

    if init == "linear":
        centroids = torch.linspace(float(values.min()), float(values.max()), k, dtype=values.dtype)
    else:
        centroids = kmeans_plus_plus(values, k, generator).sort().values
    assignment = nearest(values, centroids)
    for _ in range(iterations):
        sums = torch.zeros(k, dtype=values.dtype).index_add_(0, assignment, values)
        counts = torch.bincount(assignment, minlength=k)
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids).sort().values
        updated = nearest(values, centroids)
        if torch.equal(updated, assignment):
            break
        assignment = updated
    return centroids, assignment


def nearest(values: Any, sorted_centroids: Any) -> Any:
    """Index of the nearest of ``sorted_centroids`` for every value (ties go to the lower)."""
    import torch

    boundaries = (sorted_centroids[:-1] + sorted_centroids[1:]) / 2
    return torch.bucketize(values, boundaries, right=False)


def kmeans_plus_plus(values: Any, k: int, generator: Any) -> Any:
    """k-means++ seeds (Arthur and Vassilvitskii): each next one drawn by squared distance."""
    import torch

    first = int(torch.randint(values.numel(), (1,), generator=generator))
    chosen = [values[first]]
    distance = (values - values[first]) ** 2
    for _ in range(1, k):
        total = float(distance.sum())
        if total == 0.0:  # fewer distinct values than k: repeat one (an empty cluster)
            chosen.append(chosen[-1])
            continue
        # inverse-CDF draw (multinomial is limited to 2**24 categories)
        cumulative = distance.cumsum(0)
        target = torch.rand(1, generator=generator, dtype=cumulative.dtype) * total
        pick = min(int(torch.searchsorted(cumulative, target, right=True)), values.numel() - 1)
        chosen.append(values[pick])
        distance = torch.minimum(distance, (values - values[pick]) ** 2)
    return torch.stack(chosen)


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``cluster.kmeans``."""
    registry.add_method(KMeansClustering)
