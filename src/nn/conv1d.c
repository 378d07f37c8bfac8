/* conv1d.c - 1-D convolution over time on [B, T, C] activations, as im2col + one GEMM.
 *
 * Each output frame (b, t) gathers its K input frames t*stride + k*dilation - pad_left
 * into one row of a [B*T_out, K*IC] matrix (zero rows where a tap falls in the padding).
 * The row is laid out tap-major (k, ic) so that every tap is one contiguous memcpy of
 * IC floats; the weight [OC, IC, K] is permuted once per call into the matching
 * [OC, K, IC] order (OC*IC*K floats, negligible next to the activations). Then
 *   forward  out  = col @ Wp^T        one GEMM, M = B*T_out, K = K*IC
 *   backward dcol = dout @ Wp;  dinp += col2im(dcol)
 *            dWp  = dout^T @ col; dW += permute(dWp);  db += column sums of dout
 * Kernel 1 with stride 1 is a linear layer on the frames and skips im2col entirely.
 * Scratch (caller's, dr_conv1d_scratch_floats): col and dcol [B*T_out, K*IC], Wp and
 * dWp [OC, K*IC]. */
#include <string.h>

#include "core/gemm.h"
#include "nn/internal.h"
#include "nn/nn.h"

static int pad_left(const dr_conv1d_shape *s) {
    int total = s->dilation * (s->kernel - 1);
    switch (s->pad) {
    case DR_PAD_SAME: return total / 2;
    case DR_PAD_CAUSAL: return total;
    default: return 0;
    }
}

int dr_conv1d_out_len(const dr_conv1d_shape *s) {
    if (s->pad == DR_PAD_VALID) {
        int span = s->T_in - s->dilation * (s->kernel - 1) - 1;
        return span < 0 ? 0 : span / s->stride + 1;
    }
    return (s->T_in + s->stride - 1) / s->stride;
}

size_t dr_conv1d_scratch_floats(const dr_conv1d_shape *s) {
    size_t rows = (size_t)s->B * (size_t)dr_conv1d_out_len(s);
    size_t kc = (size_t)s->kernel * (size_t)s->IC;
    return 2 * rows * kc + 2 * (size_t)s->OC * kc;
}

static bool is_pointwise(const dr_conv1d_shape *s) { return s->kernel == 1 && s->stride == 1; }

/* col[(b, t), k*IC + ic] = inp[b, t*stride + k*dilation - pad_left, ic], 0 in the padding. */
static void im2col(float *col, const float *inp, const dr_conv1d_shape *s, int T_out) {
    const int K = s->kernel, IC = s->IC, pl = pad_left(s);
    const size_t kc = (size_t)K * IC;
    const long M = (long)s->B * T_out;
#pragma omp parallel for schedule(static) if (M * (long)kc > 32768)
    for (long m = 0; m < M; m++) {
        int b = (int)(m / T_out), t = (int)(m % T_out);
        float *row = col + (size_t)m * kc;
        for (int k = 0; k < K; k++) {
            int ti = t * s->stride + k * s->dilation - pl;
            if (ti >= 0 && ti < s->T_in)
                memcpy(row + (size_t)k * IC, inp + ((size_t)b * s->T_in + (size_t)ti) * IC, sizeof(float) * (size_t)IC);
            else
                memset(row + (size_t)k * IC, 0, sizeof(float) * (size_t)IC);
        }
    }
}

/* wp[o, k*IC + ic] = w[o, ic, k] */
static void permute_weight(float *wp, const float *w, int OC, int IC, int K) {
#pragma omp parallel for schedule(static) if ((long)OC * IC * K > 65536)
    for (int o = 0; o < OC; o++)
        for (int ic = 0; ic < IC; ic++)
            for (int k = 0; k < K; k++)
                wp[((size_t)o * K + k) * IC + ic] = w[((size_t)o * IC + ic) * K + k];
}

