/* Forward passes of src/nn against naive double-precision loops written straight from
 * the definitions in nn.h, plus the exactness of the inline exp, conv1d output lengths,
 * numerical stability of softmax cross-entropy and in-place (aliased) use.
 *
 * Tolerances: outputs are compared by max |got - want| / max(1, max |want|). GEMM-based
 * layers accumulate K float32 products, so they get 1e-5 * sqrt(K) * 4 (as test_core's
 * GEMM test); element-wise and normalisation layers get 2e-6..1e-5, a few float ulps of
 * the O(1)..O(10) values plus the inline exp's 2e-7 relative error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "nn/fastmath.h"
#include "nn/nn.h"
#include "testutil.h"


static double *dalloc(long n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }
static float *falloc(long n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }
static double gemm_tol(int K) { return 4e-5 * sqrt((double)K); }

static void test_expf_accuracy(void **state) {
    (void)state;
    double worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = dr_expf(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    assert_true(worst < 3e-7);
    /* clamped, finite, ordered ends */
    assert_true(dr_expf(-1000.0f) >= 0.0f && dr_expf(-1000.0f) < 1e-37f);
    assert_true(isfinite(dr_expf(1000.0f)) && dr_expf(1000.0f) > 1e38f);
    assert_true(dr_expf(0.0f) == 1.0f);
    double tw = 0;
    for (int i = -4000; i <= 4000; i++) {
        float x = (float)i / 500.0f;
        tw = fmax(tw, fabs(dr_tanhf(x) - tanh((double)x)));
    }
    assert_true(tw < 5e-7);
}

static void test_linear_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    int shapes[][3] = {{1, 1, 1}, {5, 7, 3}, {64, 96, 40}, {1, 256, 256}, {300, 33, 129}};
    for (int s = 0; s < 5; s++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
            float *x = tu_randn(&rng, (long)N * IC, 1), *w = tu_randn(&rng, (long)OC * IC, 1);
            float *b = with_bias ? tu_randn(&rng, OC, 1) : NULL, *out = tu_randn(&rng, (long)N * OC, 1);
            double *ref = dalloc((long)N * OC);
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OC; o++) {
                    double acc = b ? b[o] : 0.0;
                    for (int i = 0; i < IC; i++) acc += (double)x[n * IC + i] * w[o * IC + i];
                    ref[n * OC + o] = acc;
                }
            dr_linear_forward(out, x, w, b, N, IC, OC); /* out held garbage: must be overwritten */
            tu_expect_close("linear", out, ref, (long)N * OC, gemm_tol(IC));
            free(x), free(w), free(b), free(out), free(ref);
        }
}

static void test_embedding_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 2);
    int N = 50, V = 7, C = 9, ids[50];
    for (int i = 0; i < N; i++) ids[i] = (int)dr_rng_below(&rng, V);
    float *table = tu_randn(&rng, V * C, 1), *out = falloc(N * C);
    dr_embedding_forward(out, ids, table, N, C);
    for (int n = 0; n < N; n++) assert_memory_equal(out + n * C, table + ids[n] * C, sizeof(float) * C);
    free(table), free(out);
}

static void test_conv1d_out_len(void **state) {
    (void)state;
    dr_conv1d_shape s = {.B = 1, .T_in = 20, .IC = 1, .OC = 1, .kernel = 3, .stride = 1, .dilation = 1};
    s.pad = DR_PAD_VALID;
    assert_int_equal(dr_conv1d_out_len(&s), 18);
    s.dilation = 4; /* span 9 */
    assert_int_equal(dr_conv1d_out_len(&s), 12);
    s.stride = 2; /* floor((20 - 8 - 1) / 2) + 1 */
    assert_int_equal(dr_conv1d_out_len(&s), 6);
    s.T_in = 8; /* shorter than the receptive field */
    assert_int_equal(dr_conv1d_out_len(&s), 0);
    s.T_in = 21, s.pad = DR_PAD_SAME;
    assert_int_equal(dr_conv1d_out_len(&s), 11);
    s.pad = DR_PAD_CAUSAL, s.stride = 1;
    assert_int_equal(dr_conv1d_out_len(&s), 21);
}

