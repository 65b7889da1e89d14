// The byte layout of every quantised block Chorus reads: the one declaration, used by the C kernels
// (CChorusKernels), by the GGUF type table (ChorusGGUF's GGMLType.bytesPerBlock) and by the Swift
// twins (ChorusKernels/Quant), which take sizes and field offsets from these structs through
// MemoryLayout. The layouts are those of ggml-common.h (llama.cpp's block_<type>), which GGUF files
// store; each struct's size is asserted below, so a field of the wrong width fails the build.
//
// `d`, `m` and `dmin` are IEEE half floats (stored as uint16_t) unless noted; multi-byte fields are
// little-endian. QK = 32 weights per block of the 32-weight formats, QK_K = 256 per K super-block.
#ifndef CHORUS_QUANT_BLOCKS_H
#define CHORUS_QUANT_BLOCKS_H

#include <stdint.h>

#define CHORUS_QK 32
#define CHORUS_QK_K 256

// ---- 32-weight blocks ----

// 4.5 bpw. Weight i = d * (nibble - 8); low nibbles of qs hold weights 0..15, high nibbles 16..31.
typedef struct { uint16_t d; uint8_t qs[CHORUS_QK / 2]; } ChorusBlockQ4_0;
// 5 bpw. Weight = d * nibble + m.
typedef struct { uint16_t d, m; uint8_t qs[CHORUS_QK / 2]; } ChorusBlockQ4_1;
// 5.5 bpw. qh: the fifth bit of weight i is bit i of the little-endian u32; weight = d * (q - 16).
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[CHORUS_QK / 2]; } ChorusBlockQ5_0;
// 6 bpw. As Q5_0 with weight = d * q + m.
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[CHORUS_QK / 2]; } ChorusBlockQ5_1;
// 8.5 bpw. Weight = d * q.
typedef struct { uint16_t d; int8_t qs[CHORUS_QK]; } ChorusBlockQ8_0;
// ggml's activation block for Q4_1/Q5_1: s = d * sum(qs).
typedef struct { uint16_t d, s; int8_t qs[CHORUS_QK]; } ChorusBlockQ8_1;
// 4.25 bpw. Non-linear 4-bit values, d a half scale.
typedef struct { uint16_t d; uint8_t qs[CHORUS_QK / 2]; } ChorusBlockIQ4_NL;
// 4.25 bpw. e: shared E8M0 exponent; qs: FP4 (E2M1) values.
typedef struct { uint8_t e; uint8_t qs[CHORUS_QK / 2]; } ChorusBlockMXFP4;

// ---- 256-weight K super-blocks (6-bit sub-block scales packed in scales[12] where noted) ----

// 2.625 bpw. scales: low nibble scale, high nibble min of each 16 weights; weight = d*scale*q - dmin*min.
// Within each half of 128 weights, byte l of the half's 32 qs bytes holds weights l, l+32, l+64, l+96.
typedef struct { uint8_t scales[CHORUS_QK_K / 16]; uint8_t qs[CHORUS_QK_K / 4]; uint16_t d, dmin; } ChorusBlockQ2_K;
// 3.4375 bpw. hmask: high bits; qs: low 2 bits; scales: 16 six-bit signed scales (+32 bias).
typedef struct { uint8_t hmask[CHORUS_QK_K / 8]; uint8_t qs[CHORUS_QK_K / 4]; uint8_t scales[12]; uint16_t d; } ChorusBlockQ3_K;
// 4.5 bpw. scales: 8 six-bit scales and 8 six-bit mins; each 64 weights share 32 qs bytes, low
// nibbles first (sub-block 2j), then high nibbles (2j+1). Weight = d*scale*q - dmin*min.
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[CHORUS_QK_K / 2]; } ChorusBlockQ4_K;
// 5.5 bpw. As Q4_K with a fifth bit per weight in qh.
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[CHORUS_QK_K / 8]; uint8_t qs[CHORUS_QK_K / 2]; } ChorusBlockQ5_K;
// 6.5625 bpw. ql: low 4 bits; qh: high 2 bits; scales: int8 per 16 weights. Weight = d * scale * (q - 32).
typedef struct { uint8_t ql[CHORUS_QK_K / 2]; uint8_t qh[CHORUS_QK_K / 4]; int8_t scales[CHORUS_QK_K / 16]; uint16_t d; } ChorusBlockQ6_K;
// 2.0625 bpw. 8-bit grid indices with signs and scales packed in 16-bit words.
typedef struct { uint16_t d; uint16_t qs[CHORUS_QK_K / 8]; } ChorusBlockIQ2_XXS;
// 2.3125 bpw.
typedef struct { uint16_t d; uint16_t qs[CHORUS_QK_K / 8]; uint8_t scales[CHORUS_QK_K / 32]; } ChorusBlockIQ2_XS;
// 2.5625 bpw.
typedef struct { uint16_t d; uint8_t qs[CHORUS_QK_K / 4]; uint8_t qh[CHORUS_QK_K / 32]; uint8_t scales[CHORUS_QK_K / 32]; } ChorusBlockIQ2_S;
// 3.0625 bpw.
typedef struct { uint16_t d; uint8_t qs[3 * CHORUS_QK_K / 8]; } ChorusBlockIQ3_XXS;
// 3.4375 bpw.
typedef struct {
    uint16_t d; uint8_t qs[CHORUS_QK_K / 4]; uint8_t qh[CHORUS_QK_K / 32]; uint8_t signs[CHORUS_QK_K / 8]; uint8_t scales[CHORUS_QK_K / 64];
} ChorusBlockIQ3_S;
// 1.5625 bpw.
typedef struct { uint16_t d; uint8_t qs[CHORUS_QK_K / 8]; uint16_t qh[CHORUS_QK_K / 32]; } ChorusBlockIQ1_S;
// 1.75 bpw (the scale is spread over the scales bytes).
typedef struct { uint8_t qs[CHORUS_QK_K / 8]; uint8_t qh[CHORUS_QK_K / 16]; uint8_t scales[CHORUS_QK_K / 32]; } ChorusBlockIQ1_M;
// 4.25 bpw.
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[CHORUS_QK_K / 64]; uint8_t qs[CHORUS_QK_K / 2]; } ChorusBlockIQ4_XS;
// 1.6875 bpw ternary: 5 values per qs byte, 4 per qh byte.
typedef struct { uint8_t qs[(CHORUS_QK_K - 4 * CHORUS_QK_K / 64) / 5]; uint8_t qh[CHORUS_QK_K / 64]; uint16_t d; } ChorusBlockTQ1_0;
// 2.0625 bpw ternary: 2 bits per value.
typedef struct { uint8_t qs[CHORUS_QK_K / 4]; uint16_t d; } ChorusBlockTQ2_0;

