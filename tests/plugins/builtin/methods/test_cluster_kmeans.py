from __future__ import annotations

import copy
import io
import json
import pickle

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from squeezebench.errors import MethodError
from squeezebench.harness.measure.flops import count_flops
from squeezebench.harness.measure.size import count_parameters
from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.datasets.digits import digits_splits
from squeezebench.plugins.builtin.methods._clustered_layers import (
    ClusteredConv2d,
    ClusteredLayer,
    ClusteredLinear,
    index_bits,
    pack_indices,
    packed_size,
    unpack_indices,
)
from squeezebench.plugins.builtin.methods.cluster_kmeans import (
    ClusterParams,
    KMeansClustering,
    kmeans_1d,
)
from squeezebench.plugins.builtin.methods.prune_magnitude import (
    MagnitudePruning,
    MagnitudePruningParams,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model


def _cluster(model: nn.Module, seed: int = 0, **params) -> tuple[nn.Module, MethodContext]:
    ctx = MethodContext(seed=seed)
    return KMeansClustering().apply(model, ClusterParams(**params), ctx), ctx


def _accuracy(model: nn.Module) -> float:
    test = digits_splits().test
    with torch.no_grad():
        predicted = model(torch.from_numpy(test.inputs)).argmax(dim=1)
    return float((predicted == torch.from_numpy(test.labels)).float().mean())


def _saved(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _clustered_layers(model: nn.Module) -> list[ClusteredLayer]:
    return [m for m in model.modules() if isinstance(m, ClusteredLayer)]


# --- bit packing ------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("count", [0, 1, 7, 8, 9, 13, 1001])
def test_pack_unpack_round_trip_is_exact(bits: int, count: int) -> None:
    generator = torch.Generator().manual_seed(bits * 1000 + count)
    indices = torch.randint(0, 1 << bits, (count,), generator=generator)
    if count:
        indices[0], indices[-1] = (1 << bits) - 1, (1 << bits) - 1  # all bits set at the ends
    packed = pack_indices(indices, bits)
    assert packed.dtype == torch.uint8
    assert packed.numel() == packed_size(count, bits) == -(-count * bits // 8)
    assert torch.equal(unpack_indices(packed, count, bits), indices)


def test_bit_layout_is_the_documented_little_endian_stream() -> None:
    # 3 bits: 1 -> stream bits 0..2 = 1,0,0; 2 -> bits 3..5 = 0,1,0; 3 -> bits 6..8 = 1,1,0
    assert pack_indices(torch.tensor([1, 2, 3]), 3).tolist() == [0b11010001, 0]
    assert pack_indices(torch.tensor([1, 2, 15]), 4).tolist() == [0x21, 0x0F]  # low nibble first
    assert pack_indices(torch.tensor([1] + [0] * 7 + [1]), 1).tolist() == [1, 1]
    assert pack_indices(torch.tensor([200, 7]), 8).tolist() == [200, 7]
    # 5 bits: 31 fills bits 0..4, 1 sets bit 5, 2 sets bit 11 (bit 3 of byte 1)
    assert pack_indices(torch.tensor([31, 1, 2]), 5).tolist() == [0b00111111, 0b00001000]


def test_packing_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.15"):
        pack_indices(torch.tensor([16]), 4)
    with pytest.raises(ValueError, match=r"bits must be within 1\.\.8"):
        pack_indices(torch.tensor([1]), 9)
    with pytest.raises(ValueError, match="cannot hold 9 indices"):
        unpack_indices(torch.zeros(1, dtype=torch.uint8), 9, 1)


@pytest.mark.parametrize(
    ("k", "bits"), [(2, 1), (3, 2), (4, 2), (5, 3), (16, 4), (17, 5), (32, 5), (256, 8)]
)
def test_bits_per_index_is_ceil_log2_k(k: int, bits: int) -> None:
    assert index_bits(k) == bits


@pytest.mark.parametrize("k", [2, 3, 4, 5, 8, 16, 17, 32, 100, 256])
def test_dequantized_weight_is_the_codebook_at_the_packed_indices(k: int) -> None:
    torch.manual_seed(k)
    model, _ = _cluster(nn.Sequential(nn.Linear(37, 7)), k=k)  # 259 weights: a partial byte
    layer = model[0]
    indices = unpack_indices(layer.packed_indices, 259, index_bits(k))
    assert int(indices.max()) < k
    expected = layer.codebook[indices].view(7, 37)
    assert torch.equal(layer.dequantized_weight(), expected)
    assert torch.unique(expected).numel() <= k


# --- k-means ----------------------------------------------------------------------------------


def test_kmeans_finds_obvious_clusters_with_either_init() -> None:
    values = torch.tensor([0.0, 0.1, 0.2, 10.0, 10.1, 10.2, -5.0], dtype=torch.float64)
    for init in ("linear", "kmeans++"):
        centroids, assignment = kmeans_1d(values, 3, 20, init, torch.Generator().manual_seed(0))
        assert torch.allclose(centroids, torch.tensor([-5.0, 0.1, 10.1], dtype=torch.float64))
        assert assignment.tolist() == [1, 1, 1, 2, 2, 2, 0]


# --- the method on the digits models ----------------------------------------------------------


def test_mlp_layers_share_at_most_k_values_and_keep_the_accuracy() -> None:
    base = trained_model("digits-mlp")
    model, ctx = _cluster(copy.deepcopy(base), k=16)
    layers = _clustered_layers(model)
    assert [type(layer) for layer in layers] == [ClusteredLinear] * 3
    for layer, original in zip(layers, (base[1], base[3], base[5]), strict=True):
        weight = layer.dequantized_weight()
        assert weight.shape == original.weight.shape
        assert torch.unique(weight).numel() <= 16
        original_weight = original.weight.detach()
        assert (weight - original_weight).norm() < 0.2 * original_weight.norm()  # measured 0.14
        # every weight sits on its nearest shared value (a k-means fixed point of assignment)
        distances = (original_weight.flatten()[:, None] - layer.codebook[None, :]).abs()
        chosen = (original_weight.flatten() - weight.flatten()).abs()
        assert torch.allclose(chosen, distances.min(dim=1).values, atol=1e-6)
        assert set(layer.state_dict()) == {"codebook", "packed_indices", "bias"}
        assert layer.packed_indices.dtype == torch.uint8
        assert layer.packed_indices.numel() == original.weight.numel() // 2  # 4 bits each
        assert torch.equal(layer.bias, original.bias)
    assert count_parameters(model) == count_parameters(base)
    assert ctx.notes[0].startswith("clustered 1: 16,384 weights onto 16 of 16 shared values")
    assert _accuracy(model) >= 0.97  # baseline ~0.99; measured 0.989 at k=16


def _container_overhead(model: nn.Module) -> int:
    """Bytes torch.save spends on names, pickle and zip records for this state_dict's keys."""
    empty = {key: value[:0] for key, value in model.state_dict().items()}
    return len(_saved_dict(empty))


def _saved_dict(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("k", [4, 16, 32, 256])
def test_cnn_artifact_is_the_theoretical_size(k: int) -> None:
    base = trained_model("digits-cnn")
    model, _ = _cluster(copy.deepcopy(base), k=k, iterations=10)
    weights = [w for name, w in base.state_dict().items() if name.endswith("weight")]
    biases = [b for name, b in base.state_dict().items() if name.endswith("bias")]
    indices = sum(packed_size(w.numel(), index_bits(k)) for w in weights)
    payload = indices + len(weights) * k * 4 + sum(b.numel() * 4 for b in biases)
    size = len(_saved(model))
    for layer in _clustered_layers(model):
        assert torch.unique(layer.dequantized_weight()).numel() <= k
    assert payload <= size <= 1.1 * (payload + _container_overhead(model))
    if k >= 16:  # the payload dominates: even without the container within 10%
        assert size <= 1.1 * payload
    assert size < 0.1 * len(_saved(base)) * index_bits(k) / 2.5  # ~bits/32 of the floats


def test_cnn_keeps_the_accuracy_flops_and_parameter_count() -> None:
    base = trained_model("digits-cnn")
    model, _ = _cluster(copy.deepcopy(base), k=16)
    assert [type(layer) for layer in _clustered_layers(model)] == [
        ClusteredConv2d,
        ClusteredConv2d,
        ClusteredLinear,
        ClusteredLinear,
    ]
    assert count_parameters(model) == count_parameters(base)
    example = torch.from_numpy(digits_splits().test.inputs[:1])
    assert count_flops(model, example) == count_flops(base, example)
    assert _accuracy(model) >= 0.97  # measured 0.987 (baseline 0.993)


def test_pruned_zeros_survive_clustering() -> None:
    pruned = MagnitudePruning().apply(
        copy.deepcopy(trained_model("digits-cnn")),
        MagnitudePruningParams(sparsity=0.8),
        MethodContext(seed=0),
    )
    _, nonzero = count_parameters(pruned)
    model, _ = _cluster(copy.deepcopy(pruned), k=16)
    assert count_parameters(model)[1] == nonzero
    for layer in _clustered_layers(model):
        assert float(layer.codebook[0]) == 0.0
        assert torch.unique(layer.dequantized_weight()).numel() <= 16


def test_keep_zeros_reserves_a_zero_centroid() -> None:
    def layer() -> nn.Module:
        linear = nn.Linear(6, 1, bias=False)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 0.3, 1.0, 1.1]]))
        return nn.Sequential(linear)

    kept, _ = _cluster(layer(), k=2)
    assert kept[0].dequantized_weight()[0].tolist() == pytest.approx([0, 0, 0, 0.8, 0.8, 0.8])
    merged, _ = _cluster(layer(), k=2, keep_zeros=False)  # zeros join 0.3's cluster
    assert merged[0].dequantized_weight()[0].tolist() == pytest.approx([0.075] * 4 + [1.05] * 2)