/* out[b, t, o] = bias[o] + sum_{ic, k} w[o, ic, k] * x[b, t*s + k*d - pl, ic] */
static void conv_ref(double *ref, const float *x, const float *w, const float *b, const dr_conv1d_shape *s) {
    int To = dr_conv1d_out_len(s), tot = s->dilation * (s->kernel - 1);
    int pl = s->pad == DR_PAD_VALID ? 0 : s->pad == DR_PAD_SAME ? tot / 2 : tot;
    for (int bb = 0; bb < s->B; bb++)
        for (int t = 0; t < To; t++)
            for (int o = 0; o < s->OC; o++) {
                double acc = b ? b[o] : 0.0;
                for (int k = 0; k < s->kernel; k++) {
                    int ti = t * s->stride + k * s->dilation - pl;
                    if (ti < 0 || ti >= s->T_in) continue;
                    for (int ic = 0; ic < s->IC; ic++)
                        acc += (double)w[(o * s->IC + ic) * s->kernel + k] * x[(bb * s->T_in + ti) * s->IC + ic];
                }
                ref[(bb * To + t) * s->OC + o] = acc;
            }
}

static void test_conv1d_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    /* B, T, IC, OC, K, stride, dilation: the RVQ shapes (kernel 2, dilations 1,2,4 on 20
     * frames) and odd ones */
    int cases[][7] = {{4, 20, 36, 64, 2, 1, 1}, {4, 20, 64, 64, 2, 1, 2}, {4, 20, 64, 64, 2, 1, 4},
                      {3, 17, 5, 7, 3, 2, 1},   {2, 13, 4, 6, 5, 3, 2},   {2, 9, 8, 3, 1, 1, 1},
                      {2, 10, 6, 5, 1, 2, 1},   {1, 31, 16, 16, 4, 2, 3}};
    for (int ci = 0; ci < 8; ci++)
        for (int pad = 0; pad < 3; pad++) {
            dr_conv1d_shape s = {cases[ci][0], cases[ci][1], cases[ci][2], cases[ci][3],
                                 cases[ci][4], cases[ci][5], cases[ci][6], (dr_pad_mode)pad};
            int To = dr_conv1d_out_len(&s);
            long nin = (long)s.B * s.T_in * s.IC, nout = (long)s.B * To * s.OC;
            float *x = tu_randn(&rng, nin, 1), *w = tu_randn(&rng, (long)s.OC * s.IC * s.kernel, 1);
            float *b = pad == 1 ? NULL : tu_randn(&rng, s.OC, 1), *out = tu_randn(&rng, nout, 1);
            float *scratch = falloc((long)dr_conv1d_scratch_floats(&s));
            double *ref = dalloc(nout);
            conv_ref(ref, x, w, b, &s);
            dr_conv1d_forward(out, x, w, b, &s, scratch);
            char what[64];
            snprintf(what, sizeof what, "conv1d case %d pad %d", ci, pad);
            tu_expect_close(what, out, ref, nout, gemm_tol(s.IC * s.kernel));
            free(x), free(w), free(b), free(out), free(scratch), free(ref);
        }
}

static void test_norms_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 4);
    int N = 37, C = 100;
    float *x = tu_randn(&rng, N * C, 2), *w = tu_randn(&rng, C, 1), *b = tu_randn(&rng, C, 1);
    for (int i = 0; i < N * C; i++) x[i] += 3.0f;
    float *out = falloc(N * C), *mean = falloc(N), *rstd = falloc(N);
    double *ref = dalloc(N * C), *rref = dalloc(N), *mref = dalloc(N);
    const float eps = 1e-5f;
    for (int n = 0; n < N; n++) {
        double ss = 0;
        for (int c = 0; c < C; c++) ss += (double)x[n * C + c] * x[n * C + c];
        rref[n] = 1.0 / sqrt(ss / C + eps);
        for (int c = 0; c < C; c++) ref[n * C + c] = x[n * C + c] * rref[n] * w[c];
    }
    dr_rmsnorm_forward(out, rstd, x, w, N, C, eps);
    tu_expect_close("rmsnorm", out, ref, N * C, 2e-6);
    tu_expect_close("rmsnorm rstd", rstd, rref, N, 2e-6);
    for (int n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[n * C + c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[n * C + c] - m) * (x[n * C + c] - m);
        mref[n] = m, rref[n] = 1.0 / sqrt(v / C + eps);
        for (int c = 0; c < C; c++) ref[n * C + c] = (x[n * C + c] - m) * rref[n] * w[c] + b[c];
    }
    dr_layernorm_forward(out, mean, rstd, x, w, b, N, C, eps);
    tu_expect_close("layernorm", out, ref, N * C, 1e-5);
    tu_expect_close("layernorm mean", mean, mref, N, 2e-6);
    tu_expect_close("layernorm rstd", rstd, rref, N, 1e-5);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) ref[n * C + c] -= b[c];
    dr_layernorm_forward(out, mean, rstd, x, w, NULL, N, C, eps);
    tu_expect_close("layernorm without bias", out, ref, N * C, 1e-5);
    free(x), free(w), free(b), free(out), free(mean), free(rstd), free(ref), free(rref), free(mref);
}

