/* Tests of src/eval/evaluator.c: the motion features, finite-difference gradients of the whole
 * contrastive loss (both towers and the temperature), and training on a tiny four-action dataset:
 * the trained evaluator ranks test texts far above chance, the saved file reloads to the same
 * embeddings, and bad files are refused with a message naming them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/evaluator.h"
#include "eval/metrics.h"
#include "nn/params.h"
#include "eval_fixture.h"
#include "testutil.h"

static void test_motion_features(void **state) {
    (void)state;
    enum { F = 3 };
    dr_pose clip[F];
    for (int t = 0; t < F; t++) fx_stand(&clip[t], 256 + 16.0f * t, 160);
    clip[1].kp[DR_KP_NOSE] = (dr_keypoint){0, 0, 0};
    float feat[F * DR_EVAL_MOTION_FEAT];
    dr_evaluator_motion_features(clip, F, 512, 320, feat);
    const float *f0 = feat, *f1 = feat + DR_EVAL_MOTION_FEAT, *f2 = f1 + DR_EVAL_MOTION_FEAT;
    const int vel = DR_POSE_DIM + DR_NUM_KEYPOINTS;
    /* neck at frame 0: x = (256 - 256) / 160 = 0, y = (80 - 160) / 160 = -0.5; present */
    assert_true(fabsf(f0[2 * DR_KP_NECK]) < 1e-6f && fabsf(f0[2 * DR_KP_NECK + 1] + 0.5f) < 1e-6f);
    assert_true(f0[DR_POSE_DIM + DR_KP_NECK] == 1.0f);
    for (int i = 0; i < DR_POSE_DIM; i++) assert_true(f0[vel + i] == 0.0f); /* no velocity at frame 0 */
    /* 16 px a frame = 0.1 normalized units, times 10 */
    assert_true(fabsf(f1[vel + 2 * DR_KP_NECK] - 1.0f) < 1e-5f && fabsf(f1[vel + 2 * DR_KP_NECK + 1]) < 1e-6f);
    /* the nose is missing at frame 1: mask 0, and no velocity into or out of it */
    assert_true(f1[DR_POSE_DIM + DR_KP_NOSE] == 0.0f && f1[vel + 2 * DR_KP_NOSE] == 0.0f);
    assert_true(f2[vel + 2 * DR_KP_NOSE] == 0.0f && f2[vel + 2 * DR_KP_NECK] > 0.99f);
}

typedef struct {
    dr_evaluator *ev;
    const int *ids, *group;
    const dr_pose *clips;
    int B, F;
} loss_ctx;

static double loss_fn(void *p) {
    loss_ctx *c = p;
    float loss = 0;
    assert_int_equal(dr_evaluator_loss(c->ev, c->ids, c->group, c->clips, c->B, 512, 320, false, &loss, NULL), DR_OK);
    return loss;
}

static void test_loss_gradients(void **state) {
    (void)state;
    enum { B = 4, F = 20, T = 8, V = 40 };
    dr_motionenc_config mc = {F, 2, 8, 2, 3, 8};
    dr_evaluator *ev;
    assert_int_equal(dr_evaluator_create(&ev, V, 1, 2, 0, T, 16, 1, 2, &mc, 77, NULL), DR_OK);
    int ids[B * T], group[B] = {0, 1, 2, 1}; /* items 1 and 3 share a text: positives of each other */
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    for (int b = 0; b < B; b++) {
        int len = 3 + b;
        ids[b * T] = 1;
        for (int t = 1; t < T; t++) ids[b * T + t] = t < len ? 3 + (int)dr_rng_below(&rng, V - 3) : t == len ? 2 : 0;
    }
    memcpy(ids + 3 * T, ids + 1 * T, sizeof(int) * T);
    dr_pose clips[B * F];
    for (int b = 0; b < B; b++) fx_clip(b % FX_ACTIONS, &rng, clips + b * F, F);
    float loss;
    assert_int_equal(dr_evaluator_loss(ev, ids, group, clips, B, 512, 320, true, &loss, NULL), DR_OK);
    assert_true(isfinite(loss) && loss > 0.0f);
    loss_ctx ctx = {ev, ids, group, clips, B, F};
    const char *names[] = {"motion.in.weight", "motion.in.bias", "motion.conv1.weight", "motion.conv2.bias",
                           "motion.proj.weight", "logit_scale", "text_projection.weight",
                           "text_model.encoder.layers.0.mlp.fc1.weight", "text_model.embeddings.token_embedding.weight"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        float *g = NULL;
        long n = 0;
        float *x = dr_evaluator_tensor(ev, names[i], &g, &n);
        assert_non_null(x);
        assert_non_null(g);
        float *analytic = malloc(sizeof(float) * n);
        memcpy(analytic, g, sizeof(float) * n);
        double worst = tu_gradcheck(loss_fn, &ctx, x, analytic, n, 5e-3f, 24, 1e-3);
        if (worst > 5e-3) printf("    %s: worst relative error %.3g\n", names[i], worst);
        assert_true(worst < 3e-2); /* float32 forward: correct ~1e-2, a wrong backward O(1) */
        free(analytic);
    }
    assert_null(dr_evaluator_tensor(ev, "no.such.tensor", NULL, NULL));
    dr_evaluator_free(ev);
}

