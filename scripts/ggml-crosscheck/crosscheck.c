// Chorus's C kernels against ggml's own AVX2 vec_dot functions, bit for bit (see run.sh).
// For each weight type: random blocks with sane half scales, random activations quantised by
// ggml's own quantize_row_q8_0/q8_1/q8_K, then ggml_vec_dot_<type> against chorus_gemm_<type> for
// one row on every int8 path the CPU has. Exits non-zero on any difference.
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <immintrin.h>
#include "cchorus.h"

void quantize_row_q8_K(const float *x, void *y, int64_t k);
void quantize_row_q8_0(const float *x, void *y, int64_t k);
void quantize_row_q8_1(const float *x, void *y, int64_t k);
#define DECL(n) void ggml_vec_dot_##n(int n_, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc);
DECL(q4_0_q8_0) DECL(q4_1_q8_1) DECL(q5_0_q8_0) DECL(q5_1_q8_1) DECL(q8_0_q8_0)
DECL(q2_K_q8_K) DECL(q3_K_q8_K) DECL(q4_K_q8_K) DECL(q5_K_q8_K) DECL(q6_K_q8_K)

static uint64_t state = 12345;
static uint64_t next(void) { state += 0x9E3779B97F4A7C15ull; uint64_t z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull; z = (z ^ (z >> 27)) * 0x94D049BB133111EBull; return z ^ (z >> 31); }
static float uni(float a, float b) { return a + (b - a) * (float)((next() >> 40) / 16777216.0); }
static void put_half(uint8_t *p, float v) { uint16_t h = _cvtss_sh(v, 0); memcpy(p, &h, 2); }

typedef void (*vecdot)(int, float *, size_t, const void *, size_t, const void *, size_t, int);
typedef void (*gemm32)(const void *, size_t, int, const ChorusQ8Block *, size_t, int, int, float *, size_t);
typedef void (*gemmk)(const void *, size_t, int, const ChorusQ8KBlock *, size_t, int, int, float *, size_t);

// Sizes and half-float field offsets from quant_blocks.h, the one declaration of the layouts.
#define BLOCK(type) (int)sizeof(type)
#define AT(type, field) (int)offsetof(type, field)
struct T { const char *name; int bs, bytes; int act; vecdot ref; gemm32 g32; gemmk gk; int d_off; float dlo, dhi; int m_off; float mlo, mhi; };

