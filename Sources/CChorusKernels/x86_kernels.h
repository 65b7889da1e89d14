// Private helpers shared by the x86 kernel files: target attributes, conversions, the lane dot
// products and the fixed horizontal sums of the accumulation contract (see cchorus.h).
#ifndef CCHORUS_X86_KERNELS_H
#define CCHORUS_X86_KERNELS_H
#include "cchorus.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TARGET_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
// AVX-512 with VNNI (path 3): the group kernels meet 64 weights per instruction instead of 32.
#define TARGET_AVX512 __attribute__((target("avx2,fma,f16c,avxvnni,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), as ggml's hsum_float_8.
static inline TARGET_AVX2 float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);                 // l0+l4, l1+l5, l2+l6, l3+l7
    __m128 h = _mm_movehl_ps(s, s);                // l2+l6, l3+l7
    s = _mm_add_ps(s, h);                          // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
    __m128 t = _mm_shuffle_ps(s, s, 1);
    return _mm_cvtss_f32(_mm_add_ss(s, t));
}

// (m0+m2) + (m1+m3), as ggml reduces Q4_K's four min lanes.
static inline TARGET_AVX2 float hsum4(__m128 v) {
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

// Exact int32 sum of the 8 lanes.
static inline TARGET_AVX2 int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// The exact int32 sums of the 8 lanes of each of rows s[0..7], as lanes 0..7 of one vector (three
// hadds and two permutes instead of a horizontal sum per row). Rows from `rows` on must be zero;
// their half of the tree is skipped when rows <= 4.
static inline __attribute__((always_inline)) TARGET_AVX2 __m256i row_sums8(const __m256i s[8], const int rows) {
    const __m256i h0123 = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
    const __m256i h4567 = rows > 4 ? _mm256_hadd_epi32(_mm256_hadd_epi32(s[4], s[5]), _mm256_hadd_epi32(s[6], s[7]))
                                   : _mm256_setzero_si256();
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20), _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

static inline TARGET_AVX2 float f16_to_f32(uint16_t h) {
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

// 16 bytes of nibbles -> 32 bytes: low nibbles of bytes 0..15 first, then high nibbles.
static inline TARGET_AVX2 __m256i unpack_nibbles(const uint8_t *q) {
    __m128i raw = _mm_loadu_si128((const __m128i *)q);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Byte i = 16 if bit i of the little-endian u32 at `p` is set, else 0 (fifth bits of Q5_0/Q5_1).
static inline TARGET_AVX2 __m256i fifth_bits(const uint8_t *p) {
    uint32_t bits;
    __builtin_memcpy(&bits, p, 4);
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                             0x0101010101010101, 0x0000000000000000);
    const __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i bytes = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread), select);
    return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, select), _mm256_set1_epi8(16));
}

// Signed-int8 lanes dot: lane i = sum over bytes 4i..4i+3 of a*b, a unsigned, b signed.
static inline TARGET_AVX2 __m256i dot_u8s8_avx2(__m256i a, __m256i b) {
    __m256i pairs = _mm256_maddubs_epi16(a, b);
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}
static inline TARGET_VNNI __m256i dot_u8s8_vnni(__m256i a, __m256i b) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), a, b);
}

// acc + (int16 pairs of p16 times int16 scales, summed in pairs into int32 lanes): exact integers,
// so the AVX2 (vpmaddwd + vpaddd) and VNNI (vpdpwssd) forms agree.
static inline TARGET_AVX2 __m256i madd_acc_avx2(__m256i acc, __m256i p16, __m256i s16) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, s16));
}
// Inline assembly, because clang otherwise splits vpdpwssd back into vpmaddwd + vpaddd to
// reassociate the sums, which costs one vector op per 32 weights and activation row.
static inline TARGET_VNNI __m256i madd_acc_vnni(__m256i acc, __m256i p16, __m256i s16) {
    __asm__("%{vex%} vpdpwssd %2, %1, %0" : "+x"(acc) : "x"(p16), "x"(s16));
    return acc;
}

// acc + int16 pairs of p16 times s16, as one EVEX vpdpwssd (inline assembly for the reason above).
static inline TARGET_AVX512 __m512i madd_acc_512(__m512i acc, __m512i p16, __m512i s16) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(p16), "v"(s16));
    return acc;
}
static inline TARGET_AVX512 __m512i dpbusd_acc_512(__m512i acc, __m512i u8, __m512i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
    return acc;
}

