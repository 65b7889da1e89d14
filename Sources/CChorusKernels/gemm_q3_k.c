// Q3_K x Q8_K, mirroring ggml's AVX2 ggml_vec_dot_q3_K_q8_K:
//   per 32-weight chunk: int16 pairs of low*x - hi*x (low = 2 low bits, hi = 4 where the high bit is
//   clear), times the signed 6-bit scale of each 16-weight half, summed into 8 int32 lanes;
//   acc = fma(x.d * d, float(sumi), acc); result = hsum8(acc).
#include "x86_kernels.h"

#if defined(__x86_64__)

// The 16 scales as signed bytes: 6 bits each with a +32 bias (ChorusBlockQ3_K in quant_blocks.h),
// four at a time: low nibbles from bytes 0..7, top 2 bits from bytes 8..11.
static inline TARGET_AVX2 __m128i scales_q3k(const uint8_t *q) {
    uint32_t a[3];
    __builtin_memcpy(a, q, 12);
    const uint32_t four = 0x0f0f0f0f, two = 0x03030303;
    __m128i s = _mm_set_epi32((int)(((a[1] >> 4) & four) | (((a[2] >> 6) & two) << 4)),
                              (int)(((a[0] >> 4) & four) | (((a[2] >> 4) & two) << 4)),
                              (int)((a[1] & four) | (((a[2] >> 2) & two) << 4)),
                              (int)((a[0] & four) | ((a[2] & two) << 4)));
    return _mm_sub_epi8(s, _mm_set1_epi8(32));
}

#define Q3K_SETUP                                                                                      \
    const float dw = f16_to_f32(blk->d);                                                               \
    const __m256i scales16 = _mm256_cvtepi8_epi16(scales_q3k(blk->scales));                            \
    const __m256i halves[2] = {BOTH_HALVES(_mm256_castsi256_si128(scales16)),                          \
                               BOTH_HALVES(_mm256_extracti128_si256(scales16, 1))};                    \
    const __m256i hb = _mm256_loadu_si256((const __m256i *)blk->hmask);

#define Q3K_CHUNKS                                                                                     \
    for (int h = 0; h < 2; h++) {                                                                      \
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(blk->qs + 32 * h));                  \
        for (int k = 0; k < 4; k++) {                                                                  \
            const int c = 4 * h + k;                                                                   \
            const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * k), _mm256_set1_epi8(3));  \
            const __m256i hi = _mm256_andnot_si256(bit_select(hb, c, 4), _mm256_set1_epi8(4));         \
            const __m256i s = _mm256_shuffle_epi8(halves[h], PAIR16(k));                               \
            for (int jj = 0; jj < JN; jj++) {                                                          \
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(xr[jj]->qs + 32 * c));         \
                const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(lo, xv), _mm256_maddubs_epi16(hi, xv)); \
                SUMI(c)[jj] = MADD_ACC(SUMI(c)[jj], p16, s);                                                 \
            }                                                                                          \
        }                                                                                              \
    }

#define Q3K_FINISH acc[jj] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sumi[jj]), acc[jj]);

#define Q3K_RESULT hsum8(acc[jj])

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q3_K_avx2, TARGET_AVX2, ChorusBlockQ3_K, Q3K_SETUP, Q3K_CHUNKS, Q3K_FINISH, Q3K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q3_K_vnni, TARGET_VNNI, ChorusBlockQ3_K, Q3K_SETUP, Q3K_CHUNKS, Q3K_FINISH, Q3K_RESULT)
#undef MADD_ACC

DISPATCH(q3_K, ChorusQ8KBlock)

#else
STUB(q3_K, ChorusQ8KBlock)
#endif
