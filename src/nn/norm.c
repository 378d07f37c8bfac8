/* norm.c - RMSNorm, LayerNorm and GroupNorm with saved statistics.
 *
 * Forward passes compute the statistics with two passes over the (cache-resident) row or
 * group, mean first and then the centred second moment, which stays accurate when the
 * mean is large against the spread. Backward passes are split in two parallel loops:
 * rows (or groups) for the input gradient, whose reductions stay inside one row, and
 * channel blocks for the weight/bias gradients, whose reductions run down the rows.
 * Splitting that way needs no per-thread buffers or atomics, and every sum is taken in
 * a fixed order, so gradients do not depend on the thread count. */
#include <math.h>

#include "nn/nn.h"

enum { CBLOCK = 64 };
#define PAR_IF(work) if ((long)(work) > 32768)

/* ---- RMSNorm ---- */

void dr_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps) {
#pragma omp parallel for schedule(static) PAR_IF((long)N * C)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[n] = r;
#pragma omp simd
        for (int c = 0; c < C; c++) y[c] = x[c] * r * weight[c];
    }
}

void dr_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int N, int C) {
    if (dinp) {
#pragma omp parallel for schedule(static) PAR_IF((long)N * C)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float r = rstd[n], dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int c = 0; c < C; c++) dot += dy[c] * weight[c] * x[c];
            /* d/dx of x * r(x): r * dnorm - x * r^3 * mean(dnorm * x) */
            float k = dot * r * r * r / (float)C;
#pragma omp simd
            for (int c = 0; c < C; c++) dx[c] += r * dy[c] * weight[c] - k * x[c];
        }
    }
    if (dweight) {
        int nb = (C + CBLOCK - 1) / CBLOCK;
#pragma omp parallel for schedule(static) PAR_IF((long)N * C)
        for (int blk = 0; blk < nb; blk++) {
            int c0 = blk * CBLOCK, c1 = c0 + CBLOCK < C ? c0 + CBLOCK : C;
            float acc[CBLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
                float r = rstd[n];
#pragma omp simd
                for (int c = c0; c < c1; c++) acc[c - c0] += dy[c] * x[c] * r;
            }
            for (int c = c0; c < c1; c++) dweight[c] += acc[c - c0];
        }
    }
}

/* ---- LayerNorm ---- */

void dr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int N, int C, float eps) {
#pragma omp parallel for schedule(static) PAR_IF((long)N * C)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += x[c];
        float mu = s / (float)C, v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) v += (x[c] - mu) * (x[c] - mu);
        float r = 1.0f / sqrtf(v / (float)C + eps);
        mean[n] = mu, rstd[n] = r;
        if (bias) {
#pragma omp simd
            for (int c = 0; c < C; c++) y[c] = (x[c] - mu) * r * weight[c] + bias[c];
        } else {
#pragma omp simd
            for (int c = 0; c < C; c++) y[c] = (x[c] - mu) * r * weight[c];
        }
    }
}

void dr_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, int N, int C) {
    if (dinp) {
#pragma omp parallel for schedule(static) PAR_IF((long)N * C)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float mu = mean[n], r = rstd[n], m1 = 0.0f, m2 = 0.0f;
#pragma omp simd reduction(+ : m1, m2)
            for (int c = 0; c < C; c++) {
                float dn = dy[c] * weight[c];
                m1 += dn;
                m2 += dn * (x[c] - mu) * r;
            }
            m1 /= (float)C, m2 /= (float)C;
#pragma omp simd
            for (int c = 0; c < C; c++) {
                float xhat = (x[c] - mu) * r;
                dx[c] += r * (dy[c] * weight[c] - m1 - xhat * m2);
            }
        }
    }
    if (dweight || dbias) {
        int nb = (C + CBLOCK - 1) / CBLOCK;
#pragma omp parallel for schedule(static) PAR_IF((long)N * C)
        for (int blk = 0; blk < nb; blk++) {
            int c0 = blk * CBLOCK, c1 = c0 + CBLOCK < C ? c0 + CBLOCK : C;
            float aw[CBLOCK] = {0}, ab[CBLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
                float mu = mean[n], r = rstd[n];
#pragma omp simd
                for (int c = c0; c < c1; c++) {
                    aw[c - c0] += dy[c] * (x[c] - mu) * r;
                    ab[c - c0] += dy[c];
                }
            }
            for (int c = c0; c < c1; c++) {
                if (dweight) dweight[c] += aw[c - c0];
                if (dbias) dbias[c] += ab[c - c0];
            }
        }
    }
}

