"""The wide kernel's template instances, launch shapes and work partition (pure Python).

``weight_only_gemm_wide`` (``kernels/weight_only_gemm_wide.cu``) serves 9 to 64 batch rows
per launch over weights in the tiled layout: x staged in shared memory and shared by the
block's warps, striped partition of (output tile, K block) items over a grid of a few blocks
per SM. Like :mod:`~squeezebench.quantized.cuda.source`, nothing here imports torch or CuPy.
"""

from __future__ import annotations

from dataclasses import dataclass

from squeezebench.quantized.cuda.source import (
    ACTIVATIONS,
    FLAG,
    FUSED_BITS,
    SHARED_MEMORY_LIMIT,
    codes_per_lane,
)

MAX_WIDE_BATCH = 64
"""Batch rows one wide launch handles (8 tiles of 8); more rows run in chunks of 64."""

MAX_WIDE_CHUNKED_BATCH = 256
"""Up to this many rows the wide kernel is a candidate (in chunks of 64)."""


@dataclass(frozen=True)
class WideConfig:
    """Launch shape of the wide kernel.

    ``batch_tiles``: tiles of 8 staged batch rows (2, 4 or 8); ``row_tiles``: tiles of 16
    output rows per warp; ``warps`` per block (all on one output tile of ``16 * row_tiles *
    warps`` rows); ``stages``: K blocks in flight (shared-memory buffers of x, and the weight
    register ring); ``blocks_per_sm``: the grid is this many blocks per SM (at most one per
    work item).
    """

    batch_tiles: int
    row_tiles: int
    warps: int
    stages: int = 2
    blocks_per_sm: int = 2

    @property
    def rows_per_tile(self) -> int:
        """Output rows of one work tile."""
        return 16 * self.row_tiles * self.warps

    @property
    def threads(self) -> int:
        return 32 * self.warps

    def shared_bytes(self, bits: int) -> int:
        """Static shared memory: ``stages`` buffers of staged x, and one flag."""
        return self.stages * 8 * self.batch_tiles * 2 * 4 * codes_per_lane(bits) + 4

    @property
    def allows_scale_after(self) -> bool:
        """The integer path's second set of accumulators fits the registers."""
        return self.batch_tiles * self.row_tiles <= 8

    def work_items(self, out_features: int, padded_in_features: int, bits: int) -> int:
        """(output tile, K block) items of a layer."""
        tiles = -(-out_features // self.rows_per_tile)
        return tiles * (padded_in_features // (4 * codes_per_lane(bits)))

    def grid(self, out_features: int, padded_in_features: int, bits: int, sms: int) -> int:
        """Blocks of one launch on a GPU with ``sms`` multiprocessors."""
        items = self.work_items(out_features, padded_in_features, bits)
        return max(1, min(items, sms * self.blocks_per_sm))

    def __str__(self) -> str:
        return (
            f"wide-nt{self.batch_tiles}-r{self.row_tiles}-w{self.warps}-s{self.stages}"
            f"-b{self.blocks_per_sm}"
        )


DEFAULT_WIDE_CONFIGS: dict[int, WideConfig] = {
    2: WideConfig(2, 2, 4, 3, 2),
    4: WideConfig(4, 2, 4, 2, 2),
    8: WideConfig(8, 1, 4, 2, 2),
}
"""Launch shape per batch tiles: chosen for registers (no spill on sm_90, see
``benchmarks/cuda/sass_figures.py``) and static shared memory, NOT tuned on a GPU yet."""


def wide_batch_tiles(batch: int) -> int:
    """Batch tiles (2, 4 or 8) of a wide launch of ``batch`` rows (1 to 64)."""
    if not 1 <= batch <= MAX_WIDE_BATCH:
        raise ValueError(f"the wide kernel takes 1 to {MAX_WIDE_BATCH} rows (got {batch})")
    tiles = -(-batch // 8)
    return 2 if tiles <= 2 else 4 if tiles <= 4 else 8


def wide_config(batch: int) -> WideConfig:
    """The launch shape for ``batch`` rows."""
    return DEFAULT_WIDE_CONFIGS[wide_batch_tiles(batch)]


def wide_supported(bits: int, scheme: str, layout: str, scale_dtype: str, activation: str) -> bool:
    """Whether the wide kernel takes this format and activation dtype: the tiled layout,
    4 or 8 bits, affine, float16 scales, float16 or bfloat16 activations."""
    return (
        layout == "tiled"
        and bits in FUSED_BITS
        and scheme in ("symmetric", "asymmetric")
        and scale_dtype == "float16"
        and activation in ACTIVATIONS
    )


def wide_scale_after(bits: int, group_size: int, groups: int, config: WideConfig) -> bool:
    """The integer path: one group per row per K block, and the registers for it."""
    aligned = groups == 1 or group_size % (4 * codes_per_lane(bits)) == 0
    return aligned and config.allows_scale_after


def wide_name(activation: str, bits: int, asymmetric: bool, config: WideConfig, after: bool) -> str:
    """The template instance (NVRTC name expression) of the wide kernel."""
    return (
        f"weight_only_gemm_wide<{ACTIVATIONS[activation]}, {bits}, {FLAG[asymmetric]}, "
        f"{config.batch_tiles}, {config.row_tiles}, {config.warps}, {config.stages}, "
        f"{FLAG[after]}>"
    )


def all_wide_instances() -> list[str]:
    """Every wide instance the dispatcher can launch."""
    return [
        wide_name(activation, bits, asymmetric, config, after)
        for activation in ACTIVATIONS
        for bits in FUSED_BITS
        for asymmetric in (False, True)
        for config in DEFAULT_WIDE_CONFIGS.values()
        for after in (False, True)
        if config.allows_scale_after or not after
    ]


def check_wide_configs() -> list[str]:
    """Problems of :data:`DEFAULT_WIDE_CONFIGS` (an empty list when all is well)."""
    problems = []
    for tiles, config in DEFAULT_WIDE_CONFIGS.items():
        if config.batch_tiles != tiles:
            problems.append(f"{config} is filed under {tiles} batch tiles")
        for bits in FUSED_BITS:
            need = config.shared_bytes(bits)
            if need > SHARED_MEMORY_LIMIT:
                problems.append(f"{config} needs {need} bytes of shared memory for {bits} bits")
    return problems
