"""The CUDA sources of the packed-weight kernels, their template instances and launch shapes.

Pure Python (no torch, no CuPy): the dispatcher, the benchmark and the ``nvcc`` compile test
all read the kernel names and configurations from here, so they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

KERNEL_DIR = Path(__file__).parent / "kernels"
SOURCE_FILES: tuple[Path, ...] = (
    KERNEL_DIR / "layout.cu",
    KERNEL_DIR / "weight_only_gemm.cu",
    KERNEL_DIR / "weight_only_gemm_wide.cu",
)
"""The kernel source, in this order: index arithmetic, the fused and dequantize kernels,
the wide kernel (each file uses the ones before it)."""
COMPILE_OPTIONS: tuple[str, ...] = ("-std=c++17",)
"""Options for NVRTC (through CuPy) and nvcc alike."""

FUSED_BITS: tuple[int, ...] = (4, 8)
ACTIVATIONS: dict[str, str] = {"float16": "F16", "bfloat16": "BF16"}
"""Activation dtypes the fused kernel takes, and their template tags."""

MAX_FUSED_BATCH = 32
"""Batch rows one fused launch handles (4 mma tiles of 8)."""

MAX_CHUNKED_BATCH = 128
"""Up to this many rows the fused kernel runs in chunks of :data:`MAX_FUSED_BATCH` (each
chunk reads the packed weights once more); above it, dequantize once and use cuBLAS."""

SHARED_MEMORY_LIMIT = 48 * 1024
"""Static shared memory a block may use without opting in."""


def source() -> str:
    """The CUDA C++ source of every kernel."""
    return "\n".join(_read(path) for path in SOURCE_FILES)


@functools.cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def codes_per_lane(bits: int) -> int:
    """Codes one lane reads per K block: 16 bytes of them (32 int4 or 16 int8)."""
    return 128 // bits


@dataclass(frozen=True)
class FusedConfig:
    """Launch shape of the fused kernel.

    ``batch_tiles``: tiles of 8 batch rows per launch (1, 2 or 4); ``row_tiles``: tiles of
    16 output rows per warp; ``warps`` per block; ``stages``: K blocks each warp keeps in
    flight; ``split_k``: the block's warps share their rows and split K (summed in shared
    memory), or each warp owns its rows and walks all of K.
    """

    batch_tiles: int
    row_tiles: int
    warps: int
    stages: int = 2
    split_k: bool = True

    @property
    def rows_per_block(self) -> int:
        return 16 * self.row_tiles * (1 if self.split_k else self.warps)

    @property
    def threads(self) -> int:
        return 32 * self.warps

    @property
    def shared_bytes(self) -> int:
        """The block's reduction buffer: one float per accumulator of every lane."""
        if not self.split_k:
            return 0
        return self.warps * self.row_tiles * self.batch_tiles * 4 * 32 * 4

    def blocks(self, out_features: int) -> int:
        return -(-out_features // self.rows_per_block)

    @property
    def allows_scale_after(self) -> bool:
        """The integer path keeps a second set of accumulators: only where registers allow
        (larger shapes would spill)."""
        return self.batch_tiles * self.row_tiles <= 4

    def __str__(self) -> str:
        split = "split-k" if self.split_k else "own-rows"
        return f"nt{self.batch_tiles}-r{self.row_tiles}-w{self.warps}-s{self.stages}-{split}"


DEFAULT_CONFIGS: dict[int, FusedConfig] = {
    1: FusedConfig(1, 2, 8, 2, True),
    2: FusedConfig(2, 4, 8, 2, True),
    4: FusedConfig(4, 2, 4, 2, True),
}
"""The configuration used for each number of batch tiles (see ``docs/kernels.md``)."""

SWEEP_CONFIGS: tuple[FusedConfig, ...] = (
    *(
        FusedConfig(1, r, w, st, True)
        for r in (1, 2, 4)
        for w in (4, 8)
        for st in (2, 3)
        if (r, w, st) != (1, 4, 2)  # spills 8 bytes
    ),
    *(FusedConfig(1, r, w, 3, False) for r in (1, 2) for w in (4, 8)),
    *(FusedConfig(2, 2, w, st, True) for w in (4, 8) for st in (2, 3)),
    *(FusedConfig(2, 4, w, 2, True) for w in (4, 8)),
    *(FusedConfig(2, r, w, 2, False) for r in (2, 4) for w in (4, 8)),
    *(FusedConfig(4, r, 4, 2, split) for r in (1, 2) for split in (True, False)),
)
"""Configurations the kernel benchmark's ``--sweep`` compares (none spills registers on
sm_90 with nvcc 13.0)."""


def batch_tiles_for(batch: int) -> int:
    """Tiles of 8 rows that hold ``batch`` rows (1, 2 or 4), for ``batch <= 32``."""
    if not 1 <= batch <= MAX_FUSED_BATCH:
        raise ValueError(f"the fused kernel takes 1 to {MAX_FUSED_BATCH} rows (got {batch})")
    tiles = -(-batch // 8)
    return 1 if tiles == 1 else 2 if tiles == 2 else 4


CONFIGS_VARIABLE = "SQUEEZEBENCH_CUDA_CONFIGS"
"""Path of a JSON file of launch shapes per batch tiles (what ``benchmarks/cuda/
weight_only_kernels.py --sweep`` writes for the GPU it ran on); overrides the defaults."""


def fused_config(batch: int) -> FusedConfig:
    """The launch shape for ``batch`` rows."""
    return configs_in_use()[batch_tiles_for(batch)]


def configs_in_use() -> dict[int, FusedConfig]:
    """:data:`DEFAULT_CONFIGS`, with those of the file named by ``SQUEEZEBENCH_CUDA_CONFIGS``."""
    path = os.environ.get(CONFIGS_VARIABLE)
    return {**DEFAULT_CONFIGS, **_configs_from(path)} if path else DEFAULT_CONFIGS


@functools.cache
def _configs_from(path: str) -> dict[int, FusedConfig]:
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
        configs = {int(tiles): FusedConfig(**fields) for tiles, fields in entries.items()}
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{CONFIGS_VARIABLE}={path}: not a launch-shape file ({error})") from None
    for tiles, config in configs.items():
        if config.batch_tiles != tiles or config.shared_bytes > SHARED_MEMORY_LIMIT:
            raise ValueError(f"{CONFIGS_VARIABLE}={path}: {config} cannot serve {tiles} tiles")
    return configs


def configs_to_json(configs: dict[int, FusedConfig]) -> str:
    """The file format of ``SQUEEZEBENCH_CUDA_CONFIGS``."""
    return json.dumps({str(k): dataclasses.asdict(v) for k, v in configs.items()}, indent=1)


FLAG = {True: "true", False: "false"}


def fused_name(
    activation: str,
    bits: int,
    asymmetric: bool,
    float32_scales: bool,
    config: FusedConfig,
    scale_after: bool = False,
    tiled: bool = False,
) -> str:
    """The template instance (NVRTC name expression) of the fused kernel."""
    return (
        f"weight_only_gemm<{ACTIVATIONS[activation]}, {bits}, {FLAG[asymmetric]}, "
        f"{FLAG[float32_scales]}, {config.batch_tiles}, {config.row_tiles}, {config.warps}, "
        f"{config.stages}, {FLAG[config.split_k]}, {FLAG[scale_after]}, {FLAG[tiled]}>"
    )


def scale_after(bits: int, group_size: int, groups: int, config: FusedConfig) -> bool:
    """Whether the kernel may multiply by the scale after the product: a quad of lanes reads
    one group per row per K block (per channel, or groups of whole K blocks) and the launch
    shape has the registers for it."""
    aligned = groups == 1 or group_size % (4 * codes_per_lane(bits)) == 0
    return aligned and config.allows_scale_after


DEQUANTIZE_SCHEMES: dict[str, int] = {"symmetric": 0, "asymmetric": 1, "binary": 2}
DEQUANTIZE_OUTPUTS: dict[str, int] = {"float16": 0, "bfloat16": 1, "float32": 2}


def dequantize_name(
    bits: int, scheme: str, float32_scales: bool, output: str, tiled: bool = False
) -> str:
    """The template instance of the dequantize kernel."""
    return (
        f"dequantize_packed<{bits}, {DEQUANTIZE_SCHEMES[scheme]}, {FLAG[float32_scales]}, "
        f"{DEQUANTIZE_OUTPUTS[output]}, {FLAG[tiled]}>"
    )


def fused_supported(bits: int, scheme: str, group_size: int, groups: int, padded: int) -> bool:
    """Whether the fused kernel takes this packed format.

    It needs 4 or 8 bits, an affine scheme, rows of whole 16-byte chunks, and each lane's
    chunk of codes inside one group: per channel, or power-of-two groups (the kernels find a
    code's group with a shift) of at least one chunk.
    """
    if bits not in FUSED_BITS or scheme not in ("symmetric", "asymmetric"):
        return False
    chunk = codes_per_lane(bits)
    power_of_two = group_size & (group_size - 1) == 0
    return padded % chunk == 0 and (groups == 1 or (group_size >= chunk and power_of_two))


def all_instances() -> list[str]:
    """Every template instance the dispatcher can launch (what the nvcc test compiles)."""
    from squeezebench.quantized.cuda import wide_source

    names = [
        fused_name(activation, bits, asymmetric, f32, config, after, tiled)
        for activation in ACTIVATIONS
        for bits in FUSED_BITS
        for asymmetric in (False, True)
        for f32 in (False, True)
        for config in DEFAULT_CONFIGS.values()
        for after in (False, True)
        for tiled in (False, True)
        if config.allows_scale_after or not after
    ]
    names += wide_source.all_wide_instances()
    names += [
        dequantize_name(bits, scheme, f32, output, tiled)
        for bits, scheme in (
            *((b, s) for b in (2, 4, 8) for s in ("symmetric", "asymmetric")),
            (1, "binary"),
        )
        for f32 in (False, True)
        for output in DEQUANTIZE_OUTPUTS
        for tiled in (False, True)
        if (bits in FUSED_BITS and scheme != "binary") or not tiled
    ]
    return names


_SIGNATURES = {
    "weight_only_gemm_wide": (
        "(const u8*, const u16*, const u8*, const float*, const u16*, u16*, float*, "
        "unsigned*, int, int, int, int, int, long long, long long)"
    ),
    "weight_only_gemm": (
        "(const u8*, const void*, const u8*, const float*, const u16*, u16*, "
        "int, int, int, int, int, long long, long long)"
    ),
    "dequantize_packed": (
        "(const u8*, const void*, const u8*, void*, int, int, int, int, int, long long)"
    ),
}


_MANGLED_PARAMETERS = {
    "weight_only_gemm_wide": "vPKhPKtS2_PKfS4_PtPfPjiiiiixx",
    "weight_only_gemm": "vPKhPKvS2_PKfPKtPtiiiiixx",
    "dequantize_packed": "vPKhPKvS1_Pviiiiix",
}
"""The Itanium-mangled return and parameter types of each kernel (fixed per kernel: its
template arguments always hold one type, or none, so substitutions number the same)."""


def mangled_name(name: str) -> str:
    """The symbol of template instance ``name`` (``weight_only_gemm<F16, 4, ...>``), as the
    compiler mangles it (checked against nvcc and NVRTC by the compile tests)."""
    kernel, arguments = name.rstrip(">").split("<", 1)
    encoded = []
    for argument in (a.strip() for a in arguments.split(",")):
        if argument in ("true", "false"):
            encoded.append(f"Lb{int(argument == 'true')}E")
        elif argument.isdigit():
            encoded.append(f"Li{argument}E")
        else:
            encoded.append(f"{len(argument)}{argument}")
    return f"_Z{len(kernel)}{kernel}I{''.join(encoded)}E{_MANGLED_PARAMETERS[kernel]}"


def explicit_instantiations(names: list[str]) -> str:
    """C++ that instantiates ``names`` (for compiling with nvcc, which has no name list)."""
    lines = []
    for name in names:
        signature = _SIGNATURES[name.split("<", 1)[0]]
        lines.append(f"template __global__ void {name}{signature};")
    return "\n".join(lines) + "\n"