static void test_groupnorm_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    int cases[][4] = {{3, 20, 64, 8}, {2, 5, 12, 1}, {2, 4, 6, 6}};
    for (int ci = 0; ci < 3; ci++) {
        int B = cases[ci][0], T = cases[ci][1], C = cases[ci][2], G = cases[ci][3], cg = C / G;
        long n = (long)B * T * C;
        float *x = tu_randn(&rng, n, 1.5f), *w = tu_randn(&rng, C, 1), *b = tu_randn(&rng, C, 1);
        for (long i = 0; i < n; i++) x[i] -= 2.0f;
        float *out = falloc(n), *mean = falloc(B * G), *rstd = falloc(B * G);
        double *ref = dalloc(n), *mref = dalloc(B * G), *rref = dalloc(B * G);
        for (int bb = 0; bb < B; bb++)
            for (int g = 0; g < G; g++) {
                double m = 0, v = 0;
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < cg; j++) m += x[(bb * T + t) * C + g * cg + j];
                m /= (double)T * cg;
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < cg; j++) {
                        double d = x[(bb * T + t) * C + g * cg + j] - m;
                        v += d * d;
                    }
                double r = 1.0 / sqrt(v / ((double)T * cg) + 1e-5);
                mref[bb * G + g] = m, rref[bb * G + g] = r;
                for (int t = 0; t < T; t++)
                    for (int j = 0; j < cg; j++) {
                        int c = g * cg + j;
                        long i = (long)(bb * T + t) * C + c;
                        ref[i] = (x[i] - m) * r * w[c] + b[c];
                    }
            }
        dr_groupnorm_forward(out, mean, rstd, x, w, b, B, T, C, G, 1e-5f);
        tu_expect_close("groupnorm", out, ref, n, 1e-5);
        tu_expect_close("groupnorm mean", mean, mref, B * G, 2e-6);
        tu_expect_close("groupnorm rstd", rstd, rref, B * G, 1e-5);
        free(x), free(w), free(b), free(out), free(mean), free(rstd), free(ref), free(mref), free(rref);
    }
}

static void test_activations_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 6);
    long n = 100003;
    float *x = tu_randn(&rng, n, 4), *y = tu_randn(&rng, n, 1), *out = falloc(n);
    x[0] = -120.0f, x[1] = 120.0f, x[2] = 0.0f, x[3] = -1e-5f;
    double *ref = dalloc(n);
    for (long i = 0; i < n; i++) ref[i] = x[i] / (1.0 + exp(-(double)x[i]));
    dr_silu_forward(out, x, n);
    tu_expect_close("silu", out, ref, n, 2e-6);
    for (long i = 0; i < n; i++) {
        double v = x[i];
        ref[i] = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    }
    dr_gelu_forward(out, x, n);
    tu_expect_close("gelu", out, ref, n, 2e-6);
    for (long i = 0; i < n; i++) ref[i] = x[i] / (1.0 + exp(-(double)x[i])) * y[i];
    dr_swiglu_forward(out, x, y, n);
    tu_expect_close("swiglu", out, ref, n, 2e-6);
    /* element-wise helpers, in place */
    memcpy(out, y, sizeof(float) * (size_t)n);
    dr_add_inplace(out, x, n);
    for (long i = 0; i < n; i++) ref[i] = (double)y[i] + x[i];
    tu_expect_close("add_inplace", out, ref, n, 1e-7);
    dr_scale_inplace(out, -0.25f, n);
    for (long i = 0; i < n; i++) ref[i] *= -0.25;
    tu_expect_close("scale_inplace", out, ref, n, 1e-7);
    free(x), free(y), free(out), free(ref);
}