int main(void) {
    struct T types[] = {
        {"Q4_0", 32, BLOCK(ChorusBlockQ4_0), 0, ggml_vec_dot_q4_0_q8_0, chorus_gemm_q4_0, 0, AT(ChorusBlockQ4_0, d), -0.05f, 0.05f, -1},
        {"Q4_1", 32, BLOCK(ChorusBlockQ4_1), 1, ggml_vec_dot_q4_1_q8_1, chorus_gemm_q4_1, 0, AT(ChorusBlockQ4_1, d), 0, 0.05f, AT(ChorusBlockQ4_1, m), -0.1f, 0.1f},
        {"Q5_0", 32, BLOCK(ChorusBlockQ5_0), 0, ggml_vec_dot_q5_0_q8_0, chorus_gemm_q5_0, 0, AT(ChorusBlockQ5_0, d), -0.05f, 0.05f, -1},
        {"Q5_1", 32, BLOCK(ChorusBlockQ5_1), 1, ggml_vec_dot_q5_1_q8_1, chorus_gemm_q5_1, 0, AT(ChorusBlockQ5_1, d), 0, 0.05f, AT(ChorusBlockQ5_1, m), -0.1f, 0.1f},
        {"Q8_0", 32, BLOCK(ChorusBlockQ8_0), 0, ggml_vec_dot_q8_0_q8_0, chorus_gemm_q8_0, 0, AT(ChorusBlockQ8_0, d), -0.05f, 0.05f, -1},
        {"Q2_K", 256, BLOCK(ChorusBlockQ2_K), 2, ggml_vec_dot_q2_K_q8_K, 0, chorus_gemm_q2_K, AT(ChorusBlockQ2_K, d), 0, 0.02f, AT(ChorusBlockQ2_K, dmin), 0, 0.02f},
        {"Q3_K", 256, BLOCK(ChorusBlockQ3_K), 2, ggml_vec_dot_q3_K_q8_K, 0, chorus_gemm_q3_K, AT(ChorusBlockQ3_K, d), -0.02f, 0.02f, -1},
        {"Q4_K", 256, BLOCK(ChorusBlockQ4_K), 2, ggml_vec_dot_q4_K_q8_K, 0, chorus_gemm_q4_K, AT(ChorusBlockQ4_K, d), 0, 0.02f, AT(ChorusBlockQ4_K, dmin), 0, 0.02f},
        {"Q5_K", 256, BLOCK(ChorusBlockQ5_K), 2, ggml_vec_dot_q5_K_q8_K, 0, chorus_gemm_q5_K, AT(ChorusBlockQ5_K, d), 0, 0.02f, AT(ChorusBlockQ5_K, dmin), 0, 0.02f},
        {"Q6_K", 256, BLOCK(ChorusBlockQ6_K), 2, ggml_vec_dot_q6_K_q8_K, 0, chorus_gemm_q6_K, AT(ChorusBlockQ6_K, d), -0.01f, 0.01f, -1},
    };
    const int n = 4864, rows = 300;
    int failures = 0;
    float *x = malloc(n * sizeof(float));
    for (int t = 0; t < 10; t++) {
        struct T *ty = &types[t];
        int nb = n / ty->bs;
        uint8_t *w = malloc((size_t)nb * ty->bytes);
        void *yq = malloc(nb * sizeof(ChorusQ8KBlock) + 64);
        ChorusQ8Block *xc = malloc(sizeof(ChorusQ8Block) * (n / 32));
        for (int pass = 0; pass < 2; pass++) {
            int mismatch[3] = {0, 0, 0}, paths = 0;
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < n; i++) x[i] = pass == 0 ? uni(-2, 2) : uni(-1, 1) * uni(-1, 1) * 8;
                for (int b = 0; b < nb; b++) {
                    uint8_t *blk = w + (size_t)b * ty->bytes;
                    for (int i = 0; i < ty->bytes; i++) blk[i] = (uint8_t)next();
                    put_half(blk + ty->d_off, uni(ty->dlo, ty->dhi));
                    if (ty->m_off >= 0) put_half(blk + ty->m_off, uni(ty->mlo, ty->mhi));
                    if (t == 4) for (int i = 0; i < 32; i++) if (blk[2 + i] == 0x80) blk[2 + i] = 0x81;
                }
                float ref;
                if (ty->act == 2) quantize_row_q8_K(x, yq, n);
                else if (ty->act == 0) quantize_row_q8_0(x, yq, n);
                else quantize_row_q8_1(x, yq, n);
                ty->ref(n, &ref, 0, w, 0, yq, 0, 1);
                if (ty->act != 2) {  // ggml's q8_0 / q8_1 blocks -> ChorusQ8Block (d and s widened from half)
                    int stride = ty->act == 0 ? 34 : 36;
                    for (int b = 0; b < n / 32; b++) {
                        uint8_t *src = (uint8_t *)yq + b * stride;
                        uint16_t d, s = 0; memcpy(&d, src, 2); if (ty->act == 1) memcpy(&s, src + 2, 2);
                        xc[b].d = _cvtsh_ss(d); xc[b].s = _cvtsh_ss(s);
                        memcpy(xc[b].qs, src + (ty->act == 0 ? 2 : 4), 32);
                    }
                }
                paths = 0;
                for (int p = 1; p <= 2; p++) {
                    if (chorus_set_int8_path(p) != p) continue;
                    paths++;
                    float out;
                    if (ty->act == 2) ty->gk(w, nb * ty->bytes, 1, (const ChorusQ8KBlock *)yq, nb, 1, nb, &out, 1);
                    else ty->g32(w, nb * ty->bytes, 1, xc, nb, 1, nb, &out, 1);
                    uint32_t a, b; memcpy(&a, &out, 4); memcpy(&b, &ref, 4);
                    if (a != b) { if (mismatch[p] < 3) printf("  %s path %d row %d: chorus %.9g ggml %.9g\n", ty->name, p, r, out, ref); mismatch[p]++; }
                }
            }
            printf("%s pass %d: %d rows x %d cols, mismatches avx2 %d, vnni %d (%d paths)\n", ty->name, pass, rows, n, mismatch[1], mismatch[2], paths);
            failures += mismatch[1] + mismatch[2];
        }
        free(w); free(yq); free(xc);
    }
    printf(failures ? "FAIL: %d outputs differ from ggml\n" : "all outputs bit-identical to ggml\n", failures);
    return failures != 0;
}
