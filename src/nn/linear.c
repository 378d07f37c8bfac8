/* linear.c - fully connected layer, out = inp @ weight^T + bias, as GEMM calls.
 *
 * With row-major [N, IC] activations and PyTorch's [OC, IC] weight every product maps to
 * one dr_sgemm with transpose flags, so no data is ever copied or transposed:
 *   forward  out   = inp  @ W^T     (N x OC x IC)
 *   backward dinp += dout @ W       (N x IC x OC)
 *            dW   += dout^T @ inp   (OC x IC x N)
 *            db   += column sums of dout */
#include <string.h>

#include "core/gemm.h"
#include "nn/internal.h"
#include "nn/nn.h"

void dr_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int IC, int OC) {
    float beta = 0.0f;
    if (bias) {
        /* Seed every row with the bias and let the GEMM add onto it (beta = 1): one pass
         * over out instead of a GEMM pass plus a bias pass. */
#pragma omp parallel for schedule(static) if ((long)N * OC > 32768)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, sizeof(float) * (size_t)OC);
        beta = 1.0f;
    }
    dr_sgemm(false, true, N, OC, IC, 1.0f, inp, IC, weight, IC, beta, out, OC);
}

/* Parallel over column blocks: each thread owns its columns, so the sum is race-free
 * and its order, hence its rounding, is fixed. */
void dr_colsum_accumulate(float *db, const float *dout, int N, int OC) {
    enum { BLOCK = 64 };
    int nblocks = (OC + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) if ((long)N * OC > 32768)
    for (int blk = 0; blk < nblocks; blk++) {
        int o0 = blk * BLOCK, o1 = o0 + BLOCK < OC ? o0 + BLOCK : OC;
        float acc[BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = dout + (size_t)n * OC;
#pragma omp simd
            for (int o = o0; o < o1; o++) acc[o - o0] += row[o];
        }
        for (int o = o0; o < o1; o++) db[o] += acc[o - o0];
    }
}

void dr_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int N, int IC, int OC) {
    if (dinp) dr_sgemm(false, false, N, IC, OC, 1.0f, dout, OC, weight, IC, 1.0f, dinp, IC);
    if (dweight) dr_sgemm(true, false, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
    if (dbias) dr_colsum_accumulate(dbias, dout, N, OC);
}