// ---- Activation blocks ----

// Chorus's in-memory activation block for the 32-weight formats: 32 int8 values, their scale d and
// s = d * sum of the values, both rounded through half precision as ggml's block_q8_1 stores them,
// kept as f32 so the kernels need no conversion.
typedef struct {
    float d;       // value = d * qs[i]
    float s;       // d * sum(qs), for formats with a per-block minimum (Q4_1, Q5_1)
    int8_t qs[CHORUS_QK];
} ChorusQ8Block;

// ggml's block_q8_K (GGML type Q8_K), the activations of the K-quant weights: 256 int8 values, their
// f32 scale (value = d * qs[i], d not rounded) and the sums of each 16 values, which turn the
// per-sub-block minimums of Q2_K/Q4_K/Q5_K into one small integer product.
typedef struct {
    float d;
    int8_t qs[CHORUS_QK_K];
    int16_t bsums[CHORUS_QK_K / 16];
} ChorusQ8KBlock;

// Sizes as in ggml-common.h; a mismatch would misread every GGUF file of that type.
_Static_assert(sizeof(ChorusBlockQ4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(ChorusBlockQ4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(ChorusBlockQ5_0) == 22, "Q5_0 block is 22 bytes");
_Static_assert(sizeof(ChorusBlockQ5_1) == 24, "Q5_1 block is 24 bytes");
_Static_assert(sizeof(ChorusBlockQ8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(ChorusBlockQ8_1) == 36, "Q8_1 block is 36 bytes");
_Static_assert(sizeof(ChorusBlockIQ4_NL) == 18, "IQ4_NL block is 18 bytes");
_Static_assert(sizeof(ChorusBlockMXFP4) == 17, "MXFP4 block is 17 bytes");
_Static_assert(sizeof(ChorusBlockQ2_K) == 84, "Q2_K block is 84 bytes");
_Static_assert(sizeof(ChorusBlockQ3_K) == 110, "Q3_K block is 110 bytes");
_Static_assert(sizeof(ChorusBlockQ4_K) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(ChorusBlockQ5_K) == 176, "Q5_K block is 176 bytes");
_Static_assert(sizeof(ChorusBlockQ6_K) == 210, "Q6_K block is 210 bytes");
_Static_assert(sizeof(ChorusBlockIQ2_XXS) == 66, "IQ2_XXS block is 66 bytes");
_Static_assert(sizeof(ChorusBlockIQ2_XS) == 74, "IQ2_XS block is 74 bytes");
_Static_assert(sizeof(ChorusBlockIQ2_S) == 82, "IQ2_S block is 82 bytes");
_Static_assert(sizeof(ChorusBlockIQ3_XXS) == 98, "IQ3_XXS block is 98 bytes");
_Static_assert(sizeof(ChorusBlockIQ3_S) == 110, "IQ3_S block is 110 bytes");
_Static_assert(sizeof(ChorusBlockIQ1_S) == 50, "IQ1_S block is 50 bytes");
_Static_assert(sizeof(ChorusBlockIQ1_M) == 56, "IQ1_M block is 56 bytes");
_Static_assert(sizeof(ChorusBlockIQ4_XS) == 136, "IQ4_XS block is 136 bytes");
_Static_assert(sizeof(ChorusBlockTQ1_0) == 54, "TQ1_0 block is 54 bytes");
_Static_assert(sizeof(ChorusBlockTQ2_0) == 66, "TQ2_0 block is 66 bytes");
_Static_assert(sizeof(ChorusQ8Block) == 40, "Q8 activation block is 40 bytes");
_Static_assert(sizeof(ChorusQ8KBlock) == 292, "Q8_K block is 292 bytes");

#endif