// Int16 scale vector for 32 weights made of two 16-weight sub-blocks: lo for bytes 0..15, hi for 16..31.
static inline TARGET_AVX2 __m256i scale_pair16(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

// The 32-weight formats. One tile is RW weight rows x JN activation rows (compile-time constants
// after inlining; RW * JN <= 4), so each output element has its own float accumulator chain.
// Every tile walks one weight row at a time: several rows side by side measured faster on a matrix
// that stays in cache but slower in a whole model, whose weights stream from memory (four rows in
// decode 1.7x, two rows against two activation rows 2.9x on qwen2.5-coder-0.5b). Per weight block `PREPARE` unpacks it (`blk`, `dw` = its scale), per
// activation block `LANES_EXPR` is the int32 lanes against `xv`, and `SCALAR_EXTRA` may update
// extra[i][jj]; acc[i][jj] = fma(dw * x.d, float(lanes), acc[i][jj]) in block order.
#define DEFINE_GEMM32(NAME, TARGET, BLOCK, LANES_EXPR, SCALAR_EXTRA)                                   \
    static inline __attribute__((always_inline)) TARGET void NAME##_tile(                             \
        const uint8_t *w, size_t wstride, const ChorusQ8Block *x, size_t xstride, int nblocks,         \
        float *y, size_t ystride, const int RW, const int JN) {                                        \
        __m256 acc[4][4];                                                                              \
        float extra[4][4];                                                                             \
        for (int i = 0; i < RW; i++)                                                                   \
            for (int jj = 0; jj < JN; jj++) { acc[i][jj] = _mm256_setzero_ps(); extra[i][jj] = 0; }    \
        for (int b = 0; b < nblocks; b++) {                                                            \
            for (int i = 0; i < RW; i++) {                                                             \
                const BLOCK *blk = (const BLOCK *)(w + (size_t)i * wstride) + b;                       \
                const float dw = f16_to_f32(blk->d);                                                   \
                PREPARE                                                                                \
                for (int jj = 0; jj < JN; jj++) {                                                      \
                    const ChorusQ8Block *xb = x + (size_t)jj * xstride + b;                            \
                    const __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);                    \
                    const __m256i lanes = LANES_EXPR;                                                  \
                    acc[i][jj] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), _mm256_cvtepi32_ps(lanes), acc[i][jj]); \
                    SCALAR_EXTRA                                                                       \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
        for (int i = 0; i < RW; i++)                                                                   \
            for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride + i] = hsum8(acc[i][jj]) + extra[i][jj]; \
    }                                                                                                  \
    static TARGET void NAME GEMM_PARAMS(ChorusQ8Block) {                                               \
        /* groups of 8 measured faster from 5 rows (no 4 + 1 split); below, the small tiles are */     \
        if (nx >= 5) { NAME##_group(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return; }    \
        const uint8_t *wb = (const uint8_t *)w;                                                        \
        for (int j0 = 0; j0 < nx; j0 += 4) {                                                           \
            const ChorusQ8Block *xj = x + (size_t)j0 * xstride;                                        \
            float *yj = y + (size_t)j0 * ystride;                                                      \
            const int jn = nx - j0 < 4 ? nx - j0 : 4;                                                  \
            for (int r = 0; r < nw; r++) {                                                             \
                /* the weight row two ahead, so that it streams in while this one computes */         \
                if (r + 2 < nw)                                                                        \
                    for (size_t off = 0; off < wstride; off += 64) _mm_prefetch((const char *)(wb + (r + 2) * wstride) + off, _MM_HINT_T0); \
                switch (jn) {                                                                          \
                case 1: NAME##_tile(wb + r * wstride, wstride, xj, xstride, nblocks, yj + r, ystride, 1, 1); break; \
                case 2: NAME##_tile(wb + r * wstride, wstride, xj, xstride, nblocks, yj + r, ystride, 1, 2); break; \
                case 3: NAME##_tile(wb + r * wstride, wstride, xj, xstride, nblocks, yj + r, ystride, 1, 3); break; \
                default: NAME##_tile(wb + r * wstride, wstride, xj, xstride, nblocks, yj + r, ystride, 1, 4); break; \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

// Activation rows per K-quant tile (a type whose tile keeps few registers per row may raise it to 8
// before its DEFINE_KGEMM, as Q6_K does).
#ifndef KGEMM_GROUP
#define KGEMM_GROUP 4
#endif


// vpdpbusd with an accumulator, as inline assembly so that clang keeps it one instruction.
static inline TARGET_VNNI __m256i dpbusd_acc_vnni(__m256i acc, __m256i u8, __m256i s8) {
    __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u8), "x"(s8));
    return acc;
}

// What a group of up to 8 activation rows shares per 32-value block, gathered once per call: each
// row's scale d and sum s, and `pre`, an activation-only integer term of the lanes (e.g. -dot(16, x)
// for Q5_0) that a single row recomputes for every weight row.
typedef struct { __m256i pre[8]; float xd[8]; float s[8]; } Gemm32Side;  // 320 bytes

// A per-thread scratch buffer of at least `bytes`, 64-byte aligned, grown as needed and never shrunk.
// `slot` (0..3) keeps apart the buffers one kernel uses at the same time.
static inline void *thread_scratch(int slot, size_t bytes) {
    static __thread void *buffers[4];
    static __thread size_t capacity[4];
    if (bytes > capacity[slot]) {
        free(buffers[slot]);
        capacity[slot] = (bytes + 4095) / 4096 * 4096;
        buffers[slot] = aligned_alloc(64, capacity[slot]);
        if (!buffers[slot]) abort();
    }
    return buffers[slot];
}

// The side blocks of the 32-weight row groups (room for 64 more blocks, so it rarely grows).
static inline Gemm32Side *gemm32_side(int nblocks) {
    return (Gemm32Side *)thread_scratch(2, ((size_t)nblocks + 64) * sizeof(Gemm32Side));
}

// The wide ("lanes") products, gemm_k_lanes.c and gemm32_lanes.c: the activation rows are interleaved
// L at a time once per call (`INTERLEAVE` into XBLOCKs, one per block); then per RW weight rows their
// blocks are unpacked (`UNPACK` into WEIGHTS), the weight rows LANES_AHEAD tiles on are prefetched,
// and `TILE(wu, nblocks, xl, y, ystride, jn, RW, ...)` meets every group of L rows, the groups taken
// in chunks of about LANES_CHUNK_BYTES so that they stay in cache while the weights stream once.
// A last tile of fewer than RW weight rows runs them one at a time (the bits do not depend on it).
#define LANES_CHUNK_BYTES (384 * 1024)
#define LANES_AHEAD 2
#define DEFINE_LANES_DRIVER(NAME, TARGET, ACT, L, XBLOCK, INTERLEAVE, WEIGHTS, BLOCK, UNPACK, RW, TILE, ...)  \
    static TARGET void NAME(const void *w, size_t wstride, int nw, const ACT *x, size_t xstride, int nx,       \
                            int nblocks, float *y, size_t ystride) {                                          \
        const int groups = (nx + L - 1) / L;                                                                  \
        XBLOCK *xl = (XBLOCK *)thread_scratch(0, (size_t)groups * nblocks * sizeof(XBLOCK));                  \
        for (int g = 0; g < groups; g++)                                                                      \
            INTERLEAVE(x + (size_t)L * g * xstride, xstride, nx - L * g < L ? nx - L * g : L, nblocks,        \
                       xl + (size_t)g * nblocks);                                                             \
        WEIGHTS *wu = (WEIGHTS *)thread_scratch(1, (size_t)RW * nblocks * sizeof(WEIGHTS));                   \
        int chunk = (int)(LANES_CHUNK_BYTES / ((size_t)nblocks * sizeof(XBLOCK)));                            \
        if (chunk < 1) chunk = 1;                                                                             \
        for (int g0 = 0; g0 < groups; g0 += chunk) {                                                          \
            const int g1 = g0 + chunk < groups ? g0 + chunk : groups;                                         \
            for (int r = 0; r < nw; r += RW) {                                                                \
                const int rw = nw - r < RW ? nw - r : RW;                                                     \
                for (int i = 0; i < rw; i++) {                                                                \
                    const BLOCK *row = (const BLOCK *)((const uint8_t *)w + (size_t)(r + i) * wstride);       \
                    for (int b = 0; b < nblocks; b++) UNPACK(row + b, wu + (size_t)i * nblocks + b);          \
                }                                                                                             \
                if (r + LANES_AHEAD * RW < nw) {                                                              \
                    const char *next = (const char *)w + (size_t)(r + LANES_AHEAD * RW) * wstride;            \
                    const int left = nw - r - LANES_AHEAD * RW;                                               \
                    const size_t bytes = (size_t)(left < RW ? left : RW) * wstride;                           \
                    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(next + off, _MM_HINT_T0);       \
                }                                                                                             \
                for (int g = g0; g < g1; g++) {                                                               \
                    const int jn = nx - L * g < L ? nx - L * g : L;                                           \
                    const XBLOCK *xg = xl + (size_t)g * nblocks;                                              \
                    float *yg = y + (size_t)L * g * ystride + r;                                              \
                    if (rw == RW) TILE(wu, nblocks, xg, yg, ystride, jn, RW, __VA_ARGS__);                    \
                    else                                                                                      \
                        for (int i = 0; i < rw; i++)                                                          \
                            TILE(wu + (size_t)i * nblocks, nblocks, xg, yg + i, ystride, jn, 1, __VA_ARGS__); \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    }

// The 32-weight formats for 2 or more activation rows: groups of up to 8 rows per weight row, each
// weight block unpacked once per group (`GPREPARE`). Per row and block the same integer lanes as
// the single-row tile (`GLANES_EXPR` of `xv` and the row's `pre`), and the same float steps:
// acc[jj] = fma(dw * x.d, float(lanes), acc[jj]), the products dw * x.d of the 8 rows computed in one
// vector multiply (lane jj is the scalar product), `EXTRA_V` the rows' fmaf(m, s, extra) in the
// lanes of one vector; the result hsum8(acc[jj]) + extra[jj].
#define DEFINE_GEMM32_GROUP(NAME, TARGET, BLOCK, GPREPARE, PRE_EXPR, GLANES_EXPR, EXTRA_V)               \
    static inline __attribute__((always_inline)) TARGET void NAME##_group_tile(                       \
        const BLOCK *wb, const ChorusQ8Block *x, size_t xstride, int nblocks, const Gemm32Side *side,  \
        float *y, size_t ystride, const int JN) {                                                      \
        __m256 acc[8];                                                                                 \
        __m256 extra = _mm256_setzero_ps();                                                            \
        for (int jj = 0; jj < 8; jj++) acc[jj] = _mm256_setzero_ps();                                  \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const BLOCK *blk = wb + b;                                                                 \
            const Gemm32Side *sb = side + b;                                                           \
            GPREPARE                                                                                   \
            const __m256 dxd = _mm256_mul_ps(_mm256_set1_ps(f16_to_f32(blk->d)), _mm256_load_ps(sb->xd)); \
            EXTRA_V                                                                                    \
            for (int jj = 0; jj < JN; jj++) {                                                          \
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(x + (size_t)jj * xstride + b)->qs); \
                const __m256i pre = _mm256_load_si256(&sb->pre[jj]);                                   \
                const __m256i lanes = GLANES_EXPR;                                                     \
                acc[jj] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(dxd, _mm256_set1_epi32(jj)),        \
                                          _mm256_cvtepi32_ps(lanes), acc[jj]);                         \
                (void)pre;                                                                             \
            }                                                                                          \
        }                                                                                              \
        float ex[8];                                                                                   \
        _mm256_storeu_ps(ex, extra);                                                                   \
        for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = hsum8(acc[jj]) + ex[jj];            \
    }                                                                                                  \
    static TARGET void NAME##_group GEMM_PARAMS(ChorusQ8Block) {                                       \
        Gemm32Side *side = gemm32_side(nblocks);                                                       \
        for (int j0 = 0; j0 < nx; j0 += 8) {                                                           \
            const int jn = nx - j0 < 8 ? nx - j0 : 8;                                                  \
            const ChorusQ8Block *xj = x + (size_t)j0 * xstride;                                        \
            float *yj = y + (size_t)j0 * ystride;                                                      \
            for (int b = 0; b < nblocks; b++) {                                                        \
                for (int jj = 0; jj < 8; jj++) {                                                       \
                    if (jj < jn) {                                                                     \
                        const ChorusQ8Block *xb = xj + (size_t)jj * xstride + b;                       \
                        const __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);                \
                        side[b].pre[jj] = PRE_EXPR;                                                    \
                        side[b].xd[jj] = xb->d;                                                        \
                        side[b].s[jj] = xb->s;                                                         \
                        (void)xv;                                                                      \
                    } else {                                                                           \
                        side[b].pre[jj] = _mm256_setzero_si256();                                      \
                        side[b].xd[jj] = 0;                                                            \
                        side[b].s[jj] = 0;                                                             \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
            for (int r = 0; r < nw; r++) {                                                             \
                const BLOCK *wb = (const BLOCK *)((const uint8_t *)w + (size_t)r * wstride);           \
                switch (jn) {                                                                          \
                case 1: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 1); break;  \
                case 2: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 2); break;  \
                case 3: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 3); break;  \
                case 4: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 4); break;  \
                case 5: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 5); break;  \
                case 6: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 6); break;  \
                case 7: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 7); break;  \
                default: NAME##_group_tile(wb, xj, xstride, nblocks, side, yj + r, ystride, 8); break; \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

