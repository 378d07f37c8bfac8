/* Tests of the residual VQ-VAE pose tokenizer (src/models/rvq.c): a tiny model trained on
 * a few synthetic clips learns (loss falls, more levels reconstruct better), gradients of
 * the new backward paths (masked MSE + presence BCE through both stacks, the commitment
 * term under the straight-through estimator) match finite differences, tokens round-trip
 * through files, bad tokens and poses are refused, and training is deterministic and
 * resumable from a checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "models/rvq.h"
#include "nn/params.h"
#include "testutil.h"

#define W DR_CANVAS_WIDTH
#define H DR_CANVAS_HEIGHT
#define T DR_NUM_KEYFRAMES

/* A stick figure walking across the canvas with swinging arms and legs: every clip has its
 * own place, size, speed, phase and missing face points, so the tokenizer has something
 * to learn. */
static void synth_clip(uint64_t seed, int clip, dr_pose *out) {
    dr_rng rng = dr_rng_fork(seed, (uint64_t)clip);
    float cx = dr_rng_range(&rng, 140, 370), cy = dr_rng_range(&rng, 90, 150), s = dr_rng_range(&rng, 45, 75);
    float vx = dr_rng_range(&rng, -25, 25), phase = dr_rng_range(&rng, 0, 6.283f), freq = dr_rng_range(&rng, 1.0f, 3.0f);
    bool no_rear = dr_rng_uniform(&rng) < 0.4f, no_lear = dr_rng_uniform(&rng) < 0.4f;
    for (int t = 0; t < T; t++) {
        float time = (float)t / 3.0f, a = sinf(freq * time + phase), x0 = cx + vx * time;
        dr_pose *p = &out[t];
        memset(p, 0, sizeof *p);
#define SET(j, X, Y) p->kp[j] = (dr_keypoint){(X), (Y), 0.9f}
        SET(DR_KP_NECK, x0, cy);
        SET(DR_KP_NOSE, x0, cy - 0.35f * s);
        SET(DR_KP_REYE, x0 - 0.08f * s, cy - 0.42f * s);
        SET(DR_KP_LEYE, x0 + 0.08f * s, cy - 0.42f * s);
        SET(DR_KP_REAR, x0 - 0.16f * s, cy - 0.38f * s);
        SET(DR_KP_LEAR, x0 + 0.16f * s, cy - 0.38f * s);
        SET(DR_KP_RSHOULDER, x0 - 0.35f * s, cy);
        SET(DR_KP_LSHOULDER, x0 + 0.35f * s, cy);
        SET(DR_KP_RELBOW, x0 - 0.38f * s + 0.3f * s * a, cy + 0.45f * s);
        SET(DR_KP_LELBOW, x0 + 0.38f * s - 0.3f * s * a, cy + 0.45f * s);
        SET(DR_KP_RWRIST, x0 - 0.40f * s + 0.55f * s * a, cy + 0.85f * s);
        SET(DR_KP_LWRIST, x0 + 0.40f * s - 0.55f * s * a, cy + 0.85f * s);
        SET(DR_KP_RHIP, x0 - 0.2f * s, cy + s);
        SET(DR_KP_LHIP, x0 + 0.2f * s, cy + s);
        SET(DR_KP_RKNEE, x0 - 0.2f * s - 0.3f * s * a, cy + 1.5f * s);
        SET(DR_KP_LKNEE, x0 + 0.2f * s + 0.3f * s * a, cy + 1.5f * s);
        SET(DR_KP_RANKLE, x0 - 0.2f * s - 0.5f * s * a, cy + 2.0f * s);
        SET(DR_KP_LANKLE, x0 + 0.2f * s + 0.5f * s * a, cy + 2.0f * s);
#undef SET
        if (no_rear) p->kp[DR_KP_REAR] = (dr_keypoint){0, 0, 0};
        if (no_lear) p->kp[DR_KP_LEAR] = (dr_keypoint){0, 0, 0};
    }
}

static dr_pose *synth_clips(uint64_t seed, int n) {
    dr_pose *p = malloc(sizeof(dr_pose) * (size_t)n * T);
    for (int i = 0; i < n; i++) synth_clip(seed, i, p + (size_t)i * T);
    return p;
}

static dr_rvq_config tiny_config(void) {
    dr_rvq_config c = dr_rvq_default_config();
    c.depth = 4;
    c.codebook_size = 32;
    c.dim = 16;
    c.channels = 48;
    return c;
}

