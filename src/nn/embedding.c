/* embedding.c - table lookup, out[n, :] = table[ids[n], :].
 *
 * Backward scatters rows back into the table. Ids repeat (the same token many times in a
 * batch), so rows cannot be split across threads; the channels can: each thread owns a
 * slice of every table row, which keeps the scatter race-free and its summation order
 * (n ascending) independent of the thread count. */
#include <string.h>

#include "nn/nn.h"

void dr_embedding_forward(float *out, const int *ids, const float *table, int N, int C) {
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, table + (size_t)ids[n] * C, sizeof(float) * (size_t)C);
}

void dr_embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C) {
    enum { BLOCK = 64 };
    int nblocks = (C + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * BLOCK, c1 = c0 + BLOCK < C ? c0 + BLOCK : C;
        for (int n = 0; n < N; n++) {
            float *dst = dtable + (size_t)ids[n] * C;
            const float *src = dout + (size_t)n * C;
#pragma omp simd
            for (int c = c0; c < c1; c++) dst[c] += src[c];
        }
    }
}
