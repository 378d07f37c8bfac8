/* gemm.h - every matrix product in director goes through here.
 *
 * Row-major single-precision GEMM, C = alpha * op(A) * op(B) + beta * C, backed by
 * oneDNN's dnnl_sgemm (chosen after measuring OpenBLAS, BLIS, oneDNN and libxsmm on the
 * shapes the models use: see docs/PERFORMANCE.md). Changing the backend means changing
 * gemm.c only. oneDNN runs on OpenMP and so shares one thread pool with every other
 * kernel of director; it reads no OpenBLAS environment variable. */
#ifndef DIRECTOR_CORE_GEMM_H
#define DIRECTOR_CORE_GEMM_H

#include <stdbool.h>

/* op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides of the
 * matrices as stored (before the transpose). */
void dr_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* `batch` independent products with constant strides between consecutive matrices
 * (attention heads). Small products run one per thread; large ones use all threads each. */
void dr_sgemm_strided_batched(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                              const float *A, int lda, long stride_a, const float *B, int ldb,
                              long stride_b, float beta, float *C, int ldc, long stride_c, int batch);

/* Name and version of the backend, for benchmark output ("oneDNN 2.6.3 (dnnl_sgemm)"). */
void dr_gemm_backend_name(char *buf, int size);

#endif
