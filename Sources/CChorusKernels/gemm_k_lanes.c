// K-quant products of many activation rows (prefill, wide verification) with the rows in the lanes
// of a 512-bit vector: 16 activation rows per vector, weights broadcast 4 bytes at a time.
//
// The weights stay in their GGUF layout. Per call, the activation rows are interleaved once
// (`LanesBlock`: word k of 16 rows side by side, each byte + 128 so that it is the unsigned operand
// of vpdpbusd) and every weight super-block is unpacked once into signed bytes per weight row;
// then one vpdpbusd meets 4 columns of one weight row with 16 activation rows, its 4-byte weight
// operand an embedded broadcast. The +128 comes back out exactly: dot(x + 128, w) = dot(x, w) +
// 128 * sum(w), a weight-only integer per sub-block.
//
// Every integer is exact and the float steps are those of the single-row orders, element by
// element, so each output has the bits it gets alone:
//   Q4_K (gemv order, see gemm_q4_k.c): acc = fma(float(S), d * x.d, acc), accm = fma(float(M),
//        dmin * x.d, accm) per super-block; result acc - accm.
//   Q6_K (tiled order, see gemm_q6_k.c): acc = fma(d * float(S), x.d, acc) per super-block.
#include "x86_kernels.h"

#if defined(__x86_64__)

/// One super-block of 16 interleaved activation rows.
typedef struct {
    int32_t xq[64][16];   // word k (bytes 4k..4k+3) of each row, bytes + 128
    int32_t bs32[4][16];  // Q4_K mins: (sum of sub-block 2p) | (sum of sub-block 2p+1) << 16, as int16 pairs
    float xd[16];
} LanesBlock;             // 4416 bytes

/// One weight row's super-block, unpacked: signed bytes in column order, the sub-block scales and
/// the weight-only integers.
typedef struct {
    int8_t q[256];
    int32_t scale[16];    // per sub-block (Q4_K: 8 of 32 columns; Q6_K: 16 of 16 columns)
    int32_t corr;         // 128 * sum over sub-blocks of scale * (sum of the sub-block's weights)
    int32_t minpair[4];   // Q4_K: min 2p | min 2p+1 << 16
    float d, dmin;
} LanesWeights;

/// The same for 8 rows (256-bit vectors, AVX-VNNI): products of 5 to 11 rows, or any width on CPUs
/// without AVX-512.
typedef struct {
    int32_t xq[64][8];
    int32_t bs32[4][8];
    float xd[8];
} LanesBlock8;            // 2208 bytes

/// Lane l of an interleaved super-block from activation super-block `xb` (nil: a missing row,
/// zeros): its sums of 32 as int16 pairs (`bs32`, L lanes per pair) and its scale. `WORDS` copies
/// its 64 words (+128 per byte) into lane l of `xq`.
#define LANES_ROW(o, l, L, xb, WORDS)                                                                  \
    if (xb) {                                                                                          \
        WORDS                                                                                          \
        for (int p = 0; p < 4; p++) {                                                                  \
            const int lo = (xb)->bsums[4 * p] + (xb)->bsums[4 * p + 1];                                \
            const int hi = (xb)->bsums[4 * p + 2] + (xb)->bsums[4 * p + 3];                            \
            (o)->bs32[p][l] = (int32_t)((uint32_t)(uint16_t)lo | ((uint32_t)(uint16_t)hi << 16));      \
        }                                                                                              \
        (o)->xd[l] = (xb)->d;                                                                          \
    } else {                                                                                           \
        for (int k = 0; k < 64; k++) (o)->xq[k][l] = (int32_t)0x80808080u;                             \
        for (int p = 0; p < 4; p++) (o)->bs32[p][l] = 0;                                               \
        (o)->xd[l] = 0;                                                                                \
    }

/// Rows j0..j0+jn-1 of x into `out[b]` for every super-block (missing rows as zeros): each row's
/// 64-byte runs scattered a word per lane.
static TARGET_AVX512 void lanes_interleave(const ChorusQ8KBlock *x, size_t xstride, int jn, int nblocks, LanesBlock *out) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i words = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(16));
    for (int b = 0; b < nblocks; b++) {
        LanesBlock *o = out + b;
        for (int l = 0; l < 16; l++) {
            const ChorusQ8KBlock *xb = l < jn ? x + (size_t)l * xstride + b : NULL;
            LANES_ROW(o, l, 16, xb, for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_xor_si512(_mm512_loadu_si512(xb->qs + 64 * c), flip);
                _mm512_i32scatter_epi32(&o->xq[16 * c][l], words, v, 4);
            })
        }
    }
}

/// Rows j0..j0+jn-1 of x into 8 lanes (scalar copies; the products dwarf them).
static void lanes8_interleave(const ChorusQ8KBlock *x, size_t xstride, int jn, int nblocks, LanesBlock8 *out) {
    for (int b = 0; b < nblocks; b++) {
        LanesBlock8 *o = out + b;
        for (int l = 0; l < 8; l++) {
            const ChorusQ8KBlock *xb = l < jn ? x + (size_t)l * xstride + b : NULL;
            LANES_ROW(o, l, 8, xb, for (int k = 0; k < 64; k++) {
                uint32_t word;
                __builtin_memcpy(&word, xb->qs + 4 * k, 4);
                o->xq[k][l] = (int32_t)(word ^ 0x80808080u);
            })
        }
    }
}

