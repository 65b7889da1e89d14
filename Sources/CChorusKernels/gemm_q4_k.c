// Q4_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q4_K_q8_K:
//   per super-block: sumi (8 int32 lanes) = sum over the 8 sub-blocks of scale * (lanes of the
//   nibbles times the activations); acc = fma(x.d * d, float(sumi), acc);
//   mins: prod (4 int32) = pairs of min * (sum of the sub-block's 32 activations, from bsums);
//   accm = fma(-x.d * dmin, float(prod), accm) in 4 lanes.
//   result = hsum8(acc) + ((m0+m2) + (m1+m3)).
#include "x86_kernels.h"
#include <stdlib.h>

#if defined(__x86_64__)

#define Q4K_SETUP                                                                                      \
    const float dw = f16_to_f32(blk->d), dminw = f16_to_f32(blk->dmin);                                \
    const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));                     \
    const __m256i scales = BOTH_HALVES(_mm256_castsi256_si128(scales_mins));                           \
    const __m128i mins = _mm256_extracti128_si256(scales_mins, 1);

#define Q4K_CHUNKS                                                                                     \
    for (int j = 0; j < 4; j++) {                                                                      \
        Q4K_NIBBLES(blk->qs, j, lo, hi)                                                                \
        K_ACCUMULATE(lo, 2 * j, _mm256_shuffle_epi8(scales, BCAST16(2 * j)))                           \
        K_ACCUMULATE(hi, 2 * j + 1, _mm256_shuffle_epi8(scales, BCAST16(2 * j + 1)))                   \
    }

#define Q4K_FINISH                                                                                     \
    const __m128i q8s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums),                    \
                                       _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));             \
    accm[jj] = _mm_fmadd_ps(_mm_set1_ps(-xb->d * dminw), _mm_cvtepi32_ps(_mm_madd_epi16(mins, q8s)), accm[jj]); \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi[jj]), acc[jj]);

#define Q4K_RESULT hsum8(acc[jj]) + hsum4(accm[jj])

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q4_K_avx2, TARGET_AVX2, ChorusBlockQ4_K, Q4K_SETUP, Q4K_CHUNKS, Q4K_FINISH, Q4K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q4_K_vnni, TARGET_VNNI, ChorusBlockQ4_K, Q4K_SETUP, Q4K_CHUNKS, Q4K_FINISH, Q4K_RESULT)
#undef MADD_ACC

DISPATCH(q4_K, ChorusQ8KBlock)

// The order of llama.cpp's repacked Q4_K (block_q4_Kx8, used on AVX2 when the matrix has a
// multiple of 8 rows), ggml_gemv_q4_K_8x8_q8_K / ggml_gemm_q4_K_8x8_q8_K in arch/x86/repack.cpp.
// Per output element, with exact integer sums:
//   S_j = sum over sub-blocks 2j, 2j+1 of scale * (nibbles . activations)   (64 weights, j = 0..3)
//   M_j = min_2j * bsum32_2j + min_2j+1 * bsum32_2j+1
//   gemv (PER64 = 0): per super-block  acc  = fma(float(S_0+S_1+S_2+S_3), d * x.d, acc)
//                                      accm = fma(float(M_0+M_1+M_2+M_3), dmin * x.d, accm)
//   gemm (PER64 = 1): per 64 weights   acc  = fma(float(S_j), d * x.d, acc)
//                                      accm = fma(float(M_j), dmin * x.d, accm)
//   result = acc - accm.

// The gemv order for 2 or more activation rows: groups of up to 8 rows against one weight row at a
// time, each weight block unpacked once for the whole group. The exact integers S and M of the
// group's rows are reduced together (hadd trees instead of a horizontal sum per row), and the rows'
// float steps run side by side in the lanes of one vector: lane jj does exactly the scalar
// fmaf(float(S), d * x.d, acc) of the single-row path, so every bit is the same. The activation
// side of the mins (sums of 32) and the scales are gathered once per group into `side`.
#define Q4KX8_GEMV_SLOTS 8
typedef struct { int16_t q8s[8][8]; float xd[8]; } Q4KGemvSide;  // per super-block: 160 bytes

