// Q4_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q4_K_q8_K:
//   per super-block: sumi (8 int32 lanes) = sum over the 8 sub-blocks of scale * (lanes of the
//   nibbles times the activations); acc = fma(x.d * d, float(sumi), acc);
//   mins: prod (4 int32) = pairs of min * (sum of the sub-block's 32 activations, from bsums);
//   accm = fma(-x.d * dmin, float(prod), accm) in 4 lanes.
//   result = hsum8(acc) + ((m0+m2) + (m1+m3)).
#include "x86_kernels.h"

#if defined(__x86_64__)

typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } BlockQ4_K;  // 144 bytes

#define Q4K_UNPACK                                                                                     \
    const float dw = f16_to_f32(blk->d), dminw = f16_to_f32(blk->dmin);                                \
    uint8_t sc[8], mn[8];                                                                              \
    scale_min_k4(blk->scales, sc, mn);                                                                 \
    __m256i q[8], s16[8];                                                                              \
    for (int j = 0; j < 4; j++) {                                                                      \
        __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * j));                        \
        q[2 * j] = _mm256_and_si256(bits, _mm256_set1_epi8(0x0F));                                     \
        q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), _mm256_set1_epi8(0x0F));           \
    }                                                                                                  \
    for (int k = 0; k < 8; k++) s16[k] = _mm256_set1_epi16(sc[k]);                                     \
    const __m128i mins = _mm_setr_epi16(mn[0], mn[1], mn[2], mn[3], mn[4], mn[5], mn[6], mn[7]);

#define Q4K_ROW                                                                                        \
    __m128i q8s = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)xb->bsums),                          \
                                 _mm_loadu_si128((const __m128i *)(xb->bsums + 8)));                   \
    __m128i prod = _mm_madd_epi16(mins, q8s);                                                          \
    accm[jj] = _mm_fmadd_ps(_mm_set1_ps(-xb->d * dminw), _mm_cvtepi32_ps(prod), accm[jj]);             \
    __m256i sumi = _mm256_setzero_si256();                                                             \
    for (int k = 0; k < 8; k++) {                                                                      \
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * k));                           \
        sumi = MADD_ACC(sumi, _mm256_maddubs_epi16(q[k], xv), s16[k]);                                 \
    }                                                                                                  \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi), acc[jj]);

#define Q4K_RESULT hsum8(acc[jj]) + hsum4(accm[jj])

#define MADD_ACC madd_acc_avx2
static TARGET_AVX2 void gemm_q4_K_avx2 GEMM_PARAMS(ChorusQ8KBlock) { KGEMM_BODY(BlockQ4_K, Q4K_UNPACK, Q4K_ROW, Q4K_RESULT) }
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
static TARGET_VNNI void gemm_q4_K_vnni GEMM_PARAMS(ChorusQ8KBlock) { KGEMM_BODY(BlockQ4_K, Q4K_UNPACK, Q4K_ROW, Q4K_RESULT) }
#undef MADD_ACC

DISPATCH(q4_K, ChorusQ8KBlock)

#else
STUB(q4_K, ChorusQ8KBlock)
#endif
