/* activation.c - element-wise activations (SiLU, GELU, SwiGLU), the Llama SwiGLU MLP,
 * FiLM conditioning, sinusoidal timestep embeddings and the add/scale helpers.
 *
 * The element-wise loops use the inline exp of fastmath.h so they vectorize; with libm's
 * scalar expf a SiLU over a [2560, 704] activation would cost as much as a small GEMM. */
#include <math.h>
#include <string.h>

#include "core/gemm.h"
#include "nn/fastmath.h"
#include "nn/nn.h"

#define PAR_IF(work) if ((long)(work) > 32768)

/* ---- SiLU: y = x * sigmoid(x); dy/dx = s * (1 + x * (1 - s)) ---- */

void dr_silu_forward(float *out, const float *inp, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) out[i] = inp[i] * dr_sigmoidf(inp[i]);
}

void dr_silu_backward(float *dinp, const float *dout, const float *inp, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) {
        float x = inp[i], s = dr_sigmoidf(x);
        dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

/* ---- GELU, tanh form: y = 0.5 x (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi) ---- */

#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

void dr_gelu_forward(float *out, const float *inp, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + dr_tanhf(GELU_K * (x + GELU_A * x * x * x)));
    }
}

void dr_gelu_backward(float *dinp, const float *dout, const float *inp, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        float th = dr_tanhf(GELU_K * (x + GELU_A * x * x * x));
        float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
    }
}

/* ---- SwiGLU: h = silu(gate) * up ---- */

void dr_swiglu_forward(float *h, const float *gate, const float *up, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) h[i] = gate[i] * dr_sigmoidf(gate[i]) * up[i];
}

void dr_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) {
        float g = gate[i], s = dr_sigmoidf(g);
        if (dgate) dgate[i] += dh[i] * up[i] * s * (1.0f + g * (1.0f - s));
        if (dup) dup[i] += dh[i] * g * s;
    }
}

/* ---- Llama MLP: out = (silu(x Wg^T) * (x Wu^T)) Wd^T ---- */

void dr_swiglu_mlp_forward(float *out, dr_swiglu_mlp_acts *acts, const float *inp, const float *w_gate,
                           const float *w_up, const float *w_down, int N, int C, int H) {
    dr_sgemm(false, true, N, H, C, 1.0f, inp, C, w_gate, C, 0.0f, acts->gate, H);
    dr_sgemm(false, true, N, H, C, 1.0f, inp, C, w_up, C, 0.0f, acts->up, H);
    dr_swiglu_forward(acts->h, acts->gate, acts->up, (long)N * H);
    dr_sgemm(false, true, N, C, H, 1.0f, acts->h, H, w_down, H, 0.0f, out, C);
}

void dr_swiglu_mlp_backward(float *dinp, float *dw_gate, float *dw_up, float *dw_down, const float *dout,
                            const dr_swiglu_mlp_acts *acts, const float *inp, const float *w_gate,
                            const float *w_up, const float *w_down, int N, int C, int H, float *scratch) {
    const long n = (long)N * H;
    float *dh = scratch, *dgate = scratch + n, *dup = scratch + 2 * n;
    if (dw_down) dr_sgemm(true, false, C, H, N, 1.0f, dout, C, acts->h, H, 1.0f, dw_down, H);
    if (!dinp && !dw_gate && !dw_up) return;
    dr_sgemm(false, false, N, H, C, 1.0f, dout, C, w_down, H, 0.0f, dh, H);
    /* The scratch gradients are written, not accumulated, so they need no zeroing. */
    const float *gate = acts->gate, *up = acts->up;
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) {
        float g = gate[i], s = dr_sigmoidf(g);
        dgate[i] = dh[i] * up[i] * s * (1.0f + g * (1.0f - s));
        dup[i] = dh[i] * g * s;
    }
    if (dw_gate) dr_sgemm(true, false, H, C, N, 1.0f, dgate, H, inp, C, 1.0f, dw_gate, C);
    if (dw_up) dr_sgemm(true, false, H, C, N, 1.0f, dup, H, inp, C, 1.0f, dw_up, C);
    if (dinp) {
        dr_sgemm(false, false, N, C, H, 1.0f, dgate, H, w_gate, C, 1.0f, dinp, C);
        dr_sgemm(false, false, N, C, H, 1.0f, dup, H, w_up, C, 1.0f, dinp, C);
    }
}

/* ---- FiLM: out = inp * (1 + scale[b]) + shift[b], ss[b] = (scale[C], shift[C]) ---- */

void dr_film_forward(float *out, const float *inp, const float *ss, int B, int T, int C) {
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((long)B * T * C)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *scale = ss + (size_t)b * 2 * C, *shift = scale + C;
            const float *x = inp + ((size_t)b * T + t) * C;
            float *y = out + ((size_t)b * T + t) * C;
#pragma omp simd
            for (int c = 0; c < C; c++) y[c] = x[c] * (1.0f + scale[c]) + shift[c];
        }
}

void dr_film_backward(float *dinp, float *dss, const float *dout, const float *inp, const float *ss, int B, int T,
                      int C) {
    /* One batch row per iteration: its dss row sums over T frames are private to it. */
#pragma omp parallel for schedule(static) PAR_IF((long)B * T * C)
    for (int b = 0; b < B; b++) {
        const float *scale = ss + (size_t)b * 2 * C;
        float *dscale = dss ? dss + (size_t)b * 2 * C : NULL, *dshift = dss ? dscale + C : NULL;
        for (int t = 0; t < T; t++) {
            const float *x = inp + ((size_t)b * T + t) * C, *dy = dout + ((size_t)b * T + t) * C;
            if (dinp) {
                float *dx = dinp + ((size_t)b * T + t) * C;
#pragma omp simd
                for (int c = 0; c < C; c++) dx[c] += dy[c] * (1.0f + scale[c]);
            }
            if (dss) {
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    dscale[c] += dy[c] * x[c];
                    dshift[c] += dy[c];
                }
            }
        }
    }
}

/* ---- sinusoidal timestep embedding. An odd dim leaves the last column zero. ---- */

void dr_timestep_embedding(float *out, const float *t, int N, int dim, float max_period) {
    const int h = dim / 2;
    const double log_period = log((double)max_period);
#pragma omp parallel for schedule(static) PAR_IF((long)N * dim * 8)
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * dim;
        for (int i = 0; i < h; i++) {
            /* the angle is formed in double: t * f reaches ~1e3 and its float rounding
             * would be an O(1e-4) phase error */
            double angle = (double)t[n] * exp(-log_period * (double)i / (double)h);
            row[i] = (float)cos(angle);
            row[h + i] = (float)sin(angle);
        }
        if (dim % 2) row[dim - 1] = 0.0f;
    }
}

/* ---- element-wise helpers ---- */

void dr_add_inplace(float *y, const float *x, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) y[i] += x[i];
}

void dr_scale_inplace(float *y, float a, long n) {
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (long i = 0; i < n; i++) y[i] *= a;
}