// Row order of `q8s` in a side block, so that three hadds of madd(mins, [row a | row b]) pairs give
// [M0..M3 | M4..M7].
static const int q4kx8_side_slot[8] = {0, 2, 4, 6, 1, 3, 5, 7};

#define DEFINE_Q4KX8_GEMV(NAME, TARGET)                                                                \
    static inline __attribute__((always_inline)) TARGET void NAME##_tile(                             \
        const ChorusBlockQ4_K *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, const Q4KGemvSide *side, \
        float *y, size_t ystride, const int JN) {                                                      \
        __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();                                  \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const ChorusBlockQ4_K *blk = wb + b;                                                             \
            const ChorusQ8KBlock *xr[8];                                                               \
            __m256i s[8];                                                                              \
            for (int jj = 0; jj < 8; jj++) {                                                           \
                xr[jj] = x + (size_t)(jj < JN ? jj : 0) * xstride + b;                                 \
                s[jj] = _mm256_setzero_si256();                                                        \
            }                                                                                          \
            const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));             \
            const __m256i scales = BOTH_HALVES(_mm256_castsi256_si128(scales_mins));                   \
            const __m256i mins = BOTH_HALVES(_mm256_extracti128_si256(scales_mins, 1));                \
            for (int j = 0; j < 4; j++) {                                                              \
                Q4K_NIBBLES(blk->qs, j, lo, hi)                                                        \
                const __m256i s_lo = _mm256_shuffle_epi8(scales, BCAST16(2 * j));                      \
                const __m256i s_hi = _mm256_shuffle_epi8(scales, BCAST16(2 * j + 1));                  \
                for (int jj = 0; jj < JN; jj++) {                                                      \
                    s[jj] = MADD_ACC(s[jj],                                                            \
                        _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 64 * j))), s_lo); \
                    s[jj] = MADD_ACC(s[jj],                                                            \
                        _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 64 * j + 32))), s_hi); \
                }                                                                                      \
            }                                                                                          \
            /* S of rows 0..7 in the lanes of one vector (exact int32 sums) */                         \
            const __m256i S = row_sums8(s, JN);                                                        \
            /* M of rows 0..7: madd of the mins with [row a | row b] side sums, three hadds */         \
            Q4KX8_GEMV_FLOAT_STEP                                                                      \
        }                                                                                              \
        float out[8];                                                                                  \
        _mm256_storeu_ps(out, _mm256_sub_ps(acc, accm));                                               \
        for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = out[jj];                             \
    }                                                                                                  \
    static TARGET void gemv_group_##NAME(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, \
                                         size_t xstride, int nx, int nblocks, float *y, size_t ystride) { \
        Q4KX8_GEMV_GROUP_BODY(NAME##_tile)                                                             \
    }

// The group driver: per group of up to 8 activation rows, the side block, then every weight row.
#define Q4KX8_GEMV_GROUP_BODY(TILE)                                                                    \
    Q4KGemvSide stack[64];                                                                             \
    Q4KGemvSide *side = nblocks <= 64 ? stack : (Q4KGemvSide *)malloc(sizeof(Q4KGemvSide) * (size_t)nblocks); \
    if (!side) abort();                                                                                \
    for (int j0 = 0; j0 < nx; j0 += 8) {                                                               \
        const int jn = nx - j0 < 8 ? nx - j0 : 8;                                                      \
        const ChorusQ8KBlock *xj = x + (size_t)j0 * xstride;                                           \
        float *yj = y + (size_t)j0 * ystride;                                                          \
        q4kx8_gather_side(xj, xstride, jn, nblocks, side);                                             \
        for (int r = 0; r < nw; r++) {                                                                 \
            const ChorusBlockQ4_K *wb = (const ChorusBlockQ4_K *)((const uint8_t *)w + (size_t)r * wstride);       \
            switch (jn) {                                                                              \
            case 1: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 1); break;                   \
            case 2: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 2); break;                   \
            case 3: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 3); break;                   \
            case 4: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 4); break;                   \
            case 5: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 5); break;                   \
            case 6: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 6); break;                   \
            case 7: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 7); break;                   \
            default: TILE(wb, xj, xstride, nblocks, side, yj + r, ystride, 8); break;                  \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    if (side != stack) free(side);

