// Q5_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q5_K_q8_K:
//   sumi (8 int32) = sum over the 8 sub-blocks of scale * lanes of q*x (q in 0..31);
//   acc = fma(x.d * d, float(sumi), acc);
//   mins: s = sum of min * (sub-block sum of x) as one integer; extra = fma(-x.d * dmin, float(s), extra);
//   result = hsum8(acc) + extra.
#include "x86_kernels.h"

#if defined(__x86_64__)

#define Q5K_SETUP                                                                                      \
    const float dw = f16_to_f32(blk->d), dminw = f16_to_f32(blk->dmin);                                \
    const __m256i scales_mins = _mm256_cvtepu8_epi16(scales_mins_k4(blk->scales));                     \
    const __m256i scales = BOTH_HALVES(_mm256_castsi256_si128(scales_mins));                           \
    const __m128i mins = _mm256_extracti128_si256(scales_mins, 1);                                     \
    const __m256i hb = _mm256_loadu_si256((const __m256i *)blk->qh);

#define Q5K_CHUNKS                                                                                     \
    for (int j = 0; j < 4; j++) {                                                                      \
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));                  \
        const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi8(0x0F)), bit_select(hb, 2 * j, 16)); \
        const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(0x0F)), \
                                           bit_select(hb, 2 * j + 1, 16));                             \
        K_ACCUMULATE(lo, 2 * j, _mm256_shuffle_epi8(scales, BCAST16(2 * j)))                           \
        K_ACCUMULATE(hi, 2 * j + 1, _mm256_shuffle_epi8(scales, BCAST16(2 * j + 1)))                   \
    }

#define Q5K_FINISH                                                                                     \
    const __m128i q8s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums),                    \
                                       _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));             \
    __m128i prod = _mm_madd_epi16(mins, q8s);                                                          \
    prod = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, 0x4E));                                         \
    prod = _mm_add_epi32(prod, _mm_shuffle_epi32(prod, 0xB1));                                         \
    extra[jj] = fmaf(-xb->d * dminw, (float)_mm_cvtsi128_si32(prod), extra[jj]);                       \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi[jj]), acc[jj]);

#define Q5K_RESULT hsum8(acc[jj]) + extra[jj]

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q5_K_avx2, TARGET_AVX2, ChorusBlockQ5_K, Q5K_SETUP, Q5K_CHUNKS, Q5K_FINISH, Q5K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q5_K_vnni, TARGET_VNNI, ChorusBlockQ5_K, Q5K_SETUP, Q5K_CHUNKS, Q5K_FINISH, Q5K_RESULT)
#undef MADD_ACC

DISPATCH(q5_K, ChorusQ8KBlock)

#else
STUB(q5_K, ChorusQ8KBlock)
#endif
