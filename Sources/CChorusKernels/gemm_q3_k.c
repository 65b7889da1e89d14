// Q3_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q3_K_q8_K:
//   per 32-weight chunk: int16 pairs of low*x - hi*x (low = 2 low bits, hi = 4 where the high bit is
//   clear), times the signed 6-bit scale of each 16-weight half, summed into 8 int32 lanes;
//   acc = fma(x.d * d, float(sumi), acc); result = hsum8(acc).
#include "x86_kernels.h"

#if defined(__x86_64__)

typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } BlockQ3_K;  // 110 bytes

// The 16 scales, 6 bits each with a +32 bias (layout in ChorusGGUF/QuantBlocks.swift).
static inline void scales_q3k(const uint8_t *q, int sc[16]) {
    for (int j = 0; j < 16; j++) {
        int low = j < 8 ? q[j] & 0x0F : q[j - 8] >> 4;
        int high = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
        sc[j] = (low | high << 4) - 32;
    }
}

#define Q3K_UNPACK                                                                                     \
    const float dw = f16_to_f32(blk->d);                                                               \
    int sc[16];                                                                                        \
    scales_q3k(blk->scales, sc);                                                                       \
    const __m256i hb = _mm256_loadu_si256((const __m256i *)blk->hmask);                                \
    __m256i lo[8], hi[8], s16[8];                                                                      \
    for (int h = 0; h < 2; h++) {                                                                      \
        __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * h));                        \
        for (int k = 0; k < 4; k++) {                                                                  \
            int c = 4 * h + k;                                                                         \
            lo[c] = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), _mm256_set1_epi8(3));             \
            hi[c] = _mm256_andnot_si256(bit_select(hb, c, 4), _mm256_set1_epi8(4));                    \
        }                                                                                              \
    }                                                                                                  \
    for (int c = 0; c < 8; c++) s16[c] = scale_pair16(sc[2 * c], sc[2 * c + 1]);

#define Q3K_ROW                                                                                        \
    __m256i sumi = _mm256_setzero_si256();                                                             \
    for (int c = 0; c < 8; c++) {                                                                      \
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * c));                           \
        __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(lo[c], xv), _mm256_maddubs_epi16(hi[c], xv)); \
        sumi = MADD_ACC(sumi, p16, s16[c]);                                                            \
    }                                                                                                  \
    acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi), acc[jj]);

#define Q3K_RESULT hsum8(acc[jj])

#define MADD_ACC madd_acc_avx2
static TARGET_AVX2 void gemm_q3_K_avx2 GEMM_PARAMS(ChorusQ8KBlock) { KGEMM_BODY(BlockQ3_K, Q3K_UNPACK, Q3K_ROW, Q3K_RESULT) }
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
static TARGET_VNNI void gemm_q3_K_vnni GEMM_PARAMS(ChorusQ8KBlock) { KGEMM_BODY(BlockQ3_K, Q3K_UNPACK, Q3K_ROW, Q3K_RESULT) }
#undef MADD_ACC

DISPATCH(q3_K, ChorusQ8KBlock)

#else
STUB(q3_K, ChorusQ8KBlock)
#endif