/* Train for `steps` on `n` clips in batches of `batch`; returns the last step's loss. */
static double train(dr_rvq *m, const dr_pose *clips, int n, int batch, int steps, long first_step, uint64_t seed) {
    dr_rvq_train_opts o = dr_rvq_default_train_opts();
    o.lr = 3e-3f;
    dr_rvq_stats st = {0};
    dr_err err = {0};
    for (long s = first_step; s < first_step + steps; s++) {
        dr_rng rng = dr_rng_fork(seed, (uint64_t)s);
        int first = (int)((s * batch) % n);
        if (first + batch > n) first = 0;
        int rc = dr_rvq_train_step(m, clips + (size_t)first * T, batch, W, H, &o, s, &rng, &st, &err);
        if (rc) fail_msg("train step %ld: %s", s, err.msg);
    }
    return st.loss;
}

static void test_training_learns_and_depth_helps(void **state) {
    (void)state;
    const int n = 64;
    dr_pose *clips = synth_clips(7, n), *test = synth_clips(8, 32);
    dr_rvq_config cfg = tiny_config();
    dr_rvq *m;
    dr_err err = {0};
    assert_int_equal(dr_rvq_create(&m, &cfg, 1, &err), DR_OK);
    double first = train(m, clips, n, 16, 1, 1, 3);
    double last = train(m, clips, n, 16, 299, 2, 3);
    print_message("loss %.5f -> %.5f\n", first, last);
    assert_true(last < 0.3 * first);
    dr_rvq_eval ev;
    assert_int_equal(dr_rvq_eval_init(&ev, m), DR_OK);
    assert_int_equal(dr_rvq_eval_batch(m, test, NULL, 32, W, H, &ev, &err), DR_OK);
    for (int l = 1; l <= cfg.depth; l++)
        print_message("levels %d: %.2f px, presence %.4f, perplexity %.1f\n", l, dr_rvq_eval_error_px(&ev, l),
                      dr_rvq_eval_presence_acc(&ev, l), dr_rvq_eval_perplexity(&ev, l - 1));
    assert_true(dr_rvq_eval_error_px(&ev, cfg.depth) < dr_rvq_eval_error_px(&ev, 1));
    assert_true(dr_rvq_eval_error_px(&ev, cfg.depth) < 20.0);
    assert_true(dr_rvq_eval_presence_acc(&ev, cfg.depth) > 0.9);
    assert_true(dr_rvq_eval_perplexity(&ev, 0) > 4.0); /* codes are used, not collapsed */

    /* against a reference: the input itself gives the same errors and distance 0; the input
     * moved 3 px to the right gives distance 3 */
    dr_rvq_eval ref;
    assert_int_equal(dr_rvq_eval_init(&ref, m), DR_OK);
    assert_int_equal(dr_rvq_eval_batch(m, test, test, 32, W, H, &ref, &err), DR_OK);
    assert_true(ref.ref_joints == ev.joints);
    assert_true(dr_rvq_eval_ref_error_px(&ref, 0) < 1e-4);
    for (int l = 1; l <= cfg.depth; l++)
        assert_true(fabs(dr_rvq_eval_ref_error_px(&ref, l) - dr_rvq_eval_error_px(&ev, l)) < 1e-4);
    dr_rvq_eval_free(&ref);
    dr_pose *moved = malloc(sizeof(dr_pose) * 32 * T);
    assert_non_null(moved);
    memcpy(moved, test, sizeof(dr_pose) * 32 * T);
    for (int i = 0; i < 32 * T; i++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
            if (moved[i].kp[j].c > 0) moved[i].kp[j].x += 3.0f;
    assert_int_equal(dr_rvq_eval_init(&ref, m), DR_OK);
    assert_int_equal(dr_rvq_eval_batch(m, test, moved, 32, W, H, &ref, &err), DR_OK);
    assert_true(ref.ref_joints > 0 && ref.ref_joints <= ev.joints);
    assert_true(fabs(dr_rvq_eval_ref_error_px(&ref, 0) - 3.0) < 1e-3);
    dr_rvq_eval_free(&ref);
    free(moved);
    dr_rvq_eval_free(&ev);

    /* decode(encode(x)) is the evaluated reconstruction: check it through the public API */
    int *tok = malloc(sizeof(int) * 32 * T * (size_t)cfg.depth);
    dr_pose *dec = malloc(sizeof(dr_pose) * 32 * T);
    assert_int_equal(dr_rvq_encode(m, test, 32, W, H, tok, &err), DR_OK);
    assert_int_equal(dr_rvq_decode(m, tok, 32, cfg.depth, W, H, dec, &err), DR_OK);
    double e = 0;
    long cnt = 0;
    for (int i = 0; i < 32 * T; i++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
            if (test[i].kp[j].c > 0 && dec[i].kp[j].c > 0) {
                e += hypot(test[i].kp[j].x - dec[i].kp[j].x, test[i].kp[j].y - dec[i].kp[j].y);
                cnt++;
            }
    assert_true(cnt > 0);
    assert_true(e / (double)cnt < 20.0);
    free(tok);
    free(dec);
    dr_rvq_free(m);
    free(clips);
    free(test);
}

/* ---- gradient checks ---- */

typedef struct grad_ctx {
    dr_rvq *m;
    const dr_pose *poses;
    int B, levels;
    dr_rvq_train_opts opts;
} grad_ctx;

static double loss_fn(void *p) {
    grad_ctx *c = p;
    dr_rvq_stats st;
    dr_err err = {0};
    if (dr_rvq_loss(c->m, c->poses, c->B, W, H, c->levels, &c->opts, false, &st, &err)) fail_msg("%s", err.msg);
    return st.loss;
}

static float *grad_of(dr_rvq *m, const grad_ctx *c, const char *name) {
    dr_rvq_stats st;
    dr_err err = {0};
    if (dr_rvq_loss(m, c->poses, c->B, W, H, c->levels, &c->opts, true, &st, &err)) fail_msg("%s", err.msg);
    dr_params *p = dr_rvq_params(m);
    int i = dr_params_find(p, name);
    assert_true(i >= 0);
    float *g = malloc(sizeof(float) * p->items[i].numel);
    memcpy(g, p->grad + p->items[i].offset, sizeof(float) * p->items[i].numel);
    return g;
}


/* Finite differences of the loss in the entries of x where a +-eps step does not move any
 * code (where one does, the quantized loss jumps and has no derivative); at least half of
 * the probed entries must qualify. Worst error as in tu_gradcheck. */
static double commit_gradcheck(grad_ctx *c, float *x, const float *analytic, long n, float eps, int max_checks) {
    const int L = dr_rvq_depth(c->m), count = c->B * T * L;
    int *t0 = malloc(sizeof(int) * (size_t)count * 2), *t1 = t0 + count;
    dr_err err = {0};
    double worst = 0;
    int checked = 0, probed = 0;
    for (long i = 0; i < n; i += n <= max_checks ? 1 : n / max_checks) {
        float saved = x[i];
        probed++;
        x[i] = saved + eps;
        double lp = loss_fn(c);
        assert_int_equal(dr_rvq_encode(c->m, c->poses, c->B, W, H, t0, &err), DR_OK);
        x[i] = saved - eps;
        double lm = loss_fn(c);
        assert_int_equal(dr_rvq_encode(c->m, c->poses, c->B, W, H, t1, &err), DR_OK);
        x[i] = saved;
        if (memcmp(t0, t1, sizeof(int) * (size_t)count)) continue;
        double fd = (lp - lm) / (2.0 * eps), a = analytic[i];
        double denom = fmax(fabs(a) + fabs(fd), 1e-4), e = fabs(a - fd) / denom;
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        checked++;
    }
    free(t0);
    if (2 * checked < probed) fail_msg("only %d of %d probes kept their codes", checked, probed);
    return worst;
}

static void test_gradients(void **state) {
    (void)state;
    /* a pointwise block (dilation 0) between the convolutions, so both kinds are checked */
    dr_rvq_config cfg = {.depth = 2, .codebook_size = 8, .dim = 4, .channels = 6, .num_keyframes = T,
                         .num_blocks = 4, .dilation = {1, 0, 2, 4}};
    dr_rvq *m;
    dr_err err = {0};
    assert_int_equal(dr_rvq_create(&m, &cfg, 5, &err), DR_OK);
    dr_pose *poses = synth_clips(11, 2);
    grad_ctx c = {.m = m, .poses = poses, .B = 2, .levels = 0, .opts = dr_rvq_default_train_opts()};
    c.opts.presence_weight = 0.5f;
    dr_params *p = dr_rvq_params(m);
    /* (a) continuous path (no quantizer): masked MSE + presence BCE through decoder and encoder */
    const char *names[] = {"encoder.in.weight", "encoder.in.bias", "encoder.blocks.0.conv.weight",
                           "encoder.blocks.1.conv.weight", "encoder.blocks.2.conv.bias", "encoder.out.weight",
                           "decoder.in.weight", "decoder.blocks.1.conv.weight", "decoder.blocks.3.conv.weight",
                           "decoder.blocks.1.proj.bias", "decoder.out.weight", "decoder.out.bias"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        float *g = grad_of(m, &c, names[k]);
        int i = dr_params_find(p, names[k]);
        double e = tu_gradcheck(loss_fn, &c, p->data + p->items[i].offset, g, (long)p->items[i].numel, 1e-2f, 24, 1e-4);
        if (e > 2e-2) fail_msg("continuous %s: gradient error %g", names[k], e);
        free(g);
    }
    /* Codebooks of well separated random codes (not trained ones, whose near-ties would
     * flip under finite-difference steps); a non-zero EMA count marks them initialised. */
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    for (int l = 0; l < cfg.depth; l++) {
        char name[64];
        snprintf(name, sizeof name, "quantizer.%d.codebook", l);
        dr_rng_fill_normal(&rng, dr_params_get(p, name), (long)cfg.codebook_size * cfg.dim, 0.0f, 1.0f);
        snprintf(name, sizeof name, "quantizer.%d.ema_count", l);
        dr_params_fill(p, name, 1.0f);
    }
    /* (b) quantized: decoder weights see a fixed z_q, so their gradient is exact */
    c.levels = 2;
    for (size_t k = 6; k < sizeof names / sizeof names[0]; k++) {
        float *g = grad_of(m, &c, names[k]);
        int i = dr_params_find(p, names[k]);
        double e = tu_gradcheck(loss_fn, &c, p->data + p->items[i].offset, g, (long)p->items[i].numel, 1e-2f, 24, 1e-4);
        if (e > 2e-2) fail_msg("quantized %s: gradient error %g", names[k], e);
        free(g);
    }
    /* (c) encoder weights under quantization: the loss changes only through the commitment
     * term (codes stay put for small steps), so its finite difference must equal the
     * analytic gradient minus the straight-through part (the gradient with beta = 0). */
    c.opts.commit_beta = 5.0f;
    for (size_t k = 0; k < 6; k++) {
        float *g = grad_of(m, &c, names[k]);
        c.opts.commit_beta = 0.0f;
        float *g0 = grad_of(m, &c, names[k]);
        c.opts.commit_beta = 5.0f;
        int i = dr_params_find(p, names[k]);
        for (size_t j = 0; j < p->items[i].numel; j++) g[j] -= g0[j];
        double e = commit_gradcheck(&c, p->data + p->items[i].offset, g, (long)p->items[i].numel, 1e-3f, 24);
        if (e > 2e-2) fail_msg("commitment %s: gradient error %g", names[k], e);
        free(g);
        free(g0);
    }
    dr_rvq_free(m);
    free(poses);
}

/* ---- files, validation, determinism ---- */

static void test_tokens_round_trip_and_validation(void **state) {
    (void)state;
    dr_pose *clips = synth_clips(21, 16);
    dr_rvq_config cfg = tiny_config();
    dr_rvq *m, *m2;
    dr_err err = {0};
    assert_int_equal(dr_rvq_create(&m, &cfg, 2, &err), DR_OK);
    /* an untrained model has no codebooks and says so */
    int *tok = malloc(sizeof(int) * 16 * T * (size_t)cfg.depth);
    assert_int_equal(dr_rvq_encode(m, clips, 16, W, H, tok, &err), DR_EINVAL);
    train(m, clips, 16, 8, 20, 1, 4);
    assert_int_equal(dr_rvq_encode(m, clips, 16, W, H, tok, &err), DR_OK);

    char dir[512], path[600], model[600];
    tu_tmpdir(dir, sizeof dir, "rvq_files");
    snprintf(path, sizeof path, "%s/tokens.json", dir);
    assert_int_equal(dr_rvq_tokens_write(path, tok, T, cfg.depth, cfg.codebook_size, &err), DR_OK);
    int *back, nk, depth, K;
    assert_int_equal(dr_rvq_tokens_read(path, &back, &nk, &depth, &K, &err), DR_OK);
    assert_int_equal(nk, T);
    assert_int_equal(depth, cfg.depth);
    assert_int_equal(K, cfg.codebook_size);
    assert_memory_equal(back, tok, sizeof(int) * T * (size_t)cfg.depth);
    free(back);

    /* the saved model encodes and decodes exactly like the one in memory */
    snprintf(model, sizeof model, "%s/rvq.safetensors", dir);
    assert_int_equal(dr_rvq_save(m, model, &err), DR_OK);
    assert_int_equal(dr_rvq_load(&m2, model, &err), DR_OK);
    assert_int_equal(dr_rvq_depth(m2), cfg.depth);
    assert_int_equal(dr_rvq_codebook_size(m2), cfg.codebook_size);
    assert_int_equal(dr_rvq_num_keyframes(m2), T);
    int *tok2 = malloc(sizeof(int) * 16 * T * (size_t)cfg.depth);
    assert_int_equal(dr_rvq_encode(m2, clips, 16, W, H, tok2, &err), DR_OK);
    assert_memory_equal(tok, tok2, sizeof(int) * 16 * T * (size_t)cfg.depth);
    dr_pose *a = malloc(sizeof(dr_pose) * 16 * T), *b = malloc(sizeof(dr_pose) * 16 * T);
    for (int lv = 1; lv <= cfg.depth; lv++) {
        assert_int_equal(dr_rvq_decode(m, tok, 16, lv, W, H, a, &err), DR_OK);
        assert_int_equal(dr_rvq_decode(m2, tok, 16, lv, W, H, b, &err), DR_OK);
        assert_memory_equal(a, b, sizeof(dr_pose) * 16 * T);
    }
    /* a missing keypoint decodes to exactly (0, 0, 0) */
    for (int i = 0; i < 16 * T; i++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
            if (a[i].kp[j].c == 0) assert_true(a[i].kp[j].x == 0 && a[i].kp[j].y == 0);

    /* out-of-range tokens are refused with their position, whatever the level */
    tok[5 * cfg.depth + 2] = cfg.codebook_size;
    assert_int_equal(dr_rvq_decode(m, tok, 16, cfg.depth, W, H, a, &err), DR_ERANGE);
    assert_non_null(strstr(err.msg, "key frame 5"));
    assert_non_null(strstr(err.msg, "level 2"));
    assert_int_equal(dr_rvq_decode(m, tok, 16, 2, W, H, a, &err), DR_OK); /* level 2 unused at 2 levels */
    tok[5 * cfg.depth + 2] = 0;
    tok[(T + 3) * cfg.depth] = -1;
    assert_int_equal(dr_rvq_decode(m, tok, 16, 1, W, H, a, &err), DR_ERANGE);
    assert_non_null(strstr(err.msg, "clip 1"));
    tok[(T + 3) * cfg.depth] = 0;
    assert_int_equal(dr_rvq_decode(m, tok, 16, 0, W, H, a, &err), DR_EINVAL);
    assert_int_equal(dr_rvq_decode(m, tok, 16, cfg.depth + 1, W, H, a, &err), DR_EINVAL);
    assert_int_equal(dr_rvq_decode(m, tok, 16, 1, 0, H, a, &err), DR_EINVAL);

    /* hostile pose values */
    clips[3].kp[4].x = NAN;
    assert_int_equal(dr_rvq_encode(m, clips, 16, W, H, tok, &err), DR_ERANGE);
    assert_non_null(strstr(err.msg, "right_wrist"));

    /* hostile token files */
    const char *bad[][2] = {
        {"{\"format\": \"director-pose-tokens\", \"version\": 1, \"depth\": 2, \"codebook_size\": 4, \"keyframes\": [[1, 4]]}", "outside"},
        {"{\"format\": \"director-pose-tokens\", \"version\": 1, \"depth\": 2, \"codebook_size\": 4, \"keyframes\": [[1]]}", "tokens"},
        {"{\"format\": \"director-pose-tokens\", \"version\": 2, \"depth\": 2, \"codebook_size\": 4, \"keyframes\": [[1, 2]]}", "version"},
        {"{\"format\": \"other\", \"version\": 1, \"depth\": 2, \"codebook_size\": 4, \"keyframes\": [[1, 2]]}", "format"},
        {"{\"format\": \"director-pose-tokens\", \"version\": 1, \"depth\": 2, \"codebook_size\": 4, \"keyframes\": [[1, 2.5]]}", "integer"},
        {"{\"format\": \"director-pose-tokens\", \"version\": 1, \"depth\": 99, \"codebook_size\": 4, \"keyframes\": [[1]]}", "depth"},
        {"{\"format\": \"director-pose-tokens\", \"version\": 1, \"depth\": 1, \"codebook_size\": 4, \"keyframes\": []}", "keyframes"},
        {"{\"format\": \"director-pose-tokens\", \"ver", "JSON"},
        {"", "JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(dr_write_file_atomic(path, bad[i][0], strlen(bad[i][0]), &err), DR_OK);
        int rc = dr_rvq_tokens_read(path, &back, &nk, &depth, &K, &err);
        if (rc >= 0 || !strstr(err.msg, bad[i][1]) || !strstr(err.msg, path))
            fail_msg("bad tokens file %zu: rc %d, message '%s'", i, rc, err.msg);
        assert_null(back);
    }
    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_true(dr_rvq_tokens_read(path, &back, &nk, &depth, &K, &err) < 0);

    /* a model file of another kind is refused */
    dr_params other;
    dr_params_init(&other);
    dr_params_add1(&other, "w", false, 4);
    dr_params_alloc(&other);
    snprintf(path, sizeof path, "%s/other.safetensors", dir);
    assert_int_equal(dr_params_save(&other, path, "llm", "{}", &err), DR_OK);
    dr_params_free(&other);
    dr_rvq *m3 = NULL;
    assert_true(dr_rvq_load(&m3, path, &err) < 0);
    assert_null(m3);
    assert_non_null(strstr(err.msg, "rvq"));

    free(a);
    free(b);
    free(tok);
    free(tok2);
    dr_rvq_free(m);
    dr_rvq_free(m2);
    free(clips);
}

/* Which decoded key frames a token reaches, with the default blocks and with pointwise blocks
 * between them: causal padding, key frames t..t+7 only (a prefix decodes the same whatever
 * follows); centred ("same"), t-4..t+3, both sides. The settings survive a save and load, and
 * an unknown padding or a bad block list in a file is refused. */
static void test_padding_window(void **state) {
    (void)state;
    dr_pose *clips = synth_clips(41, 8);
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir, "rvq_padding");
    dr_err err = {0};
    for (int variant = 0; variant < 4; variant++) {
        /* the default blocks, and pointwise blocks between them: the same reach */
        const int causal = variant & 1;
        dr_rvq_config cfg = tiny_config();
        cfg.causal = causal;
        if (variant >= 2) {
            const int mixed[] = {0, 1, 0, 2, 0, 4, 0};
            cfg.num_blocks = 7;
            memcpy(cfg.dilation, mixed, sizeof mixed);
        }
        assert_int_equal(dr_rvq_receptive_field(&cfg), 8);
        dr_rvq *m, *m2;
        assert_int_equal(dr_rvq_create(&m, &cfg, 3, &err), DR_OK);
        train(m, clips, 8, 8, 5, 1, 6);
        snprintf(path, sizeof path, "%s/rvq%d.safetensors", dir, variant);
        assert_int_equal(dr_rvq_save(m, path, &err), DR_OK);
        assert_int_equal(dr_rvq_load(&m2, path, &err), DR_OK);
        assert_int_equal(dr_rvq_get_config(m2)->causal, causal);
        assert_int_equal(dr_rvq_get_config(m2)->num_blocks, cfg.num_blocks);
        assert_memory_equal(dr_rvq_get_config(m2)->dilation, cfg.dilation, sizeof(int) * (size_t)cfg.num_blocks);
        int tok[T * 4];
        dr_pose a[T], b[T];
        assert_int_equal(dr_rvq_encode(m2, clips, 1, W, H, tok, &err), DR_OK);
        assert_int_equal(dr_rvq_decode(m2, tok, 1, cfg.depth, W, H, a, &err), DR_OK);
        for (int l = 0; l < cfg.depth; l++) tok[10 * cfg.depth + l] = (tok[10 * cfg.depth + l] + 7) % cfg.codebook_size;
        assert_int_equal(dr_rvq_decode(m2, tok, 1, cfg.depth, W, H, b, &err), DR_OK);
        const int lo = causal ? 10 : 6, hi = causal ? 17 : 13;
        int changed_before = 0;
        for (int t = 0; t < T; t++) {
            bool same_pose = !memcmp(&a[t], &b[t], sizeof a[t]);
            if (t < lo || t > hi) {
                if (!same_pose) fail_msg("padding %s: token of key frame 10 changed key frame %d", causal ? "causal" : "same", t);
            } else if (t < 10 && !same_pose) {
                changed_before++;
            }
        }
        assert_true(memcmp(&a[10], &b[10], sizeof a[10]) != 0);
        assert_int_equal(changed_before > 0, !causal);
        dr_rvq_free(m);
        dr_rvq_free(m2);
    }
    /* a file whose config names another padding */
    dr_params other;
    dr_params_init(&other);
    dr_params_add1(&other, "w", false, 4);
    dr_params_alloc(&other);
    snprintf(path, sizeof path, "%s/reflect.safetensors", dir);
    assert_int_equal(dr_params_save(&other, path, "rvq",
                                    "{\"depth\":2,\"codebook_size\":4,\"dim\":4,\"channels\":4,\"num_keyframes\":20,"
                                    "\"padding\":\"reflect\"}",
                                    &err),
                     DR_OK);
    dr_params_free(&other);
    dr_rvq *m3 = NULL;
    assert_true(dr_rvq_load(&m3, path, &err) < 0);
    assert_null(m3);
    if (!strstr(err.msg, "padding") || !strstr(err.msg, path)) fail_msg("bad padding message: %s", err.msg);
    /* block lists that a file may not carry */
    static const char *bad_blocks[] = {"[]", "[1,2,-4]", "[1,2.5]", "[1,\"2\"]", "7", "[1,65]",
                                       "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"};
    for (size_t i = 0; i < sizeof bad_blocks / sizeof bad_blocks[0]; i++) {
        char config[256];
        snprintf(config, sizeof config,
                 "{\"depth\":2,\"codebook_size\":4,\"dim\":4,\"channels\":4,\"num_keyframes\":20,\"dilations\":%s}",
                 bad_blocks[i]);
        dr_params_init(&other);
        dr_params_add1(&other, "w", false, 4);
        dr_params_alloc(&other);
        assert_int_equal(dr_params_save(&other, path, "rvq", config, &err), DR_OK);
        dr_params_free(&other);
        assert_true(dr_rvq_load(&m3, path, &err) < 0);
        assert_null(m3);
        if (!strstr(err.msg, "dilation") || !strstr(err.msg, path)) fail_msg("dilations %s: message %s", bad_blocks[i], err.msg);
    }
    free(clips);
}

/* The quantizer's beam search against brute force on a tiny model: beam 1 is the level-by-
 * level nearest code (computed here naively), and a beam of K^(depth-1) finds the code sum
 * nearest to each latent among all K^depth, which no other choice beats. */
static void test_beam_search(void **state) {
    (void)state;
    dr_rvq_config cfg = {.depth = 3, .codebook_size = 5, .dim = 3, .channels = 4, .num_keyframes = T, .causal = true,
                         .num_blocks = 3, .dilation = {1, 2, 4}};
    dr_rvq *m;
    dr_err err = {0};
    assert_int_equal(dr_rvq_create(&m, &cfg, 1, &err), DR_OK);
    const int L = cfg.depth, K = cfg.codebook_size, D = cfg.dim, N = 400;
    float z[400 * 3];
    int tok[400 * 3];
    assert_int_equal(dr_rvq_quantize_latents(m, z, 1, 1, tok, &err), DR_EINVAL); /* untrained */
    dr_params *p = dr_rvq_params(m);
    dr_rng rng;
    dr_rng_seed(&rng, 12);
    float *cb[3];
    for (int l = 0; l < L; l++) {
        char name[64];
        snprintf(name, sizeof name, "quantizer.%d.codebook", l);
        cb[l] = dr_params_get(p, name);
        /* shrinking levels, as trained residual codebooks are */
        dr_rng_fill_normal(&rng, cb[l], (long)K * D, 0.0f, 1.0f / (float)(1 << l));
        snprintf(name, sizeof name, "quantizer.%d.ema_count", l);
        dr_params_fill(p, name, 1.0f);
    }
    dr_rng_fill_normal(&rng, z, (long)N * D, 0.0f, 1.2f);
    assert_int_equal(dr_rvq_quantize_latents(m, z, N, 0, tok, &err), DR_EINVAL);
    int greedy_worse = 0;
    for (int beam = 1; beam <= 25; beam += 24) {
        assert_int_equal(dr_rvq_quantize_latents(m, z, N, beam, tok, &err), DR_OK);
        for (int n = 0; n < N; n++) {
            const float *zn = z + (size_t)n * D;
            double best = INFINITY, got = 0;
            int best_path[3] = {0}, greedy[3];
            /* level-by-level nearest code */
            double r[3] = {zn[0], zn[1], zn[2]};
            for (int l = 0; l < L; l++) {
                double bd = INFINITY;
                for (int k = 0; k < K; k++) {
                    double dd = 0;
                    for (int d = 0; d < D; d++) dd += (r[d] - cb[l][k * D + d]) * (r[d] - cb[l][k * D + d]);
                    if (dd < bd) bd = dd, greedy[l] = k;
                }
                for (int d = 0; d < D; d++) r[d] -= cb[l][greedy[l] * D + d];
            }
            /* every code combination */
            for (int c = 0; c < K * K * K; c++) {
                int path[3] = {c % K, (c / K) % K, c / (K * K)};
                double dd = 0;
                for (int d = 0; d < D; d++) {
                    double e = zn[d];
                    for (int l = 0; l < L; l++) e -= cb[l][path[l] * D + d];
                    dd += e * e;
                }
                if (dd < best) best = dd, memcpy(best_path, path, sizeof path);
            }
            for (int d = 0; d < D; d++) {
                double e = zn[d];
                for (int l = 0; l < L; l++) e -= cb[l][tok[n * L + l] * D + d];
                got += e * e;
            }
            if (beam == 1) {
                for (int l = 0; l < L; l++)
                    if (tok[n * L + l] != greedy[l]) fail_msg("row %d level %d: beam 1 %d, greedy %d", n, l, tok[n * L + l], greedy[l]);
                greedy_worse += got > best + 1e-6;
            } else if (got > best + 1e-5) {
                fail_msg("row %d: beam %d found %.6f, the best sum is %.6f", n, beam, got, best);
            }
        }
    }
    print_message("greedy search missed the nearest code sum on %d of %d latents\n", greedy_worse, N);
    assert_true(greedy_worse > 0); /* the case is not trivial: greedy is not already optimal */
    dr_rvq_free(m);
}

static void test_determinism_and_resume(void **state) {
    (void)state;
    dr_pose *clips = synth_clips(31, 32);
    dr_rvq_config cfg = tiny_config();
    dr_rvq *a, *b, *c;
    dr_err err = {0};
    assert_int_equal(dr_rvq_create(&a, &cfg, 9, &err), DR_OK);
    assert_int_equal(dr_rvq_create(&b, &cfg, 9, &err), DR_OK);
    train(a, clips, 32, 8, 12, 1, 5);
    /* b: 6 steps, checkpoint, reload as c, 6 more steps */
    train(b, clips, 32, 8, 6, 1, 5);
    char dir[512], path[600];
    tu_tmpdir(dir, sizeof dir, "rvq_resume");
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    assert_int_equal(dr_rvq_save_checkpoint(b, path, 6, "{\"note\":\"test\"}", &err), DR_OK);
    long step;
    char *st;
    assert_int_equal(dr_rvq_load_checkpoint(&c, path, &step, &st, &err), DR_OK);
    assert_int_equal(step, 6);
    assert_non_null(st);
    assert_non_null(strstr(st, "test"));
    free(st);
    train(c, clips, 32, 8, 6, 7, 5);
    dr_params *pa = dr_rvq_params(a), *pc = dr_rvq_params(c);
    assert_int_equal(pa->total, pc->total);
    assert_memory_equal(pa->data, pc->data, sizeof(float) * pa->total);
    /* a different seed gives a different model */
    dr_rvq *d;
    assert_int_equal(dr_rvq_create(&d, &cfg, 10, &err), DR_OK);
    train(d, clips, 32, 8, 12, 1, 5);
    assert_true(memcmp(pa->data, dr_rvq_params(d)->data, sizeof(float) * pa->total) != 0);
    dr_rvq_free(a);
    dr_rvq_free(b);
    dr_rvq_free(c);
    dr_rvq_free(d);
    free(clips);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_tokens_round_trip_and_validation),
        cmocka_unit_test(test_determinism_and_resume),
        cmocka_unit_test(test_padding_window),
        cmocka_unit_test(test_beam_search),
        cmocka_unit_test(test_training_learns_and_depth_helps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
