// Index arithmetic of the tiled layout (squeezebench/quantized/layout.py), of the wide
// kernel's staged activations and of its striped work partition.
//
// Plain integer C++ with no CUDA construct but the qualifiers: the kernels include it (it is
// the first file of the source), and tests/quantized/test_layout.py compiles it with the host
// C++ compiler and checks every function against the Python layout, on a machine without GPU.

#if defined(__CUDACC__)
#define SB_INDEX __host__ __device__ __forceinline__
#else
#define SB_INDEX inline
#endif

// Byte offset of lane `lane`'s 16 bytes of half `h` (rows 8h .. 8h + 7) of row tile `tile`
// (16 rows), K block `kb`: tiles of 1024 bytes, tile-major, then K block, half, lane.
SB_INDEX long long tiled_chunk_offset(int tile, int kb, int h, int lane, int blocks_k) {
    return ((static_cast<long long>(tile) * blocks_k + kb) * 64 + h * 32 + lane) * 16;
}

// Position in its 32-bit word of the q-th of the word's consecutive codes: the kernels
// dequantize positions (p, p + per_word / 2) as one pair, so codes 2p and 2p + 1 go there.
SB_INDEX int tiled_word_position(int q, int per_word) {
    return (q & 1) * (per_word / 2) + (q >> 1);
}

// Byte offset of code k of row n in the tiled bytes, and its bit shift in that byte.
SB_INDEX long long tiled_code_offset(int n, int k, int blocks_k, int bits, int* shift) {
    const int per_lane = 128 / bits;  // codes in a lane's 16 bytes
    const int per_block = 4 * per_lane;
    const int per_word = 32 / bits;
    const int kb = k / per_block;
    const int t = (k - kb * per_block) / per_lane;
    const int c = k - kb * per_block - t * per_lane;
    const int word = c / per_word;
    const int bit = tiled_word_position(c - word * per_word, per_word) * bits;
    const int r = n & 15;
    *shift = bit & 7;
    return tiled_chunk_offset(n >> 4, kb, r >> 3, 4 * (r & 7) + t, blocks_k) + 4 * word +
           (bit >> 3);
}

// Index of (row n, group) in tile-major scales and zero points: [tile][group][16 rows].
SB_INDEX long long tiled_group_index(int n, int group, int groups) {
    return (static_cast<long long>(n >> 4) * groups + group) * 16 + (n & 15);
}

// Wide kernel: the 16-byte chunk of staged activations that holds lane t's codes of
// 16-byte vector v (of its K range) is chunk lane_chunk(t, v) of the batch row.
SB_INDEX int lane_chunk(int t, int v, int bits) {
    return t * (16 / bits) + v;  // 128 / bits codes per lane = 16 / bits chunks of 8
}

// Where chunk c of staged batch row n is stored in its row (chunks_per_row 16 for int4, 8
// for int8). An ld.shared.v4 is served 8 lanes at a time: lanes (g, t) and (g + 1, t) for
// t = 0..3 read chunks lane_chunk(t, v) of rows g and g + 1; the swizzle sends those 8 reads
// to 8 different 16-byte bank groups (conflict-free).
SB_INDEX int swizzled_chunk(int n, int c, int chunks_per_row) {
    if (chunks_per_row == 16) return c ^ ((c >> 3) & 1) ^ ((n & 1) << 1);
    return c ^ (n & 1);
}

// Striped partition: block b of `grid` takes the work items [stripe_begin(b),
// stripe_begin(b + 1)) of `total` (every block gets the floor or the ceiling of the mean).
SB_INDEX int stripe_begin(int block, int grid, int total) {
    return static_cast<int>(static_cast<long long>(total) * block / grid);
}
