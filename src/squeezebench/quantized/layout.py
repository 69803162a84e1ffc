"""The tiled layout of packed weights (format version 2): bytes in the order kernels read them.

The row layout (version 1, ``docs/methods/quantization.md``) stores each row's codes
left to right. A CUDA warp of the fused kernels reads 16 output rows at a time, each lane
16 bytes of two rows per K block, so in the row layout one warp load touches 8 rows, 64
bytes each. The tiled layout permutes the same bytes once, at pack time, so that a warp
streams contiguous runs of 512 bytes, already in the order its lanes feed the tensor cores:

* **Tiles.** Rows are cut into tiles of 16 (``TILE_ROWS``), K into blocks of ``KB`` codes
  (128 int4 / 64 int8: 64 bytes of a row). Tile ``T``, K block ``kb`` is 1024 bytes at
  offset ``(T * blocks_k + kb) * 1024``.
* **Lanes.** Inside a tile, half ``h`` (rows ``8h .. 8h + 7``) and lane ``l = 4g + t`` own
  the 16 bytes at ``(32h + l) * 16``: the codes ``[t * CPT, (t + 1) * CPT)`` of the K block
  (``CPT`` = 32 int4 / 16 int8 codes) of row ``16T + 8h + g``. A warp's load of half ``h``
  is 512 contiguous bytes.
* **Words.** Each 32-bit word of a lane's 16 bytes holds 8 int4 (4 int8) consecutive codes,
  interleaved so that the kernel's dequantization, which yields pairs of (nibble ``p``,
  nibble ``p + 4``) (bytes ``p``, ``p + 2`` for int8), yields consecutive codes: stored
  position ``p`` holds code ``WORD_ORDER[bits][p]``. The activations then enter the tensor
  cores as they lie in memory, with no permute instructions.
* **Groups.** ``scales`` and ``zero_points`` keep their shape ``(N, G)`` but are stored
  tile-major, ``[T][group][16 rows]``: the 16 scales a warp needs for one group are 32
  contiguous bytes.

It takes 4- and 8-bit affine formats whose rows are a multiple of 16, whose padded K is
whole K blocks and whose groups hold whole lane chunks (:func:`tiled_problem`). The
permutation moves bytes only: sizes are those of the row layout. The CUDA side of the same
index arithmetic is ``kernels/layout.cu``; ``tests/quantized/test_layout.py`` checks both
against the row layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from squeezebench.quantized.packing import pack_codes, unpack_codes

if TYPE_CHECKING:
    from squeezebench.quantized.packing import PackedFormat, PackedWeight

TILE_ROWS = 16
LANES = 32
CHUNK_BYTES = 16
TILED_BITS: tuple[int, ...] = (4, 8)
WORD_ORDER: dict[int, tuple[int, ...]] = {4: (0, 2, 4, 6, 1, 3, 5, 7), 8: (0, 2, 1, 3)}
"""Per bits: the code (of a word's consecutive codes) stored at each position of the word."""


def lane_codes(bits: int) -> int:
    """Codes in one lane's 16-byte chunk (CPT): 32 int4, 16 int8."""
    return CHUNK_BYTES * 8 // bits


def block_codes(bits: int) -> int:
    """Codes of one row in a K block (KB): four lane chunks."""
    return 4 * lane_codes(bits)


def tiled_problem(fmt: PackedFormat) -> str | None:
    """Why ``fmt`` cannot be stored tiled, or None when it can."""
    if fmt.bits not in TILED_BITS or fmt.scheme not in ("symmetric", "asymmetric"):
        return f"needs 4 or 8 bits, symmetric or asymmetric (got {fmt.bits} bits {fmt.scheme})"
    if fmt.out_features % TILE_ROWS:
        return f"out_features {fmt.out_features} is not a multiple of {TILE_ROWS}"
    if fmt.padded_in_features % block_codes(fmt.bits):
        return (
            f"padded in_features {fmt.padded_in_features} is not a multiple of "
            f"{block_codes(fmt.bits)} (one K block of {fmt.bits}-bit codes)"
        )
    if fmt.groups > 1 and fmt.group_size % lane_codes(fmt.bits):
        return f"group size {fmt.group_size} is not a multiple of {lane_codes(fmt.bits)}"
    return None


def _split(codes: torch.Tensor, fmt: PackedFormat) -> torch.Tensor:
    """Row-major codes (N, Kp) viewed as (T, h, g, blocks_k, t, words, per_word)."""
    cpt = lane_codes(fmt.bits)
    per_word = 32 // fmt.bits
    tiles, blocks = fmt.out_features // TILE_ROWS, fmt.padded_in_features // block_codes(fmt.bits)
    return codes.reshape(tiles, 2, 8, blocks, 4, cpt // per_word, per_word)


def tile_bytes(packed: torch.Tensor, fmt: PackedFormat) -> torch.Tensor:
    """Row-layout ``packed_weight`` bytes of ``fmt`` as tiled bytes (same shape)."""
    codes = _split(unpack_codes(packed.contiguous(), fmt.bits), fmt)
    # (T, h, g, kb, t, word, code) -> (T, kb, h, g, t, word, position)
    order = torch.tensor(WORD_ORDER[fmt.bits], device=codes.device)
    tiled = codes.permute(0, 3, 1, 2, 4, 5, 6).index_select(-1, order)
    return pack_codes(tiled.contiguous().reshape(fmt.out_features, -1), fmt.bits)


def untile_bytes(packed: torch.Tensor, fmt: PackedFormat) -> torch.Tensor:
    """Tiled ``packed_weight`` bytes of ``fmt`` back in the row layout (same shape)."""
    cpt = lane_codes(fmt.bits)
    per_word = 32 // fmt.bits
    tiles, blocks = fmt.out_features // TILE_ROWS, fmt.padded_in_features // block_codes(fmt.bits)
    codes = unpack_codes(packed.contiguous(), fmt.bits)
    codes = codes.reshape(tiles, blocks, 2, 8, 4, cpt // per_word, per_word)
    inverse = torch.argsort(torch.tensor(WORD_ORDER[fmt.bits], device=codes.device))
    rows = codes.index_select(-1, inverse).permute(0, 2, 3, 1, 4, 5, 6)
    return pack_codes(rows.contiguous().reshape(fmt.out_features, -1), fmt.bits)


def tile_groups(values: torch.Tensor, fmt: PackedFormat) -> torch.Tensor:
    """Per-group ``(N, G)`` scales or zero points stored tile-major (same shape)."""
    tiles = fmt.out_features // TILE_ROWS
    grouped = values.reshape(tiles, TILE_ROWS, fmt.groups).transpose(1, 2)
    return grouped.contiguous().reshape(fmt.out_features, fmt.groups)


def untile_groups(values: torch.Tensor, fmt: PackedFormat) -> torch.Tensor:
    """Tile-major scales or zero points back in row order (same shape)."""
    tiles = fmt.out_features // TILE_ROWS
    grouped = values.reshape(tiles, fmt.groups, TILE_ROWS).transpose(1, 2)
    return grouped.contiguous().reshape(fmt.out_features, fmt.groups)


def with_layout(weight: PackedWeight, layout: str) -> PackedWeight:
    """``weight`` stored in ``layout`` (``rows`` or ``tiled``); the same weight if it is."""
    from dataclasses import replace

    from squeezebench.quantized.packing import PackedWeight

    fmt = weight.format
    if fmt.layout == layout:
        return weight
    target = replace(fmt, layout=layout)  # validates: ValueError if tiled cannot take it
    if layout == "tiled":
        move_bytes, move_groups = tile_bytes, tile_groups
    else:
        move_bytes, move_groups = untile_bytes, untile_groups
    zero_points = weight.zero_points
    return PackedWeight(
        target,
        move_bytes(weight.packed, fmt),
        move_groups(weight.scales, fmt),
        None if zero_points is None else move_groups(zero_points, fmt),
    )


def preferred_layout(fmt: PackedFormat) -> str:
    """``tiled`` where the format allows it (what :func:`QuantizedLinear.from_float` packs),
    else ``rows``."""
    return "tiled" if tiled_problem(fmt) is None else "rows"
