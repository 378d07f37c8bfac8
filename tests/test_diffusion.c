/* Tests of the pose diffusion interpolator (src/models/pose_diffusion.c), on tiny models:
 * - every parameter gradient of the denoiser by finite differences (input projection,
 *   timestep MLP, FiLM, self-attention, cross-attention to key-frame and text tokens,
 *   MLP, output), with a mix of kept and dropped conditions;
 * - the loss gradient (masked x0 MSE + velocity term) by finite differences;
 * - the key-frame guide and the linear baseline on hand-made key frames;
 * - a tiny model learning a toy interpolation (loss falls; samples land closer to the truth
 *   than the noise they start from and than chance);
 * - samplers: same seed -> same output, other seed -> other output; DDIM equals a reference
 *   DDIM loop written here; guidance scales 0, 0 equal the unconditional path (and ignore the
 *   condition); inpainting puts the key frames exactly in place;
 * - bad key-frame counts and indices rejected with a clear error; save/load round trip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "models/interp_train.h"
#include "models/pose_diffusion.h"
#include "nn/optim.h"
#include "testutil.h"

#define F_ 20
#define K_ 5
#define LT 4
#define TD 8

static dr_interp_config tiny_config(bool text) {
    dr_interp_config c = dr_interp_default_config(text ? TD : 0, LT);
    c.frames = F_;
    c.num_keyframes = K_;
    c.dim = 16;
    c.num_layers = 2;
    c.num_heads = 2;
    c.mlp_dim = 24;
    c.diffusion_steps = 100;
    return c;
}

/* A batch of toy clips in which linear interpolation is wrong in a learnable way: each
 * coordinate walks between random key-frame values and, between key frames, bulges by
 * A sin(pi u) (u the position inside the gap, alternating sign per coordinate), where the
 * clip's amplitude A is what the "text" states encode. Keypoint 5 can go missing mid-clip. */
typedef struct toy {
    int B;
    float *x0, *mask, *kf, *fc, *text;
    int *kfi;
    uint8_t *tvalid;
    float *keep_kf, *keep_text;
} toy;

static void toy_make(toy *t, int B, dr_rng *rng, bool missing) {
    t->B = B;
    t->x0 = calloc((size_t)B * F_ * 36, 4);
    t->mask = calloc((size_t)B * F_ * 36, 4);
    t->kf = calloc((size_t)B * K_ * DR_INTERP_KF_FEAT, 4);
    t->fc = calloc((size_t)B * F_ * DR_INTERP_FRAME_COND, 4);
    t->text = calloc((size_t)B * LT * TD, 4);
    t->kfi = calloc((size_t)B * K_, sizeof(int));
    t->tvalid = calloc((size_t)B * LT, 1);
    t->keep_kf = calloc(B, 4);
    t->keep_text = calloc(B, 4);
    const int stride = F_ / K_;
    for (int b = 0; b < B; b++) {
        float amp = dr_rng_range(rng, -0.5f, 0.5f), kp[K_ * 36], km[K_ * 18];
        for (int j = 0; j < 36; j++) {
            float kv[K_];
            kv[0] = dr_rng_range(rng, -0.5f, 0.5f);
            for (int k = 1; k < K_; k++) kv[k] = kv[k - 1] + 0.2f * dr_rng_normal(rng);
            for (int f = 0; f < F_; f++) {
                int k = f / stride;
                float u = (float)(f - k * stride) / (float)stride;
                float base = k + 1 < K_ ? (1 - u) * kv[k] + u * kv[k + 1] : kv[k];
                bool present = !(missing && j / 2 == 5 && f >= 9 && f < 15);
                float v = base + (j % 2 ? amp : -amp) * sinf((float)M_PI * u);
                t->x0[((size_t)b * F_ + f) * 36 + j] = present ? v : 0.0f;
                t->mask[((size_t)b * F_ + f) * 36 + j] = present;
            }
        }
        for (int k = 0; k < K_; k++) {
            int f = k * (F_ / K_);
            t->kfi[b * K_ + k] = f;
            memcpy(kp + k * 36, t->x0 + ((size_t)b * F_ + f) * 36, 36 * 4);
            for (int j = 0; j < 18; j++) km[k * 18 + j] = t->mask[((size_t)b * F_ + f) * 36 + 2 * j];
        }
        dr_interp_config cfg = tiny_config(true); /* every tiny model uses its guide kind */
        dr_interp_condition(&cfg, kp, km, t->kfi + b * K_, t->fc + (size_t)b * F_ * DR_INTERP_FRAME_COND,
                            t->kf + (size_t)b * K_ * DR_INTERP_KF_FEAT, NULL);
        for (int i = 0; i < LT * TD; i++) t->text[(size_t)b * LT * TD + i] = 2.0f * amp * (float)((i % 3) - 1);
        for (int i = 0; i < LT; i++) t->tvalid[b * LT + i] = i < 2 + b % 2;
        t->keep_kf[b] = 1;
        t->keep_text[b] = 1;
    }
}