static void test_swiglu_mlp_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 7);
    int N = 13, C = 24, H = 40;
    float *x = tu_randn(&rng, N * C, 1), *wg = tu_randn(&rng, H * C, 0.3f), *wu = tu_randn(&rng, H * C, 0.3f);
    float *wd = tu_randn(&rng, C * H, 0.3f), *out = falloc(N * C);
    float *gate = falloc(N * H), *up = falloc(N * H), *h = falloc(N * H);
    double *ref = dalloc(N * C), *href = dalloc(N * H);
    for (int n = 0; n < N; n++) {
        for (int j = 0; j < H; j++) {
            double g = 0, u = 0;
            for (int c = 0; c < C; c++) g += (double)x[n * C + c] * wg[j * C + c], u += (double)x[n * C + c] * wu[j * C + c];
            href[n * H + j] = g / (1.0 + exp(-g)) * u;
        }
        for (int c = 0; c < C; c++) {
            double acc = 0;
            for (int j = 0; j < H; j++) acc += href[n * H + j] * wd[c * H + j];
            ref[n * C + c] = acc;
        }
    }
    dr_swiglu_mlp_acts acts = {gate, up, h};
    dr_swiglu_mlp_forward(out, &acts, x, wg, wu, wd, N, C, H);
    tu_expect_close("swiglu_mlp", out, ref, N * C, gemm_tol(H));
    tu_expect_close("swiglu_mlp saved h", h, href, N * H, gemm_tol(C));
    free(x), free(wg), free(wu), free(wd), free(out), free(gate), free(up), free(h), free(ref), free(href);
}

static void test_softmax_xent_forward(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 8);
    int N = 40, V = 333;
    float *logits = tu_randn(&rng, N * V, 3), *probs = falloc(N * V);
    int targets[40];
    for (int n = 0; n < N; n++) targets[n] = n % 7 == 3 ? -1 : (int)dr_rng_below(&rng, V);
    /* huge logits: a naive exp would overflow */
    for (int i = 0; i < V; i++) logits[5 * V + i] += 1000.0f, logits[6 * V + i] -= 1000.0f;
    logits[7 * V + 3] = 5000.0f, targets[7] = 4; /* confidently wrong: loss ~ 5000 */
    double *pref = dalloc(N * V), lsum = 0;
    int valid = 0;
    for (int n = 0; n < N; n++) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < V; i++) mx = fmax(mx, logits[n * V + i]);
        for (int i = 0; i < V; i++) s += exp((double)logits[n * V + i] - mx);
        for (int i = 0; i < V; i++) pref[n * V + i] = exp((double)logits[n * V + i] - mx) / s;
        if (targets[n] >= 0) lsum += log(s) - ((double)logits[n * V + targets[n]] - mx), valid++;
    }
    int nv = -1;
    float loss = dr_softmax_xent_forward(probs, logits, targets, N, V, &nv);
    assert_int_equal(nv, valid);
    assert_true(isfinite(loss));
    assert_true(fabs(loss - lsum / valid) <= 1e-5 * fabs(lsum / valid));
    tu_expect_close("softmax probs", probs, pref, N * V, 1e-6);
    /* in place: probs aliasing logits gives the same loss and probabilities */
    float loss2 = dr_softmax_xent_forward(logits, logits, targets, N, V, &nv);
    assert_true(loss2 == loss);
    assert_memory_equal(logits, probs, sizeof(float) * (size_t)N * V);
    /* all rows ignored: loss 0, count 0 */
    for (int n = 0; n < N; n++) targets[n] = -1;
    assert_true(dr_softmax_xent_forward(probs, probs, targets, N, V, &nv) == 0.0f);
    assert_int_equal(nv, 0);
    free(logits), free(probs), free(pref);
}

