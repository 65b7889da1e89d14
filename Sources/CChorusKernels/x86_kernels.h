// Private helpers shared by the x86 kernel files: target attributes, conversions, the lane dot
// products and the fixed horizontal sums of the accumulation contract (see cchorus.h).
#ifndef CCHORUS_X86_KERNELS_H
#define CCHORUS_X86_KERNELS_H
#include "cchorus.h"
#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TARGET_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

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
static inline TARGET_VNNI __m256i madd_acc_vnni(__m256i acc, __m256i p16, __m256i s16) {
    return _mm256_dpwssd_avx_epi32(acc, p16, s16);
}

// Int16 scale vector for 32 weights made of two 16-weight sub-blocks: lo for bytes 0..15, hi for 16..31.
static inline TARGET_AVX2 __m256i scale_pair16(int lo, int hi) {
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

// One function per weight type of the 32-weight formats, instantiated for each int8 path.
// `PREPARE` unpacks a weight block, `LANES_EXPR` is the block's int32 lanes against activation
// block `xv`, `SCALAR_EXTRA` updates a per-row scalar term. The tile walks 4 activation rows per
// weight row so an unpacked weight block is reused.
#define GEMM_BODY(BLOCK, LANES_EXPR, SCALAR_EXTRA)                                                     \
    for (int j0 = 0; j0 < nx; j0 += 4) {                                                               \
        int jn = nx - j0 < 4 ? nx - j0 : 4;                                                            \
        for (int r = 0; r < nw; r++) {                                                                 \
            const BLOCK *wb = (const BLOCK *)((const uint8_t *)w + (size_t)r * wstride);               \
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
            float extra[4] = {0, 0, 0, 0};                                                             \
            for (int b = 0; b < nblocks; b++) {                                                        \
                const BLOCK *blk = wb + b;                                                             \
                float dw = f16_to_f32(blk->d);                                                         \
                PREPARE                                                                                \
                for (int jj = 0; jj < jn; jj++) {                                                      \
                    const ChorusQ8Block *xb = x + (size_t)(j0 + jj) * xstride + b;                     \
                    __m256i xv = _mm256_loadu_si256((const __m256i *)xb->qs);                          \
                    __m256i lanes = LANES_EXPR;                                                        \
                    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xb->d), _mm256_cvtepi32_ps(lanes), acc[jj]); \
                    SCALAR_EXTRA                                                                       \
                }                                                                                      \
            }                                                                                          \
            for (int jj = 0; jj < jn; jj++) y[(size_t)(j0 + jj) * ystride + r] = hsum8(acc[jj]) + extra[jj]; \
        }                                                                                              \
    }

// The K-quant tile: per (weight row, super-block) `UNPACK` expands the weights once, then `ROW`
// runs for each of up to 4 activation rows (`xb` is that row's super-block), updating acc[jj]
// (8 float lanes), accm[jj] (4 float lanes) or extra[jj] (a scalar); `RESULT` combines them.
#define KGEMM_BODY(BLOCK, UNPACK, ROW, RESULT)                                                         \
    for (int j0 = 0; j0 < nx; j0 += 4) {                                                               \
        int jn = nx - j0 < 4 ? nx - j0 : 4;                                                            \
        for (int r = 0; r < nw; r++) {                                                                 \
            const BLOCK *wb = (const BLOCK *)((const uint8_t *)w + (size_t)r * wstride);               \
            __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
            __m128 accm[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()}; \
            float extra[4] = {0, 0, 0, 0};                                                             \
            (void)accm; (void)extra;                                                                   \
            for (int b = 0; b < nblocks; b++) {                                                        \
                const BLOCK *blk = wb + b;                                                             \
                UNPACK                                                                                 \
                for (int jj = 0; jj < jn; jj++) {                                                      \
                    const ChorusQ8KBlock *xb = x + (size_t)(j0 + jj) * xstride + b;                    \
                    ROW                                                                                \
                }                                                                                      \
            }                                                                                          \
            for (int jj = 0; jj < jn; jj++) y[(size_t)(j0 + jj) * ystride + r] = RESULT;               \
        }                                                                                              \
    }

// Scale and min of the 8 sub-blocks of a Q4_K/Q5_K super-block (ggml's get_scale_min_k4).
static inline void scale_min_k4(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0x0F) | ((q[j] >> 6) << 4);
        mn[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
}

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
        if (chorus_int8_path() == 2) gemm_##NAME##_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); \
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