// The K-quant tiles. For one weight row against JN (1..KGEMM_GROUP, a compile-time constant after inlining)
// activation rows, per super-block: `SETUP` decodes the weight block's scales, `CHUNKS` walks its
// 32-weight chunks, unpacking each once and adding its integer products to sumi[jj] for every
// activation row (`xr[jj]` is that row's super-block), then `FINISH` (per row, `xb` = xr[jj])
// meets the float accumulators acc[jj] (8 lanes), accm[jj] (4 lanes) or extra[jj] (scalar);
// `RESULT` combines them at the end. Integer sums are exact, so the chunk order is free; the
// float steps are the contract.
#define DEFINE_KGEMM(NAME, TARGET, BLOCK, SETUP, CHUNKS, FINISH, RESULT)                               \
    static inline __attribute__((always_inline)) TARGET void NAME##_row(                              \
        const BLOCK *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, float *y, size_t ystride, const int JN) { \
        __m256 acc[8];                                                                                 \
        __m128 accm[8];                                                                                \
        float extra[8];                                                                                \
        for (int jj = 0; jj < JN; jj++) { acc[jj] = _mm256_setzero_ps(); accm[jj] = _mm_setzero_ps(); extra[jj] = 0; } \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const BLOCK *blk = wb + b;                                                                 \
            const ChorusQ8KBlock *xr[8];                                                               \
            __m256i sumi[8], sumi_odd[8];                                                              \
            for (int jj = 0; jj < JN; jj++) {                                                          \
                xr[jj] = x + (size_t)jj * xstride + b;                                                 \
                sumi[jj] = _mm256_setzero_si256();                                                     \
                sumi_odd[jj] = _mm256_setzero_si256();                                                 \
            }                                                                                          \
            SETUP                                                                                      \
            CHUNKS                                                                                     \
            for (int jj = 0; jj < JN; jj++) {                                                          \
                if (JN == 1) sumi[jj] = _mm256_add_epi32(sumi[jj], sumi_odd[jj]);                      \
                const ChorusQ8KBlock *xb = xr[jj];                                                     \
                FINISH                                                                                 \
            }                                                                                          \
        }                                                                                              \
        for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = RESULT;                              \
        (void)accm; (void)extra;                                                                       \
    }                                                                                                  \
    static TARGET void NAME GEMM_PARAMS(ChorusQ8KBlock) {                                              \
        for (int j0 = 0; j0 < nx; j0 += KGEMM_GROUP) {                                                 \
            const ChorusQ8KBlock *xj = x + (size_t)j0 * xstride;                                       \
            float *yj = y + (size_t)j0 * ystride;                                                      \
            int jn = nx - j0 < KGEMM_GROUP ? nx - j0 : KGEMM_GROUP;                                    \
            for (int r = 0; r < nw; r++) {                                                             \
                const BLOCK *wb = (const BLOCK *)((const uint8_t *)w + (size_t)r * wstride);           \
                switch (jn) {                                                                          \
                case 1: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 1); break;               \
                case 2: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 2); break;               \
                case 3: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 3); break;               \
                case 4: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 4); break;               \
                case 5: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, KGEMM_GROUP > 4 ? 5 : 4); break; \
                case 6: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, KGEMM_GROUP > 4 ? 6 : 4); break; \
                case 7: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, KGEMM_GROUP > 4 ? 7 : 4); break; \
                default: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, KGEMM_GROUP > 4 ? 8 : 4); break; \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

