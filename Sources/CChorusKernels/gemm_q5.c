// Q5_0 and Q5_1 against 32-value activation blocks: the 4-bit kernels plus a fifth bit per weight.
#include "x86_kernels.h"

#if defined(__x86_64__)

// Q5_0: value = d * (q - 16), q = nibble | fifth bit << 4. lanes = dot(q, x) - dot(16, x): the same
// integers as ggml's sign trick on (q - 16), lane by lane; dot(16, x) is shared by a tile's rows.
#define PREPARE const __m256i qv = _mm256_or_si256(unpack_nibbles(blk->qs), fifth_bits(blk->qh));
#define Q5_0_LANES(DOT) _mm256_sub_epi32(DOT(qv, xv), DOT(_mm256_set1_epi8(16), xv))
DEFINE_GEMM32_GROUP(gemm_q5_0_avx2, TARGET_AVX2, ChorusBlockQ5_0, PREPARE, dot_u8s8_avx2(_mm256_set1_epi8(16), xv),
                    _mm256_sub_epi32(dot_u8s8_avx2(qv, xv), pre), )
DEFINE_GEMM32_GROUP(gemm_q5_0_vnni, TARGET_VNNI, ChorusBlockQ5_0, PREPARE,
                    _mm256_sub_epi32(_mm256_setzero_si256(), dot_u8s8_vnni(_mm256_set1_epi8(16), xv)),
                    dpbusd_acc_vnni(pre, qv, xv), )
DEFINE_GEMM32(gemm_q5_0_avx2, TARGET_AVX2, ChorusBlockQ5_0, Q5_0_LANES(dot_u8s8_avx2), )
DEFINE_GEMM32(gemm_q5_0_vnni, TARGET_VNNI, ChorusBlockQ5_0, Q5_0_LANES(dot_u8s8_vnni), )
#undef PREPARE

// Q5_1: value = d * q + m. As Q4_1: d*dx*dot(q, x) in the lanes, m*s(x) fused into a scalar.
#define PREPARE                                                                                        \
    const __m256i qv = _mm256_or_si256(unpack_nibbles(blk->qs), fifth_bits(blk->qh));                  \
    const float blk_m = f16_to_f32(blk->m);
#define Q5_1_EXTRA extra[i][jj] = fmaf(blk_m, xb->s, extra[i][jj]);
#define Q5_1_EXTRA_V extra = _mm256_fmadd_ps(_mm256_set1_ps(blk_m), _mm256_load_ps(sb->s), extra);
DEFINE_GEMM32_GROUP(gemm_q5_1_avx2, TARGET_AVX2, ChorusBlockQ5_1, PREPARE, _mm256_setzero_si256(), dot_u8s8_avx2(qv, xv), Q5_1_EXTRA_V)
DEFINE_GEMM32_GROUP(gemm_q5_1_vnni, TARGET_VNNI, ChorusBlockQ5_1, PREPARE, _mm256_setzero_si256(), dot_u8s8_vnni(qv, xv), Q5_1_EXTRA_V)
DEFINE_GEMM32(gemm_q5_1_avx2, TARGET_AVX2, ChorusBlockQ5_1, dot_u8s8_avx2(qv, xv), Q5_1_EXTRA)
DEFINE_GEMM32(gemm_q5_1_vnni, TARGET_VNNI, ChorusBlockQ5_1, dot_u8s8_vnni(qv, xv), Q5_1_EXTRA)
#undef PREPARE

DISPATCH(q5_0, ChorusQ8Block)
DISPATCH(q5_1, ChorusQ8Block)

#else
STUB(q5_0, ChorusQ8Block)
STUB(q5_1, ChorusQ8Block)
#endif
