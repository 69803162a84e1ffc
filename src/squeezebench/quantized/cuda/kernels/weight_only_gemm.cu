// Weight-only quantized matrix products: y[B, N] = x[B, Kp] . W[N, Kp]^T (+ bias).
//
// W is stored as squeezebench's packed layout (docs/methods/quantization.md): uint8 rows of
// Kp * BITS / 8 bytes, code j of a byte in bits j*BITS.., the first code in the low bits;
// one scale (float16 or float32) per group of `group_size` columns of a row, and for the
// asymmetric scheme one uint8 zero point per group. A code c stands for (c - z) * scale, with
// z = 2^(BITS-1) for the symmetric scheme. The same bytes may be stored in the row layout
// (format version 1) or permuted into the tiled layout (TILED; layout.cu and
// squeezebench/quantized/layout.py): each lane's 16 bytes contiguous with its warp's, codes
// interleaved inside each word, scales tile-major.
//
// One kernel serves batches of 1 to 32 rows of x. It is memory-bound by design: every packed
// weight byte is read once, 16 bytes per thread per load, streamed past the caches, while the
// arithmetic runs on the tensor cores (mma.m16n8k16, fp32 accumulation) so that dequantizing
// and multiplying stay far under the time the weight bytes take to arrive.
//
// Work split. K is cut into blocks of KB codes (128 for int4, 64 for int8). With SPLIT_K, a
// block owns 16 * R consecutive output rows (R tiles of 16) and its WARPS warps take the K
// blocks round robin, adding their partial sums in shared memory at the end; without, each
// warp owns R tiles of its own and walks all of K. Each warp keeps STAGES K blocks of loads
// in flight (a ring in registers), scales and zero points included. In a warp, lane = 4 * g + t: the lane reads
// the codes [t * CPT, (t + 1) * CPT) of each K block (CPT = 32 int4 or 16 int8 codes = 16
// bytes) of rows g and g + 8 of every tile, and the same K range of x for batch rows g, g + 8,
// g + 16 and g + 24. A dot product may visit K in any order, so each lane feeds the tensor
// core its own codes: the A fragment slots (2t, 2t+1) and (2t+8, 2t+9) of each mma step hold
// the codes of one 32-bit word as its dequantization yields them, pairs (p, p + 4) of
// nibbles (int4; bytes p, p + 2 for int8). In the row layout those are codes (c0, c4), ...,
// and the B fragment of x is permuted (prmt) to the same order; in the tiled layout the
// word is stored interleaved so that the pairs are consecutive codes and x is used as it
// lies. Every K position is used exactly once.
//
// No CUDA headers are included (NVRTC through CuPy and nvcc both compile it as is): 16-bit
// values travel as raw bits, conversions and mma are inline PTX. Needs sm_80 or newer.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

// Activation types (template tags): IEEE half and bfloat16.
struct F16 {
    static constexpr bool bf16 = false;
};
struct BF16 {
    static constexpr bool bf16 = true;
};

// ------------------------------------------------------------------------------------------
// Small PTX helpers
// ------------------------------------------------------------------------------------------

__device__ __forceinline__ void load_stream_16(u32 (&r)[4], const void* p) {
    // read once: streaming (evict-first) so the weights do not push x out of the caches
    asm("ld.global.cs.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "l"(p));
}

// An L2 access policy that evicts first what it covers: the weights of the tiled layout are
// read exactly once, so they should leave L2 to the activations (and the L1 not at all).
__device__ __forceinline__ unsigned long long evict_first_policy() {
    unsigned long long policy;
    asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
    return policy;
}

__device__ __forceinline__ void load_evict_first_16(u32 (&r)[4], const void* p,
                                                    unsigned long long policy) {
    asm("ld.global.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "l"(p), "l"(policy));
}

__device__ __forceinline__ void load_cached_16(u32 (&r)[4], const void* p) {
    asm("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
        : "l"(p));
}

__device__ __forceinline__ u32 prmt(u32 a, u32 b, u32 selector) {
    u32 d;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(selector));
    return d;
}

__device__ __forceinline__ u32 and_or(u32 a, u32 mask, u32 bits) {
    u32 d;  // (a & mask) | bits in one instruction
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(d) : "r"(a), "r"(mask), "r"(bits));
    return d;
}