// The activation side of a group of `jn` rows: per super-block the sums of 32 and the scales.
static inline TARGET_AVX2 void q4kx8_gather_side(const ChorusQ8KBlock *xj, size_t xstride, int jn, int nblocks,
                                                 Q4KGemvSide *side) {
    for (int b = 0; b < nblocks; b++) {
        for (int jj = 0; jj < 8; jj++) {
            __m128i q8s = _mm_setzero_si128();
            float d = 0;
            if (jj < jn) {
                const ChorusQ8KBlock *xb = xj + (size_t)jj * xstride + b;
                q8s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums),
                                     _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));
                d = xb->d;
            }
            _mm_storeu_si128((__m128i *)side[b].q8s[q4kx8_side_slot[jj]], q8s);
            side[b].xd[jj] = d;
        }
    }
}

// S and M of 8 rows (lanes) to the float accumulators, exactly the scalar steps of one row.
#define Q4KX8_GEMV_FLOAT_STEP                                                                          \
    const Q4KGemvSide *sb = side + b;                                                                  \
    const __m256i v0 = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)sb->q8s[0]));       \
    const __m256i v1 = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)sb->q8s[2]));       \
    const __m256i v2 = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)sb->q8s[4]));       \
    const __m256i v3 = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)sb->q8s[6]));       \
    const __m256i M = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));         \
    const __m256 xd = _mm256_loadu_ps(sb->xd);                                                         \
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S), _mm256_mul_ps(_mm256_set1_ps(f16_to_f32(blk->d)), xd), acc); \
    accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(_mm256_set1_ps(f16_to_f32(blk->dmin)), xd), accm);

// The same tile with 512-bit vectors: one vector holds a 64-weight chunk (low nibbles in its lower
// half, high nibbles in its upper half), met by the row's 64 contiguous activations; the exact
// integer lanes are folded to 256 bits before the same hadd tree.
static inline __attribute__((always_inline)) TARGET_AVX512 void q4kx8_gemv_avx512_tile(
    const ChorusBlockQ4_K *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, const Q4KGemvSide *side,
    float *y, size_t ystride, const int JN) {
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int b = 0; b < nblocks; b++) {
        const ChorusBlockQ4_K *blk = wb + b;
        const ChorusQ8KBlock *xr[8];
        __m512i s5[8];
        for (int jj = 0; jj < 8; jj++) {
            xr[jj] = x + (size_t)(jj < JN ? jj : 0) * xstride + b;
            s5[jj] = _mm512_setzero_si512();
        }
        const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));
        const __m256i mins = BOTH_HALVES(_mm256_extracti128_si256(scales_mins, 1));
        /* int16 scales: element k of the 8 in every lane of a 256-bit half */
        const __m512i scales = _mm512_broadcast_i32x4(_mm256_castsi256_si128(scales_mins));
        for (int j = 0; j < 4; j++) {
            const __m512i bits = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j)));
            const __m512i q = _mm512_and_si512(_mm512_mask_srli_epi16(bits, 0xFFFF0000u, bits, 4), m4);
            const __m512i sc = _mm512_shuffle_epi8(scales, _mm512_inserti64x4(
                _mm512_castsi256_si512(BCAST16(2 * j)), BCAST16(2 * j + 1), 1));
            for (int jj = 0; jj < JN; jj++)
                s5[jj] = madd_acc_512(s5[jj], _mm512_maddubs_epi16(q, _mm512_loadu_si512(xr[jj]->qs + 64 * j)), sc);
        }
        __m256i s[8];
        for (int jj = 0; jj < 8; jj++)
            s[jj] = jj < JN ? _mm256_add_epi32(_mm512_castsi512_si256(s5[jj]), _mm512_extracti64x4_epi64(s5[jj], 1))
                            : _mm256_setzero_si256();
        const __m256i S = row_sums8(s, JN);
        Q4KX8_GEMV_FLOAT_STEP
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_sub_ps(acc, accm));
    for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = out[jj];
}