static void toy_free(toy *t) {
    free(t->x0);
    free(t->mask);
    free(t->kf);
    free(t->fc);
    free(t->text);
    free(t->kfi);
    free(t->tvalid);
    free(t->keep_kf);
    free(t->keep_text);
}

static dr_interp_cond toy_cond(const toy *t, int b) {
    dr_interp_cond c = {t->kf + (size_t)b * K_ * DR_INTERP_KF_FEAT, t->kfi + b * K_,
                        t->fc + (size_t)b * F_ * DR_INTERP_FRAME_COND, t->text + (size_t)b * LT * TD,
                        t->tvalid + b * LT, t->keep_kf + b, t->keep_text + b};
    return c;
}

/* A falling prior spectrum, as measured on real clips (variance per DCT frequency). */
static void set_spectrum(dr_interp *m) {
    float *S = dr_params_get(&m->params, "prior_spec");
    for (int k = 0; k < m->cfg.frames; k++) S[k] = 0.05f / (1.0f + 0.5f * k * k);
}

/* ---------------------------------------------------------------- gradients */

typedef struct fwd_ctx {
    dr_interp *m;
    const float *xt, *tv;
    dr_interp_cond cond;
    int B;
    float *pred, *probe;
} fwd_ctx;

static double fwd_loss(void *p) {
    fwd_ctx *c = p;
    dr_err err;
    assert_int_equal(dr_interp_forward(c->m, c->xt, c->tv, &c->cond, c->B, c->pred, &err), 0);
    return tu_dot(c->pred, c->probe, (long)c->B * F_ * 36);
}

static void test_denoiser_gradients(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 11);
    dr_err err;
    for (int text = 0; text < 2; text++) {
        dr_interp m;
        dr_interp_config cfg = tiny_config(text);
        assert_int_equal(dr_interp_create(&m, &cfg, &err), 0);
        dr_interp_init_weights(&m, 3);
        /* the zero-initialised FiLM and output layers would hide every upstream gradient */
        for (size_t i = 0; i < m.params.total; i++) m.params.data[i] += 0.12f * dr_rng_normal(&rng);
        set_spectrum(&m);
        assert_int_equal(dr_interp_alloc_acts(&m, 3, &err), 0);
        assert_int_equal(dr_params_alloc_grad(&m.params), 0);
        toy t;
        toy_make(&t, 3, &rng, true);
        t.keep_text[1] = 0; /* one clip without text, one without key frames */
        t.keep_kf[2] = 0;
        float *xt = tu_randn(&rng, 3 * F_ * 36, 1.0f), tv[3] = {5, 50, 99};
        fwd_ctx c = {&m, xt, tv, toy_cond(&t, 0), 3, calloc(3 * F_ * 36, 4), tu_randn(&rng, 3 * F_ * 36, 1.0f)};
        if (!text) c.cond.text = NULL, c.cond.text_valid = NULL;
        fwd_loss(&c);
        dr_params_zero_grad(&m.params);
        dr_interp_backward(&m, c.probe);
        float *g = malloc(sizeof(float) * m.params.total);
        memcpy(g, m.params.grad, sizeof(float) * m.params.total);
        double gall = 0;
        for (size_t j = 0; j < m.params.total; j++) gall = fmax(gall, fabs(g[j]));
        for (int i = 0; i < m.params.count; i++) {
            const dr_param *it = &m.params.items[i];
            if (!strcmp(it->name, "prior_spec")) continue; /* measured from data, never trained */
            double gmax = 0;
            for (size_t j = 0; j < it->numel; j++) gmax = fmax(gmax, fabs(g[it->offset + j]));
            /* key biases cancel in softmax (true gradient 0): judged on the global scale */
            /* the difference quotient's rounding noise scales with the whole loss, hence the global term */
            double floor = gmax < 1e-5 * gall ? 1e-2 * gall : fmax(1e-3 * gall, 1e-2 * gmax);
            /* eps 3e-2: at 1e-2 and below float32 rounding of the whole forward dominates the
             * quotient (measured: analytic and eps = 0.1 / 0.03 agree to 4 digits, eps = 1e-3 to 2) */
            double e = tu_gradcheck(fwd_loss, &c, m.params.data + it->offset, g + it->offset, (long)it->numel, 3e-2f,
                                    16, floor);
            if (getenv("GRAD_VERBOSE")) printf("%d %-28s %.2e gmax %.2e\n", text, it->name, e, gmax);
            if (!(e < 2e-2)) fail_msg("interpolator (text %d): %s gradient error %g", text, it->name, e);
        }
        free(g);
        free(xt);
        free(c.pred);
        free(c.probe);
        toy_free(&t);
        dr_interp_free(&m);
    }
}

/* The loss gradient: with fixed rng state the loss is a deterministic function of the weights. */
typedef struct loss_ctx {
    dr_interp *m;
    toy *t;
    dr_interp_cond cond;
    float *scratch;
    uint64_t seed;
} loss_ctx;

