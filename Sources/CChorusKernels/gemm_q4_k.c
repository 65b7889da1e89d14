// Q4_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q4_K_q8_K:
//   per super-block: sumi (8 int32 lanes) = sum over the 8 sub-blocks of scale * (lanes of the
//   nibbles times the activations); acc = fma(x.d * d, float(sumi), acc);
//   mins: prod (4 int32) = pairs of min * (sum of the sub-block's 32 activations, from bsums);
//   accm = fma(-x.d * dmin, float(prod), accm) in 4 lanes.
//   result = hsum8(acc) + ((m0+m2) + (m1+m3)).
#include "x86_kernels.h"

#if defined(__x86_64__)

typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } BlockQ4_K;  // 144 bytes

#define Q4K_SETUP                                                                                      \
    const float dw = f16_to_f32(blk->d), dminw = f16_to_f32(blk->dmin);                                \
    const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));                     \
    const __m256i scales = BOTH_HALVES(_mm256_castsi256_si128(scales_mins));                           \
    const __m128i mins = _mm256_extracti128_si256(scales_mins, 1);

#define Q4K_CHUNKS                                                                                     \
    for (int j = 0; j < 4; j++) {                                                                      \
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));                  \
        const __m256i lo = _mm256_and_si256(bits, _mm256_set1_epi8(0x0F));                            \
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(0x0F));       \
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
DEFINE_KGEMM(gemm_q4_K_avx2, TARGET_AVX2, BlockQ4_K, Q4K_SETUP, Q4K_CHUNKS, Q4K_FINISH, Q4K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q4_K_vnni, TARGET_VNNI, BlockQ4_K, Q4K_SETUP, Q4K_CHUNKS, Q4K_FINISH, Q4K_RESULT)
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