def test_same_seed_same_codebooks_and_float16_codebooks() -> None:
    base = trained_model("digits-mlp")
    first, _ = _cluster(copy.deepcopy(base), seed=5, k=8, init="kmeans++")
    second, _ = _cluster(copy.deepcopy(base), seed=5, k=8, init="kmeans++")
    assert _saved(first) == _saved(second)
    half, _ = _cluster(copy.deepcopy(base), k=8, codebook_dtype="float16")
    assert {layer.codebook.dtype for layer in _clustered_layers(half)} == {torch.float16}
    assert _clustered_layers(half)[0].dequantized_weight().dtype == torch.float32
    assert _clustered_layers(half)[0].bits == 3


def test_conv_geometry_is_kept() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=1, groups=2)
    reflect = nn.Conv2d(6, 5, 3, padding=1, padding_mode="reflect", bias=False)
    model = nn.Sequential(conv, reflect)
    clustered, _ = _cluster(copy.deepcopy(model), k=8)
    with torch.no_grad():
        for original, layer in zip(model, clustered, strict=True):
            original.weight.copy_(layer.dequantized_weight())
        x = torch.randn(2, 4, 9, 8)
        assert torch.allclose(clustered(x), model(x), atol=1e-6)
    assert clustered[0].in_features == 2 * 3 * 2 and clustered[0].out_features == 6