/// Sum of each 32-byte run of `v` (signed bytes) as an int: via vpsadbw on bytes + 128.
static inline TARGET_AVX2 int32_t lanes_sum_s8(__m256i v) {
    const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    return (int32_t)hsum_epi32(sad) - 128 * 32;
}

static inline TARGET_AVX2 void lanes_unpack_q4_K(const ChorusBlockQ4_K *blk, LanesWeights *o) {
    const __m128i sm = scales_mins_k4(blk->scales);
    uint8_t smb[16];
    _mm_storeu_si128((__m128i *)smb, sm);
    int32_t corr = 0;
    for (int j = 0; j < 4; j++) {
        Q4K_NIBBLES(blk->qs, j, lo, hi)
        _mm256_storeu_si256((__m256i *)(o->q + 64 * j), lo);
        _mm256_storeu_si256((__m256i *)(o->q + 64 * j + 32), hi);
        corr += smb[2 * j] * lanes_sum_s8(lo) + smb[2 * j + 1] * lanes_sum_s8(hi);
    }
    for (int s = 0; s < 8; s++) o->scale[s] = smb[s];
    for (int p = 0; p < 4; p++) o->minpair[p] = (int32_t)((uint32_t)smb[8 + 2 * p] | ((uint32_t)smb[9 + 2 * p] << 16));
    o->corr = 128 * corr;
    o->d = f16_to_f32(blk->d);
    o->dmin = f16_to_f32(blk->dmin);
}

static inline TARGET_AVX2 void lanes_unpack_q6_K(const ChorusBlockQ6_K *blk, LanesWeights *o) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
    int32_t corr = 0;
    for (int h = 0; h < 2; h++) {
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h));
        const __m256i l2 = _mm256_loadu_si256((const __m256i *)(blk->ql + 64 * h + 32));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(blk->qh + 32 * h));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(l2, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4));
        for (int k = 0; k < 4; k++) {
            const __m256i w = _mm256_sub_epi8(q[k], m32);   // q - 32, signed
            const int c = 4 * h + k;                        // 32-column chunk
            _mm256_storeu_si256((__m256i *)(o->q + 32 * c), w);
            // the two 16-column sub-blocks of the chunk
            const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
            int64_t part[4];
            _mm256_storeu_si256((__m256i *)part, sad);
            const int32_t s0 = (int32_t)(part[0] + part[1]) - 128 * 16, s1 = (int32_t)(part[2] + part[3]) - 128 * 16;
            corr += blk->scales[2 * c] * s0 + blk->scales[2 * c + 1] * s1;
        }
    }
    for (int s = 0; s < 16; s++) o->scale[s] = blk->scales[s];
    o->corr = 128 * corr;
    o->d = f16_to_f32(blk->d);
    o->dmin = 0;
}