void dr_conv1d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       const dr_conv1d_shape *s, float *scratch) {
    const int T_out = dr_conv1d_out_len(s), OC = s->OC;
    const int M = s->B * T_out, KC = s->kernel * s->IC;
    if (M <= 0) return;
    const float *col = inp, *wp = weight;
    if (!is_pointwise(s)) {
        float *c = scratch, *w = scratch + (size_t)M * KC;
        im2col(c, inp, s, T_out);
        permute_weight(w, weight, OC, s->IC, s->kernel);
        col = c, wp = w;
    }
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static) if ((long)M * OC > 32768)
        for (int m = 0; m < M; m++) memcpy(out + (size_t)m * OC, bias, sizeof(float) * (size_t)OC);
        beta = 1.0f;
    }
    dr_sgemm(false, true, M, OC, KC, 1.0f, col, KC, wp, KC, beta, out, OC);
}

/* dinp[b, ti, :] += dcol[(b, t), k*IC : (k+1)*IC] for every tap that reads a real frame.
 * Threads split (batch, channel block) pairs: each owns disjoint dinp entries, so there
 * are no races and the summation order is fixed. */
static void col2im_add(float *dinp, const float *dcol, const dr_conv1d_shape *s, int T_out) {
    enum { CB = 64 };
    const int K = s->kernel, IC = s->IC, pl = pad_left(s);
    const int ncb = (IC + CB - 1) / CB;
    const size_t kc = (size_t)K * IC;
#pragma omp parallel for collapse(2) schedule(static) if ((long)s->B * T_out * (long)kc > 32768)
    for (int b = 0; b < s->B; b++)
        for (int cb = 0; cb < ncb; cb++) {
            int c0 = cb * CB, c1 = c0 + CB < IC ? c0 + CB : IC;
            for (int t = 0; t < T_out; t++) {
                const float *row = dcol + ((size_t)b * T_out + t) * kc;
                for (int k = 0; k < K; k++) {
                    int ti = t * s->stride + k * s->dilation - pl;
                    if (ti < 0 || ti >= s->T_in) continue;
                    float *dst = dinp + ((size_t)b * s->T_in + (size_t)ti) * IC;
                    const float *src = row + (size_t)k * IC;
#pragma omp simd
                    for (int c = c0; c < c1; c++) dst[c] += src[c];
                }
            }
        }
}

void dr_conv1d_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, const dr_conv1d_shape *s, float *scratch) {
    const int T_out = dr_conv1d_out_len(s), OC = s->OC, IC = s->IC, K = s->kernel;
    const int M = s->B * T_out, KC = K * IC;
    if (M <= 0) return;
    if (dbias) dr_colsum_accumulate(dbias, dout, M, OC);
    if (is_pointwise(s)) {
        if (dinp) dr_sgemm(false, false, M, IC, OC, 1.0f, dout, OC, weight, IC, 1.0f, dinp, IC);
        if (dweight) dr_sgemm(true, false, OC, IC, M, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
        return;
    }
    float *col = scratch, *wp = col + (size_t)M * KC, *dcol = wp + (size_t)OC * KC, *dwp = dcol + (size_t)M * KC;
    if (dweight) {
        im2col(col, inp, s, T_out);
        dr_sgemm(true, false, OC, KC, M, 1.0f, dout, OC, col, KC, 0.0f, dwp, KC);
#pragma omp parallel for schedule(static) if ((long)OC * KC > 65536)
        for (int o = 0; o < OC; o++)
            for (int ic = 0; ic < IC; ic++)
                for (int k = 0; k < K; k++)
                    dweight[((size_t)o * IC + ic) * K + k] += dwp[((size_t)o * K + k) * IC + ic];
    }
    if (dinp) {
        permute_weight(wp, weight, OC, IC, K);
        dr_sgemm(false, false, M, KC, OC, 1.0f, dout, OC, wp, KC, 0.0f, dcol, KC);
        col2im_add(dinp, dcol, s, T_out);
    }
}