#define DEFINE_Q4KX8(NAME, TARGET)                                                                     \
    static inline __attribute__((always_inline)) TARGET void NAME##_row(                              \
        const BlockQ4_K *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, float *y, size_t ystride, \
        const int JN, const int PER64) {                                                               \
        float acc[4] = {0, 0, 0, 0}, accm[4] = {0, 0, 0, 0};                                           \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const BlockQ4_K *blk = wb + b;                                                             \
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
                const __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));          \
                const __m256i lo = _mm256_and_si256(bits, _mm256_set1_epi8(0x0F));                    \
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(0x0F)); \
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
    /* The gemv order for JN = 2..4 activation rows against one weight row. The exact integers S and  \
       M of every row are reduced together (three hadds instead of a horizontal sum per row), and the  \
       rows' float steps run side by side in the lanes of one vector: lane jj does exactly the scalar  \
       fmaf(float(S), d * x.d, acc) of the single-row path, so the bits are the same. */                \
    static inline __attribute__((always_inline)) TARGET void NAME##_gemv_rows(                        \
        const BlockQ4_K *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, float *y, size_t ystride, \
        const int JN) {                                                                                \
        __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();                                        \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const BlockQ4_K *blk = wb + b;                                                             \
            const ChorusQ8KBlock *xr[4];                                                               \
            __m256i slo[4], shi[4];                                                                    \
            for (int jj = 0; jj < 4; jj++) {                                                           \
                xr[jj] = x + (size_t)(jj < JN ? jj : 0) * xstride + b;                                 \
                slo[jj] = _mm256_setzero_si256();                                                      \
                shi[jj] = _mm256_setzero_si256();                                                      \
            }                                                                                          \
            const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));             \
            const __m256i scales = BOTH_HALVES(_mm256_castsi256_si128(scales_mins));                   \
            const __m128i mins = _mm256_extracti128_si256(scales_mins, 1);                             \
            for (int j = 0; j < 4; j++) {                                                              \
                const __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));          \
                const __m256i lo = _mm256_and_si256(bits, _mm256_set1_epi8(0x0F));                    \
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(0x0F)); \
                const __m256i s_lo = _mm256_shuffle_epi8(scales, BCAST16(2 * j));                      \
                const __m256i s_hi = _mm256_shuffle_epi8(scales, BCAST16(2 * j + 1));                  \
                for (int jj = 0; jj < JN; jj++) {                                                      \
                    slo[jj] = MADD_ACC(slo[jj],                                                        \
                        _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 64 * j))), s_lo); \
                    shi[jj] = MADD_ACC(shi[jj],                                                        \
                        _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 64 * j + 32))), s_hi); \
                }                                                                                      \
            }                                                                                          \
            /* S of rows 0..3 in the lanes of one vector (exact int32 sums). */                        \
            __m256i t[4];                                                                              \
            __m128i mv[4];                                                                             \
            for (int jj = 0; jj < 4; jj++) {                                                           \
                t[jj] = jj < JN ? _mm256_add_epi32(slo[jj], shi[jj]) : _mm256_setzero_si256();         \
                mv[jj] = jj < JN ? _mm_madd_epi16(mins, _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xr[jj]->bsums), \
                                                  _mm_loadu_si128((const __m128i *)(xr[jj]->bsums + 8)))) \
                                 : _mm_setzero_si128();                                                \
            }                                                                                          \
            const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(t[0], t[1]), _mm256_hadd_epi32(t[2], t[3])); \
            const __m128i S = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)); \
            const __m128i M = _mm_hadd_epi32(_mm_hadd_epi32(mv[0], mv[1]), _mm_hadd_epi32(mv[2], mv[3])); \
            const __m128 xd = _mm_set_ps(JN > 3 ? xr[3]->d : 0, JN > 2 ? xr[2]->d : 0, JN > 1 ? xr[1]->d : 0, xr[0]->d); \
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(S), _mm_mul_ps(_mm_set1_ps(f16_to_f32(blk->d)), xd), acc); \
            accm = _mm_fmadd_ps(_mm_cvtepi32_ps(M), _mm_mul_ps(_mm_set1_ps(f16_to_f32(blk->dmin)), xd), accm); \
        }                                                                                              \
        float out[4];                                                                                  \
        _mm_storeu_ps(out, _mm_sub_ps(acc, accm));                                                     \
        for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = out[jj];                             \
    }                                                                                                  \
    static inline __attribute__((always_inline)) TARGET void NAME##_rows(                             \
        const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,       \
        int nblocks, float *y, size_t ystride, const int PER64) {                                      \
        for (int j0 = 0; j0 < nx; j0 += 4) {                                                           \
            const ChorusQ8KBlock *xj = x + (size_t)j0 * xstride;                                       \
            float *yj = y + (size_t)j0 * ystride;                                                      \
            int jn = nx - j0 < 4 ? nx - j0 : 4;                                                        \
            for (int r = 0; r < nw; r++) {                                                             \
                const BlockQ4_K *wb = (const BlockQ4_K *)((const uint8_t *)w + (size_t)r * wstride);   \
                if (!PER64 && jn > 1) {                                                                \
                    switch (jn) {                                                                      \
                    case 2: NAME##_gemv_rows(wb, xj, xstride, nblocks, yj + r, ystride, 2); break;     \
                    case 3: NAME##_gemv_rows(wb, xj, xstride, nblocks, yj + r, ystride, 3); break;     \
                    default: NAME##_gemv_rows(wb, xj, xstride, nblocks, yj + r, ystride, 4); break;    \
                    }                                                                                  \
                    continue;                                                                          \
                }                                                                                      \
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
    if (chorus_int8_path() == 2) gemm_q4_K_x8_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride, per64Rows);
    else gemm_q4_K_x8_avx2(w, wstride, nw, x, xstride, nx, nblocks, y, ystride, per64Rows);
}

#else
STUB(q4_K, ChorusQ8KBlock)
void chorus_gemm_q4_K_x8(const void *w, size_t a, int b, const ChorusQ8KBlock *x, size_t c, int d, int e, float *y,
                         size_t f, int g) {
    (void)w; (void)a; (void)b; (void)x; (void)c; (void)d; (void)e; (void)y; (void)f; (void)g;
}
#endif
