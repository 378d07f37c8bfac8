/* Tests of src/nn/optim.c: AdamW against the formula written out in double precision,
 * per-tensor weight decay through dr_adamw_step, global-norm clipping, the learning-rate
 * schedule at its landmarks, and an end-to-end check that the layers and the optimizer
 * together can fit data: a linear-SiLU-linear MLP memorising a fixed labelled set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/optim.h"
#include "nn/params.h"
#include "testutil.h"

/* p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p), moments bias-corrected by 1 - beta^t */
static void adamw_ref(double *p, const double *g, double *m, double *v, int n, double lr, int t, double wd,
                      const dr_adamw_config *c) {
    for (int i = 0; i < n; i++) {
        m[i] = c->beta1 * m[i] + (1 - c->beta1) * g[i];
        v[i] = c->beta2 * v[i] + (1 - c->beta2) * g[i] * g[i];
        double mh = m[i] / (1 - pow(c->beta1, t)), vh = v[i] / (1 - pow(c->beta2, t));
        p[i] -= lr * (mh / (sqrt(vh) + c->eps) + wd * p[i]);
    }
}

static void test_adamw_matches_formula(void **state) {
    (void)state;
    dr_adamw_config cfg = dr_adamw_default();
    assert_true(cfg.beta1 == 0.9f && cfg.beta2 == 0.95f && cfg.eps == 1e-8f && cfg.weight_decay == 0.1f);
    enum { n = 5 };
    float p[n] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f}, m[n] = {0}, v[n] = {0};
    double pr[n], mr[n] = {0}, vr[n] = {0};
    for (int i = 0; i < n; i++) pr[i] = p[i];
    const float grads[3][n] = {{0.1f, -0.3f, 2.0f, 0.0f, -1e-4f}, {0.2f, 0.3f, -1.0f, 0.5f, 1e-4f},
                               {-0.1f, 0.0f, 0.5f, 0.5f, 0.0f}};
    for (int t = 1; t <= 3; t++) {
        double gd[n];
        for (int i = 0; i < n; i++) gd[i] = grads[t - 1][i];
        dr_adamw_update(p, grads[t - 1], m, v, n, 1e-2f, t, 0.1f, &cfg);
        adamw_ref(pr, gd, mr, vr, n, 1e-2, t, 0.1, &cfg);
        for (int i = 0; i < n; i++) {
            assert_true(fabs(p[i] - pr[i]) < 1e-6);
            assert_true(fabs(m[i] - mr[i]) < 1e-7 && fabs(v[i] - vr[i]) < 1e-7);
        }
    }
    /* step 1 with bias correction moves every parameter with a clear gradient by ~lr
     * (Adam's normalised first step), here plus the decoupled decay lr*wd*p */
    float q = 2.0f, qm = 0, qv = 0, g = 0.37f;
    dr_adamw_update(&q, &g, &qm, &qv, 1, 0.1f, 1, 0.5f, &cfg);
    assert_true(fabs(q - (2.0 - 0.1 * (1.0 + 0.5 * 2.0))) < 1e-5);
    /* a zero gradient still decays the weight, and only by lr * wd * p */
    float z = 4.0f, zm = 0, zv = 0, zg = 0;
    dr_adamw_update(&z, &zg, &zm, &zv, 1, 0.1f, 1, 0.5f, &cfg);
    assert_true(fabs(z - (4.0 - 0.1 * 0.5 * 4.0)) < 1e-6);
}