static TARGET_AVX512 void gemv_group_q4kx8_avx512(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x,
                                                  size_t xstride, int nx, int nblocks, float *y, size_t ystride) {
    Q4KX8_GEMV_GROUP_BODY(q4kx8_gemv_avx512_tile)
}

#define MADD_ACC madd_acc_avx2
DEFINE_Q4KX8_GEMV(q4kx8_gemv_avx2, TARGET_AVX2)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_Q4KX8_GEMV(q4kx8_gemv_vnni, TARGET_VNNI)
#undef MADD_ACC
#define gemv_group_gemm_q4_K_x8_avx2 gemv_group_q4kx8_gemv_avx2
#define gemv_group_gemm_q4_K_x8_vnni gemv_group_q4kx8_gemv_vnni

#define DEFINE_Q4KX8(NAME, TARGET)                                                                     \
    static inline __attribute__((always_inline)) TARGET void NAME##_row(                              \
        const ChorusBlockQ4_K *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, float *y, size_t ystride, \
        const int JN, const int PER64) {                                                               \
        float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};                                           \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const ChorusBlockQ4_K *blk = wb + b;                                                             \
            const ChorusQ8KBlock *xr[4];                                                               \
            __m256i sumi[4], sumi_hi[4];                                                               \
            int32_t mp[4][4];                                                                          \
            const float dw = f16_to_f32(blk->d), dminw = f16_to_f32(blk->dmin);                        \
            const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));             \
            const __m256i scales = BOTH_HALVES(_mm256_castsi256_si128(scales_mins));                   \
            const __m128i mins = _mm256_extracti128_si256(scales_mins, 1);                             \
            for (int jj = 0; jj < JN; jj++) {                                                          \
                xr[jj] = x + (size_t)jj * xstride + b;                                                 \
                sumi[jj] = _mm256_setzero_si256();                                                     \
                sumi_hi[jj] = _mm256_setzero_si256();                                                  \
                const __m128i q8s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xr[jj]->bsums),    \
                                                   _mm_loadu_si128((const __m128i *)(xr[jj]->bsums + 8))); \
                _mm_storeu_si128((__m128i *)mp[jj], _mm_madd_epi16(mins, q8s));                        \
            }                                                                                          \
            for (int j = 0; j < 4; j++) {                                                              \
                Q4K_NIBBLES(blk->qs, j, lo, hi)                                                        \
                const __m256i s_lo = _mm256_shuffle_epi8(scales, BCAST16(2 * j));                      \
                const __m256i s_hi = _mm256_shuffle_epi8(scales, BCAST16(2 * j + 1));                  \
                for (int jj = 0; jj < JN; jj++) {                                                      \
                    /* two integer chains (low and high nibbles), summed exactly at the end */         \
                    const __m256i plo = MADD_ACC(PER64 ? _mm256_setzero_si256() : sumi[jj],            \
                        _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 64 * j))), s_lo); \
                    const __m256i phi = MADD_ACC(PER64 ? _mm256_setzero_si256() : sumi_hi[jj],         \
                        _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 64 * j + 32))), s_hi); \
                    if (PER64) {                                                                       \
                        acc[jj] = fmaf((float)hsum_epi32(_mm256_add_epi32(plo, phi)), dw * xr[jj]->d, acc[jj]); \
                        accm[jj] = fmaf((float)mp[jj][j], dminw * xr[jj]->d, accm[jj]);                \
                    } else {                                                                           \
                        sumi[jj] = plo;                                                                \
                        sumi_hi[jj] = phi;                                                             \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
            if (!PER64) {                                                                              \
                for (int jj = 0; jj < JN; jj++) {                                                      \
                    const int32_t m = (mp[jj][0] + mp[jj][1]) + (mp[jj][2] + mp[jj][3]);               \
                    acc[jj] = fmaf((float)hsum_epi32(_mm256_add_epi32(sumi[jj], sumi_hi[jj])), dw * xr[jj]->d, acc[jj]); \
                    accm[jj] = fmaf((float)m, dminw * xr[jj]->d, accm[jj]);                            \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
        for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = acc[jj] - accm[jj];                  \
    }                                                                                                  \
    static inline __attribute__((always_inline)) TARGET void NAME##_rows(                             \
        const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,       \
        int nblocks, float *y, size_t ystride, const int PER64) {                                      \
        if (!PER64 && nx > 1) {                                                                        \
            gemv_group_##NAME(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);                    \
            return;                                                                                    \
        }                                                                                              \
        for (int j0 = 0; j0 < nx; j0 += 4) {                                                           \
            const ChorusQ8KBlock *xj = x + (size_t)j0 * xstride;                                       \
            float *yj = y + (size_t)j0 * ystride;                                                      \
            int jn = nx - j0 < 4 ? nx - j0 : 4;                                                        \
            for (int r = 0; r < nw; r++) {                                                             \
                const ChorusBlockQ4_K *wb = (const ChorusBlockQ4_K *)((const uint8_t *)w + (size_t)r * wstride);   \
                switch (jn) {                                                                          \
                case 1: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 1, PER64); break;        \
                case 2: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 2, PER64); break;        \
                case 3: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 3, PER64); break;        \
                default: NAME##_row(wb, xj, xstride, nblocks, yj + r, ystride, 4, PER64); break;       \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
    static TARGET void NAME(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, \
                            int nx, int nblocks, float *y, size_t ystride, int per64Rows) {            \
        if (per64Rows > nx) per64Rows = nx;                                                            \
        if (per64Rows < 0) per64Rows = 0;                                                              \
        NAME##_rows(w, wstride, nw, x, xstride, per64Rows, nblocks, y, ystride, 1);                    \
        NAME##_rows(w, wstride, nw, x + (size_t)per64Rows * xstride, xstride, nx - per64Rows, nblocks, \
                    y + (size_t)per64Rows * ystride, ystride, 0);                                      \
    }

#define MADD_ACC madd_acc_avx2
DEFINE_Q4KX8(gemm_q4_K_x8_avx2, TARGET_AVX2)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_Q4KX8(gemm_q4_K_x8_vnni, TARGET_VNNI)
#undef MADD_ACC

void chorus_gemm_q4_K_x8(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                         int nblocks, float *y, size_t ystride, int per64Rows) {
    if (chorus_int8_path() == 3 && per64Rows <= 0 && nx > 1) {
        gemv_group_q4kx8_avx512(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);
        return;
    }
    if (chorus_int8_path() >= 2) gemm_q4_K_x8_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride, per64Rows);
    else gemm_q4_K_x8_avx2(w, wstride, nw, x, xstride, nx, nblocks, y, ystride, per64Rows);
}

#else
STUB(q4_K, ChorusQ8KBlock)
void chorus_gemm_q4_K_x8(const void *w, size_t a, int b, const ChorusQ8KBlock *x, size_t c, int d, int e, float *y,
                         size_t f, int g) {
    (void)w; (void)a; (void)b; (void)x; (void)c; (void)d; (void)e; (void)y; (void)f; (void)g;
}
#endif