static double loss_fn(void *p) {
    loss_ctx *c = p;
    dr_rng rng;
    dr_rng_seed(&rng, c->seed);
    /* train = true draws the drops too; backward is skipped because grad is detached */
    float *grad = c->m->params.grad;
    c->m->params.grad = NULL;
    double l = dr_interp_loss(c->m, c->t->x0, c->t->mask, &c->cond, c->t->B, &rng, true, c->scratch, NULL);
    c->m->params.grad = grad;
    return l;
}

static void test_loss_gradient(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 12);
    dr_err err;
    dr_interp m;
    dr_interp_config cfg = tiny_config(true);
    cfg.vel_weight = 2.0f;
    assert_int_equal(dr_interp_create(&m, &cfg, &err), 0);
    dr_interp_init_weights(&m, 4);
    for (size_t i = 0; i < m.params.total; i++) m.params.data[i] += 0.25f * dr_rng_normal(&rng);
    assert_int_equal(dr_interp_alloc_acts(&m, 2, &err), 0);
    assert_int_equal(dr_params_alloc_grad(&m.params), 0);
    toy t;
    toy_make(&t, 2, &rng, true);
    loss_ctx c = {&m, &t, toy_cond(&t, 0), malloc(sizeof(float) * dr_interp_loss_scratch_floats(&m, 2)), 77};
    dr_params_zero_grad(&m.params);
    dr_rng r2;
    dr_rng_seed(&r2, c.seed);
    float l = dr_interp_loss(&m, t.x0, t.mask, &c.cond, 2, &r2, true, c.scratch, NULL);
    assert_true(isfinite(l) && l > 0);
    float *g = malloc(sizeof(float) * m.params.total);
    memcpy(g, m.params.grad, sizeof(float) * m.params.total);
    const char *names[] = {"out.weight", "out.bias", "blocks.1.mlp.fc2.weight", "in.weight"};
    for (int i = 0; i < 4; i++) {
        int idx = dr_params_find(&m.params, names[i]);
        const dr_param *it = &m.params.items[idx];
        double gmax = 0;
        for (size_t j = 0; j < it->numel; j++) gmax = fmax(gmax, fabs(g[it->offset + j]));
        double e = tu_gradcheck(loss_fn, &c, m.params.data + it->offset, g + it->offset, (long)it->numel, 1e-2f, 16,
                                fmax(1e-4, 1e-2 * gmax));
        if (!(e < 2e-2)) fail_msg("loss gradient %s: error %g", names[i], e);
    }
    free(g);
    free(c.scratch);
    toy_free(&t);
    dr_interp_free(&m);
}

/* ---------------------------------------------------------------- guide and baseline */

static void test_guide_and_linear(void **state) {
    (void)state;
    /* key frames 0, 10, 20 of a 25-frame clip: keypoint 0 moves linearly, keypoint 1 is
     * missing in the middle key frame, keypoint 2 only there */
    dr_pose kf[3];
    memset(kf, 0, sizeof kf);
    for (int k = 0; k < 3; k++) {
        kf[k].kp[0] = (dr_keypoint){100.0f + 30.0f * k, 50.0f, 0.9f};
        if (k != 1) kf[k].kp[1] = (dr_keypoint){200.0f, 80.0f + 20.0f * k, 0.8f};
        if (k == 1) kf[k].kp[2] = (dr_keypoint){300.0f, 100.0f, 0.7f};
    }
    int idx[3] = {0, 10, 20};
    dr_pose out[25];
    dr_err err;
    assert_int_equal(dr_interp_linear(kf, 3, idx, 25, 512, 320, out, &err), 0);
    for (int f = 0; f < 25; f++) {
        float want = f <= 20 ? 100.0f + 3.0f * f : 160.0f; /* held after the last key frame */
        assert_true(fabsf(out[f].kp[0].x - want) < 1e-3f);
        assert_true(fabsf(out[f].kp[0].y - 50.0f) < 1e-3f);
        /* presence from the nearest key frame, ties to the earlier one */
        int near = f <= 5 ? 0 : f <= 15 ? 1 : 2;
        assert_int_equal(out[f].kp[1].c > 0, near != 1);
        assert_int_equal(out[f].kp[2].c > 0, near == 1);
        assert_true(out[f].kp[3].c == 0 && out[f].kp[3].x == 0);
    }
    assert_true(fabsf(out[3].kp[1].y - 80.0f) < 1e-3f); /* the other side is missing: held */
    assert_true(fabsf(out[17].kp[1].y - 120.0f) < 1e-3f);
    assert_true(fabsf(out[0].kp[0].c - 0.9f) < 1e-6f);
    /* bad input */
    int bad[3] = {0, 10, 10};
    assert_int_equal(dr_interp_linear(kf, 3, bad, 25, 512, 320, out, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "increase"));
    int outside[3] = {0, 10, 25};
    assert_int_equal(dr_interp_linear(kf, 3, outside, 25, 512, 320, out, &err), DR_EINVAL);
    assert_int_equal(dr_interp_linear(kf, 0, NULL, 25, 512, 320, out, &err), DR_EINVAL);
    /* the frame condition: flag at key frames, interpolated presence */
    float kp[3 * 36], km[3 * 18], fc[25 * DR_INTERP_FRAME_COND];
    for (int k = 0; k < 3; k++) dr_pose_normalize(&kf[k], 512, 320, kp + k * 36, km + k * 18);
    dr_interp_guide(kp, km, idx, 3, 25, fc, NULL, NULL, NULL);
    assert_true(fc[10 * DR_INTERP_FRAME_COND + 54] == 1.0f && fc[11 * DR_INTERP_FRAME_COND + 54] == 0.0f);
    assert_true(fabsf(fc[5 * DR_INTERP_FRAME_COND + 36 + 1] - 0.5f) < 1e-6f);
}

