// Q6_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q6_K_q8_K (as of llama.cpp 2026, which moved
// the -32 offset out of the per-chunk lanes):
//   per 32 weights (two 16-weight sub-blocks): int16 pairs of q*x (q in 0..63), times the int8
//   scale of each half, summed into 8 int32 lanes over the super-block; minus, per lane l,
//   32 * (bsum[2l]*scale[2l] + bsum[2l+1]*scale[2l+1]);
//   acc = fma(x.d * d, float(sumi), acc); result = hsum8(acc).
#include "x86_kernels.h"

#if defined(__x86_64__)

typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } BlockQ6_K;  // 210 bytes

#define Q6K_UNPACK                                                                                     \
    const float dw = f16_to_f32(blk->d);                                                               \
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);                              \
    __m256i q[8], s16[8];                                                                              \
    for (int h = 0; h < 2; h++) {                                                                      \
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h));                          \
        __m256i l2 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h + 32));                     \
        __m256i hb = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * h));                          \
        q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4)); \
        q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l2, m4),                                       \
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4)); \
        q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),                 \
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4)); \
        q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m4),                 \
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4)); \
    }                                                                                                  \
    for (int c = 0; c < 8; c++) s16[c] = scale_pair16(blk->scales[2 * c], blk->scales[2 * c + 1]);    \
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)blk->scales));

#define Q6K_ROW                                                                                        \
    __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), scales16), 5); \
    __m256i sumi = _mm256_setzero_si256();                                                             \
    for (int c = 0; c < 8; c++) {                                                                      \
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * c));                           \
        sumi = MADD_ACC(sumi, _mm256_maddubs_epi16(q[c], xv), s16[c]);                                 \
    }                                                                                                  \
    sumi = _mm256_sub_epi32(sumi, offset);                                                             \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi), acc[jj]);

#define Q6K_RESULT hsum8(acc[jj])

#define MADD_ACC madd_acc_avx2
static TARGET_AVX2 void gemm_q6_K_avx2 GEMM_PARAMS(ChorusQ8KBlock) { KGEMM_BODY(BlockQ6_K, Q6K_UNPACK, Q6K_ROW, Q6K_RESULT) }
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
static TARGET_VNNI void gemm_q6_K_vnni GEMM_PARAMS(ChorusQ8KBlock) { KGEMM_BODY(BlockQ6_K, Q6K_UNPACK, Q6K_ROW, Q6K_RESULT) }
#undef MADD_ACC

DISPATCH(q6_K, ChorusQ8KBlock)

#else
STUB(q6_K, ChorusQ8KBlock)
#endif