static void test_film_and_timestep(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    int B = 3, T = 5, C = 7;
    float *x = tu_randn(&rng, B * T * C, 1), *ss = tu_randn(&rng, B * 2 * C, 1), *out = falloc(B * T * C);
    double *ref = dalloc(B * T * C);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                ref[(b * T + t) * C + c] = x[(b * T + t) * C + c] * (1.0 + ss[b * 2 * C + c]) + ss[b * 2 * C + C + c];
    dr_film_forward(out, x, ss, B, T, C);
    tu_expect_close("film", out, ref, B * T * C, 1e-6);
    free(x), free(ss), free(out), free(ref);

    float t[4] = {0.0f, 1.0f, 17.5f, 999.0f};
    for (int dim = 8; dim <= 9; dim++) {
        float *emb = tu_randn(&rng, 4 * dim, 1);
        double *eref = dalloc(4 * dim);
        int h = dim / 2;
        for (int n = 0; n < 4; n++)
            for (int i = 0; i < h; i++) {
                double f = pow(10000.0, -(double)i / h);
                eref[n * dim + i] = cos(t[n] * f), eref[n * dim + h + i] = sin(t[n] * f);
            }
        dr_timestep_embedding(emb, t, 4, dim, 10000.0f);
        tu_expect_close("timestep embedding", emb, eref, 4 * dim, 1e-6);
        free(emb), free(eref);
    }
}

/* The layers' own reductions (norm statistics and weight gradients, bias and embedding
 * gradients, the loss) are summed in an order fixed by the data, not by the thread
 * count: 1 and 2 threads must give bit-identical results. */
static void run_reductions(float *res, const float *x, const float *dy, const float *w, const int *ids, int B, int T,
                           int C) {
    int N = B * T;
    float *out = falloc((long)N * C), *mean = falloc(N), *rstd = falloc(N);
    memset(res, 0, sizeof(float) * ((size_t)N * C * 3 + 8 * (size_t)C + 1));
    float *p = res;
    dr_rmsnorm_forward(out, rstd, x, w, N, C, 1e-5f);
    dr_rmsnorm_backward(p, p + (long)N * C, dy, x, w, rstd, N, C);
    p += (long)N * C + C;
    dr_layernorm_forward(out, mean, rstd, x, w, w, N, C, 1e-5f);
    dr_layernorm_backward(p, p + (long)N * C, p + (long)N * C + C, dy, x, w, mean, rstd, N, C);
    p += (long)N * C + 2 * C;
    dr_groupnorm_forward(out, mean, rstd, x, w, w, B, T, C, 4, 1e-5f);
    dr_groupnorm_backward(p, p + (long)N * C, p + (long)N * C + C, dy, x, w, mean, rstd, B, T, C, 4);
    p += (long)N * C + 2 * C;
    dr_embedding_backward(p, dy, ids, N, C); /* 2 rows of the table: ids in {0, 1} */
    p += 2 * C;
    int targets[4096];
    for (int i = 0; i < N; i++) targets[i] = i % C;
    int nv;
    p[0] = dr_softmax_xent_forward(out, x, targets, N, C, &nv);
    free(out), free(mean), free(rstd);
}

static void test_reductions_independent_of_threads(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 10);
    int B = 64, T = 20, C = 192, N = B * T;
    float *x = tu_randn(&rng, (long)N * C, 1), *dy = tu_randn(&rng, (long)N * C, 1), *w = tu_randn(&rng, C, 1);
    int *ids = malloc(sizeof(int) * (size_t)N);
    for (int i = 0; i < N; i++) ids[i] = (int)dr_rng_below(&rng, 2);
    size_t n = (size_t)N * C * 3 + 8 * (size_t)C + 1;
    float *r1 = falloc((long)n), *r2 = falloc((long)n);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    run_reductions(r1, x, dy, w, ids, B, T, C);
    omp_set_num_threads(2);
    run_reductions(r2, x, dy, w, ids, B, T, C);
    omp_set_num_threads(saved);
    assert_memory_equal(r1, r2, sizeof(float) * n);
    free(x), free(dy), free(w), free(ids), free(r1), free(r2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expf_accuracy),
        cmocka_unit_test(test_linear_forward),
        cmocka_unit_test(test_embedding_forward),
        cmocka_unit_test(test_conv1d_out_len),
        cmocka_unit_test(test_conv1d_forward),
        cmocka_unit_test(test_norms_forward),
        cmocka_unit_test(test_groupnorm_forward),
        cmocka_unit_test(test_activations_forward),
        cmocka_unit_test(test_swiglu_mlp_forward),
        cmocka_unit_test(test_softmax_xent_forward),
        cmocka_unit_test(test_film_and_timestep),
        cmocka_unit_test(test_reductions_independent_of_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