/* ---------------------------------------------------------------- learning a toy */

/* Fresh toy clips every step (no memorisation), AdamW with warm-up and cosine decay. */
static void train_tiny(dr_interp *m, int B, int steps, float *first, float *last) {
    dr_err err;
    dr_rng rng, data;
    dr_rng_seed(&rng, 5);
    dr_rng_seed(&data, 6);
    toy tt, *t = &tt;
    toy_make(t, B, &data, false);
    assert_int_equal(dr_interp_alloc_acts(m, t->B, &err), 0);
    assert_int_equal(dr_params_alloc_grad(&m->params), 0);
    assert_int_equal(dr_params_alloc_optim(&m->params), 0);
    float *scratch = malloc(sizeof(float) * dr_interp_loss_scratch_floats(m, t->B));
    dr_adamw_config ac = dr_adamw_default();
    ac.weight_decay = 0.0f;
    double head = 0, tail = 0;
    for (int s = 1; s <= steps; s++) {
        toy_free(t);
        toy_make(t, B, &data, s % 2 == 0);
        dr_interp_cond cond = toy_cond(t, 0);
        dr_params_zero_grad(&m->params);
        float l = dr_interp_loss(m, t->x0, t->mask, &cond, t->B, &rng, true, scratch, NULL);
        dr_clip_grad_norm(m->params.grad, m->params.total, 1.0f);
        dr_adamw_step(&m->params, dr_lr_schedule(s, 20, steps, 3e-3f, 3e-4f), s, &ac);
        if (s <= 20) head += l / 20;
        if (s > steps - 20) tail += l / 20;
    }
    *first = (float)head;
    *last = (float)tail;
    free(scratch);
    toy_free(t);
}

static void test_learns_toy_interpolation(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 21);
    dr_err err;
    dr_interp m;
    dr_interp_config cfg = tiny_config(true);
    cfg.dim = 32;
    cfg.mlp_dim = 64;
    assert_int_equal(dr_interp_create(&m, &cfg, &err), 0);
    dr_interp_init_weights(&m, 9);
    float first, last;
    train_tiny(&m, 16, 300, &first, &last);
    printf("toy: loss %.4f -> %.4f\n", first, last);
    assert_true(last < 0.5f * first);
    /* held-out clips: DDIM samples are closer to the truth than the noise they start from */
    toy v;
    toy_make(&v, 4, &rng, false);
    dr_interp_opts o = dr_interp_default_opts();
    o.inpaint = false;
    o.t_min = 0; /* the full chain, unsmoothed: what these tests are about */
    o.smooth = 0;
    o.steps = 25;
    double err_model = 0, err_noise = 0, err_zero = 0, err_lerp = 0;
    for (int b = 0; b < 4; b++) {
        float out[F_ * 36], noise[F_ * 36];
        dr_interp_cond c = toy_cond(&v, b);
        o.seed = 100 + b;
        assert_int_equal(dr_interp_sample(&m, &c, &o, out, &err), 0);
        dr_rng nr;
        dr_rng_seed(&nr, o.seed);
        dr_rng_fill_normal(&nr, noise, F_ * 36, 0, 1);
        const float *x = v.x0 + (size_t)b * F_ * 36;
        for (int f = 0; f < F_; f++)
            for (int j = 0; j < 36; j++) {
                float l = v.fc[((size_t)b * F_ + f) * DR_INTERP_FRAME_COND + j];
                err_lerp += (l - x[f * 36 + j]) * (l - x[f * 36 + j]);
            }
        for (int i = 0; i < F_ * 36; i++) {
            err_model += (out[i] - x[i]) * (out[i] - x[i]);
            err_noise += (noise[i] - x[i]) * (noise[i] - x[i]);
            err_zero += x[i] * x[i];
        }
    }
    const double n = 4 * F_ * 36;
    printf("toy: sample MSE %.4f, linear %.4f, noise %.4f, zeros %.4f\n", err_model / n, err_lerp / n, err_noise / n,
           err_zero / n);
    assert_true(err_model < 0.05 * err_noise);
    assert_true(err_model < 0.5 * err_lerp); /* the bulge is learned, from the text */
    toy_free(&v);
    dr_interp_free(&m);
}

/* ---------------------------------------------------------------- samplers */

