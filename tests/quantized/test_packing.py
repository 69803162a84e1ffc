"""Packing layout and quantizers of ``squeezebench.quantized.packing`` (the byte spec)."""

from __future__ import annotations

import pytest
import torch

from squeezebench.quantized.packing import (
    PackedFormat,
    dequantize,
    pack_codes,
    plan_format,
    quantize_affine,
    quantize_binary,
    quantize_ternary,
    unpack_codes,
)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("shape", [(1, 8), (3, 40), (7, 24), (5, 2, 16)])
def test_unpack_of_pack_is_the_identity(bits: int, shape: tuple[int, ...]) -> None:
    generator = torch.Generator().manual_seed(bits)
    codes = torch.randint(0, 1 << bits, shape, generator=generator, dtype=torch.uint8)
    packed = pack_codes(codes, bits)
    assert packed.dtype == torch.uint8
    assert packed.shape == (*shape[:-1], shape[-1] * bits // 8)
    assert torch.equal(unpack_codes(packed, bits), codes)


def test_bit_order_first_code_in_the_lowest_bits() -> None:
    assert pack_codes(torch.tensor([[1, 2, 3, 4]], dtype=torch.uint8), 4).tolist() == [[0x21, 0x43]]
    assert pack_codes(torch.tensor([1, 2, 3, 0], dtype=torch.uint8), 2).tolist() == [0x39]
    ones = torch.tensor([1, 0, 1, 1, 0, 0, 0, 1], dtype=torch.uint8)
    assert pack_codes(ones, 1).tolist() == [0x8D]
    assert pack_codes(torch.tensor([200, 7], dtype=torch.uint8), 8).tolist() == [200, 7]


def test_pack_refuses_bad_codes() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.15"):
        pack_codes(torch.tensor([16, 0], dtype=torch.uint8), 4)
    with pytest.raises(ValueError, match="multiple of 4"):
        pack_codes(torch.zeros(6, dtype=torch.uint8), 2)
    with pytest.raises(TypeError, match="uint8"):
        pack_codes(torch.zeros(8, dtype=torch.int32), 4)
    with pytest.raises(ValueError, match="bits must be one of"):
        pack_codes(torch.zeros(8, dtype=torch.uint8), 3)


def test_formats_pad_rows_to_whole_groups_and_bytes() -> None:
    per_channel = plan_format(32, 9, 4, "symmetric")
    assert (per_channel.padded_in_features, per_channel.groups) == (10, 1)
    assert per_channel.packed_shape == (32, 5) and per_channel.scale_shape == (32, 1)
    grouped = plan_format(32, 9, 4, "asymmetric", group_size=32)
    assert (grouped.padded_in_features, grouped.groups, grouped.row_bytes) == (32, 1, 16)
    exact = plan_format(64, 288, 2, "symmetric", group_size=32)
    assert (exact.padded_in_features, exact.groups, exact.row_bytes) == (288, 9, 72)
    binary = plan_format(4, 13, 1, "binary")
    assert (binary.padded_in_features, binary.row_bytes) == (16, 2)
    # packed bytes + float16 scales + uint8 zero points
    assert grouped.nbytes() == 32 * 16 + 32 * 2 + 32
    with pytest.raises(ValueError, match="positive multiple of 2"):
        plan_format(4, 8, 4, "symmetric", group_size=3)
    with pytest.raises(ValueError, match="binary"):
        PackedFormat(4, 8, 2, "binary", 8, 8)


def _exact_weight(rows: int, cols: int, bits: int, group: int, symmetric: bool) -> tuple:
    """A weight exactly on the quantization grid: codes times a power-of-two group scale."""
    generator = torch.Generator().manual_seed(rows * cols)
    groups = -(-cols // group)
    scales = 2.0 ** -torch.randint(1, 6, (rows, groups), generator=generator).float()
    if symmetric:
        qmax = (1 << (bits - 1)) - 1
        q = torch.randint(-qmax, qmax + 1, (rows, groups * group), generator=generator)
        q[:, ::group] = qmax  # every group reaches its maximum, so its scale is recovered
        zero = torch.zeros(rows, groups)
    else:
        levels = (1 << bits) - 1
        zero = torch.randint(1, levels, (rows, groups), generator=generator).float()
        q = torch.randint(0, levels + 1, (rows, groups * group), generator=generator)
        q[:, ::group], q[:, 1::group] = 0, levels  # the full range: scale and zero recovered
        q = q - zero.repeat_interleave(group, dim=1)
    weight = (q.float() * scales.repeat_interleave(group, dim=1))[:, :cols]
    return weight, scales, zero


@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize(("cols", "group"), [(64, 32), (96, 32), (48, 16), (128, 128)])
def test_weights_on_the_grid_round_trip_exactly(
    bits: int, symmetric: bool, cols: int, group: int
) -> None:
    weight, scales, zero = _exact_weight(5, cols, bits, group, symmetric)
    packed = quantize_affine(weight, bits, symmetric, group, torch.float32)
    assert packed.format.groups == cols // group
    assert torch.equal(packed.scales, scales)
    if not symmetric:
        assert torch.equal(packed.zero_points.float(), zero)
    assert torch.equal(packed.dequantize(), weight)


def test_group_boundaries_isolate_outliers() -> None:
    weight = torch.full((2, 96), 0.5)
    weight[:, 40] = 100.0  # in the second group of 32: columns 32..63
    packed = quantize_affine(weight, 4, True, 32, torch.float32)
    assert torch.allclose(packed.scales[:, 1], torch.tensor(100.0 / 7))
    assert torch.allclose(packed.scales[:, [0, 2]], torch.tensor(0.5 / 7))
    restored = packed.dequantize()
    assert torch.equal(restored[:, :32], weight[:, :32])
    assert torch.equal(restored[:, 64:], weight[:, 64:])
    assert restored[0, 40] == pytest.approx(100.0)


@pytest.mark.parametrize("symmetric", [True, False])
def test_odd_shapes_are_padded_with_the_zero_code(symmetric: bool) -> None:
    torch.manual_seed(0)
    weight = torch.randn(3, 37)
    packed = quantize_affine(weight, 4, symmetric, 16, torch.float16)
    fmt = packed.format
    assert (fmt.padded_in_features, fmt.groups, packed.packed.shape) == (48, 3, (3, 24))
    codes = unpack_codes(packed.packed, 4).reshape(3, 48)
    zero = 8 if symmetric else packed.zero_points[:, -1:]
    assert bool((codes[:, 37:] == zero).all())  # padding dequantizes to exactly 0
    restored = packed.dequantize()
    assert restored.shape == (3, 37)
    step = packed.scales.float().repeat_interleave(16, dim=1)[:, :37]
    assert bool(((restored - weight).abs() <= step / 2 + 1e-6).all())


def test_all_zero_groups_dequantize_to_zero_with_float16_scales() -> None:
    weight = torch.zeros(2, 32)
    weight[1, 16:] = 1e-9  # below float16's normal range
    for symmetric in (True, False):
        packed = quantize_affine(weight, 4, symmetric, 16, torch.float16)
        assert bool((packed.scales > 0).all()) and packed.scales.dtype == torch.float16
        assert torch.isfinite(packed.dequantize()).all()
        assert packed.dequantize().abs().max() < 1e-6


def test_binary_is_sign_times_mean_magnitude() -> None:
    torch.manual_seed(1)
    weight = torch.randn(6, 21)
    weight[0, 0] = 0.0  # sign(0) is +1
    packed = quantize_binary(weight, torch.float32)
    assert packed.packed.shape == (6, 3)
    scale = weight.abs().mean(dim=1, keepdim=True)
    assert torch.allclose(packed.scales, scale)
    expected = torch.where(weight >= 0, 1.0, -1.0) * packed.scales
    assert torch.equal(packed.dequantize(), expected)


def test_ternary_thresholds_at_a_fraction_of_the_mean_magnitude() -> None:
    torch.manual_seed(2)
    weight = torch.randn(4, 30)
    packed = quantize_ternary(weight, threshold=0.7, scale_dtype=torch.float32)
    assert packed.format.bits == 2 and packed.format.scheme == "symmetric"
    magnitude = weight.abs()
    kept = magnitude > 0.7 * magnitude.mean(dim=1, keepdim=True)
    scale = (magnitude * kept).sum(dim=1, keepdim=True) / kept.sum(dim=1, keepdim=True)
    assert torch.allclose(packed.scales, scale)
    expected = torch.sign(weight) * kept * packed.scales
    assert torch.equal(packed.dequantize(), expected)
    codes = unpack_codes(packed.packed, 2)
    assert set(codes.unique().tolist()) <= {1, 2, 3}  # -1, 0, +1 around the offset 2


def test_dequantize_needs_zero_points_for_asymmetric() -> None:
    packed = quantize_affine(torch.randn(2, 16), 4, False, None)
    with pytest.raises(ValueError, match="zero points"):
        dequantize(packed.format, packed.packed, packed.scales, None)
