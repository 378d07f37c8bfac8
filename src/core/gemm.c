#include "core/gemm.h"

#include <dnnl.h>
#include <omp.h>
#include <stdio.h>

void dr_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    /* dnnl_sgemm only fails on bad arguments, which are programming errors here; the
     * shapes come from the model configuration and were validated when it was loaded. */
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dr_sgemm_strided_batched(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                              const float *A, int lda, long stride_a, const float *B, int ldb,
                              long stride_b, float beta, float *C, int ldc, long stride_c, int batch) {
    if (batch <= 0) return;
    /* Below ~1 MFLOP a product cannot keep two threads busy; run whole products per
     * thread instead. Inside the parallel region oneDNN sees a nested region and runs
     * single-threaded, so the pool is never oversubscribed. */
    double flops = 2.0 * M * N * K;
    if (batch > 1 && flops < 4e6) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < batch; b++)
            dr_sgemm(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
                     C + b * stride_c, ldc);
    } else {
        for (int b = 0; b < batch; b++)
            dr_sgemm(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
                     C + b * stride_c, ldc);
    }
}

void dr_gemm_backend_name(char *buf, int size) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, (size_t)size, "oneDNN %d.%d.%d (dnnl_sgemm)", v->major, v->minor, v->patch);
}