/* Reference DDIM (eta 0) with the plain forward at fixed keep flags. */
static void ref_ddim(dr_interp *m, const toy *t, float keep_kf, float keep_text, int steps, uint64_t seed,
                     float *out) {
    const int T = m->cfg.diffusion_steps;
    float x[F_ * 36], x0[F_ * 36];
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    dr_rng_fill_normal(&rng, x, F_ * 36, 0, 1);
    dr_interp_cond c = toy_cond(t, 0);
    c.keep_kf = &keep_kf;
    c.keep_text = &keep_text;
    dr_err err;
    for (int i = steps - 1; i >= 0; i--) {
        int tt = (i + 1) * T / steps - 1, tp = i > 0 ? i * T / steps - 1 : -1;
        float tv = (float)tt;
        assert_int_equal(dr_interp_forward(m, x, &tv, &c, 1, x0, &err), 0);
        double ab = m->alpha_bar[tt], abp = tp >= 0 ? m->alpha_bar[tp] : 1.0;
        for (int j = 0; j < F_ * 36; j++) {
            double xx = fmin(4.0, fmax(-4.0, x0[j]));
            double eps = (x[j] - sqrt(ab) * xx) / sqrt(1 - ab);
            x[j] = (float)(sqrt(abp) * xx + sqrt(1 - abp) * eps);
            x0[j] = (float)xx;
        }
    }
    memcpy(out, x0, sizeof x0);
}

static void test_samplers(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 31);
    dr_err err;
    dr_interp m;
    dr_interp_config cfg = tiny_config(true);
    assert_int_equal(dr_interp_create(&m, &cfg, &err), 0);
    dr_interp_init_weights(&m, 8);
    for (size_t i = 0; i < m.params.total; i++) m.params.data[i] += 0.1f * dr_rng_normal(&rng);
    toy t, t2;
    toy_make(&t, 1, &rng, true);
    toy_make(&t2, 1, &rng, false);
    dr_interp_cond c = toy_cond(&t, 0), c2 = toy_cond(&t2, 0);
    float a[F_ * 36], b[F_ * 36], r[F_ * 36];
    dr_interp_opts o = dr_interp_default_opts();
    o.inpaint = false;
    o.t_min = 0; /* the full chain, unsmoothed: what these tests are about */
    o.smooth = 0;
    o.steps = 25;
    o.steps = 10;
    o.seed = 42;
    /* determinism */
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    assert_int_equal(dr_interp_sample(&m, &c, &o, b, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    o.seed = 43;
    assert_int_equal(dr_interp_sample(&m, &c, &o, b, &err), 0);
    assert_true(tu_max_abs_diff(a, b, F_ * 36) > 1e-3);
    o.steps = 0; /* ancestral DDPM: deterministic for a seed as well */
    o.seed = 7;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    assert_int_equal(dr_interp_sample(&m, &c, &o, b, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < F_ * 36; i++) assert_true(isfinite(a[i]));
    /* scales 1, 1: the conditional DDIM; scales 0, 0: the unconditional one, whatever the condition */
    o.steps = 10;
    o.seed = 42;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    ref_ddim(&m, &t, 1, 1, 10, 42, r);
    assert_true(tu_max_abs_diff(a, r, F_ * 36) < 1e-4);
    o.guidance_kf = 0;
    o.guidance_text = 0;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    ref_ddim(&m, &t, 0, 0, 10, 42, r);
    assert_true(tu_max_abs_diff(a, r, F_ * 36) < 1e-4);
    assert_int_equal(dr_interp_sample(&m, &c2, &o, b, &err), 0);
    assert_true(tu_max_abs_diff(a, b, F_ * 36) < 1e-4);
    /* text scale 0 with key-frame scale 1: the key-frame-only path */
    o.guidance_kf = 1;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    ref_ddim(&m, &t, 1, 0, 10, 42, r);
    assert_true(tu_max_abs_diff(a, r, F_ * 36) < 1e-4);
    /* a guided sample differs from the plain one */
    o.guidance_text = 3;
    assert_int_equal(dr_interp_sample(&m, &c, &o, b, &err), 0);
    assert_true(tu_max_abs_diff(a, b, F_ * 36) > 1e-4);
    /* inpainting: present key-frame coordinates exactly in place */
    o.inpaint = true;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    for (int k = 0; k < K_; k++)
        for (int j = 0; j < 18; j++)
            if (t.kf[k * DR_INTERP_KF_FEAT + 36 + j] > 0)
                for (int d = 0; d < 2; d++)
                    assert_true(a[t.kfi[k] * 36 + 2 * j + d] == t.kf[k * DR_INTERP_KF_FEAT + 2 * j + d]);
    /* t_min = T - 1 with one step: the single x0 estimate from pure noise */
    o.guidance_text = 1;
    o.inpaint = false;
    o.steps = 1;
    o.t_min = 99;
    o.seed = 5;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
    {
        float xT[F_ * 36], keep = 1, tv = 99;
        dr_rng nr;
        dr_rng_seed(&nr, 5);
        dr_rng_fill_normal(&nr, xT, F_ * 36, 0, 1);
        dr_interp_cond cc = toy_cond(&t, 0);
        cc.keep_kf = cc.keep_text = &keep;
        assert_int_equal(dr_interp_forward(&m, xT, &tv, &cc, 1, r, &err), 0);
        for (int i = 0; i < F_ * 36; i++) r[i] = fminf(4.0f, fmaxf(-4.0f, r[i]));
        assert_true(tu_max_abs_diff(a, r, F_ * 36) < 1e-5);
    }
    /* smoothing the correction of the guide: sigma 50 over 20 frames leaves it nearly constant */
    o.t_min = 0;
    o.steps = 10;
    double rough[2];
    for (int k = 0; k < 2; k++) {
        o.smooth = k ? 50.0f : 0.0f;
        assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), 0);
        rough[k] = 0;
        for (int f = 1; f + 1 < F_; f++)
            for (int j = 0; j < 36; j++) {
                float d[3];
                for (int i = 0; i < 3; i++)
                    d[i] = a[(f - 1 + i) * 36 + j] - t.fc[(f - 1 + i) * DR_INTERP_FRAME_COND + j];
                rough[k] += fabsf(d[0] - 2 * d[1] + d[2]);
            }
    }
    assert_true(rough[1] < 0.05 * rough[0]);
    o.smooth = 0;
    /* bad options */
    o.t_min = 100;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), DR_EINVAL);
    o.t_min = 0;
    o.smooth = -1;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), DR_EINVAL);
    o.smooth = 0;
    o.steps = 101;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), DR_EINVAL);
    o.steps = 10;
    o.guidance_kf = NAN;
    assert_int_equal(dr_interp_sample(&m, &c, &o, a, &err), DR_EINVAL);
    toy_free(&t);
    toy_free(&t2);
    dr_interp_free(&m);
}

