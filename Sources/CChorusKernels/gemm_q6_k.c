// Q6_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q6_K_q8_K (as of llama.cpp 2026, which moved
// the -32 offset out of the per-chunk lanes):
//   per 32 weights (two 16-weight sub-blocks): int16 pairs of q*x (q in 0..63), times the int8
//   scale of each half, summed into 8 int32 lanes over the super-block; minus, per lane l,
//   32 * (bsum[2l]*scale[2l] + bsum[2l+1]*scale[2l+1]);
//   acc = fma(x.d * d, float(sumi), acc); result = hsum8(acc).
// Q6_K's tile keeps one integer and one float accumulator per activation row, so groups of 8 rows
// fit the registers and halve the weight unpacking per row against groups of 4.
#define KGEMM_GROUP 8
#include "x86_kernels.h"

#if defined(__x86_64__)

typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } BlockQ6_K;  // 210 bytes

#define Q6K_SETUP                                                                                      \
    const float dw = f16_to_f32(blk->d);                                                               \
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)blk->scales));      \
    const __m256i halves[2] = {BOTH_HALVES(_mm256_castsi256_si128(scales16)),                          \
                               BOTH_HALVES(_mm256_extracti128_si256(scales16, 1))};                    \
    /* -32 * scale (fits int16): the offset term becomes one multiply-add into the lanes */           \
    const __m256i scales_m32 = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(scales16, 5));

#define Q6K_CHUNKS                                                                                     \
    for (int h = 0; h < 2; h++) {                                                                      \
        const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);                           \
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h));                    \
        const __m256i l2 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h + 32));               \
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * h));                    \
        const __m256i q0 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)); \
        K_ACCUMULATE(q0, 4 * h + 0, _mm256_shuffle_epi8(halves[h], PAIR16(0)))                         \
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l2, m4),                                   \
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4)); \
        K_ACCUMULATE(q1, 4 * h + 1, _mm256_shuffle_epi8(halves[h], PAIR16(1)))                         \
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),             \
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4)); \
        K_ACCUMULATE(q2, 4 * h + 2, _mm256_shuffle_epi8(halves[h], PAIR16(2)))                         \
        const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m4),             \
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4)); \
        K_ACCUMULATE(q3, 4 * h + 3, _mm256_shuffle_epi8(halves[h], PAIR16(3)))                         \
    }

// lanes - 32 * (bsum pairs . scales), as sumi + madd(bsums, -32 * scales): the same integers.
#define Q6K_FINISH                                                                                     \
    const __m256i lanes = MADD_ACC(sumi[jj], _mm256_loadu_si256((const __m256i *)xb->bsums), scales_m32); \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(lanes), acc[jj]);

#define Q6K_RESULT hsum8(acc[jj])

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q6_K_avx2, TARGET_AVX2, BlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH, Q6K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q6_K_vnni, TARGET_VNNI, BlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH, Q6K_RESULT)
#undef MADD_ACC

DISPATCH(q6_K, ChorusQ8KBlock)

// llama.cpp's tiled K-quant matmul (ggml-cpu/tiled, AVX2 microtile; used for 8 or more activation
// rows): per super-block the exact S = hsum(lanes - offset), then acc = fma(d * float(S), x.d, acc).
#define Q6K_FINISH_TILED                                                                               \
    const __m256i lanes = MADD_ACC(sumi[jj], _mm256_loadu_si256((const __m256i *)xb->bsums), scales_m32); \
    extra[jj] = fmaf(dw * (float)hsum_epi32(lanes), xb->d, extra[jj]);

#define Q6K_RESULT_TILED extra[jj]

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q6_K_tiled_avx2, TARGET_AVX2, BlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH_TILED, Q6K_RESULT_TILED)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q6_K_tiled_vnni, TARGET_VNNI, BlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH_TILED, Q6K_RESULT_TILED)
#undef MADD_ACC

DISPATCH(q6_K_tiled, ChorusQ8KBlock)

#else
STUB(q6_K, ChorusQ8KBlock)
STUB(q6_K_tiled, ChorusQ8KBlock)
#endif
