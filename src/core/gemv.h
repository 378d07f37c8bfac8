/* gemv.h - matrix-vector products for token-by-token decoding.
 *
 * Decoding one token at a time multiplies a handful of activation rows by every weight
 * matrix of the model: the work is reading the weights (21 MB per token for the 6.5M
 * DirectorLLM), not arithmetic. A general GEMM (dr_sgemm) pays its set-up, packing and
 * thread fork/join on every such call, which at M = 1 costs more than the product; these
 * kernels stream each weight row once, for up to four activation rows at a time, on the
 * calling thread (no OpenMP region: tens of products per token would each wake the
 * pool). With -march=native on an AVX-512 machine they use 16-wide FMAs; elsewhere a
 * portable loop with the same contract. dr_gemv_ref is that portable loop, always
 * compiled, so tests check the fast path against it.
 *
 * Weights are [O, K] row-major (the [out, in] layout of every linear layer here):
 *   y[m * ldy + o] = (accumulate ? y[m * ldy + o] : 0) + sum_k x[m * ldx + k] * W[o * K + k]
 * for m < M, o < O. The bf16 variant reads weights stored as bfloat16 (the upper half of
 * an fp32), widens them to fp32 and accumulates in fp32: half the bytes per token, with
 * the activations kept at full precision. */
#ifndef DIRECTOR_CORE_GEMV_H
#define DIRECTOR_CORE_GEMV_H

#include <stdbool.h>
#include <stdint.h>

void dr_gemv(float *y, int ldy, const float *x, int ldx, const float *W, int M, int O, int K, bool accumulate);
void dr_gemv_ref(float *y, int ldy, const float *x, int ldx, const float *W, int M, int O, int K, bool accumulate);

/* bfloat16 weights: W16 [O, K]. */
void dr_gemv_bf16(float *y, int ldy, const float *x, int ldx, const uint16_t *W16, int M, int O, int K,
                  bool accumulate);
void dr_gemv_bf16_ref(float *y, int ldy, const float *x, int ldx, const uint16_t *W16, int M, int O, int K,
                      bool accumulate);

/* The two products of attention over a KV cache for one query (rows ldw floats apart):
 * scores y[o] = x . W[o * ldw .. + K) for o < O, and the weighted sum of rows
 * y[k] = sum_t p[t] * W[t * ldw + k] for k < K (y is overwritten). */
void dr_dot_rows(float *y, const float *x, const float *W, long ldw, int O, int K);
void dr_dot_rows_ref(float *y, const float *x, const float *W, long ldw, int O, int K);
void dr_axpy_rows(float *y, const float *p, const float *W, long ldw, int n, int K);
void dr_axpy_rows_ref(float *y, const float *p, const float *W, long ldw, int n, int K);

/* fp32 -> bfloat16, round to nearest even (NaN stays NaN). */
void dr_bf16_from_f32(uint16_t *dst, const float *src, long n);
static inline float dr_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* "avx512" or "portable": which path dr_gemv takes in this build. */
const char *dr_gemv_kernel_name(void);

#endif
