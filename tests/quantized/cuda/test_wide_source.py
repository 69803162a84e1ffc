"""The wide kernel's launch shapes, names and the formats it takes (no GPU needed)."""

from __future__ import annotations

import pytest

from squeezebench.quantized.cuda import wide_source
from squeezebench.quantized.cuda.wide_source import WideConfig


def test_batch_tiles_cover_the_batch_up_to_64_rows() -> None:
    tiles = [wide_source.wide_batch_tiles(b) for b in (1, 9, 16, 17, 32, 33, 64)]
    assert tiles == [2, 2, 2, 4, 4, 8, 8]
    with pytest.raises(ValueError, match="1 to 64 rows"):
        wide_source.wide_batch_tiles(65)


def test_default_configs_fit_shared_memory_and_registers() -> None:
    assert wide_source.check_wide_configs() == []
    assert all(c.allows_scale_after for c in wide_source.DEFAULT_WIDE_CONFIGS.values())
    config = WideConfig(8, 1, 4, 2)
    assert config.shared_bytes(4) == 2 * 64 * 256 + 4  # two K blocks of 64 rows of int4 x
    assert config.rows_per_tile == 64 and config.threads == 128


def test_the_wide_kernel_takes_tiled_float16_scale_formats_only() -> None:
    assert wide_source.wide_supported(4, "symmetric", "tiled", "float16", "float16")
    assert wide_source.wide_supported(8, "asymmetric", "tiled", "float16", "bfloat16")
    assert not wide_source.wide_supported(4, "symmetric", "rows", "float16", "float16")
    assert not wide_source.wide_supported(4, "symmetric", "tiled", "float32", "float16")
    assert not wide_source.wide_supported(4, "symmetric", "tiled", "float16", "float32")
    assert not wide_source.wide_supported(2, "symmetric", "tiled", "float16", "float16")


def test_wide_names_are_template_instances() -> None:
    name = wide_source.wide_name("bfloat16", 8, True, WideConfig(4, 2, 4, 2), True)
    assert name == "weight_only_gemm_wide<BF16, 8, true, 4, 2, 4, 2, true>"
    names = wide_source.all_wide_instances()
    assert len(names) == len(set(names)) == 2 * 2 * 2 * 3 * 2


def test_integer_path_needs_one_group_per_k_block() -> None:
    config = wide_source.DEFAULT_WIDE_CONFIGS[8]
    assert wide_source.wide_scale_after(4, 128, 64, config)
    assert not wide_source.wide_scale_after(4, 32, 256, config)
    assert wide_source.wide_scale_after(8, 4096, 1, config)