static void test_train_and_reload(void **state) {
    (void)state;
    char dir[1024], data[1200], tokp[1200], out[1200];
    tu_tmpdir(dir, sizeof dir, "evaluator");
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(tokp, sizeof tokp, "%s/tokenizer.json", dir);
    snprintf(out, sizeof out, "%s/eval/evaluator.safetensors", dir);
    const int counts[3] = {256, 64, 64};
    enum { F = 40 };
    assert_int_equal(fx_write_dataset(data, counts, F, 3), 0);
    assert_int_equal(fx_write_tokenizer(data, tokp, 300), 0);
    dr_err err = {0};
    assert_int_equal(dr_mkdir_p(dir, &err), 0);
    snprintf(out, sizeof out, "%s/evaluator.safetensors", dir);
    dr_evaluator_train_opts o;
    dr_evaluator_train_defaults(&o);
    o.data_dir = data;
    o.tokenizer_path = tokp;
    o.out_path = out;
    o.steps = 120;
    o.batch = 32;
    o.lr = 2e-3f;
    o.text_dim = 32;
    o.text_layers = 1;
    o.text_heads = 2;
    o.text_len = 12;
    o.motion_dim = 32;
    o.motion_layers = 2;
    o.proj_dim = 32;
    o.val_every = 60;
    o.ckpt_every = 60;
    o.val_clips = 32;
    o.quiet = true;
    int rc = dr_evaluator_train(&o, &err);
    if (rc) printf("    %s\n", err.msg);
    assert_int_equal(rc, DR_OK);
    assert_true(dr_file_exists(out));

    /* The test split: 64 clips, 16 per action. Each clip's own text must rank its motion
     * well above the chance level; the 4 actions are what the texts can tell apart, so the
     * best achievable top-1 in a batch of 32 is about 1/8 (8 clips per action and batch),
     * and a working evaluator lands near it while chance is 1/32. Ranking a text against
     * the four action means must be nearly always right. */
    dr_evaluator *ev;
    assert_int_equal(dr_evaluator_load(&ev, out, &err), DR_OK);
    assert_int_equal(dr_evaluator_frames(ev), F);
    int P = dr_evaluator_dim(ev);
    assert_int_equal(P, 32);
    dr_dataset test;
    assert_int_equal(dr_dataset_open(&test, data, "test", &err), DR_OK);
    int n = test.num_clips;
    float *te = malloc(sizeof(float) * n * P), *me = malloc(sizeof(float) * n * P), *me2 = malloc(sizeof(float) * n * P);
    assert_int_equal(dr_evaluator_embed_texts(ev, (const char *const *)test.subject, n, te, &err), DR_OK);
    assert_int_equal(dr_evaluator_embed_motions(ev, test.poses, n, F, test.width, test.height, me, &err), DR_OK);
    for (int i = 0; i < n; i++) assert_true(fabs(dr_eval_dist(te + i * P, te + i * P, P)) == 0.0);
    int correct = 0;
    for (int i = 0; i < n; i++) { /* nearest action centroid of the motions, for each text */
        int best = -1;
        double bd = 1e30;
        for (int a = 0; a < FX_ACTIONS; a++) {
            float c[64] = {0};
            for (int j = a; j < n; j += FX_ACTIONS)
                for (int d = 0; d < P; d++) c[d] += me[j * P + d] / (n / FX_ACTIONS);
            double dist = dr_eval_dist(te + i * P, c, P);
            if (dist < bd) bd = dist, best = a;
        }
        correct += best == i % FX_ACTIONS;
    }
    printf("    text -> action centroid: %d / %d right\n", correct, n);
    assert_true(correct >= n * 9 / 10);
    double top[3];
    assert_int_equal(dr_eval_r_precision(te, me, n, P, 32, NULL, top, NULL, NULL, &err), DR_OK);
    printf("    test R-precision top-1/2/3: %.3f %.3f %.3f (chance 0.031 0.062 0.094)\n", top[0], top[1], top[2]);
    assert_true(top[2] > 0.2);
    /* the same embeddings after a reload, and in a different chunking */
    dr_evaluator *ev2;
    assert_int_equal(dr_evaluator_load(&ev2, out, &err), DR_OK);
    assert_int_equal(dr_evaluator_embed_motions(ev2, test.poses, 5, F, test.width, test.height, me2, &err), DR_OK);
    assert_true(tu_max_abs_diff(me, me2, 5 * P) < 1e-5);
    /* wrong clip length, and hostile or foreign files */
    assert_int_equal(dr_evaluator_embed_motions(ev2, test.poses, 1, F - 1, 512, 320, me2, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "frames"));
    char bad[1300];
    snprintf(bad, sizeof bad, "%s/none.safetensors", dir);
    dr_evaluator *ev3 = NULL;
    assert_true(dr_evaluator_load(&ev3, bad, &err) != DR_OK);
    assert_null(ev3);
    assert_non_null(strstr(err.msg, "none.safetensors"));
    snprintf(bad, sizeof bad, "%s.ckpt", out); /* a checkpoint is an evaluator file too: loads */
    assert_int_equal(dr_evaluator_load(&ev3, bad, &err), DR_OK);
    dr_evaluator_free(ev3);
    snprintf(bad, sizeof bad, "%s/garbage.safetensors", dir);
    assert_int_equal(dr_write_file_atomic(bad, "\x10\0\0\0\0\0\0\0{\"a\":1}        ", 24, &err), DR_OK);
    ev3 = NULL;
    assert_true(dr_evaluator_load(&ev3, bad, &err) != DR_OK);
    assert_null(ev3);
    assert_non_null(strstr(err.msg, "garbage.safetensors"));
    dr_dataset_close(&test);
    dr_evaluator_free(ev);
    dr_evaluator_free(ev2);
    free(te);
    free(me);
    free(me2);
}