def test_clustered_models_pickle_and_reload_their_state() -> None:
    base = trained_model("digits-mlp")
    model, _ = _cluster(copy.deepcopy(base), k=32)
    x = torch.from_numpy(digits_splits().test.inputs[:8])
    with torch.no_grad():
        expected = model(x)
        assert torch.equal(pickle.loads(pickle.dumps(model))(x), expected)
        fresh, _ = _cluster(copy.deepcopy(base), k=32, iterations=1)
        fresh.load_state_dict(torch.load(io.BytesIO(_saved(model)), weights_only=True))
        assert torch.equal(fresh(x), expected)


def test_include_and_exclude_patterns() -> None:
    base = trained_model("digits-mlp")
    model, ctx = _cluster(copy.deepcopy(base), k=4, exclude=["5"])
    assert isinstance(model[5], nn.Linear)
    assert [type(model[i]) for i in (1, 3)] == [ClusteredLinear, ClusteredLinear]
    assert ctx.notes[-1].startswith("clustered 2 of 2 layers, k=4")
    only, _ = _cluster(copy.deepcopy(base), k=4, include=["[13]"])
    assert isinstance(only[5], nn.Linear) and isinstance(only[1], ClusteredLinear)
    with pytest.raises(MethodError, match="exclude pattern 'fc' matches no Linear or Conv2d"):
        _cluster(copy.deepcopy(base), exclude=["fc"])
    with pytest.raises(MethodError, match="no Linear or Conv2d layer"):
        _cluster(nn.Sequential(nn.ReLU()))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 1}, "greater than or equal to 2"),
        ({"k": 257}, "less than or equal to 256"),
        ({"iterations": 0}, "greater than or equal to 1"),
        ({"init": "random"}, "'linear' or 'kmeans\\+\\+'"),
        ({"codebook_dtype": "int8"}, "'float32' or 'float16'"),
        ({"clusters": 4}, "Extra inputs are not permitted"),
    ],
)
def test_params_validation(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ClusterParams(**params)


def test_end_to_end_through_the_harness(run_variants) -> None:
    variants = """
        pruned-k16:
          - prune.magnitude: {sparsity: 0.8}
          - cluster.kmeans: {k: 16}
        """
    rows = run_variants(variants, model="builtin:digits-cnn")
    baseline, clustered = rows.loc["baseline"], rows.loc["pruned-k16"]
    assert clustered["status"] == "ok"
    assert clustered["params"] == baseline["params"] == 151_306
    assert clustered["nonzero_params"] < 0.25 * baseline["params"]
    assert clustered["compression_ratio"] > 7  # 4-bit indices: ~8x minus the biases
    assert clustered["accuracy"] >= baseline["accuracy"] - 0.02
    notes = json.loads(clustered["method_log"])
    assert notes[-1].startswith("cluster.kmeans: clustered 4 of 4 layers, k=16")