/// RW weight rows (unpacked: `wu[i * nblocks + b]`) against one group of L activation rows, L the
/// int32 lanes of the vector type. SUB = columns per sub-block (32 for Q4_K, 16 for Q6_K). `P` is the
/// intrinsic prefix (_mm512 or _mm256), `VI`/`VF` the integer and float vectors, `DPBUSD` the
/// multiply-add (EVEX with the weight word as an embedded broadcast, or VEX with its own broadcast).
#define DEFINE_LANES_TILE(NAME, TARGET, XBLOCK, L, P, VI, VF, SI, DPBUSD)                             \
    static inline __attribute__((always_inline)) TARGET void NAME(                                     \
        const LanesWeights *wu, int nblocks, const XBLOCK *xl, float *y, size_t ystride, int jn,       \
        const int RW, const int SUB, const int Q4K) {                                                  \
        VF acc[4], accm[4];                                                                            \
        for (int i = 0; i < RW; i++) { acc[i] = P##_setzero_ps(); accm[i] = P##_setzero_ps(); }       \
        for (int b = 0; b < nblocks; b++) {                                                            \
            const XBLOCK *xb = xl + b;                                                                 \
            const LanesWeights *wb[4];                                                                 \
            VI S[4];                                                                                   \
            for (int i = 0; i < RW; i++) { wb[i] = wu + (size_t)i * nblocks + b; S[i] = P##_set1_epi32(-wb[i]->corr); } \
            for (int s = 0; s < 256 / SUB; s++) {                                                      \
                VI a[4];                                                                               \
                for (int i = 0; i < RW; i++) a[i] = P##_setzero_##SI();                                \
                for (int k = 0; k < SUB / 4; k++) {                                                    \
                    const int word = s * (SUB / 4) + k;                                                \
                    const VI xa = P##_load_##SI((const VI *)xb->xq[word]);                             \
                    for (int i = 0; i < RW; i++) {                                                     \
                        int32_t wq;                                                                    \
                        __builtin_memcpy(&wq, wb[i]->q + 4 * word, 4);                                 \
                        a[i] = DPBUSD(a[i], xa, P##_set1_epi32(wq));                                   \
                    }                                                                                  \
                }                                                                                      \
                for (int i = 0; i < RW; i++)                                                           \
                    S[i] = P##_add_epi32(S[i], P##_mullo_epi32(a[i], P##_set1_epi32(wb[i]->scale[s]))); \
            }                                                                                          \
            const VF xd = P##_load_ps(xb->xd);                                                         \
            for (int i = 0; i < RW; i++) {                                                             \
                if (Q4K) {                                                                             \
                    VI M = P##_madd_epi16(P##_set1_epi32(wb[i]->minpair[0]), P##_load_##SI((const VI *)xb->bs32[0])); \
                    for (int p = 1; p < 4; p++)                                                        \
                        M = P##_add_epi32(M, P##_madd_epi16(P##_set1_epi32(wb[i]->minpair[p]),         \
                                                            P##_load_##SI((const VI *)xb->bs32[p])));   \
                    acc[i] = P##_fmadd_ps(P##_cvtepi32_ps(S[i]), P##_mul_ps(P##_set1_ps(wb[i]->d), xd), acc[i]); \
                    accm[i] = P##_fmadd_ps(P##_cvtepi32_ps(M), P##_mul_ps(P##_set1_ps(wb[i]->dmin), xd), accm[i]); \
                } else {                                                                               \
                    acc[i] = P##_fmadd_ps(P##_mul_ps(P##_set1_ps(wb[i]->d), P##_cvtepi32_ps(S[i])), xd, acc[i]); \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
        for (int i = 0; i < RW; i++) {                                                                 \
            float out[L];                                                                              \
            P##_storeu_ps(out, Q4K ? P##_sub_ps(acc[i], accm[i]) : acc[i]);                            \
            for (int l = 0; l < jn; l++) y[(size_t)l * ystride + i] = out[l];                          \
        }                                                                                              \
    }

DEFINE_LANES_TILE(lanes_tile, TARGET_AVX512, LanesBlock, 16, _mm512, __m512i, __m512, si512, _mm512_dpbusd_epi32)
DEFINE_LANES_TILE(lanes8_tile, TARGET_VNNI, LanesBlock8, 8, _mm256, __m256i, __m256, si256, _mm256_dpbusd_avx_epi32)

// Tiles of 4 weight rows: 4 integer and 8 float accumulators per group of rows.
DEFINE_LANES_DRIVER(lanes_q4_K, TARGET_AVX512, ChorusQ8KBlock, 16, LanesBlock, lanes_interleave, LanesWeights,
                    ChorusBlockQ4_K, lanes_unpack_q4_K, 4, lanes_tile, 32, 1)
DEFINE_LANES_DRIVER(lanes_q6_K, TARGET_AVX512, ChorusQ8KBlock, 16, LanesBlock, lanes_interleave, LanesWeights,
                    ChorusBlockQ6_K, lanes_unpack_q6_K, 4, lanes_tile, 16, 0)
DEFINE_LANES_DRIVER(lanes8_q4_K, TARGET_VNNI, ChorusQ8KBlock, 8, LanesBlock8, lanes8_interleave, LanesWeights,
                    ChorusBlockQ4_K, lanes_unpack_q4_K, 4, lanes8_tile, 32, 1)
DEFINE_LANES_DRIVER(lanes8_q6_K, TARGET_VNNI, ChorusQ8KBlock, 8, LanesBlock8, lanes8_interleave, LanesWeights,
                    ChorusBlockQ6_K, lanes_unpack_q6_K, 4, lanes8_tile, 16, 0)

// 16 lanes from 12 rows on AVX-512; 8 lanes below that, and at every width on AVX-VNNI alone.
#define LANES16_MIN_ROWS 12

int chorus_gemm_q4_K_lanes(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                           int nblocks, float *y, size_t ystride) {
    const int path = chorus_int8_path();
    if (path == 3 && nx >= LANES16_MIN_ROWS) lanes_q4_K(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);
    else if (path >= 2) lanes8_q4_K(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);
    else return 0;
    return 1;
}

int chorus_gemm_q6_K_lanes(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                           int nblocks, float *y, size_t ystride) {
    const int path = chorus_int8_path();
    if (path == 3 && nx >= LANES16_MIN_ROWS) lanes_q6_K(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);
    else if (path >= 2) lanes8_q6_K(w, wstride, nw, x, xstride, nx, nblocks, y, ystride);
    else return 0;
    return 1;
}

#else
int chorus_gemm_q4_K_lanes(const void *w, size_t a, int b, const ChorusQ8KBlock *x, size_t c, int d, int e, float *y,
                           size_t f) {
    (void)w; (void)a; (void)b; (void)x; (void)c; (void)d; (void)e; (void)y; (void)f;
    return 0;
}
int chorus_gemm_q6_K_lanes(const void *w, size_t a, int b, const ChorusQ8KBlock *x, size_t c, int d, int e, float *y,
                           size_t f) {
    (void)w; (void)a; (void)b; (void)x; (void)c; (void)d; (void)e; (void)y; (void)f;
    return 0;
}
#endif
