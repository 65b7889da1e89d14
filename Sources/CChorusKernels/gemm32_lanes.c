// Products of many activation rows (prefill) for the 32-value block types, with the rows in the
// lanes of a 512-bit vector, as gemm_k_lanes.c does for Q4_K/Q6_K: 16 activation rows per vector,
// one vpdpbusd per weight row and 4 columns, the weight's 4 bytes an embedded broadcast.
//
// Their contract keeps 8 float lanes per output (lane i: bytes 4i..4i+3 of each block), met once
// per block: acc_i = fma(d_w * x.d, float(lane_i), acc_i); result hsum8(acc) + extra, with Q4_1/Q5_1's
// extra = fma(m, x.s, extra) per block. Here lane i of every row is its own vector: per block and
// weight row, 8 vpdpbusd (one per lane, started from -128 * (sum of its 4 weights), which takes the
// +128 of the unsigned activations back out exactly), 8 conversions and 8 fmas; at the end the
// fixed hsum8 tree runs across the 8 vectors. Each output has the bits it gets alone.
#include "x86_kernels.h"

#if defined(__x86_64__)

/// One block of 16 interleaved activation rows.
typedef struct {
    int32_t xq[8][16];   // word i (bytes 4i..4i+3) of each row, bytes + 128
    float xd[16];
    float xs[16];
} Lanes32Block;          // 640 bytes

/// One weight row's block, unpacked: signed weights in column order, each lane's correction, scales.
typedef struct {
    int8_t q[32];
    int32_t corr[8];     // -128 * (sum of the lane's 4 weights)
    float d, m;
} Lanes32Weights;

static void lanes32_interleave(const ChorusQ8Block *x, size_t xstride, int jn, int nblocks, Lanes32Block *out) {
    for (int b = 0; b < nblocks; b++) {
        Lanes32Block *o = out + b;
        for (int l = 0; l < 16; l++) {
            if (l < jn) {
                const ChorusQ8Block *xb = x + (size_t)l * xstride + b;
                for (int i = 0; i < 8; i++) {
                    uint32_t word;
                    __builtin_memcpy(&word, xb->qs + 4 * i, 4);
                    o->xq[i][l] = (int32_t)(word ^ 0x80808080u);
                }
                o->xd[l] = xb->d;
                o->xs[l] = xb->s;
            } else {
                for (int i = 0; i < 8; i++) o->xq[i][l] = (int32_t)0x80808080u;
                o->xd[l] = 0;
                o->xs[l] = 0;
            }
        }
    }
}

/// Signed weights `q` of one block into `o`, with the lanes' corrections.
static inline TARGET_AVX2 void lanes32_store(__m256i q, float d, float m, Lanes32Weights *o) {
    _mm256_storeu_si256((__m256i *)o->q, q);
    const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
    _mm256_storeu_si256((__m256i *)o->corr, _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(sums, 7)));
    o->d = d;
    o->m = m;
}

static inline TARGET_AVX2 void lanes32_unpack_q4_0(const ChorusBlockQ4_0 *blk, Lanes32Weights *o) {
    lanes32_store(_mm256_sub_epi8(unpack_nibbles(blk->qs), _mm256_set1_epi8(8)), f16_to_f32(blk->d), 0, o);
}
static inline TARGET_AVX2 void lanes32_unpack_q4_1(const ChorusBlockQ4_1 *blk, Lanes32Weights *o) {
    lanes32_store(unpack_nibbles(blk->qs), f16_to_f32(blk->d), f16_to_f32(blk->m), o);
}
static inline TARGET_AVX2 void lanes32_unpack_q5_0(const ChorusBlockQ5_0 *blk, Lanes32Weights *o) {
    const __m256i q = _mm256_or_si256(unpack_nibbles(blk->qs), fifth_bits(blk->qh));
    lanes32_store(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), f16_to_f32(blk->d), 0, o);
}
static inline TARGET_AVX2 void lanes32_unpack_q5_1(const ChorusBlockQ5_1 *blk, Lanes32Weights *o) {
    lanes32_store(_mm256_or_si256(unpack_nibbles(blk->qs), fifth_bits(blk->qh)), f16_to_f32(blk->d), f16_to_f32(blk->m), o);
}
static inline TARGET_AVX2 void lanes32_unpack_q8_0(const ChorusBlockQ8_0 *blk, Lanes32Weights *o) {
    lanes32_store(_mm256_loadu_si256((const __m256i *)blk->qs), f16_to_f32(blk->d), 0, o);
}