/* ---------------------------------------------------------------- pipeline entry and files */

static void test_run_rejects_bad_keyframes(void **state) {
    (void)state;
    dr_err err;
    dr_interp m;
    dr_interp_config cfg = tiny_config(false);
    assert_int_equal(dr_interp_create(&m, &cfg, &err), 0);
    dr_interp_init_weights(&m, 1);
    dr_pose kf[K_ + 1], out[F_];
    memset(kf, 0, sizeof kf);
    for (int k = 0; k <= K_; k++)
        for (int j = 0; j < 18; j++) kf[k].kp[j] = (dr_keypoint){100.0f + 10 * j + k, 100.0f + 5 * j, 1.0f};
    dr_interp_opts o = dr_interp_default_opts();
    o.steps = 5;
    o.t_min = 0;
    assert_int_equal(dr_interp_run(&m, NULL, NULL, 0, kf, K_ - 1, NULL, 512, 320, &o, out, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "expected 5 key frames, got 4"));
    assert_int_equal(dr_interp_run(&m, NULL, NULL, 0, kf, K_ + 1, NULL, 512, 320, &o, out, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "got 6"));
    int idx[K_] = {0, 4, 3, 12, 16};
    assert_int_equal(dr_interp_run(&m, NULL, NULL, 0, kf, K_, idx, 512, 320, &o, out, &err), DR_EINVAL);
    assert_int_equal(dr_interp_run(&m, NULL, NULL, 0, kf, K_, NULL, 0, 320, &o, out, &err), DR_EINVAL);
    /* a valid call: every keypoint present, key frames passed exactly (inpainting) */
    if (dr_interp_run(&m, NULL, NULL, 0, kf, K_, NULL, 512, 320, &o, out, &err)) fail_msg("%s", err.msg);
    for (int k = 0; k < K_; k++)
        for (int j = 0; j < 18; j++) {
            assert_true(fabsf(out[k * 4].kp[j].x - kf[k].kp[j].x) < 1e-3f);
            assert_true(out[k * 4].kp[j].c == 1.0f);
        }
    /* a text model without a text encoder */
    dr_interp mt;
    dr_interp_config ct = tiny_config(true);
    assert_int_equal(dr_interp_create(&mt, &ct, &err), 0);
    assert_int_equal(dr_interp_run(&mt, NULL, NULL, 0, kf, K_, NULL, 512, 320, &o, out, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "text encoder"));
    /* save / load */
    char dir[4096], path[4096];
    tu_tmpdir(dir, sizeof dir, "interp_io");
    snprintf(path, sizeof path, "%s/interp.safetensors", dir);
    assert_int_equal(dr_interp_save(&mt, path, &err), 0);
    dr_interp back;
    if (dr_interp_load(&back, path, &err)) fail_msg("%s", err.msg);
    assert_int_equal(back.params.total, mt.params.total);
    assert_memory_equal(back.params.data, mt.params.data, mt.params.total * sizeof(float));
    assert_int_equal(back.cfg.text_dim, TD);
    dr_interp_free(&back);
    dr_interp_config bad;
    assert_int_equal(dr_interp_config_parse(&bad, "{\"frames\":20}", path, &err), DR_EFORMAT);
    assert_int_equal(dr_interp_config_parse(&bad, "nope", path, &err), DR_EFORMAT);
    dr_interp_free(&mt);
    dr_interp_free(&m);
}

/* ---------------------------------------------------------------- motion metrics */

