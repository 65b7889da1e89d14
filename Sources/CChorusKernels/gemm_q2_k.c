// Q2_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q2_K_q8_K:
//   mins first: prod (8 int32) = pairs of min * bsum over the 16 sub-blocks;
//   acc = fma(-x.d * dmin, float(prod), acc);
//   then sumi (8 int32) = sum over 32-weight chunks of int16 pairs q*x (q in 0..3) times the 4-bit
//   scale of each 16-weight half; acc = fma(x.d * d, float(sumi), acc); result = hsum8(acc).
#include "x86_kernels.h"

#if defined(__x86_64__)

#define Q2K_SETUP                                                                                      \
    const float dw = f16_to_f32(blk->d), dminw = f16_to_f32(blk->dmin);                                \
    const __m128i packed = _mm_loadu_si128((const __m128i *)blk->scales);                              \
    const __m256i scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(0x0F)));         \
    const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F))); \
    const __m256i halves[2] = {BOTH_HALVES(_mm256_castsi256_si128(scales16)),                          \
                               BOTH_HALVES(_mm256_extracti128_si256(scales16, 1))};

#define Q2K_CHUNKS                                                                                     \
    for (int h = 0; h < 2; h++) {                                                                      \
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * h));                  \
        for (int k = 0; k < 4; k++) {                                                                  \
            const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), _mm256_set1_epi8(3));   \
            K_ACCUMULATE(q, 4 * h + k, _mm256_shuffle_epi8(halves[h], PAIR16(k)))                      \
        }                                                                                              \
    }

#define Q2K_FINISH                                                                                     \
    const __m256i prod = _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)xb->bsums));    \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(-xb->d * dminw), _mm256_cvtepi32_ps(prod), acc[jj]);      \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi[jj]), acc[jj]);

#define Q2K_RESULT hsum8(acc[jj])

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q2_K_avx2, TARGET_AVX2, ChorusBlockQ2_K, Q2K_SETUP, Q2K_CHUNKS, Q2K_FINISH, Q2K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q2_K_vnni, TARGET_VNNI, ChorusBlockQ2_K, Q2K_SETUP, Q2K_CHUNKS, Q2K_FINISH, Q2K_RESULT)
#undef MADD_ACC

DISPATCH(q2_K, ChorusQ8KBlock)

#else
STUB(q2_K, ChorusQ8KBlock)
#endif