static void test_adamw_step_decays_only_flagged(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    dr_param items[2] = {{.name = "w", .ndim = 1, .shape = {70000}, .offset = 0, .numel = 70000, .no_decay = false},
                         {.name = "b", .ndim = 1, .shape = {10}, .offset = 70000, .numel = 10, .no_decay = true}};
    dr_params p = {.items = items, .count = 2, .capacity = 2, .total = 70010};
    p.data = tu_randn(&rng, 70010, 1), p.grad = tu_randn(&rng, 70010, 1);
    p.m = calloc(70010, sizeof(float)), p.v = calloc(70010, sizeof(float));
    float *data = malloc(sizeof(float) * 70010), *m = calloc(70010, sizeof(float)), *v = calloc(70010, sizeof(float));
    memcpy(data, p.data, sizeof(float) * 70010);
    dr_adamw_config cfg = dr_adamw_default();
    for (int step = 1; step <= 2; step++) {
        dr_adamw_step(&p, 3e-3f, step, &cfg);
        dr_adamw_update(data, p.grad, m, v, 70000, 3e-3f, step, cfg.weight_decay, &cfg);
        dr_adamw_update(data + 70000, p.grad + 70000, m + 70000, v + 70000, 10, 3e-3f, step, 0.0f, &cfg);
    }
    assert_memory_equal(p.data, data, sizeof(float) * 70010);
    assert_memory_equal(p.m, m, sizeof(float) * 70010);
    free(p.data), free(p.grad), free(p.m), free(p.v), free(data), free(m), free(v);
}

static void test_clip_grad_norm(void **state) {
    (void)state;
    float g[2] = {3.0f, 4.0f};
    assert_true(fabsf(dr_clip_grad_norm(g, 2, 10.0f) - 5.0f) < 1e-6f);
    assert_true(g[0] == 3.0f && g[1] == 4.0f); /* under the limit: untouched */
    assert_true(fabsf(dr_clip_grad_norm(g, 2, 1.0f) - 5.0f) < 1e-6f);
    assert_true(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[1] - 0.8f) < 1e-6f);
    /* parallel path, against a double reference */
    dr_rng rng;
    dr_rng_seed(&rng, 4);
    long n = 1000003;
    float *big = tu_randn(&rng, n, 0.01f);
    double ss = 0;
    for (long i = 0; i < n; i++) ss += (double)big[i] * big[i];
    float norm = dr_clip_grad_norm(big, (size_t)n, 1.0f);
    assert_true(fabs(norm - sqrt(ss)) < 1e-6 * sqrt(ss));
    assert_true(sqrt(ss) > 1.0); /* so it clipped */
    ss = 0;
    for (long i = 0; i < n; i++) ss += (double)big[i] * big[i];
    assert_true(fabs(sqrt(ss) - 1.0) < 1e-5);
    free(big);
}

static void test_lr_schedule(void **state) {
    (void)state;
    const float hi = 1e-3f, lo = 1e-4f;
    assert_true(fabsf(dr_lr_schedule(0, 10, 110, hi, lo) - hi / 10) < 1e-9f);     /* first step: not 0 */
    assert_true(fabsf(dr_lr_schedule(4, 10, 110, hi, lo) - hi / 2) < 1e-9f);      /* linear ramp */
    assert_true(fabsf(dr_lr_schedule(9, 10, 110, hi, lo) - hi) < 1e-9f);          /* end of warm-up */
    assert_true(fabsf(dr_lr_schedule(10, 10, 110, hi, lo) - hi) < 1e-9f);         /* cosine starts at max */
    assert_true(fabsf(dr_lr_schedule(60, 10, 110, hi, lo) - (hi + lo) / 2) < 1e-8f); /* half-way */
    assert_true(fabsf(dr_lr_schedule(110, 10, 110, hi, lo) - lo) < 1e-9f);        /* end */
    assert_true(fabsf(dr_lr_schedule(500, 10, 110, hi, lo) - lo) < 1e-9f);        /* after the end */
    float prev = hi;
    for (long s = 11; s <= 110; s++) {
        float lr = dr_lr_schedule(s, 10, 110, hi, lo);
        assert_true(lr <= prev && lr >= lo);
        prev = lr;
    }
    assert_true(fabsf(dr_lr_schedule(5, 0, 100, hi, lo) - (lo + 0.5f * (hi - lo) * (1 + cosf(0.05f * (float)M_PI)))) <
                1e-8f); /* no warm-up */
}

/* linear(D->H) - SiLU - linear(H->K) - softmax cross-entropy, full batch, AdamW. The
 * labels are random, so nothing but memorisation can fit them: with 64 points, 10 inputs
 * and 64 hidden units (1,000+ parameters) the net can, and the loss must fall from
 * ln(4) = 1.39 (chance) below 0.02, which means a mean probability above 0.98 on the
 * right class and 100% training accuracy; a wrong gradient anywhere stalls it far above. */