/// RW weight rows (unpacked: `wu[i * nblocks + b]`) against one group of 16 activation rows.
static inline __attribute__((always_inline)) TARGET_AVX512 void lanes32_tile(
    const Lanes32Weights *wu, int nblocks, const Lanes32Block *xl, float *y, size_t ystride, int jn,
    const int RW, const int MIN) {
    __m512 acc[2][8], extra[2];
    for (int i = 0; i < RW; i++) {
        for (int k = 0; k < 8; k++) acc[i][k] = _mm512_setzero_ps();
        extra[i] = _mm512_setzero_ps();
    }
    for (int b = 0; b < nblocks; b++) {
        const Lanes32Block *xb = xl + b;
        const __m512 xd = _mm512_load_ps(xb->xd);
        const Lanes32Weights *wb[2];
        __m512 dxd[2];
        for (int i = 0; i < RW; i++) {
            wb[i] = wu + (size_t)i * nblocks + b;
            dxd[i] = _mm512_mul_ps(_mm512_set1_ps(wb[i]->d), xd);
        }
        for (int k = 0; k < 8; k++) {
            const __m512i xa = _mm512_load_si512(xb->xq[k]);
            for (int i = 0; i < RW; i++) {
                int32_t wq;
                __builtin_memcpy(&wq, wb[i]->q + 4 * k, 4);
                const __m512i lane = _mm512_dpbusd_epi32(_mm512_set1_epi32(wb[i]->corr[k]), xa, _mm512_set1_epi32(wq));
                acc[i][k] = _mm512_fmadd_ps(dxd[i], _mm512_cvtepi32_ps(lane), acc[i][k]);
            }
        }
        if (MIN) {
            const __m512 xs = _mm512_load_ps(xb->xs);
            for (int i = 0; i < RW; i++) extra[i] = _mm512_fmadd_ps(_mm512_set1_ps(wb[i]->m), xs, extra[i]);
        }
    }
    for (int i = 0; i < RW; i++) {
        // hsum8 per row: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then + extra
        const __m512 a = _mm512_add_ps(_mm512_add_ps(acc[i][0], acc[i][4]), _mm512_add_ps(acc[i][2], acc[i][6]));
        const __m512 c = _mm512_add_ps(_mm512_add_ps(acc[i][1], acc[i][5]), _mm512_add_ps(acc[i][3], acc[i][7]));
        float out[16];
        _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(a, c), extra[i]));
        for (int l = 0; l < jn; l++) y[(size_t)l * ystride + i] = out[l];
    }
}

// Tiles of 2 weight rows: 16 float accumulators per weight row and group of rows.
#define DEFINE_LANES32(NAME, BLOCK, UNPACK, MIN)                                                       \
    DEFINE_LANES_DRIVER(NAME, TARGET_AVX512, ChorusQ8Block, 16, Lanes32Block, lanes32_interleave, Lanes32Weights, \
                        BLOCK, UNPACK, 2, lanes32_tile, MIN)
DEFINE_LANES32(lanes32_q4_0, ChorusBlockQ4_0, lanes32_unpack_q4_0, 0)
DEFINE_LANES32(lanes32_q4_1, ChorusBlockQ4_1, lanes32_unpack_q4_1, 1)
DEFINE_LANES32(lanes32_q5_0, ChorusBlockQ5_0, lanes32_unpack_q5_0, 0)
DEFINE_LANES32(lanes32_q5_1, ChorusBlockQ5_1, lanes32_unpack_q5_1, 1)
DEFINE_LANES32(lanes32_q8_0, ChorusBlockQ8_0, lanes32_unpack_q8_0, 0)

int chorus_gemm32_lanes(int type, const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                        int nx, int nblocks, float *y, size_t ystride) {
    if (chorus_int8_path() < 3) return 0;
    switch (type) {
    case 0: lanes32_q4_0(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return 1;
    case 1: lanes32_q4_1(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return 1;
    case 2: lanes32_q5_0(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return 1;
    case 3: lanes32_q5_1(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return 1;
    case 4: lanes32_q8_0(w, wstride, nw, x, xstride, nx, nblocks, y, ystride); return 1;
    default: return 0;
    }
}

#else
int chorus_gemm32_lanes(int type, const void *w, size_t a, int b, const ChorusQ8Block *x, size_t c, int d, int e,
                        float *y, size_t f) {
    (void)type; (void)w; (void)a; (void)b; (void)x; (void)c; (void)d; (void)e; (void)y; (void)f;
    return 0;
}
#endif
