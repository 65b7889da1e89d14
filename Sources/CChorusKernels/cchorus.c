#define _GNU_SOURCE
#include "cchorus.h"

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
int chorus_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
#else
int chorus_pin_current_thread(int cpu) { (void)cpu; return 0; }
#endif

#include "x86_kernels.h"

#if defined(__x86_64__)

static int selected_path = -1;

static int detect_path(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avxvnni")) return 3;
    if (__builtin_cpu_supports("avxvnni")) return 2;
    return 1;
}

int chorus_int8_path(void) {
    if (selected_path < 0) selected_path = detect_path();
    return selected_path;
}

int chorus_set_int8_path(int path) {
    int best = detect_path();
    selected_path = path < 0 ? best : (path > best ? best : path);
    return selected_path;
}

// Q4_0: value = d * (q - 8). lanes = dot(q, x) - 8 * dot(1, x) per lane (the same integers as
// ggml's sign trick on q - 8); dot(8, x) is shared by the weight rows of a tile.
#define PREPARE const __m256i qv = unpack_nibbles(blk->qs);
#define Q4_0_LANES(DOT) _mm256_sub_epi32(DOT(qv, xv), DOT(_mm256_set1_epi8(8), xv))
// In groups: pre = dot(8, x) (AVX2: lanes = dot(q, x) - pre) or -dot(8, x) (VNNI: lanes =
// vpdpbusd(pre, q, x)), the same integers.
DEFINE_GEMM32_GROUP(gemm_q4_0_avx2, TARGET_AVX2, ChorusBlockQ4_0, PREPARE, dot_u8s8_avx2(_mm256_set1_epi8(8), xv),
                    _mm256_sub_epi32(dot_u8s8_avx2(qv, xv), pre), )
DEFINE_GEMM32_GROUP(gemm_q4_0_vnni, TARGET_VNNI, ChorusBlockQ4_0, PREPARE,
                    _mm256_sub_epi32(_mm256_setzero_si256(), dot_u8s8_vnni(_mm256_set1_epi8(8), xv)),
                    dpbusd_acc_vnni(pre, qv, xv), )
DEFINE_GEMM32(gemm_q4_0_avx2, TARGET_AVX2, ChorusBlockQ4_0, Q4_0_LANES(dot_u8s8_avx2), )
DEFINE_GEMM32(gemm_q4_0_vnni, TARGET_VNNI, ChorusBlockQ4_0, Q4_0_LANES(dot_u8s8_vnni), )
#undef PREPARE

// Q4_1: value = d * q + m. Sum = d*dx*dot(q, x) + m*s(x), the second term kept as a scalar.
#define PREPARE const __m256i qv = unpack_nibbles(blk->qs); const float blk_m = f16_to_f32(blk->m);
#define Q4_1_EXTRA extra[i][jj] = fmaf(blk_m, xb->s, extra[i][jj]);
#define Q4_1_EXTRA_V extra = _mm256_fmadd_ps(_mm256_set1_ps(blk_m), _mm256_load_ps(sb->s), extra);
DEFINE_GEMM32_GROUP(gemm_q4_1_avx2, TARGET_AVX2, ChorusBlockQ4_1, PREPARE, _mm256_setzero_si256(), dot_u8s8_avx2(qv, xv), Q4_1_EXTRA_V)
DEFINE_GEMM32_GROUP(gemm_q4_1_vnni, TARGET_VNNI, ChorusBlockQ4_1, PREPARE, _mm256_setzero_si256(), dot_u8s8_vnni(qv, xv), Q4_1_EXTRA_V)
DEFINE_GEMM32(gemm_q4_1_avx2, TARGET_AVX2, ChorusBlockQ4_1, dot_u8s8_avx2(qv, xv), Q4_1_EXTRA)
DEFINE_GEMM32(gemm_q4_1_vnni, TARGET_VNNI, ChorusBlockQ4_1, dot_u8s8_vnni(qv, xv), Q4_1_EXTRA)
#undef PREPARE

// Q8_0: value = d * q, q signed: |q| (unsigned) times x with q's sign moved onto it.
#define PREPARE const __m256i qv = _mm256_loadu_si256((const __m256i *)blk->qs); const __m256i qa = _mm256_sign_epi8(qv, qv);
// In groups on VNNI: (q + 128) unsigned times x, minus 128 * (lane sums of x) kept in pre; the same
// integers as the sign trick (vpmaddubsw would saturate on q + 128, so AVX2 keeps the sign trick).
DEFINE_GEMM32_GROUP(gemm_q8_0_avx2, TARGET_AVX2, ChorusBlockQ8_0, PREPARE, _mm256_setzero_si256(),
                    dot_u8s8_avx2(qa, _mm256_sign_epi8(xv, qv)), )
DEFINE_GEMM32_GROUP(gemm_q8_0_vnni, TARGET_VNNI, ChorusBlockQ8_0,
                    const __m256i qu = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)blk->qs), _mm256_set1_epi8((char)0x80));,
                    _mm256_sub_epi32(_mm256_setzero_si256(), dot_u8s8_vnni(_mm256_set1_epi8((char)0x80), xv)),
                    dpbusd_acc_vnni(pre, qu, xv), )
DEFINE_GEMM32(gemm_q8_0_avx2, TARGET_AVX2, ChorusBlockQ8_0, dot_u8s8_avx2(qa, _mm256_sign_epi8(xv, qv)), )
DEFINE_GEMM32(gemm_q8_0_vnni, TARGET_VNNI, ChorusBlockQ8_0, dot_u8s8_vnni(qa, _mm256_sign_epi8(xv, qv)), )
#undef PREPARE

DISPATCH(q4_0, ChorusQ8Block)
DISPATCH(q4_1, ChorusQ8Block)
DISPATCH(q8_0, ChorusQ8Block)

#else
// No intrinsic path on this architecture yet: ChorusKernels uses its Swift path.
int chorus_int8_path(void) { return 0; }
int chorus_set_int8_path(int path) { (void)path; return 0; }
STUB(q4_0, ChorusQ8Block)
STUB(q4_1, ChorusQ8Block)
STUB(q8_0, ChorusQ8Block)
#endif