// The integer accumulator of chunk c. With one activation row, even and odd chunks use two
// (summed before FINISH) so the VNNI multiply-adds form two dependency chains instead of one;
// with more rows the rows' chains already overlap.
#define SUMI(c) ((JN == 1 && ((c) & 1)) ? sumi_odd : sumi)

// Adds the products of unsigned weight bytes `q` with activation chunk `c` (bytes 32c..32c+31),
// as int16 pairs times int16 scales `s`, to every row's integer accumulator.
#define K_ACCUMULATE(q, c, s)                                                                          \
    for (int jj = 0; jj < JN; jj++)                                                                    \
        SUMI(c)[jj] = MADD_ACC(SUMI(c)[jj], _mm256_maddubs_epi16((q), _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 32 * (c)))), (s));

// Shuffle for _mm256_shuffle_epi8 that broadcasts int16 element k of each 128-bit half.
#define BCAST16(k) _mm256_set1_epi16((short)(((2 * (k) + 1) << 8) | (2 * (k))))
// Shuffle that puts int16 element 2k in the low half and 2k+1 in the high half (both halves
// holding the same 8 scales): the scales of a chunk's two 16-weight sub-blocks.
#define PAIR16(k) _mm256_set_m128i(_mm_set1_epi16((short)(((4 * (k) + 3) << 8) | (4 * (k) + 2))), \
                                   _mm_set1_epi16((short)(((4 * (k) + 1) << 8) | (4 * (k)))))

