// The wide kernel: 9 to 64 rows of x against weights in the tiled layout.
//
// Above 8 rows the fused kernel keeps x in each lane's registers (16 bytes per batch row per
// K block), which caps it at 32 rows and repeats the weight stream per 32 rows. Here a block
// stages x one K block at a time in shared memory (cp.async, STAGES buffers, the weights of
// the same K blocks in a register ring beside them), and all its WARPS warps read their B
// fragments from there: the block's output tile is 16 * R * WARPS rows, each warp owns R row
// tiles of it, and every weight byte is read once for all 8 * NT batch rows.
//
// B fragments. Lane (g, t) owns the same K range as in the fused kernel (CPT codes per K
// block), so a single ld.shared.v4 of its 16-byte vector gives it the four B registers of
// two mma steps for one n tile: exactly what ldmatrix.x4 gives in the standard fragment
// order, without permuting x. The chunks of each staged batch row are swizzled
// (swizzled_chunk, layout.cu) so these loads are free of bank conflicts.
//
// Striped partition. The work items (output tile, K block), tile-major, are cut into one
// stripe per block (stripe_begin), so every block walks the same number of K blocks, whatever
// the number of tiles. A tile whose K range lies in one stripe is written directly. A tile
// split between stripes is summed in a float32 workspace (red.global.add.f32: the order of the
// additions, hence the last bits, may vary between calls); each block adds its K-block count
// to the tile's arrival counter, and the block that completes it writes the output and clears
// the workspace entries and the counter (atom.exch), leaving both zero for the next call.
//
// Scales are float16 (the default of quantize.weight_only); other formats take other paths.

__device__ __forceinline__ u32 shared_address(const void* p) {
    u32 a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}

// 16 bytes global -> shared, through L2 only; src_bytes 0 writes zeros (rows past the batch).
__device__ __forceinline__ void cp_async_16(u32 dst, const void* src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src),
                 "r"(src_bytes)
                 : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;" ::: "memory");
}

template <int PENDING>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(PENDING) : "memory");
}

__device__ __forceinline__ void load_shared_16(u32 (&r)[4], u32 address) {
    asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
}

__device__ __forceinline__ void red_add(float* p, float v) {
    asm volatile("red.global.add.f32 [%0], %1;" ::"l"(p), "f"(v) : "memory");
}

