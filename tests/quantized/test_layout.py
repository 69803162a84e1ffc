"""The tiled layout (format version 2): round trips against the row layout, on the CPU."""

from __future__ import annotations

import pytest
import torch

from squeezebench.quantized.layout import (
    WORD_ORDER,
    block_codes,
    lane_codes,
    preferred_layout,
    tile_bytes,
    tile_groups,
    tiled_problem,
    untile_bytes,
    untile_groups,
    with_layout,
)
from squeezebench.quantized.packing import (
    PackedWeight,
    dequantize,
    pack_codes,
    plan_format,
    quantize_affine,
    unpack_codes,
)

SHAPES = [  # (out, in, bits, group size)
    (16, 128, 4, None),
    (48, 512, 4, 32),
    (32, 384, 4, 128),
    (16, 64, 8, None),
    (64, 256, 8, 16),
    (32, 192, 8, 64),
]


def _random_weight(out_f, in_f, bits, group, scheme="asymmetric", seed=0) -> PackedWeight:
    generator = torch.Generator().manual_seed(seed)
    fmt = plan_format(out_f, in_f, bits, scheme, group)
    codes = torch.randint(0, 1 << bits, (out_f, fmt.padded_in_features), generator=generator)
    scales = torch.rand(fmt.scale_shape, generator=generator).half() + 0.01
    zeros = torch.randint(0, 1 << bits, fmt.scale_shape, generator=generator).to(torch.uint8)
    return PackedWeight(fmt, pack_codes(codes.to(torch.uint8), bits), scales, zeros)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_tiling_is_a_permutation_that_round_trips(shape) -> None:
    weight = _random_weight(*shape)
    fmt = weight.format
    tiled = tile_bytes(weight.packed, fmt)
    assert tiled.shape == weight.packed.shape and tiled.dtype == torch.uint8
    assert not torch.equal(tiled, weight.packed)
    assert torch.equal(untile_bytes(tiled, fmt), weight.packed)
    codes = unpack_codes(weight.packed, fmt.bits).flatten()  # the same codes, moved
    assert torch.equal(unpack_codes(tiled, fmt.bits).flatten().sort().values, codes.sort().values)
    assert torch.equal(untile_groups(tile_groups(weight.scales, fmt), fmt), weight.scales)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_both_layouts_dequantize_to_the_same_matrix(shape) -> None:
    weight = _random_weight(*shape)
    tiled = with_layout(weight, "tiled")
    assert tiled.format.layout == "tiled"
    assert tiled.packed.shape == weight.packed.shape and tiled.format.nbytes() == (
        weight.format.nbytes()
    )
    assert torch.equal(tiled.dequantize(), weight.dequantize())
    back = with_layout(tiled, "rows")
    assert torch.equal(back.packed, weight.packed)
    assert torch.equal(back.scales, weight.scales)
    assert torch.equal(back.zero_points, weight.zero_points)


def test_a_lane_chunk_holds_consecutive_codes_interleaved_in_each_word() -> None:
    """Spec by example: int4, row 9 (tile 0, half 1, g 1), K block 1, lane t = 2."""
    fmt = plan_format(16, 256, 4, "symmetric", 128)
    codes = torch.zeros(16, 256, dtype=torch.uint8)
    k0 = block_codes(4) + 2 * lane_codes(4)  # first code of lane t = 2 in K block 1
    codes[9, k0 : k0 + 8] = torch.arange(1, 9, dtype=torch.uint8)  # its first word
    tiled = tile_bytes(pack_codes(codes, 4), fmt).flatten()
    lane = 4 * 1 + 2
    offset = (0 * 2 + 1) * 1024 + (32 * 1 + lane) * 16  # tile 0, K block 1, half 1, lane
    word = int.from_bytes(bytes(tiled[offset : offset + 4].tolist()), "little")
    nibbles = [(word >> (4 * p)) & 0xF for p in range(8)]
    assert nibbles == [1 + q for q in WORD_ORDER[4]] == [1, 3, 5, 7, 2, 4, 6, 8]
    # the kernels' pairs (nibbles p, p + 4) are consecutive codes
    assert [(nibbles[p], nibbles[p + 4]) for p in range(4)] == [(1, 2), (3, 4), (5, 6), (7, 8)]
    assert int(tiled.count_nonzero()) == 4  # nothing else moved there


def test_scales_are_stored_tile_major() -> None:
    fmt = plan_format(32, 256, 4, "symmetric", 64)
    scales = torch.arange(32 * 4, dtype=torch.float32).reshape(32, 4)
    tiled = tile_groups(scales, fmt).flatten()
    # [tile][group][16 rows]: the 16 rows of tile 1 for group 2 are contiguous
    assert tiled[(1 * 4 + 2) * 16 : (1 * 4 + 3) * 16].tolist() == scales[16:32, 2].tolist()


@pytest.mark.parametrize(
    ("fmt_args", "problem"),
    [
        ((24, 128, 4, "symmetric", None), "not a multiple of 16"),
        ((16, 96, 4, "symmetric", 32), "not a multiple of 128"),
        ((16, 128, 4, "symmetric", 16), "group size 16"),
        ((16, 128, 2, "symmetric", None), "4 or 8 bits"),
        ((16, 128, 4, "symmetric", 128), None),
        ((16, 64, 8, "asymmetric", 16), None),
    ],
)
def test_formats_the_tiled_layout_takes(fmt_args, problem) -> None:
    fmt = plan_format(*fmt_args)
    found = tiled_problem(fmt)
    if problem is None:
        assert found is None and preferred_layout(fmt) == "tiled"
        assert plan_format(*fmt_args, layout="tiled").layout == "tiled"
    else:
        assert problem in found and preferred_layout(fmt) == "rows"
        with pytest.raises(ValueError, match="tiled layout does not take"):
            plan_format(*fmt_args, layout="tiled")
    with pytest.raises(ValueError, match="layout must be one of"):
        plan_format(16, 128, 4, "symmetric", layout="columns")


def test_quantized_weights_round_trip_through_the_tiled_layout() -> None:
    torch.manual_seed(5)
    weight = torch.randn(64, 1000)
    packed = quantize_affine(weight, 4, True, 128)
    tiled = with_layout(packed, "tiled")
    fmt = tiled.format
    assert torch.equal(
        dequantize(fmt, tiled.packed, tiled.scales, tiled.zero_points), packed.dequantize()
    )
