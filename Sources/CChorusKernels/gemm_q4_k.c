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

#else
STUB(q4_K, ChorusQ8KBlock)
#endif