__device__ __forceinline__ u32 atomic_add(unsigned* p, u32 v) {
    u32 old;
    asm volatile("atom.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
    return old;
}

__device__ __forceinline__ u32 atomic_exchange(void* p, u32 v) {
    u32 old;
    asm volatile("atom.global.exch.b32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
    return old;
}

__device__ __forceinline__ void fence_device() { asm volatile("membar.gl;" ::: "memory"); }

// What one lane loads for one K block besides x: 16 bytes of rows g and g + 8 of each of its
// row tiles, their scales and zero points.
template <int R>
struct WeightStage {
    u32 w[R][2][4];
    u32 scale[R][2];
    u32 zero[R][2];
};

// Template parameters: activation tag, bits, asymmetric, NT batch tiles of 8 (8 * NT rows
// staged), R row tiles of 16 per warp, WARPS per block, STAGES K blocks in flight, SCALE_AFTER
// as in weight_only_gemm (one group per row per K block: the integer path). group_shift is
// log2 of the group size, as in weight_only_gemm.
template <typename Act, int BITS, bool ASYM, int NT, int R, int WARPS, int STAGES,
          bool SCALE_AFTER>
__global__ void __launch_bounds__(WARPS * 32, 1) weight_only_gemm_wide(
    const u8* __restrict__ packed,   // tiled, (N, Kp * BITS / 8)
    const u16* __restrict__ scales,  // tile-major (N, G) half
    const u8* __restrict__ zeros,    // tile-major (N, G) or null
    const float* __restrict__ bias,  // (N) or null
    const u16* __restrict__ x,       // (B, ldx), Kp valid columns
    u16* __restrict__ y,             // (B, ldy)
    float* __restrict__ workspace,   // (N, 8 * NT) zeros, left zero
    unsigned* __restrict__ counters, // one per output tile, zeros, left zero
    int N, int Kp, int B, int G, int group_shift, long long ldx, long long ldy) {
    constexpr int CPT = 128 / BITS;
    constexpr int KB = 4 * CPT;
    constexpr int WORDS = 4;
    constexpr int ROWS = 8 * NT;               // staged batch rows
    constexpr int CHUNKS = KB * 2 / 16;        // 16-byte chunks per staged row
    constexpr int VECTORS = CPT / 8;           // of them per lane
    constexpr int WORDS_PER_VECTOR = WORDS / VECTORS;
    constexpr int STEPS = Codes<BITS>::pairs / 2;  // mma steps per word
    constexpr int TILE_OUT = 16 * R * WARPS;   // output rows per work tile
    constexpr int THREADS = WARPS * 32;
    constexpr bool INTEGER = SCALE_AFTER && IntegerPath<Act, BITS>::enabled;

    alignas(16) __shared__ u32 staged[STAGES][ROWS * CHUNKS * 4];
    __shared__ int completes_tile;

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int blocks_k = Kp / KB;
    const int tiles_out = (N + TILE_OUT - 1) / TILE_OUT;
    const int total = tiles_out * blocks_k;
    const int end = stripe_begin(blockIdx.x + 1, gridDim.x, total);
    for (int item = stripe_begin(blockIdx.x, gridDim.x, total); item < end;) {
        const int u = item / blocks_k;
        const int kb_begin = item - u * blocks_k;
        const int kb_end = kb_begin + (end - item) < blocks_k ? kb_begin + (end - item) : blocks_k;
        item += kb_end - kb_begin;
        const int tile0 = u * (TILE_OUT / 16) + warp * R;  // this warp's first row tile

        float acc[R][NT][4];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int i = 0; i < 4; ++i) acc[r][j][i] = 0.0f;

        // Stage K block kb into buffer `slot` (x by the whole block, weights per warp); one
        // cp.async group per call, empty past the segment, so the group count stays regular.
        auto load = [&](WeightStage<R>& s, int slot, int kb) {
            if (kb < kb_end) {
                const u32 base = shared_address(&staged[slot][0]);
#pragma unroll
                for (int i = 0; i < (ROWS * CHUNKS + THREADS - 1) / THREADS; ++i) {
                    const int e = threadIdx.x + i * THREADS;
                    const int n = e / CHUNKS;
                    const int c = e - n * CHUNKS;
                    const u32 dst = base + (n * CHUNKS + swizzled_chunk(n, c, CHUNKS)) * 16;
                    const bool inside = n < B;
                    if (e < ROWS * CHUNKS)
                        cp_async_16(dst, inside ? x + n * ldx + kb * KB + c * 8 : x, inside ? 16 : 0);
                }
                const int group = G == 1 ? 0 : (kb * KB + t * CPT) >> group_shift;
                const unsigned long long policy = evict_first_policy();  // 1 instruction
#pragma unroll
                for (int r = 0; r < R; ++r)
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const int row = (tile0 + r) * 16 + 8 * h + g;
                        if (row < N) {
                            const long long offset =
                                tiled_chunk_offset(tile0 + r, kb, h, lane, blocks_k);
                            load_evict_first_16(s.w[r][h], packed + offset, policy);
                            const long long index = tiled_group_index(row, group, G);
                            s.scale[r][h] = static_cast<u32>(scales[index]);
                            s.zero[r][h] = ASYM ? static_cast<u32>(zeros[index]) : 0u;
                        } else {
#pragma unroll
                            for (int i = 0; i < 4; ++i) s.w[r][h][i] = 0u;
                            s.scale[r][h] = 0u;  // a zero scale: the row contributes nothing
                            s.zero[r][h] = 0u;
                        }
                    }
            }
            cp_async_commit();
        };

        auto compute = [&](const WeightStage<R>& s, int slot) {
            const u32 base = shared_address(&staged[slot][0]);
            u32 k1[R][2], k2[R][2];
            GroupConstants c[R][2];
            float part[R][NT][4];
#pragma unroll
            for (int r = 0; r < R; ++r) {
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    if constexpr (INTEGER) {
                        integer_constants<Act, BITS, ASYM>(s.zero[r][h], k1[r][h], k2[r][h]);
                    } else {
                        c[r][h] = group_constants<Act, BITS, ASYM, false>(s.scale[r][h],
                                                                          s.zero[r][h]);
                    }
                }
#pragma unroll
                for (int j = 0; j < NT; ++j)
#pragma unroll
                    for (int i = 0; i < 4; ++i) part[r][j][i] = 0.0f;
            }
#pragma unroll
            for (int v = 0; v < VECTORS; ++v) {
                u32 xv[NT][4];  // lane t's vector v of batch rows 8j + g
#pragma unroll
                for (int j = 0; j < NT; ++j) {
                    const int n = 8 * j + g;
                    const int chunk = swizzled_chunk(n, lane_chunk(t, v, BITS), CHUNKS);
                    load_shared_16(xv[j], base + (n * CHUNKS + chunk) * 16);
                }
#pragma unroll
                for (int wv = 0; wv < WORDS_PER_VECTOR; ++wv) {
                    const int word = v * WORDS_PER_VECTOR + wv;
#pragma unroll
                    for (int step = 0; step < STEPS; ++step) {
                        const int b = 2 * (wv * STEPS + step);  // consecutive codes: x as is
#pragma unroll
                        for (int r = 0; r < R; ++r) {
                            const u32 w0 = s.w[r][0][word];
                            const u32 w1 = s.w[r][1][word];
                            u32 a[4];
                            if constexpr (INTEGER) {
                                a[0] = integer_pair<Act, BITS>(w0, 2 * step, k1[r][0], k2[r][0]);
                                a[1] = integer_pair<Act, BITS>(w1, 2 * step, k1[r][1], k2[r][1]);
                                a[2] = integer_pair<Act, BITS>(w0, 2 * step + 1, k1[r][0],
                                                               k2[r][0]);
                                a[3] = integer_pair<Act, BITS>(w1, 2 * step + 1, k1[r][1],
                                                               k2[r][1]);
                            } else {
                                a[0] = dequant_pair<Act, BITS, false>(w0, 2 * step, c[r][0]);
                                a[1] = dequant_pair<Act, BITS, false>(w1, 2 * step, c[r][1]);
                                a[2] = dequant_pair<Act, BITS, false>(w0, 2 * step + 1, c[r][0]);
                                a[3] = dequant_pair<Act, BITS, false>(w1, 2 * step + 1, c[r][1]);
                            }
#pragma unroll
                            for (int j = 0; j < NT; ++j) {
                                if constexpr (INTEGER) {
                                    mma_16816<Act>(part[r][j], a, xv[j][b], xv[j][b + 1]);
                                } else {
                                    mma_16816<Act>(acc[r][j], a, xv[j][b], xv[j][b + 1]);
                                }
                            }
                        }
                    }
                }
            }
            if constexpr (INTEGER) {
#pragma unroll
                for (int r = 0; r < R; ++r) {
                    const float scale0 = scale_value<false>(s.scale[r][0]);
                    const float scale1 = scale_value<false>(s.scale[r][1]);
#pragma unroll
                    for (int j = 0; j < NT; ++j) {
                        acc[r][j][0] += scale0 * part[r][j][0];
                        acc[r][j][1] += scale0 * part[r][j][1];
                        acc[r][j][2] += scale1 * part[r][j][2];
                        acc[r][j][3] += scale1 * part[r][j][3];
                    }
                }
            }
        };

        WeightStage<R> ring[STAGES];
#pragma unroll
        for (int i = 0; i < STAGES; ++i) load(ring[i], i, kb_begin + i);
        for (int kb = kb_begin; kb < kb_end; kb += STAGES) {
#pragma unroll
            for (int i = 0; i < STAGES; ++i) {
                if (kb + i < kb_end) {  // block-uniform
                    cp_async_wait<STAGES - 1>();  // this slot's group has landed
                    __syncthreads();              // ... for every thread's copies
                    compute(ring[i], i);
                    __syncthreads();  // everyone is done with the slot before it is refilled
                }
                load(ring[i], i, kb + i + STAGES);
            }
        }

        // accumulator i of lane l: row g (+8 for i >= 2), batch column 8j + 2t + (i & 1)
        const bool whole = kb_begin == 0 && kb_end == blocks_k;
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int row = (tile0 + r) * 16 + g + (i >= 2 ? 8 : 0);
                    const int n = 8 * j + 2 * t + (i & 1);
                    if (row < N && n < B) {
                        if (whole) {
                            const float b = bias != nullptr ? bias[row] : 0.0f;
                            y[n * ldy + row] = from_float<Act>(acc[r][j][i] + b);
                        } else {
                            red_add(workspace + static_cast<long long>(row) * ROWS + n,
                                    acc[r][j][i]);
                        }
                    }
                }
        if (!whole) {  // block-uniform
            fence_device();  // this thread's additions are visible before the arrival below
            __syncthreads();
            if (threadIdx.x == 0) {
                const u32 count = static_cast<u32>(kb_end - kb_begin);
                completes_tile = atomic_add(counters + u, count) + count == static_cast<u32>(blocks_k);
            }
            __syncthreads();
            if (completes_tile) {
                fence_device();
                for (int e = threadIdx.x; e < TILE_OUT * ROWS; e += THREADS) {
                    const int row = u * TILE_OUT + e / ROWS;
                    const int n = e % ROWS;
                    if (row < N && n < B) {
                        const u32 bits =
                            atomic_exchange(workspace + static_cast<long long>(row) * ROWS + n, 0u);
                        float sum;
                        asm("mov.b32 %0, %1;" : "=f"(sum) : "r"(bits));
                        if (bias != nullptr) sum += bias[row];
                        y[n * ldy + row] = from_float<Act>(sum);
                    }
                }
                if (threadIdx.x == 0) atomic_exchange(counters + u, 0u);
            }
            __syncthreads();  // completes_tile is read before the next segment writes it
        }
    }
}
