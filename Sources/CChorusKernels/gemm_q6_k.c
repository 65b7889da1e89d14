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
DEFINE_KGEMM(gemm_q6_K_avx2, TARGET_AVX2, ChorusBlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH, Q6K_RESULT)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q6_K_vnni, TARGET_VNNI, ChorusBlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH, Q6K_RESULT)
#undef MADD_ACC

DISPATCH(q6_K, ChorusQ8KBlock)

// llama.cpp's tiled K-quant matmul (ggml-cpu/tiled, AVX2 microtile; used for 8 or more activation
// rows): per super-block the exact S = hsum(lanes - offset), then acc = fma(d * float(S), x.d, acc).
#define Q6K_FINISH_TILED                                                                               \
    const __m256i lanes = MADD_ACC(sumi[jj], _mm256_loadu_si256((const __m256i *)xb->bsums), scales_m32); \
    extra[jj] = fmaf(dw * (float)hsum_epi32(lanes), xb->d, extra[jj]);

#define Q6K_RESULT_TILED extra[jj]

#define MADD_ACC madd_acc_avx2
DEFINE_KGEMM(gemm_q6_K_tiled_avx2, TARGET_AVX2, ChorusBlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH_TILED, Q6K_RESULT_TILED)
#undef MADD_ACC
#define MADD_ACC madd_acc_vnni
DEFINE_KGEMM(gemm_q6_K_tiled_vnni, TARGET_VNNI, ChorusBlockQ6_K, Q6K_SETUP, Q6K_CHUNKS, Q6K_FINISH_TILED, Q6K_RESULT_TILED)
#undef MADD_ACC

// The tiled order for 2 to 8 activation rows with 512-bit vectors: one vector holds 64 columns (two
// 32-column chunks) against the row's 64 contiguous activations, int16 pairs times the scales of its
// four 16-column sub-blocks (one per 128-bit lane). Per super-block each row's exact S (lanes folded
// to 256 bits, the -32 offset added as madd(bsums, -32 * scales)) goes through the hadd tree of the
// Q4_K groups, and lane jj of one vector does the row's scalar fmaf(d * float(S), x.d, acc).
static inline __attribute__((always_inline)) TARGET_AVX512 void q6k_tiled_avx512_tile(
    const ChorusBlockQ6_K *wb, const ChorusQ8KBlock *x, size_t xstride, int nblocks, float *y, size_t ystride, const int JN) {
    __m256 acc = _mm256_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    // int16 element (base + lane) of each 128-bit lane, in all 8 of its int16 slots
    const __m512i pick01 = _mm512_set_epi64(0x0706070607060706LL, 0x0706070607060706LL, 0x0504050405040504LL,
                                            0x0504050405040504LL, 0x0302030203020302LL, 0x0302030203020302LL,
                                            0x0100010001000100LL, 0x0100010001000100LL);
    const __m512i pick23 = _mm512_add_epi8(pick01, _mm512_set1_epi8(8));
    for (int b = 0; b < nblocks; b++) {
        const ChorusBlockQ6_K *blk = wb + b;
        const ChorusQ8KBlock *xr[8];
        __m512i s5[8];
        for (int jj = 0; jj < 8; jj++) {
            xr[jj] = x + (size_t)(jj < JN ? jj : 0) * xstride + b;
            s5[jj] = _mm512_setzero_si512();
        }
        const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)blk->scales));
        const __m256i scales_m32 = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(scales16, 5));
        for (int h = 0; h < 2; h++) {
            const __m512i sh = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(scales16, 1) : _mm256_castsi256_si128(scales16));
            const __m512i l12 = _mm512_loadu_si512(blk->ql + 64 * h);            // [l1 | l2]
            const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk->qh + 32 * h)));
            // chunks 4h, 4h+1: low nibbles of l1, l2 with bit pairs 0 and 1 of qh
            const __m512i hb01 = _mm512_mask_srli_epi16(hb, 0xFFFF0000u, hb, 2);
            const __m512i q01 = _mm512_or_si512(_mm512_and_si512(l12, m4), _mm512_slli_epi16(_mm512_and_si512(hb01, m3), 4));
            // chunks 4h+2, 4h+3: high nibbles with bit pairs 2 and 3
            const __m512i hb23 = _mm512_mask_srli_epi16(_mm512_srli_epi16(hb, 4), 0xFFFF0000u, _mm512_srli_epi16(hb, 4), 2);
            const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l12, 4), m4),
                                                _mm512_slli_epi16(_mm512_and_si512(hb23, m3), 4));
            const __m512i sc01 = _mm512_shuffle_epi8(sh, pick01), sc23 = _mm512_shuffle_epi8(sh, pick23);
            for (int jj = 0; jj < JN; jj++) {
                s5[jj] = madd_acc_512(s5[jj], _mm512_maddubs_epi16(q01, _mm512_loadu_si512(xr[jj]->qs + 128 * h)), sc01);
                s5[jj] = madd_acc_512(s5[jj], _mm512_maddubs_epi16(q23, _mm512_loadu_si512(xr[jj]->qs + 128 * h + 64)), sc23);
            }
        }
        __m256i s[8];
        float xd[8];
        for (int jj = 0; jj < 8; jj++) {
            if (jj < JN) {
                const __m256i folded = _mm256_add_epi32(_mm512_castsi512_si256(s5[jj]), _mm512_extracti64x4_epi64(s5[jj], 1));
                s[jj] = _mm256_add_epi32(folded, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xr[jj]->bsums), scales_m32));
                xd[jj] = xr[jj]->d;
            } else {
                s[jj] = _mm256_setzero_si256();
                xd[jj] = 0;
            }
        }
        const __m256i S = row_sums8(s, JN);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(f16_to_f32(blk->d)), _mm256_cvtepi32_ps(S)), _mm256_loadu_ps(xd), acc);
    }
    float out[8];
    _mm256_storeu_ps(out, acc);
    for (int jj = 0; jj < JN; jj++) y[(size_t)jj * ystride] = out[jj];
}

static TARGET_AVX512 void gemm_q6_K_tiled_avx512 GEMM_PARAMS(ChorusQ8KBlock) {
    if (nx == 1) { gemm_q6_K_tiled_vnni(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return; }
    for (int j0 = 0; j0 < nx; j0 += 8) {
        const int jn = nx - j0 < 8 ? nx - j0 : 8;
        const ChorusQ8KBlock *xj = x + (size_t)j0 * xstride;
        float *yj = y + (size_t)j0 * ystride;
        for (int r = 0; r < nw; r++) {
            const ChorusBlockQ6_K *wb = (const ChorusBlockQ6_K *)((const uint8_t *)w + (size_t)r * wstride);
            switch (jn) {
            case 1: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 1); break;
            case 2: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 2); break;
            case 3: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 3); break;
            case 4: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 4); break;
            case 5: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 5); break;
            case 6: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 6); break;
            case 7: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 7); break;
            default: q6k_tiled_avx512_tile(wb, xj, xstride, nblocks, yj + r, ystride, 8); break;
            }
        }
    }
}

DISPATCH3(q6_K_tiled, ChorusQ8KBlock)

#else
STUB(q6_K, ChorusQ8KBlock)
STUB(q6_K_tiled, ChorusQ8KBlock)
#endif