static void test_motion_metrics(void **state) {
    (void)state;
    enum { F = 30 };
    dr_pose truth[F], pred[F];
    memset(truth, 0, sizeof truth);
    /* truth: a rigid figure moving right at 2 px/frame; keypoint 17 missing after frame 20 */
    for (int f = 0; f < F; f++)
        for (int j = 0; j < 18; j++)
            if (!(j == 17 && f > 20)) truth[f].kp[j] = (dr_keypoint){100.0f + 2.0f * f + 10 * j, 50.0f + 7 * j, 1.0f};
    int kfi[3] = {0, 10, 20};
    dr_motion_metrics m = {0};
    dr_motion_metrics_add(&m, truth, truth, F, kfi, 3);
    assert_true(m.pos_sum == 0 && m.vel_sum == 0 && m.acc_sum == 0 && m.jerr_sum == 0 && m.kf_sum == 0);
    assert_true(m.jerk_n > 0 && m.jerk_sum < 1e-3);
    assert_true(m.bone_n == DR_NUM_LIMBS && m.bone_sum < 1e-5);
    assert_true(m.pres_ok == m.pres_n);
    /* both ankles are at the lowest point every frame: sliding = the 2 px/frame drift */
    assert_true(fabs(m.slide_sum / m.slide_n - 2.0) < 1e-4);
    /* pred: shifted 3 px down, plus 1 px wobble on even frames; keypoint 0 absent at frame 5 */
    memcpy(pred, truth, sizeof pred);
    for (int f = 0; f < F; f++)
        for (int j = 0; j < 18; j++) {
            pred[f].kp[j].y += 3.0f;
            if (f % 2 == 0) pred[f].kp[j].x += 1.0f;
        }
    pred[5].kp[0] = (dr_keypoint){0, 0, 0};
    dr_motion_metrics p = {0};
    dr_motion_metrics_add(&p, pred, truth, F, kfi, 3);
    /* position: sqrt(9 + 1) on even frames, 3 on odd ones */
    assert_true(fabs(p.pos_sum / p.pos_n - 0.5 * (sqrt(10.0) + 3.0)) < 0.05);
    assert_true(fabs(p.vel_sum / p.vel_n - 1.0) < 1e-4); /* |+-1| every frame */
    assert_true(fabs(p.acc_sum / p.acc_n - 2.0) < 1e-4); /* |+-2| */
    assert_true(fabs(p.jerk_sum / p.jerk_n - 4.0) < 1e-4);
    assert_true(fabs(p.jerr_sum / p.jerr_n - 4.0) < 1e-4); /* the truth's own jerk is 0 */
    assert_true(p.pres_n - p.pres_ok == 1);
    assert_true(fabs(p.kf_sum / p.kf_n - sqrt(10.0)) < 1e-4); /* key frames are even frames */
}

/* The skip paths against references written here: with the network's output layer zeroed
 * the model returns its skip path alone. Spectral skip = guide + C^T diag(g_k) C (x_t -
 * sqrt(ab) guide) with a double-precision DCT; with a flat spectrum s^2 it equals the scalar
 * (white-prior) skip of a model without it. */
static void test_spectral_skip(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 41);
    dr_err err;
    dr_interp_config cfg = tiny_config(true), cw = cfg;
    cw.spectral_skip = 0;
    dr_interp m, w;
    assert_int_equal(dr_interp_create(&m, &cfg, &err), 0);
    assert_int_equal(dr_interp_create(&w, &cw, &err), 0);
    dr_interp_init_weights(&m, 3);
    dr_interp_init_weights(&w, 3);
    assert_int_equal(dr_interp_alloc_acts(&m, 2, &err), 0);
    assert_int_equal(dr_interp_alloc_acts(&w, 2, &err), 0);
    toy t;
    toy_make(&t, 2, &rng, false);
    float *xt = tu_randn(&rng, 2 * F_ * 36, 1.0f), tv[2] = {3, 60};
    float a[2 * F_ * 36], b[2 * F_ * 36];
    dr_interp_cond c = toy_cond(&t, 0);
    /* flat spectrum: the same as the scalar skip (out.weight is zero-initialised: skip only) */
    assert_int_equal(dr_interp_forward(&m, xt, tv, &c, 2, a, &err), 0);
    assert_int_equal(dr_interp_forward(&w, xt, tv, &c, 2, b, &err), 0);
    for (int i = 0; i < 2 * F_ * 36; i++) assert_true(fabsf(a[i] - b[i]) < 1e-5f);
    /* falling spectrum: the reference filter */
    set_spectrum(&m);
    assert_int_equal(dr_interp_forward(&m, xt, tv, &c, 2, a, &err), 0);
    const float *S = dr_params_get(&m.params, "prior_spec");
    double maxdiff = 0, moved = 0;
    for (int bb = 0; bb < 2; bb++) {
        const double ab = m.alpha_bar[(int)tv[bb]];
        for (int j = 0; j < 36; j++) {
            double u[F_], v[F_];
            for (int f = 0; f < F_; f++)
                u[f] = xt[((size_t)bb * F_ + f) * 36 + j] - sqrt(ab) * t.fc[((size_t)bb * F_ + f) * DR_INTERP_FRAME_COND + j];
            for (int k = 0; k < F_; k++) {
                double s = 0;
                for (int f = 0; f < F_; f++) s += sqrt((k ? 2.0 : 1.0) / F_) * cos(M_PI * (f + 0.5) * k / F_) * u[f];
                v[k] = s * sqrt(ab) * S[k] / (ab * S[k] + 1 - ab);
            }
            for (int f = 0; f < F_; f++) {
                double y = t.fc[((size_t)bb * F_ + f) * DR_INTERP_FRAME_COND + j];
                for (int k = 0; k < F_; k++) y += sqrt((k ? 2.0 : 1.0) / F_) * cos(M_PI * (f + 0.5) * k / F_) * v[k];
                maxdiff = fmax(maxdiff, fabs(y - a[((size_t)bb * F_ + f) * 36 + j]));
                moved = fmax(moved, fabs(a[((size_t)bb * F_ + f) * 36 + j] - b[((size_t)bb * F_ + f) * 36 + j]));
            }
        }
    }
    assert_true(maxdiff < 1e-5);
    assert_true(moved > 1e-3); /* the spectrum matters */
    /* the spectrum is saved and loaded with the model */
    const char *path = "test_diffusion_spectral.safetensors";
    assert_int_equal(dr_interp_save(&m, path, &err), 0);
    dr_interp back;
    assert_int_equal(dr_interp_load(&back, path, &err), 0);
    assert_int_equal(back.cfg.spectral_skip, 1);
    assert_int_equal(back.cfg.guide, DR_INTERP_GUIDE_SPLINE);
    assert_true(back.cfg.out_smooth == cfg.out_smooth);
    assert_true(dr_params_get(&back.params, "prior_spec")[3] == S[3]);
    remove(path);
    dr_interp_free(&back);
    free(xt);
    toy_free(&t);
    dr_interp_free(&m);
    dr_interp_free(&w);
}