/* ---- GroupNorm on [B, T, C]: group g of batch b covers channels [g*cg, (g+1)*cg) of
 *      all T frames; statistics index b*G + g. ---- */

void dr_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int B, int T, int C, int G, float eps) {
    const int cg = C / G;
    const float inv_n = 1.0f / (float)((long)T * cg);
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((long)B * T * C)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            const float *xb = inp + (size_t)b * T * C + (size_t)g * cg;
            float *yb = out + (size_t)b * T * C + (size_t)g * cg;
            float s = 0.0f;
            for (int t = 0; t < T; t++) {
                const float *x = xb + (size_t)t * C;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < cg; j++) s += x[j];
            }
            float mu = s * inv_n, v = 0.0f;
            for (int t = 0; t < T; t++) {
                const float *x = xb + (size_t)t * C;
#pragma omp simd reduction(+ : v)
                for (int j = 0; j < cg; j++) v += (x[j] - mu) * (x[j] - mu);
            }
            float r = 1.0f / sqrtf(v * inv_n + eps);
            mean[b * G + g] = mu, rstd[b * G + g] = r;
            const float *w = weight + (size_t)g * cg, *bi = bias ? bias + (size_t)g * cg : NULL;
            for (int t = 0; t < T; t++) {
                const float *x = xb + (size_t)t * C;
                float *y = yb + (size_t)t * C;
                if (bi) {
#pragma omp simd
                    for (int j = 0; j < cg; j++) y[j] = (x[j] - mu) * r * w[j] + bi[j];
                } else {
#pragma omp simd
                    for (int j = 0; j < cg; j++) y[j] = (x[j] - mu) * r * w[j];
                }
            }
        }
}

void dr_groupnorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, int B, int T, int C, int G) {
    const int cg = C / G;
    const float inv_n = 1.0f / (float)((long)T * cg);
    if (dinp) {
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((long)B * T * C)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < G; g++) {
                size_t base = (size_t)b * T * C + (size_t)g * cg;
                const float *w = weight + (size_t)g * cg;
                float mu = mean[b * G + g], r = rstd[b * G + g], m1 = 0.0f, m2 = 0.0f;
                for (int t = 0; t < T; t++) {
                    const float *x = inp + base + (size_t)t * C, *dy = dout + base + (size_t)t * C;
#pragma omp simd reduction(+ : m1, m2)
                    for (int j = 0; j < cg; j++) {
                        float dn = dy[j] * w[j];
                        m1 += dn;
                        m2 += dn * (x[j] - mu) * r;
                    }
                }
                m1 *= inv_n, m2 *= inv_n;
                for (int t = 0; t < T; t++) {
                    const float *x = inp + base + (size_t)t * C, *dy = dout + base + (size_t)t * C;
                    float *dx = dinp + base + (size_t)t * C;
#pragma omp simd
                    for (int j = 0; j < cg; j++) dx[j] += r * (dy[j] * w[j] - m1 - (x[j] - mu) * r * m2);
                }
            }
    }
    if (dweight || dbias) {
        int nb = (C + CBLOCK - 1) / CBLOCK;
#pragma omp parallel for schedule(static) PAR_IF((long)B * T * C)
        for (int blk = 0; blk < nb; blk++) {
            int c0 = blk * CBLOCK, c1 = c0 + CBLOCK < C ? c0 + CBLOCK : C;
            float aw[CBLOCK] = {0}, ab[CBLOCK] = {0}, mu[CBLOCK], r[CBLOCK];
            for (int b = 0; b < B; b++) {
                /* per-channel copies of this batch's group statistics keep the inner loop
                 * free of the channel -> group division */
                for (int c = c0; c < c1; c++) mu[c - c0] = mean[b * G + c / cg], r[c - c0] = rstd[b * G + c / cg];
                for (int t = 0; t < T; t++) {
                    const float *x = inp + ((size_t)b * T + t) * C, *dy = dout + ((size_t)b * T + t) * C;
#pragma omp simd
                    for (int c = c0; c < c1; c++) {
                        aw[c - c0] += dy[c] * (x[c] - mu[c - c0]) * r[c - c0];
                        ab[c - c0] += dy[c];
                    }
                }
            }
            for (int c = c0; c < c1; c++) {
                if (dweight) dweight[c] += aw[c - c0];
                if (dbias) dbias[c] += ab[c - c0];
            }
        }
    }
}