// Both 128-bit halves = `half`.
#define BOTH_HALVES(half) _mm256_set_m128i((half), (half))

// The 8 scales (bytes 0..7) and 8 mins (bytes 8..15) of a Q4_K/Q5_K super-block, 6 bits each,
// unpacked from scales[12] (ggml's get_scale_min_k4, four bytes at a time).
static inline __m128i scales_mins_k4(const uint8_t *q) {
    uint32_t a[3];
    __builtin_memcpy(a, q, 12);
    const uint32_t six = 0x3f3f3f3f, four = 0x0f0f0f0f, two = 0x03030303;
    return _mm_set_epi32((int)(((a[2] >> 4) & four) | (((a[1] >> 6) & two) << 4)), (int)(a[1] & six),
                         (int)((a[2] & four) | (((a[0] >> 6) & two) << 4)), (int)(a[0] & six));
}

// The 64 weights of chunk j of a Q4_K super-block (`qs` = its 128 bytes of nibbles): the low nibbles
// are sub-block 2j (columns 64j..64j+31), the high nibbles sub-block 2j+1.
#define Q4K_NIBBLES(qs, j, lo, hi)                                                                     \
    const __m256i lo##_bits = _mm256_loadu_si256((const __m256i *)((qs) + 32 * (j)));                  \
    const __m256i lo = _mm256_and_si256(lo##_bits, _mm256_set1_epi8(0x0F));                            \
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(lo##_bits, 4), _mm256_set1_epi8(0x0F));

// Byte i = `value` where bit `bit` of byte i of `bits` is set, else 0.
static inline TARGET_AVX2 __m256i bit_select(__m256i bits, int bit, char value) {
    __m256i mask = _mm256_set1_epi8((char)(1 << bit));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bits, mask), mask), _mm256_set1_epi8(value));
}