/* Catmull-Rom: through the key frames, exact on a quadratic inside (uniform key frames:
 * the central-difference tangents of a quadratic are exact, and cubic Hermite reproduces
 * it), the linear hold rule where a side is missing; the pixel baseline the same. */
static void test_spline(void **state) {
    (void)state;
    enum { K = 5, F = 41 };
    float kp[K * 36] = {0}, km[K * 18], pose[F * 36];
    int idx[K];
    for (int k = 0; k < K; k++) {
        idx[k] = 10 * k;
        for (int j = 0; j < 18; j++) km[k * 18 + j] = !(j == 3 && k == 2);
        for (int c = 0; c < 36; c++) {
            double f = idx[k];
            kp[k * 36 + c] = (float)(0.1 * c - 0.002 * f + 0.0003 * (c % 5 - 2) * f * f);
        }
    }
    dr_interp_guide(kp, km, idx, K, F, NULL, NULL, pose, NULL);
    dr_interp_spline(kp, km, idx, K, F, pose, 36);
    for (int f = 0; f < F; f++)
        for (int c = 0; c < 36; c++) {
            double want = 0.1 * c - 0.002 * f + 0.0003 * (c % 5 - 2) * (double)f * f;
            if (c / 2 == 3) continue;
            if (f >= 10 && f <= 30) assert_true(fabs(pose[f * 36 + c] - want) < 1e-5); /* inner gaps */
            if (f % 10 == 0) assert_true(fabs(pose[f * 36 + c] - want) < 1e-5);          /* key frames */
        }
    /* keypoint 3 is missing at key frame 2: frames 10..30 hold the linear rule (key frame 1 / 3) */
    assert_true(fabsf(pose[15 * 36 + 6] - kp[1 * 36 + 6]) < 1e-6f);
    assert_true(fabsf(pose[25 * 36 + 6] - kp[3 * 36 + 6]) < 1e-6f);
    /* the pixel baseline = the normalized spline, mapped back */
    dr_pose kf[K], out[F];
    memset(kf, 0, sizeof kf);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < 18; j++)
            if (km[k * 18 + j] > 0) kf[k].kp[j] = (dr_keypoint){100 + 5.0f * j + 0.05f * idx[k] * idx[k], 80 + 3.0f * k, 0.9f};
    dr_err err;
    assert_int_equal(dr_interp_catmull_rom(kf, K, idx, F, 400, 300, out, &err), 0);
    for (int f = 10; f <= 30; f++) assert_true(fabsf(out[f].kp[0].x - (100 + 0.05f * f * f)) < 1e-2f);
    assert_int_equal(dr_interp_catmull_rom(kf, 0, NULL, F, 400, 300, out, &err), DR_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_denoiser_gradients),
        cmocka_unit_test(test_loss_gradient),
        cmocka_unit_test(test_guide_and_linear),
        cmocka_unit_test(test_learns_toy_interpolation),
        cmocka_unit_test(test_samplers),
        cmocka_unit_test(test_run_rejects_bad_keyframes),
        cmocka_unit_test(test_motion_metrics),
        cmocka_unit_test(test_spectral_skip),
        cmocka_unit_test(test_spline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