__device__ __forceinline__ u32 hsub2(u32 a, u32 b) {
    u32 d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

__device__ __forceinline__ u32 hmul2(u32 a, u32 b) {
    u32 d;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

__device__ __forceinline__ u32 hfma2(u32 a, u32 b, u32 c) {
    u32 d;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

__device__ __forceinline__ u32 bfma2(u32 a, u32 b, u32 c) {
    u32 d;
    asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

__device__ __forceinline__ float half_to_float(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ u16 float_to_half(float f) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float bf16_to_float(u16 h) {
    float f;
    asm("mov.b32 %0, %1;" : "=f"(f) : "r"(static_cast<u32>(h) << 16));
    return f;
}

__device__ __forceinline__ u16 float_to_bf16(float f) {
    u16 h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// Two floats as a packed pair of the activation type, `lo` in the low 16 bits.
template <typename Act>
__device__ __forceinline__ u32 pack_pair(float lo, float hi) {
    u32 d;
    if constexpr (Act::bf16) {
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    } else {
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
    }
    return d;
}

template <typename Act>
__device__ __forceinline__ u16 from_float(float f) {
    if constexpr (Act::bf16) {
        return float_to_bf16(f);
    } else {
        return float_to_half(f);
    }
}

template <typename Act>
__device__ __forceinline__ float to_float(u16 h) {
    if constexpr (Act::bf16) {
        return bf16_to_float(h);
    } else {
        return half_to_float(h);
    }
}

// d += a . b on the tensor cores: A 16x16 (row), B 16x8 (col), fp32 accumulators.
template <typename Act>
__device__ __forceinline__ void mma_16816(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1) {
    if constexpr (Act::bf16) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
            "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
            "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// ------------------------------------------------------------------------------------------
// Dequantizing one 32-bit word of codes into A-fragment pairs
// ------------------------------------------------------------------------------------------
//
// int4: a word holds codes c0..c7 (c0 in the low nibble). Pairs come out as (c0, c4),
// (c1, c5), (c2, c6), (c3, c7): step 0 of the word uses the first two, step 1 the others.
// int8: a word holds c0..c3; pairs (c0, c2), (c1, c3), one step.
//
// Fast path (half activations, half scales): 0x6400 | c is the half 1024 + c, exactly; minus
// the half (1024 + z) gives c - z exactly; times the scale rounds once, as a float product
// rounded to half would. Other combinations go through float32: (c - z) * scale, rounded once.

template <int BITS>
struct Codes;

template <>
struct Codes<4> {
    static constexpr int per_word = 8;
    static constexpr int pairs = 4;
    // pair p holds codes (p, p + 4)
    __device__ static __forceinline__ u32 magic_pair(u32 w, int p) {
        return and_or(w >> (4 * p), 0x000F000Fu, 0x64006400u);
    }
    __device__ static __forceinline__ int code(u32 w, int p, int half) {
        return static_cast<int>((w >> (4 * (p + 4 * half))) & 0xFu);
    }
};

template <>
struct Codes<8> {
    static constexpr int per_word = 4;
    static constexpr int pairs = 2;
    // pair p holds codes (p, p + 2)
    __device__ static __forceinline__ u32 magic_pair(u32 w, int p) {
        return prmt(w, 0x64646464u, p == 0 ? 0x4240u : 0x4341u);
    }
    __device__ static __forceinline__ int code(u32 w, int p, int half) {
        return static_cast<int>((w >> (8 * (p + 2 * half))) & 0xFFu);
    }
};

// The dequantization constants of one (row, group), built from the raw stored values
// (`scale_bits`: the half's 16 bits or the float's 32; `zero`: the zero point): the fast path
// keeps half2 values (1024 + z, 1024 + z) and (scale, scale); the float path z and the scale.
struct GroupConstants {
    u32 offset2;
    u32 scale2;
    float zero;
    float scale;
};

template <typename Act, int BITS, bool ASYM, bool F32_SCALES>
__device__ __forceinline__ GroupConstants group_constants(u32 scale_bits, u32 zero_point) {
    GroupConstants c;
    const u32 zero = ASYM ? zero_point : (1u << (BITS - 1));
    constexpr bool fast = !Act::bf16 && !F32_SCALES;
    if constexpr (fast) {
        c.scale2 = scale_bits | (scale_bits << 16);
        const u32 off = 0x6400u | zero;  // the half 1024 + zero
        c.offset2 = off | (off << 16);
        c.zero = 0.0f;
        c.scale = 0.0f;
    } else {
        float s;
        if constexpr (F32_SCALES) {
            asm("mov.b32 %0, %1;" : "=f"(s) : "r"(scale_bits));
        } else {
            s = half_to_float(static_cast<u16>(scale_bits));
        }
        c.scale = s;
        c.zero = static_cast<float>(zero);
        c.offset2 = 0u;
        c.scale2 = 0u;
    }
    return c;
}

template <typename Act, int BITS, bool F32_SCALES>
__device__ __forceinline__ u32 dequant_pair(u32 word, int p, const GroupConstants& c) {
    constexpr bool fast = !Act::bf16 && !F32_SCALES;
    if constexpr (fast) {
        return hmul2(hsub2(Codes<BITS>::magic_pair(word, p), c.offset2), c.scale2);
    } else {
        const float lo = (static_cast<float>(Codes<BITS>::code(word, p, 0)) - c.zero) * c.scale;
        const float hi = (static_cast<float>(Codes<BITS>::code(word, p, 1)) - c.zero) * c.scale;
        return pack_pair<Act>(lo, hi);
    }
}

// Integer path (scale applied after the product): when every lane of a quad reads codes of one
// group per K block (per-channel formats, or groups that are whole K blocks), A holds the
// exact integers c - z and the group's scale multiplies the block's partial sum in float32:
// fewer instructions per weight. half activations, int4: (c0, c4) = lop3 magic minus
// (1024 + z); (c1, c5) come out as 1024 + 16 c and one fma by 1/16 minus (64 + z) makes them
// exact; shifting the word by 8 gives the other two pairs. half, int8: prmt magic minus
// (1024 + z). bfloat16, int4: 0x4300 | c is 128 + c, one fma minus (128 + z). All exact.
template <bool F32_SCALES>
__device__ __forceinline__ float scale_value(u32 bits) {
    if constexpr (F32_SCALES) {
        float f;
        asm("mov.b32 %0, %1;" : "=f"(f) : "r"(bits));
        return f;
    } else {
        return half_to_float(static_cast<u16>(bits));
    }
}

template <typename Act, int BITS>
struct IntegerPath {
    static constexpr bool enabled = !Act::bf16 || BITS == 4;
};

template <typename Act, int BITS, bool ASYM>
__device__ __forceinline__ void integer_constants(u32 zero_point, u32& k1, u32& k2) {
    const u32 zero = ASYM ? zero_point : (1u << (BITS - 1));
    if constexpr (Act::bf16) {
        const u32 neg = from_float<BF16>(-(128.0f + static_cast<float>(zero)));
        k1 = neg | (neg << 16);
        k2 = 0u;
    } else {
        const u32 off = 0x6400u | zero;  // the half 1024 + zero
        k1 = off | (off << 16);
        const u32 neg = float_to_half(-(64.0f + static_cast<float>(zero)));
        k2 = neg | (neg << 16);
    }
}

// Pair p of a word as exact integers c - z (pairs as in Codes<BITS>).
template <typename Act, int BITS>
__device__ __forceinline__ u32 integer_pair(u32 word, int p, u32 k1, u32 k2) {
    if constexpr (Act::bf16) {
        return bfma2(and_or(word >> (4 * p), 0x000F000Fu, 0x43004300u), 0x3F803F80u, k1);
    } else if constexpr (BITS == 4) {
        const u32 w = (p >= 2) ? (word >> 8) : word;
        if ((p & 1) == 0) return hsub2(and_or(w, 0x000F000Fu, 0x64006400u), k1);
        return hfma2(and_or(w, 0x00F000F0u, 0x64006400u), 0x2C002C00u, k2);  // x 1/16
    } else {
        return hsub2(prmt(word, 0x64646464u, p == 0 ? 0x4240u : 0x4341u), k1);
    }
}

// ------------------------------------------------------------------------------------------
// The fused kernel
// ------------------------------------------------------------------------------------------

// What one lane loads for one K block: 16 bytes of rows g and g + 8 of each row tile, their
// scales and zero points, and its K range of x for batch rows g + 8j.
template <int BITS, int R, int NT>
struct Stage {
    static constexpr int CPT = 128 / BITS;
    u32 w[R][2][4];
    u32 scale[R][2];
    u32 zero[R][2];
    u32 x[NT][CPT / 8][4];
    int k0;  // first code of this lane's K range
};

// Template parameters: activation tag, bits, asymmetric, float32 scales, NT batch tiles of 8,
// R row tiles of 16 per warp, WARPS per block, STAGES K blocks in flight per warp (a ring
// in registers), SPLIT_K: the block's warps share R row tiles and split K (partial sums added
// in shared memory) or each warp owns R row tiles and walks all of K; SCALE_AFTER: the
// caller guarantees one group per row per K block, so the integer path may be used; TILED:
// the weights, scales and zero points are in the tiled layout (N a multiple of 16, Kp of KB).
template <typename Act, int BITS, bool ASYM, bool F32_SCALES, int NT, int R, int WARPS,
          int STAGES, bool SPLIT_K, bool SCALE_AFTER, bool TILED>
__global__ void __launch_bounds__(WARPS * 32) weight_only_gemm(
    const u8* __restrict__ packed,    // (N, Kp * BITS / 8)
    const void* __restrict__ scales,  // (N, G) half or float
    const u8* __restrict__ zeros,     // (N, G) or null
    const float* __restrict__ bias,   // (N) or null
    const u16* __restrict__ x,        // (B, ldx), Kp valid columns
    u16* __restrict__ y,              // (B, ldy)
    int N, int Kp, int B, int G, int group_shift, long long ldx, long long ldy) {
    // group_shift: log2 of the group size (a power of two; unused per channel, G == 1)
    constexpr int CPT = 128 / BITS;  // 32 int4 / 16 int8 codes per lane per K block
    constexpr int KB = 4 * CPT;      // codes per K block
    constexpr int WORDS = 4;         // 32-bit words per lane per row per K block
    constexpr int XV = CPT / 8;      // 16-byte vectors of x per lane per batch row

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int rows_per_block = SPLIT_K ? 16 * R : 16 * R * WARPS;
    const int row0 = blockIdx.x * rows_per_block + (SPLIT_K ? 0 : warp * 16 * R);
    const long long row_bytes = static_cast<long long>(Kp) * BITS / 8;
    const int blocks_k = (Kp + KB - 1) / KB;
    const int k_first = SPLIT_K ? warp : 0;
    const int k_step = SPLIT_K ? WARPS : 1;
    unsigned long long policy = 0;
    if constexpr (TILED) policy = evict_first_policy();

    float acc[R][NT][4];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int j = 0; j < NT; ++j)
#pragma unroll
            for (int i = 0; i < 4; ++i) acc[r][j][i] = 0.0f;

    auto load = [&](Stage<BITS, R, NT>& s, int kb) {
        s.k0 = kb * KB + t * CPT;
        const bool k_valid = kb < blocks_k && s.k0 < Kp;
        const int group = (G == 1 || !k_valid) ? 0 : s.k0 >> group_shift;
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const int row = row0 + r * 16 + g + 8 * h;
                const bool valid = k_valid && row < N;
                const long long index = TILED ? tiled_group_index(row, group, G)
                                              : static_cast<long long>(row) * G + group;
                if (valid) {
                    if constexpr (TILED) {
                        const long long offset =
                            tiled_chunk_offset((row0 >> 4) + r, kb, h, lane, blocks_k);
                        load_evict_first_16(s.w[r][h], packed + offset, policy);
                    } else {
                        load_stream_16(s.w[r][h], packed + row * row_bytes + s.k0 * BITS / 8);
                    }
                    s.scale[r][h] = F32_SCALES
                        ? static_cast<const u32*>(scales)[index]
                        : static_cast<u32>(static_cast<const u16*>(scales)[index]);
                    s.zero[r][h] = ASYM ? static_cast<u32>(zeros[index]) : 0u;
                } else {
#pragma unroll
                    for (int i = 0; i < 4; ++i) s.w[r][h][i] = 0u;
                    s.scale[r][h] = 0u;  // a zero scale: the row contributes nothing
                    s.zero[r][h] = 0u;
                }
            }
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            const int n = 8 * j + g;
#pragma unroll
            for (int v = 0; v < XV; ++v) {
                if (k_valid && n < B) {
                    load_cached_16(s.x[j][v], x + n * ldx + s.k0 + 8 * v);
                } else {
#pragma unroll
                    for (int i = 0; i < 4; ++i) s.x[j][v][i] = 0u;
                }
            }
        }
    };

    // B fragments of one mma step: x at the K positions of the word's pairs (2 step) and
    // (2 step + 1), in the order the pairs come out of the word.
    auto b_fragments = [&](const Stage<BITS, R, NT>& s, int word, int step, u32 (&b)[NT][2]) {
#pragma unroll
        for (int j = 0; j < NT; ++j) {
            if constexpr (TILED) {
                // pairs are consecutive codes: x as it lies, two halves per register
                const u32* v = BITS == 4 ? s.x[j][word] + 2 * step : s.x[j][word >> 1] + 2 * (word & 1);
                b[j][0] = v[0];
                b[j][1] = v[1];
            } else if constexpr (BITS == 4) {
                // the word's 8 halves are x-vector `word`: (x0 x1)(x2 x3)(x4 x5)(x6 x7)
                const u32* v = s.x[j][word];
                // step 0: pairs (x0, x4), (x1, x5); step 1: (x2, x6), (x3, x7)
                b[j][0] = prmt(v[step], v[step + 2], 0x5410u);
                b[j][1] = prmt(v[step], v[step + 2], 0x7632u);
            } else {
                // the word's 4 halves are half of x-vector word / 2
                const u32* v = s.x[j][word >> 1] + 2 * (word & 1);
                b[j][0] = prmt(v[0], v[1], 0x5410u);  // (x0, x2)
                b[j][1] = prmt(v[0], v[1], 0x7632u);  // (x1, x3)
            }
        }
    };

    // Every lane of the warp takes part in every mma: a lane past the end of K holds zeros.
    auto compute = [&](const Stage<BITS, R, NT>& s) {
        if constexpr (SCALE_AFTER && IntegerPath<Act, BITS>::enabled) {
            u32 k1[R][2], k2[R][2];
#pragma unroll
            for (int r = 0; r < R; ++r)
#pragma unroll
                for (int h = 0; h < 2; ++h)
                    integer_constants<Act, BITS, ASYM>(s.zero[r][h], k1[r][h], k2[r][h]);
            float part[R][NT][4];
#pragma unroll
            for (int r = 0; r < R; ++r)
#pragma unroll
                for (int j = 0; j < NT; ++j)
#pragma unroll
                    for (int i = 0; i < 4; ++i) part[r][j][i] = 0.0f;
#pragma unroll
            for (int word = 0; word < WORDS; ++word) {
#pragma unroll
                for (int step = 0; step < Codes<BITS>::pairs / 2; ++step) {
                    u32 b[NT][2];
                    b_fragments(s, word, step, b);
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        const u32 w0 = s.w[r][0][word];
                        const u32 w1 = s.w[r][1][word];
                        u32 a[4];
                        a[0] = integer_pair<Act, BITS>(w0, 2 * step, k1[r][0], k2[r][0]);
                        a[1] = integer_pair<Act, BITS>(w1, 2 * step, k1[r][1], k2[r][1]);
                        a[2] = integer_pair<Act, BITS>(w0, 2 * step + 1, k1[r][0], k2[r][0]);
                        a[3] = integer_pair<Act, BITS>(w1, 2 * step + 1, k1[r][1], k2[r][1]);
#pragma unroll
                        for (int j = 0; j < NT; ++j)
                            mma_16816<Act>(part[r][j], a, b[j][0], b[j][1]);
                    }
                }
            }
            // accumulators 0, 1 belong to row g, 2, 3 to row g + 8
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const float scale0 = scale_value<F32_SCALES>(s.scale[r][0]);
                const float scale1 = scale_value<F32_SCALES>(s.scale[r][1]);
#pragma unroll
                for (int j = 0; j < NT; ++j) {
                    acc[r][j][0] += scale0 * part[r][j][0];
                    acc[r][j][1] += scale0 * part[r][j][1];
                    acc[r][j][2] += scale1 * part[r][j][2];
                    acc[r][j][3] += scale1 * part[r][j][3];
                }
            }
        } else {
            GroupConstants c[R][2];
#pragma unroll
            for (int r = 0; r < R; ++r)
#pragma unroll
                for (int h = 0; h < 2; ++h)
                    c[r][h] = group_constants<Act, BITS, ASYM, F32_SCALES>(
                        s.scale[r][h], s.zero[r][h]);
#pragma unroll
            for (int word = 0; word < WORDS; ++word) {
#pragma unroll
                for (int step = 0; step < Codes<BITS>::pairs / 2; ++step) {
                    u32 b[NT][2];
                    b_fragments(s, word, step, b);
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        const u32 w0 = s.w[r][0][word];
                        const u32 w1 = s.w[r][1][word];
                        u32 a[4];
                        a[0] = dequant_pair<Act, BITS, F32_SCALES>(w0, 2 * step, c[r][0]);
                        a[1] = dequant_pair<Act, BITS, F32_SCALES>(w1, 2 * step, c[r][1]);
                        a[2] = dequant_pair<Act, BITS, F32_SCALES>(w0, 2 * step + 1, c[r][0]);
                        a[3] = dequant_pair<Act, BITS, F32_SCALES>(w1, 2 * step + 1, c[r][1]);
#pragma unroll
                        for (int j = 0; j < NT; ++j)
                            mma_16816<Act>(acc[r][j], a, b[j][0], b[j][1]);
                    }
                }
            }
        }
    };

    // A ring of STAGES K blocks in registers: while one block is multiplied, the loads of
    // the next STAGES - 1 are in flight.
    Stage<BITS, R, NT> ring[STAGES];
#pragma unroll
    for (int i = 0; i < STAGES; ++i) load(ring[i], k_first + i * k_step);
    for (int kb = k_first; kb < blocks_k; kb += STAGES * k_step) {
#pragma unroll
        for (int i = 0; i < STAGES; ++i) {
            if (kb + i * k_step < blocks_k) compute(ring[i]);  // warp-uniform condition
            load(ring[i], kb + (i + STAGES) * k_step);
        }
    }

    // accumulator i of lane l: row g (+8 for i >= 2), batch column 8j + 2t + (i & 1)
    if constexpr (!SPLIT_K) {
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const int row = row0 + r * 16 + g + (i >= 2 ? 8 : 0);
                    const int n = 8 * j + 2 * t + (i & 1);
                    if (row < N && n < B) {
                        const float sum = acc[r][j][i] + (bias != nullptr ? bias[row] : 0.0f);
                        y[n * ldy + row] = from_float<Act>(sum);
                    }
                }
    } else {
        // Add the warps' partial sums; lane l of warp w keeps its values at red[w][i][l].
        constexpr int PER_LANE = R * NT * 4;
        __shared__ float red[WARPS][PER_LANE][32];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int j = 0; j < NT; ++j)
#pragma unroll
                for (int i = 0; i < 4; ++i) red[warp][(r * NT + j) * 4 + i][lane] = acc[r][j][i];
        __syncthreads();
        for (int e = threadIdx.x; e < PER_LANE * 32; e += WARPS * 32) {
            const int index = e >> 5;
            const int l = e & 31;
            float sum = 0.0f;
#pragma unroll
            for (int w = 0; w < WARPS; ++w) sum += red[w][index][l];
            const int i = index & 3;
            const int j = (index >> 2) % NT;
            const int r = (index >> 2) / NT;
            const int row = row0 + r * 16 + (l >> 2) + (i >= 2 ? 8 : 0);
            const int n = 8 * j + 2 * (l & 3) + (i & 1);
            if (row < N && n < B) {
                if (bias != nullptr) sum += bias[row];
                y[n * ldy + row] = from_float<Act>(sum);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Dequantize a packed matrix to a dense one (the GEMM path for large batches, and the
// general path for formats the fused kernel does not take: 1 and 2 bits, odd group sizes).
// ------------------------------------------------------------------------------------------

// out[n, k] for k < K (row stride ldo), any bits in {1, 2, 4, 8}; SCHEME 0 symmetric,
// 1 asymmetric, 2 binary. OUT: 0 half, 1 bfloat16, 2 float. TILED: 4 or 8 bits in the tiled
// layout.
template <int BITS, int SCHEME, bool F32_SCALES, int OUT, bool TILED>
__global__ void dequantize_packed(
    const u8* __restrict__ packed, const void* __restrict__ scales,
    const u8* __restrict__ zeros, void* __restrict__ out,
    int N, int K, int Kp, int G, int group_size, long long ldo) {
    const long long total = static_cast<long long>(N) * K;
    const long long row_bytes = static_cast<long long>(Kp) * BITS / 8;
    constexpr int PER_BYTE = 8 / BITS;
    for (long long e = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; e < total;
         e += static_cast<long long>(gridDim.x) * blockDim.x) {
        const int n = static_cast<int>(e / K);
        const int k = static_cast<int>(e - static_cast<long long>(n) * K);
        int shift = (k % PER_BYTE) * BITS;
        const long long offset = TILED ? tiled_code_offset(n, k, Kp / (512 / BITS), BITS, &shift)
                                       : n * row_bytes + k / PER_BYTE;
        const int code = (packed[offset] >> shift) & ((1 << BITS) - 1);
        const long long gi = TILED ? tiled_group_index(n, k / group_size, G)
                                   : static_cast<long long>(n) * G + k / group_size;
        const float scale = F32_SCALES ? static_cast<const float*>(scales)[gi]
                                       : half_to_float(static_cast<const u16*>(scales)[gi]);
        float value;
        if constexpr (SCHEME == 2) {
            value = static_cast<float>(2 * code - 1) * scale;
        } else if constexpr (SCHEME == 1) {
            value = static_cast<float>(code - static_cast<int>(zeros[gi])) * scale;
        } else {
            value = static_cast<float>(code - (1 << (BITS - 1))) * scale;
        }
        const long long o = n * ldo + k;
        if constexpr (OUT == 2) {
            static_cast<float*>(out)[o] = value;
        } else if constexpr (OUT == 1) {
            static_cast<u16*>(out)[o] = float_to_bf16(value);
        } else {
            static_cast<u16*>(out)[o] = float_to_half(value);
        }
    }
}