static void test_mlp_trains_to_zero_loss(void **state) {
    (void)state;
    enum { N = 64, D = 10, H = 64, K = 4, STEPS = 400 };
    dr_rng rng;
    dr_rng_seed(&rng, 2024);
    float *x = tu_randn(&rng, N * D, 1);
    int y[N];
    for (int i = 0; i < N; i++) y[i] = (int)dr_rng_below(&rng, K);
    dr_param items[4] = {{.name = "w1", .offset = 0, .numel = H * D},
                         {.name = "b1", .offset = H * D, .numel = H, .no_decay = true},
                         {.name = "w2", .offset = H * D + H, .numel = K * H},
                         {.name = "b2", .offset = H * D + H + K * H, .numel = K, .no_decay = true}};
    size_t total = H * D + H + K * H + K;
    dr_params p = {.items = items, .count = 4, .capacity = 4, .total = total};
    p.data = calloc(total, sizeof(float)), p.grad = calloc(total, sizeof(float));
    p.m = calloc(total, sizeof(float)), p.v = calloc(total, sizeof(float));
    dr_rng_fill_normal(&rng, p.data, H * D, 0.0f, 1.0f / sqrtf(D));
    dr_rng_fill_normal(&rng, p.data + H * D + H, K * H, 0.0f, 1.0f / sqrtf(H));
    float *w1 = p.data, *b1 = w1 + H * D, *w2 = b1 + H, *b2 = w2 + K * H;
    float *gw1 = p.grad, *gb1 = gw1 + H * D, *gw2 = gb1 + H, *gb2 = gw2 + K * H;
    float *a = malloc(sizeof(float) * N * H), *h = malloc(sizeof(float) * N * H), *logits = malloc(sizeof(float) * N * K);
    float *dh = malloc(sizeof(float) * N * H), *da = malloc(sizeof(float) * N * H), *dlog = malloc(sizeof(float) * N * K);
    dr_adamw_config cfg = dr_adamw_default();
    cfg.weight_decay = 1e-4f;
    float first = 0, loss = 0;
    for (int step = 1; step <= STEPS; step++) {
        dr_linear_forward(a, x, w1, b1, N, D, H);
        dr_silu_forward(h, a, N * H);
        dr_linear_forward(logits, h, w2, b2, N, H, K);
        int nv;
        loss = dr_softmax_xent_forward(logits, logits, y, N, K, &nv);
        if (step == 1) first = loss;
        memset(p.grad, 0, sizeof(float) * total);
        memset(dlog, 0, sizeof(float) * N * K);
        memset(dh, 0, sizeof(float) * N * H);
        memset(da, 0, sizeof(float) * N * H);
        dr_softmax_xent_backward(dlog, logits, y, N, K, 1.0f / (float)nv);
        dr_linear_backward(dh, gw2, gb2, dlog, h, w2, N, H, K);
        dr_silu_backward(da, dh, a, N * H);
        dr_linear_backward(NULL, gw1, gb1, da, x, w1, N, D, H);
        dr_clip_grad_norm(p.grad, total, 5.0f);
        dr_adamw_step(&p, dr_lr_schedule(step - 1, 20, STEPS, 2e-2f, 1e-3f), step, &cfg);
    }
    printf("mlp: loss %.4f at step 1, %.5f at step %d\n", first, loss, STEPS);
    assert_true(fabsf(first - logf(K)) < 0.5f);
    if (!(loss < 0.02f)) fail_msg("MLP loss %g after %d steps (from %g), want < 0.02", loss, STEPS, first);
    int correct = 0;
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[i * K + k] > logits[i * K + best]) best = k;
        correct += best == y[i];
    }
    assert_int_equal(correct, N);
    free(x), free(p.data), free(p.grad), free(p.m), free(p.v), free(a), free(h), free(logits), free(dh), free(da),
        free(dlog);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_matches_formula),
        cmocka_unit_test(test_adamw_step_decays_only_flagged),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_mlp_trains_to_zero_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
