// CChorusKernels: only the instructions Swift SIMD cannot express (int8 multiply-add:
// AVX2 vpmaddubsw, AVX-VNNI vpdpbusd). Every function here has a portable Swift twin in
// ChorusKernels that produces bit-identical results; tests hold them to that.
//
// Block layouts, weights and activations (`ChorusQ8Block`, `ChorusQ8KBlock`): quant_blocks.h
// (the CQuantBlocks target), their one declaration.
// Accumulation contract shared with Swift: per weight block, 8 int32 lanes (lane i sums byte
// products 4i..4i+3) are converted to float and fused-multiply-added with the block scale into
// 8 float lanes; the lanes are reduced at the end as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
#ifndef CCHORUS_H
#define CCHORUS_H

#include <stddef.h>
#include <stdint.h>

#include "quant_blocks.h"

/// Which int8 instruction path the kernels use: 0 = none (use Swift), 1 = AVX2, 2 = AVX-VNNI,
/// 3 = AVX-512 VNNI (512-bit group kernels where they exist, AVX-VNNI elsewhere).
int chorus_int8_path(void);
/// Force a path (for tests and benchmarks); returns the path actually in effect.
int chorus_set_int8_path(int path);

/// Pin the calling thread to one CPU (Linux); returns 0 on success. A no-op elsewhere.
int chorus_pin_current_thread(int cpu);

static inline void chorus_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// y[j * ystride + r] = dot(weight row r, activation row j) for r in [0, nw), j in [0, nx).
/// `w` points at row 0 of the tile, rows `wstride` bytes apart; `x` rows are `nblocks` ChorusQ8Blocks
/// `xstride` blocks apart. Each output element is computed exactly as the single-row product.
void chorus_gemm_q4_0(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q4_1(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q8_0(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q5_0(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q5_1(const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);

/// The K-quant products take `ChorusQ8KBlock` activations; `nblocks` counts 256-weight super-blocks.
/// Per super-block the integer lanes are exactly those of ggml's AVX2 ggml_vec_dot_<type>_q8_K, and
/// they meet the float accumulators in the same order (documented per type in each kernel file).
void chorus_gemm_q2_K(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q3_K(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q4_K(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
/// Q4_K in the order of llama.cpp's repacked block_q4_Kx8 kernels (used by llama.cpp on AVX2 for
/// matrices with a multiple of 8 rows): activation rows 0..<per64Rows as ggml_gemm_q4_K_8x8_q8_K
/// (one fma per 64 weights), the rest as ggml_gemv_q4_K_8x8_q8_K (one fma per super-block).
void chorus_gemm_q4_K_x8(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                         int nblocks, float *y, size_t ystride, int per64Rows);
void chorus_gemm_q5_K(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
void chorus_gemm_q6_K(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                      int nblocks, float *y, size_t ystride);
/// Q6_K in the order of llama.cpp's tiled K-quant matmul (ggml-cpu/tiled), which llama.cpp uses for
/// products of 8 or more activation rows: per super-block acc = fma(d * float(S), x.d, acc).
void chorus_gemm_q6_K_tiled(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                            int nblocks, float *y, size_t ystride);

/// Q4_K (gemv order, as chorus_gemm_q4_K_x8 with per64Rows = 0) and Q6_K (tiled order, as
/// chorus_gemm_q6_K_tiled) for many activation rows, 16 rows in the lanes of a 512-bit vector. Same
/// bits as those kernels. Returns 0 without computing anything when the CPU lacks AVX-512 VNNI
/// (path < 3); the caller then takes the other kernels.
int chorus_gemm_q4_K_lanes(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                           int nblocks, float *y, size_t ystride);
int chorus_gemm_q6_K_lanes(const void *w, size_t wstride, int nw, const ChorusQ8KBlock *x, size_t xstride, int nx,
                           int nblocks, float *y, size_t ystride);

/// The 32-value block types (`type`: 0 Q4_0, 1 Q4_1, 2 Q5_0, 3 Q5_1, 4 Q8_0) for many activation
/// rows, 16 rows in the lanes of a 512-bit vector. Same bits as chorus_gemm_<type>. Returns 0
/// without computing anything below path 3 (AVX-512 VNNI).
int chorus_gemm32_lanes(int type, const void *w, size_t wstride, int nw, const ChorusQ8Block *x, size_t xstride,
                        int nx, int nblocks, float *y, size_t ystride);

#endif
