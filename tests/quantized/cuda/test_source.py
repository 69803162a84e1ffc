"""Kernel names, launch shapes and the formats the fused kernel takes (no GPU needed)."""

from __future__ import annotations

import pytest

from squeezebench.quantized.cuda import source


def test_batch_tiles_cover_the_batch() -> None:
    assert [source.batch_tiles_for(b) for b in (1, 8, 9, 16, 17, 24, 25, 32)] == [
        1, 1, 2, 2, 4, 4, 4, 4,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="1 to 32 rows"):
        source.batch_tiles_for(33)


def test_every_default_config_fits_static_shared_memory() -> None:
    for config in (*source.DEFAULT_CONFIGS.values(), *source.SWEEP_CONFIGS):
        assert config.shared_bytes <= source.SHARED_MEMORY_LIMIT
        assert config.threads <= 1024


def test_blocks_cover_every_row() -> None:
    config = source.FusedConfig(1, 2, 8)
    assert config.rows_per_block == 32
    assert config.blocks(32) == 1 and config.blocks(33) == 2 and config.blocks(28672) == 896
    own_rows = source.FusedConfig(1, 2, 4, split_k=False)  # each warp its own 32 rows
    assert own_rows.rows_per_block == 128 and own_rows.shared_bytes == 0


def test_integer_path_needs_one_group_per_k_block_and_registers() -> None:
    small = source.FusedConfig(1, 2, 8)
    assert source.scale_after(4, 128, 64, small)  # int4: a K block is 128 codes
    assert not source.scale_after(4, 64, 128, small)  # two groups per K block
    assert source.scale_after(8, 64, 16, small) and source.scale_after(4, 1000, 1, small)
    assert not source.scale_after(4, 128, 64, source.FusedConfig(2, 4, 8))  # would spill


def test_fused_name_is_the_template_instance() -> None:
    name = source.fused_name("bfloat16", 4, True, False, source.FusedConfig(2, 2, 8, 3, False))
    assert name == "weight_only_gemm<BF16, 4, true, false, 2, 2, 8, 3, false, false, false>"
    tiled = source.fused_name("float16", 8, False, False, source.FusedConfig(1, 2, 8), True, True)
    assert tiled == "weight_only_gemm<F16, 8, false, false, 1, 2, 8, 2, true, true, true>"
    assert source.dequantize_name(2, "asymmetric", True, "float32") == (
        "dequantize_packed<2, 1, true, 2, false>"
    )
    assert source.dequantize_name(4, "symmetric", False, "float16", tiled=True) == (
        "dequantize_packed<4, 0, false, 0, true>"
    )


@pytest.mark.parametrize(
    ("bits", "scheme", "group_size", "groups", "padded", "fused"),
    [
        (4, "symmetric", 128, 64, 8192, True),
        (4, "asymmetric", 32, 4, 128, True),
        (4, "symmetric", 1024, 1, 1024, True),  # per channel, whole chunks
        (4, "symmetric", 1030, 1, 1030, False),  # per channel, a row is not whole chunks
        (4, "symmetric", 48, 3, 144, False),  # a lane's 32 codes would straddle groups
        (8, "symmetric", 16, 8, 128, True),
        (8, "symmetric", 1024, 1, 1024, True),
        (2, "symmetric", 128, 1, 128, False),  # 2 bits: dequantize path
        (1, "binary", 128, 1, 128, False),
    ],
)
def test_fused_kernel_formats(bits, scheme, group_size, groups, padded, fused) -> None:
    assert source.fused_supported(bits, scheme, group_size, groups, padded) is fused


def test_instances_name_each_kernel_once() -> None:
    names = source.all_instances()
    assert len(names) == len(set(names))
    with_integer_path = sum(c.allows_scale_after for c in source.DEFAULT_CONFIGS.values())
    layouts = 2  # rows and tiled
    assert sum(n.startswith("weight_only_gemm<") for n in names) == 2 * 2 * 2 * 2 * layouts * (
        3 + with_integer_path
    )
    dequantize = [n for n in names if n.startswith("dequantize_packed")]
    assert len(dequantize) == (7 + 4) * 2 * 3  # 7 row formats, 4 of them tiled too
    assert "template __global__ void" in source.explicit_instantiations(names[:1])
    assert "float*, unsigned*" in source.explicit_instantiations(
        [n for n in names if n.startswith("weight_only_gemm_wide")][:1]
    )


def test_the_source_is_the_kernel_files_in_order() -> None:
    text = source.source()
    positions = [text.index(path.read_text()[:200]) for path in source.SOURCE_FILES]
    assert positions == sorted(positions)


def test_kernels_find_groups_with_a_shift() -> None:
    from squeezebench.quantized.cuda.launch import group_shift

    assert group_shift(128, 64) == 7 and group_shift(11008, 1) == 0  # per channel: unused
    with pytest.raises(ValueError, match="power-of-two group sizes"):
        group_shift(96, 4)
    assert not source.fused_supported(4, "symmetric", 96, 4, 384)  # dequantize path


def test_mangled_names_are_the_compilers() -> None:
    """Symbols as nvcc 13.0 emitted them (test_compile and test_nvrtc check every instance
    where a compiler is present)."""
    fused = "weight_only_gemm<F16, 4, false, false, 1, 2, 8, 2, true, true, true>"
    assert source.mangled_name(fused) == (
        "_Z16weight_only_gemmI3F16Li4ELb0ELb0ELi1ELi2ELi8ELi2ELb1ELb1ELb1EE"
        "vPKhPKvS2_PKfPKtPtiiiiixx"
    )
    assert source.mangled_name("weight_only_gemm_wide<BF16, 8, true, 4, 2, 4, 2, false>") == (
        "_Z21weight_only_gemm_wideI4BF16Li8ELb1ELi4ELi2ELi4ELi2ELb0EEvPKhPKtS2_PKfS4_PtPfPjiiiiixx"
    )
    assert source.mangled_name("dequantize_packed<4, 0, false, 0, true>") == (
        "_Z17dequantize_packedILi4ELi0ELb0ELi0ELb1EEvPKhPKvS1_Pviiiiix"
    )
