"""The kernels' index arithmetic (``kernels/layout.cu``), run on the CPU with the host compiler.

``layout.cu`` is plain integer C++: compiled here with g++ into a small probe, it gives the
byte offsets, group indices, shared-memory swizzle and work stripes the kernels use. The
tests check them against the Python tiled layout and emulate what each warp lane reads and
feeds the tensor cores, without a GPU.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import torch

from squeezebench.quantized.cuda import source
from squeezebench.quantized.cuda.wide_source import DEFAULT_WIDE_CONFIGS
from squeezebench.quantized.layout import block_codes, lane_codes, tile_bytes, tile_groups
from squeezebench.quantized.packing import pack_codes, plan_format

compiler = shutil.which("g++") or shutil.which("c++")
pytestmark = pytest.mark.skipif(compiler is None, reason="no host C++ compiler (g++)")

DRIVER = r"""
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "layout.cu"

int main(int argc, char** argv) {
    const char* mode = argv[1];
    int a = argc > 2 ? atoi(argv[2]) : 0, b = argc > 3 ? atoi(argv[3]) : 0;
    int c = argc > 4 ? atoi(argv[4]) : 0;
    if (!strcmp(mode, "code")) {  // rows, Kp, bits
        for (int n = 0; n < a; ++n)
            for (int k = 0; k < b; ++k) {
                int shift = -1;
                long long offset = tiled_code_offset(n, k, b / (512 / c), c, &shift);
                printf("%lld %d\n", offset, shift);
            }
    } else if (!strcmp(mode, "chunk")) {  // tiles, blocks_k
        for (int tile = 0; tile < a; ++tile)
            for (int kb = 0; kb < b; ++kb)
                for (int h = 0; h < 2; ++h)
                    for (int lane = 0; lane < 32; ++lane)
                        printf("%lld\n", tiled_chunk_offset(tile, kb, h, lane, b));
    } else if (!strcmp(mode, "group")) {  // rows, groups
        for (int n = 0; n < a; ++n)
            for (int g = 0; g < b; ++g) printf("%lld\n", tiled_group_index(n, g, b));
    } else if (!strcmp(mode, "swizzle")) {  // rows, chunks per row, bits
        for (int n = 0; n < a; ++n)
            for (int t = 0; t < 4; ++t)
                for (int v = 0; v < 16 / c; ++v)
                    printf("%d\n", swizzled_chunk(n, lane_chunk(t, v, c), b));
    } else if (!strcmp(mode, "stripe")) {  // grid, total
        for (int block = 0; block <= a; ++block) printf("%d\n", stripe_begin(block, a, b));
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layout_probe")
    (folder / "driver.cpp").write_text(DRIVER)
    binary = folder / "probe"
    kernels = str(source.KERNEL_DIR)
    command = [compiler, "-std=c++17", "-O1", "-I", kernels, "-o", str(binary), "driver.cpp"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    def run(*args: object) -> np.ndarray:
        out = subprocess.run([str(binary), *map(str, args)], capture_output=True, check=True)
        return np.array(out.stdout.split(), dtype=np.int64)

    return run


def _random_codes(rows: int, cols: int, bits: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 1 << bits, (rows, cols), generator=generator).to(torch.uint8)


@pytest.mark.parametrize(("bits", "rows", "cols"), [(4, 32, 256), (8, 16, 192)])
def test_code_offsets_of_the_kernels_find_every_code_of_the_python_layout(
    probe, bits, rows, cols
) -> None:
    fmt = plan_format(rows, cols, bits, "symmetric", None, layout="tiled")
    codes = _random_codes(rows, cols, bits, seed=bits)
    tiled = tile_bytes(pack_codes(codes, bits), fmt).flatten().numpy()
    found = probe("code", rows, cols, bits).reshape(rows, cols, 2)
    offsets, shifts = found[..., 0], found[..., 1]
    read = (tiled[offsets] >> shifts) & ((1 << bits) - 1)
    assert np.array_equal(read, codes.numpy())
    assert len(np.unique(offsets * 8 + shifts)) == rows * cols  # each code has its own bits


def test_group_indices_of_the_kernels_match_the_tile_major_scales(probe) -> None:
    fmt = plan_format(48, 512, 4, "symmetric", 64, layout="tiled")
    scales = torch.arange(48 * 8, dtype=torch.float32).reshape(48, 8)
    tiled = tile_groups(scales, fmt).flatten().numpy()
    index = probe("group", 48, 8).reshape(48, 8)
    assert np.array_equal(tiled[index], scales.numpy())


def _pair(word: int, p: int, bits: int) -> tuple[int, int]:
    """What the kernels' dequantization of pair p of a 32-bit word yields (documented at
    Codes<BITS> and integer_pair in weight_only_gemm.cu): nibbles (p, p + 4) for int4,
    bytes (p, p + 2) for int8."""
    mask = (1 << bits) - 1  # the second code of a pair lies 16 bits above the first
    return (word >> (p * bits)) & mask, (word >> (p * bits + 16)) & mask


@pytest.mark.parametrize(
    ("bits", "rows", "cols", "group"), [(4, 32, 256, 32), (4, 16, 384, None), (8, 32, 128, 16)]
)
def test_lanes_feed_the_tensor_cores_the_reference_weights(probe, bits, rows, cols, group) -> None:
    """Emulate every lane of the fused and wide kernels on the tiled layout: the 16 bytes at
    its chunk offset, dequantized pair by pair into the A-fragment slots of each mma step,
    meet in each slot the activation at the same K position (the B register the kernel
    pairs with it), with the scale found at its group index; every weight exactly once."""
    fmt = plan_format(rows, cols, bits, "asymmetric", group, layout="tiled")
    codes = _random_codes(rows, cols, bits, seed=rows + bits)
    generator = torch.Generator().manual_seed(1)
    scales = torch.rand(fmt.scale_shape, generator=generator) + 0.5
    zeros = torch.randint(0, 1 << bits, fmt.scale_shape, generator=generator)
    reference = (codes.float() - zeros.repeat_interleave(fmt.group_size, 1)) * (
        scales.repeat_interleave(fmt.group_size, 1)
    )
    tiled = tile_bytes(pack_codes(codes, bits), fmt).flatten().numpy()
    tiled_scales = tile_groups(scales, fmt).flatten().numpy()
    tiled_zeros = tile_groups(zeros, fmt).flatten().numpy()
    cpt, kb_codes = lane_codes(bits), block_codes(bits)
    tiles, blocks_k = rows // 16, cols // kb_codes
    chunk = probe("chunk", tiles, blocks_k).reshape(tiles, blocks_k, 2, 32)
    group_index = probe("group", rows, fmt.groups).reshape(rows, fmt.groups)
    rebuilt = torch.full((rows, cols), float("nan"))
    steps = 2 if bits == 4 else 1  # mma steps per word
    for tile in range(tiles):
        for kb in range(blocks_k):
            for h in range(2):
                for lane in range(32):
                    g, t = lane >> 2, lane & 3
                    row, k0 = 16 * tile + 8 * h + g, kb * kb_codes + t * cpt
                    start = chunk[tile, kb, h, lane]
                    words = tiled[start : start + 16].view("<u4")
                    where = group_index[row, k0 // fmt.group_size]
                    scale, zero = tiled_scales[where], tiled_zeros[where]
                    for w, word in enumerate(int(x) for x in words):
                        for s in range(steps):
                            # B registers of step s: b0 = halves (4s, 4s+1) of the word's
                            # 8 activations (int4; int8: a word spans 4), b1 = the next two
                            base = k0 + (8 * w if bits == 4 else 4 * w) + 4 * s
                            for p, k in ((2 * s, base), (2 * s + 1, base + 2)):
                                for e, code in enumerate(_pair(word, p, bits)):
                                    assert torch.isnan(rebuilt[row, k + e])  # once only
                                    rebuilt[row, k + e] = (code - float(zero)) * float(scale)
    assert torch.equal(rebuilt, reference)


@pytest.mark.parametrize("bits", [4, 8])
def test_staged_activations_are_read_without_bank_conflicts(probe, bits) -> None:
    chunks = 2 * block_codes(bits) // 16
    per_lane = 16 // bits
    rows = 64
    stored = probe("swizzle", rows, chunks, bits).reshape(rows, 4, per_lane)
    for n in range(rows):  # a permutation of the row's chunks
        assert sorted(stored[n].flatten().tolist()) == list(range(chunks))
    for j in range(rows // 8):  # one ld.shared.v4 per n tile j and vector v
        for v in range(per_lane):
            for quarter in range(4):  # served 8 lanes at a time
                groups = set()
                for lane in range(8 * quarter, 8 * quarter + 8):
                    n = 8 * j + (lane >> 2)
                    groups.add((n * chunks + stored[n, lane & 3, v]) % 8)
                assert len(groups) == 8  # 8 different 16-byte bank groups


@pytest.mark.parametrize(("tiles", "blocks_k", "grid"), [(128, 64, 264), (448, 64, 264), (7, 5, 4)])
def test_stripes_cover_every_work_item_once_and_complete_each_tile_once(
    probe, tiles, blocks_k, grid
) -> None:
    """Emulate the wide kernel's loop over its stripe: segments per tile, the arrival
    counters of split tiles, and who writes each tile."""
    total = tiles * blocks_k
    bounds = probe("stripe", grid, total)
    assert bounds[0] == 0 and bounds[-1] == total
    sizes = np.diff(bounds)
    assert sizes.max() - sizes.min() <= 1
    covered = np.zeros(total, dtype=int)
    counters = np.zeros(tiles, dtype=int)
    writers = np.zeros(tiles, dtype=int)
    for block in range(grid):
        item, end = bounds[block], bounds[block + 1]
        while item < end:
            u, kb_begin = divmod(item, blocks_k)
            kb_end = min(blocks_k, kb_begin + (end - item))
            covered[item : item + kb_end - kb_begin] += 1
            item += kb_end - kb_begin
            if kb_begin == 0 and kb_end == blocks_k:
                writers[u] += 1  # whole tile: written directly
            else:
                counters[u] += kb_end - kb_begin
                writers[u] += counters[u] == blocks_k  # the completing block writes
    assert (covered == 1).all() and (writers == 1).all()


def test_grids_of_the_wide_configs_fit_the_work() -> None:
    config = DEFAULT_WIDE_CONFIGS[8]
    assert config.grid(28672, 8192, 4, sms=132) == 264
    assert config.grid(64, 128, 4, sms=132) == 1  # one tile, one K block: one block
    assert config.work_items(28672, 8192, 4) == 448 * 64