#define GEMM_PARAMS(XBLOCK)                                                                   \
    (const void *w, size_t wstride, int nw, const XBLOCK *x, size_t xstride, int nx, int nblocks, float *y, size_t ystride)

// The exported entry point: the VNNI variant where the CPU has it (or it is selected), else AVX2.
#define DISPATCH(NAME, XBLOCK)                                                                         \
    void chorus_gemm_##NAME GEMM_PARAMS(XBLOCK) {                                             \
        if (chorus_int8_path() >= 2) gemm_##NAME##_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); \
        else gemm_##NAME##_avx2(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);                  \
    }

// As DISPATCH, with an AVX-512 variant for path 3.
#define DISPATCH3(NAME, XBLOCK)                                                                        \
    void chorus_gemm_##NAME GEMM_PARAMS(XBLOCK) {                                                      \
        const int path = chorus_int8_path();                                                           \
        if (path == 3) gemm_##NAME##_avx512(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);      \
        else if (path == 2) gemm_##NAME##_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);   \
        else gemm_##NAME##_avx2(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);                  \
    }

#else
// Other architectures have no intrinsic path yet: the entry points exist but ChorusKernels never
// calls them there (chorus_int8_path() is 0, so MatMul uses its Swift path).
#define STUB(NAME, XBLOCK)                                                                             \
    void chorus_gemm_##NAME(const void *w, size_t a, int b, const XBLOCK *x, size_t c, int d, int e, float *y, size_t f) { \
        (void)w; (void)a; (void)b; (void)x; (void)c; (void)d; (void)e; (void)y; (void)f;               \
    }
#endif
#endif