/* Files that are safetensors but not sound evaluators: refused with the file named, never a crash. */
static void test_hostile_configs(void **state) {
    (void)state;
    char dir[1024], path[1200];
    tu_tmpdir(dir, sizeof dir, "evalcfg");
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    dr_params p;
    dr_params_init(&p);
    assert_true(dr_params_add1(&p, "x", true, 4) >= 0);
    assert_int_equal(dr_params_alloc(&p), 0);
    const char *text = "{\"vocab_size\": 10, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                       "\"num_attention_heads\": 2, \"intermediate_size\": 16, \"max_position_embeddings\": 8, "
                       "\"projection_dim\": 8, \"eos_token_id\": 2}";
    char cfg[2048];
    const char *motions[] = {
        "{\"frames\": 200, \"stride\": 2, \"dim\": 8, \"layers\": 99, \"kernel\": 4, \"proj_dim\": 8, \"features\": 90}",
        "{\"frames\": -5, \"stride\": 2, \"dim\": 8, \"layers\": 1, \"kernel\": 4, \"proj_dim\": 8, \"features\": 90}",
        "{\"frames\": 200, \"stride\": 0, \"dim\": 8, \"layers\": 1, \"kernel\": 4, \"proj_dim\": 8, \"features\": 90}",
        "{\"frames\": 200, \"stride\": 2, \"dim\": 8, \"layers\": 1, \"kernel\": 4, \"proj_dim\": 8, \"features\": 91}",
        "{\"frames\": 200.5, \"stride\": 2, \"dim\": 8, \"layers\": 1, \"kernel\": 4, \"proj_dim\": 8, \"features\": 90}",
        "[]",
    };
    dr_err err = {0};
    for (size_t i = 0; i < sizeof motions / sizeof motions[0]; i++) {
        snprintf(cfg, sizeof cfg, "{\"text\": %s, \"motion\": %s, \"tokenizer\": \"{}\"}", text, motions[i]);
        assert_int_equal(dr_params_save(&p, path, "director-evaluator", cfg, &err), 0);
        dr_evaluator *ev = NULL;
        int rc = dr_evaluator_load(&ev, path, &err);
        assert_true(rc != DR_OK);
        assert_null(ev);
        assert_non_null(strstr(err.msg, "bad.safetensors"));
    }
    /* sizes that would need gigabytes are refused before anything is allocated */
    snprintf(cfg, sizeof cfg, "{\"text\": %s, \"motion\": %s, \"tokenizer\": \"{}\"}", text,
             "{\"frames\": 200, \"stride\": 2, \"dim\": 4096, \"layers\": 6, \"kernel\": 64, \"proj_dim\": 8, \"features\": 90}");
    dr_evaluator *big = NULL;
    assert_int_equal(dr_evaluator_from_config(&big, "director-evaluator", cfg, "big.safetensors", &err), DR_EFORMAT);
    assert_null(big);
    assert_non_null(strstr(err.msg, "limit"));
    /* a valid motion config, but the tokenizer copy is not a tokenizer */
    snprintf(cfg, sizeof cfg, "{\"text\": %s, \"motion\": %s, \"tokenizer\": \"not json\"}", text,
             "{\"frames\": 200, \"stride\": 2, \"dim\": 8, \"layers\": 1, \"kernel\": 4, \"proj_dim\": 8, \"features\": 90}");
    assert_int_equal(dr_params_save(&p, path, "director-evaluator", cfg, &err), 0);
    dr_evaluator *ev = NULL;
    assert_true(dr_evaluator_load(&ev, path, &err) != DR_OK);
    assert_null(ev);
    /* another model kind, and an empty config */
    assert_int_equal(dr_params_save(&p, path, "rvq", "{}", &err), 0);
    assert_int_equal(dr_evaluator_load(&ev, path, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "not an evaluator file"));
    assert_int_equal(dr_params_save(&p, path, "director-evaluator", "{}", &err), 0);
    assert_int_equal(dr_evaluator_load(&ev, path, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "bad.safetensors"));
    dr_params_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_motion_features),
        cmocka_unit_test(test_loss_gradients),
        cmocka_unit_test(test_train_and_reload),
        cmocka_unit_test(test_hostile_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
