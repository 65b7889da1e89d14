#define _GNU_SOURCE
#include "cchorus.h"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
int chorus_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
#else
int chorus_pin_current_thread(int cpu) { (void)cpu; return 0; }
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

static int selected_path = -1;

static int detect_path(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    if (__builtin_cpu_supports("avxvnni")) return 2;
    return 1;
}

int chorus_int8_path(void) {
    if (selected_path < 0) selected_path = detect_path();
    return selected_path;
}

int chorus_set_int8_path(int path) {
    int best = detect_path();
    selected_path = path < 0 ? best : (path > best ? best : path);
    return selected_path;
}

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define TARGET_VNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

static inline TARGET_AVX2 float hsum8(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);                 // l0+l4, l1+l5, l2+l6, l3+l7
    __m128 h = _mm_movehl_ps(s, s);                // l2+l6, l3+l7
    s = _mm_add_ps(s, h);                          // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
    __m128 t = _mm_shuffle_ps(s, s, 1);
    return _mm_cvtss_f32(_mm_add_ss(s, t));
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

// Signed-int8 lanes dot: lane i = sum over bytes 4i..4i+3 of a*b, a unsigned, b signed.
static inline TARGET_AVX2 __m256i dot_u8s8_avx2(__m256i a, __m256i b) {
    __m256i pairs = _mm256_maddubs_epi16(a, b);
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}
static inline TARGET_VNNI __m256i dot_u8s8_vnni(__m256i a, __m256i b) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), a, b);
}

// Block layouts (see ChorusGGUF/QuantBlocks.swift).
typedef struct { uint16_t d; uint8_t qs[16]; } BlockQ4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } BlockQ4_1;
typedef struct { uint16_t d; int8_t qs[32]; } BlockQ8_0;

// One macro body per weight type, instantiated for each int8 path. `DOT` is the lane dot.
// The tile walks 4 activation rows per weight row so an unpacked weight block is reused.
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

// Q4_0: value = d * (q - 8). lanes = dot(q, x) - 8 * dot(1, x) per lane.
#define PREPARE __m256i qv = unpack_nibbles(blk->qs);
static TARGET_AVX2 void gemm_q4_0_avx2(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                                       int nx, int nblocks, float *y, size_t ystride) {
    const __m256i eight = _mm256_set1_epi8(8);
    GEMM_BODY(BlockQ4_0, _mm256_sub_epi32(dot_u8s8_avx2(qv, xv), dot_u8s8_avx2(eight, xv)), )
}
static TARGET_VNNI void gemm_q4_0_vnni(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                                       int nx, int nblocks, float *y, size_t ystride) {
    const __m256i eight = _mm256_set1_epi8(8);
    GEMM_BODY(BlockQ4_0, _mm256_sub_epi32(dot_u8s8_vnni(qv, xv), dot_u8s8_vnni(eight, xv)), )
}

// Q4_1: value = d * q + m. Sum = d*dx*dot(q, x) + m*s(x), the second term kept as a scalar.
#define Q4_1_EXTRA extra[jj] = fmaf(blk_m, xb->s, extra[jj]);
#undef PREPARE
#define PREPARE __m256i qv = unpack_nibbles(blk->qs); float blk_m = f16_to_f32(blk->m);
static TARGET_AVX2 void gemm_q4_1_avx2(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                                       int nx, int nblocks, float *y, size_t ystride) {
    GEMM_BODY(BlockQ4_1, dot_u8s8_avx2(qv, xv), Q4_1_EXTRA)
}
static TARGET_VNNI void gemm_q4_1_vnni(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                                       int nx, int nblocks, float *y, size_t ystride) {
    GEMM_BODY(BlockQ4_1, dot_u8s8_vnni(qv, xv), Q4_1_EXTRA)
}

// Q8_0: value = d * q, q signed: |q| (unsigned) times x with q's sign moved onto it.
#undef PREPARE
#define PREPARE __m256i qv = _mm256_loadu_si256((const __m256i *)blk->qs); __m256i qa = _mm256_sign_epi8(qv, qv);
static TARGET_AVX2 void gemm_q8_0_avx2(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                                       int nx, int nblocks, float *y, size_t ystride) {
    GEMM_BODY(BlockQ8_0, dot_u8s8_avx2(qa, _mm256_sign_epi8(xv, qv)), )
}
static TARGET_VNNI void gemm_q8_0_vnni(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                                       int nx, int nblocks, float *y, size_t ystride) {
    GEMM_BODY(BlockQ8_0, dot_u8s8_vnni(qa, _mm256_sign_epi8(xv, qv)), )
}
#undef PREPARE

#define DISPATCH(NAME)                                                                                 \
    void chorus_gemm_##NAME(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride, int nx, \
                            int nblocks, float *y, size_t ystride) {                                   \
        if (chorus_int8_path() == 2) gemm_##NAME##_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); \
        else gemm_##NAME##_avx2(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);                  \
    }
DISPATCH(q4_0)
DISPATCH(q4_1)
DISPATCH(q8_0)

#else
// No intrinsic path on this architecture yet: ChorusKernels uses its Swift path.
int chorus_int8_path(void) { return 0; }
int chorus_set_int8_path(int path) { (void)path; return 0; }
void chorus_gemm_q4_0(const void *w, size_t a, int b, const ChorusQ8Block *x, size_t c, int d, int e, float *y, size_t f) {}
void chorus_gemm_q4_1(const void *w, size_t a, int b, const ChorusQ8Block *x, size_t c, int d, int e, float *y, size_t f) {}
void chorus_gemm_q8_0(const void *w, size_t a, int b, const ChorusQ8Block *x, size_t c, int d, int e, float *y, size_t f) {}
#endif
