/* interp_train.c - contrastive text-encoder training, interpolator training, motion metrics. */
#include "models/interp_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/rng.h"
#include "models/pose_diffusion.h"
#include "models/text_encoder.h"
#include "models/tokenizer.h"
#include "nn/nn.h"
#include "nn/optim.h"
#include "nn/params.h"
#include "pose/dataset.h"

#define MAX_PROMPT_TOKENS 4096

int dr_textenc_tokenize(const struct dr_tokenizer *tok, const struct dr_textenc_config *cfg, const char *text,
                        int *ids, int len, dr_err *err) {
    int32_t *raw = malloc(sizeof(int32_t) * MAX_PROMPT_TOKENS);
    if (!raw) return dr_err_set(err, DR_ENOMEM, "tokenize: out of memory");
    int n = 0;
    int rc = dr_tokenizer_encode(tok, text ? text : "", text ? strlen(text) : 0, 0, raw, MAX_PROMPT_TOKENS, &n, err);
    if (!rc) {
        int *tmp = malloc(sizeof(int) * (size_t)(n + 1));
        if (!tmp) rc = dr_err_set(err, DR_ENOMEM, "tokenize: out of memory");
        else {
            for (int i = 0; i < n; i++) tmp[i] = raw[i];
            for (int i = 0; i < n; i++)
                if (tmp[i] >= cfg->vocab_size) {
                    rc = dr_err_set(err, DR_EINVAL, "tokenize: token id %d outside the text encoder's vocabulary %d",
                                    tmp[i], cfg->vocab_size);
                    break;
                }
            if (!rc) dr_textenc_frame_ids(cfg, tmp, n, ids, len);
            free(tmp);
        }
    }
    free(raw);
    return rc;
}

/* ---------------------------------------------------------------- shared data plumbing */

/* A split with its captions tokenized once: [clip][2 = prompt, subject][len] ids. */
typedef struct text_split {
    dr_dataset ds;
    bool open;
    int *ids;
    uint64_t *hash; /* [clip][2]: FNV-1a of the caption, for duplicate-caption groups */
    int len;
} text_split;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int text_split_open(text_split *s, const char *dir, const char *split, const dr_tokenizer *tok,
                           const dr_textenc_config *tcfg, int len, dr_err *err) {
    memset(s, 0, sizeof *s);
    int rc = dr_dataset_open(&s->ds, dir, split, err);
    if (rc) return rc;
    s->open = true;
    if (s->ds.num_frames != DR_CLIP_FRAMES)
        return dr_err_set(err, DR_EFORMAT, "%s: %s split has %d frames a clip, the interpolator needs %d", dir, split,
                          s->ds.num_frames, DR_CLIP_FRAMES);
    if (s->ds.num_clips <= 0) return dr_err_set(err, DR_EFORMAT, "%s: %s split is empty", dir, split);
    s->len = len;
    if (!tok) return DR_OK;
    s->ids = malloc(sizeof(int) * (size_t)s->ds.num_clips * 2 * len);
    s->hash = malloc(sizeof(uint64_t) * (size_t)s->ds.num_clips * 2);
    if (!s->ids || !s->hash) return dr_err_set(err, DR_ENOMEM, "%s: out of memory for captions", dir);
    for (int i = 0; i < s->ds.num_clips; i++)
        for (int k = 0; k < 2; k++) {
            const char *text = k == 0 ? s->ds.prompt[i] : s->ds.subject[i];
            if ((rc = dr_textenc_tokenize(tok, tcfg, text, s->ids + ((size_t)i * 2 + k) * len, len, err)))
                return dr_err_prefix(err, "%s/%s.jsonl clip %d", dir, split, i);
            s->hash[(size_t)i * 2 + k] = fnv1a(text);
        }
    return DR_OK;
}

static void text_split_close(text_split *s) {
    if (s->open) dr_dataset_close(&s->ds);
    free(s->ids);
    free(s->hash);
    memset(s, 0, sizeof *s);
}

/* Normalized pose [36] and per-coordinate mask [36] of one frame. */
static void frame_features(const dr_dataset *ds, const dr_pose *pose, float *x, float *mask36) {
    float m18[DR_NUM_KEYPOINTS];
    dr_pose_normalize(pose, ds->width, ds->height, x, m18);
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) mask36[2 * j] = mask36[2 * j + 1] = m18[j];
}

static char *state_json(uint64_t seed) {
    char *s = malloc(64);
    if (s) snprintf(s, 64, "{\"seed\":%llu}", (unsigned long long)seed);
    return s;
}

static void ckpt_path(char *buf, size_t size, const char *out, const char *suffix) {
    snprintf(buf, size, "%s%s", out, suffix);
}

/* ---------------------------------------------------------------- motion encoder */

#define ME_STRIDE DR_MOTION_STRIDE
#define ME_T DR_MOTION_STEPS
#define ME_FEAT DR_MOTION_FEAT

int dr_motion_encoder_create(dr_motion_encoder *me, int C, int P, int maxB, uint64_t seed, dr_err *err) {
    memset(me, 0, sizeof *me);
    me->C = C;
    me->P = P;
    me->maxB = maxB;
    dr_params *p = &me->params;
    dr_params_init(p);
    int64_t conv[3] = {C, C, 5};
    int bad = 0;
    bad |= dr_params_add2(p, "motion.in.weight", false, C, ME_FEAT) < 0;
    bad |= dr_params_add1(p, "motion.in.bias", true, C) < 0;
    bad |= dr_params_add(p, "motion.conv1.weight", false, 3, conv) < 0;
    bad |= dr_params_add1(p, "motion.conv1.bias", true, C) < 0;
    bad |= dr_params_add(p, "motion.conv2.weight", false, 3, conv) < 0;
    bad |= dr_params_add1(p, "motion.conv2.bias", true, C) < 0;
    bad |= dr_params_add2(p, "motion.out.weight", false, P, C) < 0;
    bad |= dr_params_add1(p, "motion.out.bias", true, P) < 0;
    bad |= dr_params_add1(p, "logit_scale", true, 1) < 0;
    if (bad || dr_params_alloc(p) || dr_params_alloc_grad(p) || dr_params_alloc_optim(p))
        return dr_err_set(err, DR_ENOMEM, "motion encoder: out of memory");
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    dr_params_init_normal(p, "motion.in.weight", &rng, 1.0f / sqrtf((float)ME_FEAT));
    dr_params_init_normal(p, "motion.conv1.weight", &rng, 1.0f / sqrtf(5.0f * C));
    dr_params_init_normal(p, "motion.conv2.weight", &rng, 1.0f / sqrtf(5.0f * C));
    dr_params_init_normal(p, "motion.out.weight", &rng, 1.0f / sqrtf((float)C));
    dr_params_fill(p, "logit_scale", logf(1.0f / 0.07f)); /* CLIP's initial temperature */
    me->s1 = (dr_conv1d_shape){maxB, ME_T, C, C, 5, 2, 1, DR_PAD_SAME};
    me->T1 = dr_conv1d_out_len(&me->s1);
    me->s2 = (dr_conv1d_shape){maxB, me->T1, C, C, 5, 2, 1, DR_PAD_SAME};
    me->T2 = dr_conv1d_out_len(&me->s2);
    size_t sc = dr_conv1d_scratch_floats(&me->s1);
    if (dr_conv1d_scratch_floats(&me->s2) > sc) sc = dr_conv1d_scratch_floats(&me->s2);
    const size_t B = (size_t)maxB;
    bool ok = true;
#define ALLOC(ptr, n) ok = ok && ((ptr) = dr_calloc(sizeof(float) * ((n) + 1))) != NULL
    ALLOC(me->in, B * ME_T * ME_FEAT);
    ALLOC(me->h0, B * ME_T * C);
    ALLOC(me->a0, B * ME_T * C);
    ALLOC(me->c1, B * me->T1 * C);
    ALLOC(me->a1, B * me->T1 * C);
    ALLOC(me->c2, B * me->T2 * C);
    ALLOC(me->a2, B * me->T2 * C);
    ALLOC(me->pooled, B * C);
    ALLOC(me->emb, B * P);
    ALLOC(me->d0, B * ME_T * C);
    ALLOC(me->d1, B * ME_T * C);
    ALLOC(me->d2, B * ME_T * C);
    ALLOC(me->dp, B * C);
    ALLOC(me->conv_scratch, sc);
#undef ALLOC
    return ok ? DR_OK : dr_err_set(err, DR_ENOMEM, "motion encoder: out of memory");
}

void dr_motion_encoder_free(dr_motion_encoder *me) {
    float *f[] = {me->in, me->h0, me->a0, me->c1, me->a1, me->c2, me->a2, me->pooled, me->emb,
                  me->d0, me->d1, me->d2, me->dp, me->conv_scratch};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) dr_free(f[i]);
    dr_params_free(&me->params);
}

/* Features of one clip into in [ME_T, ME_FEAT]. */
void dr_motion_encoder_features(const dr_dataset *ds, const dr_pose *clip, float *in) {
    for (int t = 0; t < ME_T; t++) {
        float x[DR_POSE_DIM], m[DR_POSE_DIM], xn[DR_POSE_DIM], mn[DR_POSE_DIM];
        int f = t * ME_STRIDE, fn = f + ME_STRIDE < DR_CLIP_FRAMES ? f + ME_STRIDE : f;
        frame_features(ds, &clip[f], x, m);
        frame_features(ds, &clip[fn], xn, mn);
        float *dst = in + (size_t)t * ME_FEAT;
        for (int j = 0; j < DR_POSE_DIM; j++) {
            dst[j] = x[j];
            dst[DR_POSE_DIM + j] = 4.0f * m[j] * mn[j] * (xn[j] - x[j]); /* ~unit scale */
        }
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) dst[2 * DR_POSE_DIM + j] = m[2 * j];
    }
}

void dr_motion_encoder_forward(dr_motion_encoder *me, int B) {
    const int C = me->C;
    me->B = B;
    dr_conv1d_shape s1 = me->s1, s2 = me->s2;
    s1.B = s2.B = B;
    dr_params *p = &me->params;
    dr_linear_forward(me->h0, me->in, dr_params_get(p, "motion.in.weight"), dr_params_get(p, "motion.in.bias"),
                      B * ME_T, ME_FEAT, C);
    dr_gelu_forward(me->a0, me->h0, (long)B * ME_T * C);
    dr_conv1d_forward(me->c1, me->a0, dr_params_get(p, "motion.conv1.weight"), dr_params_get(p, "motion.conv1.bias"),
                      &s1, me->conv_scratch);
    dr_gelu_forward(me->a1, me->c1, (long)B * me->T1 * C);
    dr_conv1d_forward(me->c2, me->a1, dr_params_get(p, "motion.conv2.weight"), dr_params_get(p, "motion.conv2.bias"),
                      &s2, me->conv_scratch);
    dr_gelu_forward(me->a2, me->c2, (long)B * me->T2 * C);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            float s = 0;
            for (int t = 0; t < me->T2; t++) s += me->a2[((size_t)b * me->T2 + t) * C + c];
            me->pooled[(size_t)b * C + c] = s / (float)me->T2;
        }
    dr_linear_forward(me->emb, me->pooled, dr_params_get(p, "motion.out.weight"), dr_params_get(p, "motion.out.bias"),
                      B, C, me->P);
}

void dr_motion_encoder_backward(dr_motion_encoder *me, const float *demb) {
    const int C = me->C, B = me->B;
    dr_conv1d_shape s1 = me->s1, s2 = me->s2;
    s1.B = s2.B = B;
    dr_params *p = &me->params;
    memset(me->dp, 0, sizeof(float) * (size_t)B * C);
    dr_linear_backward(me->dp, dr_params_grad(p, "motion.out.weight"), dr_params_grad(p, "motion.out.bias"), demb,
                       me->pooled, dr_params_get(p, "motion.out.weight"), B, C, me->P);
    float *da2 = me->d0, *dc2 = me->d1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < me->T2; t++)
            for (int c = 0; c < C; c++) da2[((size_t)b * me->T2 + t) * C + c] = me->dp[(size_t)b * C + c] / me->T2;
    memset(dc2, 0, sizeof(float) * (size_t)B * me->T2 * C);
    dr_gelu_backward(dc2, da2, me->c2, (long)B * me->T2 * C);
    float *da1 = me->d2;
    memset(da1, 0, sizeof(float) * (size_t)B * me->T1 * C);
    dr_conv1d_backward(da1, dr_params_grad(p, "motion.conv2.weight"), dr_params_grad(p, "motion.conv2.bias"), dc2,
                       me->a1, dr_params_get(p, "motion.conv2.weight"), &s2, me->conv_scratch);
    float *dc1 = me->d0;
    memset(dc1, 0, sizeof(float) * (size_t)B * me->T1 * C);
    dr_gelu_backward(dc1, da1, me->c1, (long)B * me->T1 * C);
    float *da0 = me->d1;
    memset(da0, 0, sizeof(float) * (size_t)B * ME_T * C);
    dr_conv1d_backward(da0, dr_params_grad(p, "motion.conv1.weight"), dr_params_grad(p, "motion.conv1.bias"), dc1,
                       me->a0, dr_params_get(p, "motion.conv1.weight"), &s1, me->conv_scratch);
    float *dh0 = me->d2;
    memset(dh0, 0, sizeof(float) * (size_t)B * ME_T * C);
    dr_gelu_backward(dh0, da0, me->h0, (long)B * ME_T * C);
    dr_linear_backward(NULL, dr_params_grad(p, "motion.in.weight"), dr_params_grad(p, "motion.in.bias"), dh0, me->in,
                       dr_params_get(p, "motion.in.weight"), B * ME_T, ME_FEAT, C);
}

/* ---------------------------------------------------------------- text encoder training */

void dr_textenc_train_defaults(dr_textenc_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 2000;
    o->batch = 128;
    o->lr = 1e-3f;
    o->seed = 1;
    o->dim = 128;
    o->layers = 4;
    o->heads = 4;
    o->max_len = 40;
    o->proj_dim = 128;
    o->motion_dim = 128;
    o->val_every = 200;
    o->ckpt_every = 200;
    o->subject_prob = 0.3f;
}

/* Fill a batch: ids [B, len], groups [B], motion features. */
static void clip_batch(const text_split *s, const int *clips, int B, dr_rng *rng, float subject_prob, int *ids,
                       int *group, dr_motion_encoder *me) {
    uint64_t h[1024];
    for (int b = 0; b < B; b++) {
        int c = clips[b], k = rng && dr_rng_uniform(rng) < subject_prob ? 1 : 0;
        memcpy(ids + (size_t)b * s->len, s->ids + ((size_t)c * 2 + k) * s->len, sizeof(int) * (size_t)s->len);
        h[b] = s->hash[(size_t)c * 2 + k];
        group[b] = b;
        for (int j = 0; j < b; j++)
            if (h[j] == h[b]) {
                group[b] = group[j];
                break;
            }
        if (me) dr_motion_encoder_features(&s->ds, dr_dataset_clip(&s->ds, c), me->in + (size_t)b * ME_T * ME_FEAT);
    }
}

int dr_textenc_train(const dr_textenc_train_opts *o, dr_err *err) {
    if (o->batch < 2 || o->batch > 1024 || o->steps < 1 || !(o->lr > 0) || o->max_len < 4)
        return dr_err_set(err, DR_EINVAL, "train textenc: bad options (batch 2..1024, steps >= 1, lr > 0)");
    dr_tokenizer *tok = NULL;
    dr_textenc te;
    dr_motion_encoder me;
    text_split tr, va;
    memset(&te, 0, sizeof te);
    memset(&me, 0, sizeof me);
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    int *ids = NULL, *group = NULL, *clips = NULL;
    float *temb = NULL, *dtemb = NULL, *dmemb = NULL, *cache = NULL;
    char *cfg_json = NULL;
    int rc = dr_tokenizer_load(&tok, o->tokenizer_path, err);
    if (rc) return rc;
    dr_textenc_config cfg = dr_textenc_default_config(dr_tokenizer_vocab_size(tok));
    cfg.dim = o->dim;
    cfg.num_layers = o->layers;
    cfg.num_heads = o->heads;
    cfg.mlp_dim = 4 * o->dim;
    cfg.max_len = o->max_len;
    cfg.proj_dim = o->proj_dim;
    cfg.bos_id = dr_tokenizer_special_id(tok, DR_TOKEN_BEGIN);
    cfg.eos_id = dr_tokenizer_special_id(tok, DR_TOKEN_END);
    cfg.pad_id = dr_tokenizer_special_id(tok, DR_TOKEN_PAD);
    if (cfg.eos_id < 0 || cfg.pad_id < 0) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: the tokenizer lacks %s or %s", o->tokenizer_path, DR_TOKEN_END,
                        DR_TOKEN_PAD);
        goto done;
    }
    if (o->dim % o->heads) {
        rc = dr_err_set(err, DR_EINVAL, "train textenc: dim %d is not a multiple of heads %d", o->dim, o->heads);
        goto done;
    }
    if ((rc = text_split_open(&tr, o->data_dir, "train", tok, &cfg, cfg.max_len, err))) goto done;
    if ((rc = text_split_open(&va, o->data_dir, "val", tok, &cfg, cfg.max_len, err))) goto done;
    const int B = o->batch, L = cfg.max_len, P = cfg.proj_dim;
    if ((rc = dr_textenc_create(&te, &cfg, err))) goto done;
    dr_textenc_init_weights(&te, o->seed);
    if ((rc = dr_textenc_alloc_acts(&te, B, err))) goto done;
    if (dr_params_alloc_grad(&te.params) || dr_params_alloc_optim(&te.params)) {
        rc = dr_err_set(err, DR_ENOMEM, "train textenc: out of memory");
        goto done;
    }
    if ((rc = dr_motion_encoder_create(&me, o->motion_dim, P, B, o->seed ^ 0x5eedull, err))) goto done;
    ids = malloc(sizeof(int) * (size_t)B * L);
    group = malloc(sizeof(int) * (size_t)B);
    clips = malloc(sizeof(int) * (size_t)B);
    temb = malloc(sizeof(float) * (size_t)B * P);
    dtemb = malloc(sizeof(float) * (size_t)B * P);
    dmemb = malloc(sizeof(float) * (size_t)B * P);
    cache = malloc(sizeof(float) * (size_t)dr_clip_loss_cache_floats(B, P));
    cfg_json = dr_textenc_config_json(&cfg);
    if (!ids || !group || !clips || !temb || !dtemb || !dmemb || !cache || !cfg_json) {
        rc = dr_err_set(err, DR_ENOMEM, "train textenc: out of memory");
        goto done;
    }
    char ck_te[4200], ck_me[4200];
    ckpt_path(ck_te, sizeof ck_te, o->out_path, ".ckpt");
    ckpt_path(ck_me, sizeof ck_me, o->out_path, ".motion.ckpt");
    long start = 0;
    if (o->resume && dr_file_exists(ck_te)) {
        long s2 = 0;
        if ((rc = dr_params_load_checkpoint(&te.params, ck_te, &start, NULL, err))) goto done;
        if ((rc = dr_params_load_checkpoint(&me.params, ck_me, &s2, NULL, err))) goto done;
        if (s2 != start) {
            rc = dr_err_set(err, DR_EFORMAT, "%s and %s are from different steps (%ld, %ld)", ck_te, ck_me, start, s2);
            goto done;
        }
    }
    dr_adamw_config ac = dr_adamw_default();
    dr_progress prog;
    dr_progress_begin(&prog, "train textenc", start, o->steps, o->quiet);
    float *ls = dr_params_get(&me.params, "logit_scale"), *dls = dr_params_grad(&me.params, "logit_scale");
    double ema = 0;
    float val_loss = NAN, val_acc = NAN;
    char extra[160];
    for (long step = start + 1; step <= o->steps; step++) {
        dr_rng rng = dr_rng_fork(o->seed, (uint64_t)step);
        for (int b = 0; b < B; b++) clips[b] = (int)dr_rng_below(&rng, (uint32_t)tr.ds.num_clips);
        clip_batch(&tr, clips, B, &rng, o->subject_prob, ids, group, &me);
        dr_params_zero_grad(&te.params);
        dr_params_zero_grad(&me.params);
        if ((rc = dr_textenc_forward(&te, ids, B, L, NULL, temb, NULL, err))) goto done;
        dr_motion_encoder_forward(&me, B);
        float loss = dr_clip_loss_forward(temb, me.emb, group, *ls, B, P, cache);
        memset(dtemb, 0, sizeof(float) * (size_t)B * P);
        memset(dmemb, 0, sizeof(float) * (size_t)B * P);
        dr_clip_loss_backward(dtemb, dmemb, dls, temb, me.emb, group, *ls, B, P, cache, 1.0f);
        dr_textenc_backward(&te, dtemb, NULL);
        dr_motion_encoder_backward(&me, dmemb);
        dr_clip_grad_norm(te.params.grad, te.params.total, 1.0f);
        dr_clip_grad_norm(me.params.grad, me.params.total, 1.0f);
        float lr = dr_lr_schedule(step - 1, o->steps / 20 + 1, o->steps, o->lr, o->lr * 0.1f);
        dr_adamw_step(&te.params, lr, (int)step, &ac);
        dr_adamw_step(&me.params, lr, (int)step, &ac);
        if (*ls > logf(100.0f)) *ls = logf(100.0f); /* CLIP clamps the temperature at 100 */
        ema = step == start + 1 ? loss : 0.95 * ema + 0.05 * loss;
        if (!isfinite(loss)) {
            rc = dr_err_set(err, DR_ERANGE, "train textenc: loss is not finite at step %ld", step);
            goto done;
        }
        if (step % o->val_every == 0 || step == o->steps) {
            /* fixed val batches: mean loss and text -> motion top-1 accuracy */
            double vl = 0, hit = 0;
            int nb = va.ds.num_clips / B < 4 ? va.ds.num_clips / B : 4;
            if (nb < 1) nb = 1;
            int Bv = va.ds.num_clips < B ? va.ds.num_clips : B;
            for (int vb = 0; vb < nb; vb++) {
                for (int b = 0; b < Bv; b++) clips[b] = (vb * Bv + b) % va.ds.num_clips;
                clip_batch(&va, clips, Bv, NULL, 0, ids, group, &me);
                if ((rc = dr_textenc_forward(&te, ids, Bv, L, NULL, temb, NULL, err))) goto done;
                dr_motion_encoder_forward(&me, Bv);
                vl += dr_clip_loss_forward(temb, me.emb, group, *ls, Bv, P, cache);
                const float *prow = cache + 2 * (size_t)Bv * P; /* row softmax */
                for (int i = 0; i < Bv; i++) {
                    int best = 0;
                    for (int j = 1; j < Bv; j++)
                        if (prow[(size_t)i * Bv + j] > prow[(size_t)i * Bv + best]) best = j;
                    hit += group[best] == group[i];
                }
            }
            val_loss = (float)(vl / nb);
            val_acc = (float)(hit / ((double)nb * Bv));
        }
        snprintf(extra, sizeof extra, "loss %.4f  val %.4f  top1 %.3f  temp %.1f  lr %.2e", ema, val_loss, val_acc,
                 expf(*ls), lr);
        dr_progress_update(&prog, step, extra);
        if (step % o->ckpt_every == 0 || step == o->steps) {
            char *st = state_json(o->seed);
            rc = dr_params_save_checkpoint(&te.params, ck_te, "text_encoder", cfg_json, step, st, err);
            if (!rc) rc = dr_params_save_checkpoint(&me.params, ck_me, "motion_encoder", "{}", step, st, err);
            free(st);
            if (!rc) rc = dr_textenc_save(&te, o->out_path, err);
            if (rc) goto done;
        }
    }
    dr_progress_end(&prog, extra);
    rc = dr_textenc_save(&te, o->out_path, err);
done:
    free(ids);
    free(group);
    free(clips);
    free(temb);
    free(dtemb);
    free(dmemb);
    free(cache);
    free(cfg_json);
    dr_motion_encoder_free(&me);
    dr_textenc_free(&te);
    text_split_close(&tr);
    text_split_close(&va);
    dr_tokenizer_free(tok);
    return rc;
}

/* ---------------------------------------------------------------- interpolator training */

void dr_interp_train_defaults(dr_interp_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 4000;
    o->batch = 32;
    o->lr = 1e-3f;
    o->seed = 1;
    o->dim = 128;
    o->layers = 4;
    o->heads = 4;
    o->mlp_dim = 384;
    o->val_every = 250;
    o->ckpt_every = 250;
    o->subject_prob = 0.3f;
    dr_interp_config c = dr_interp_default_config(0, 0);
    o->guide = c.guide;
    o->spectral_skip = c.spectral_skip;
    o->out_smooth = c.out_smooth;
}

/* Per-clip buffers of one interpolator batch. */
typedef struct interp_batch {
    float *x0, *mask, *kf, *fc, *text;
    int *kfi, *ids;
    uint8_t *valid;
} interp_batch;

/* Low-pass a clip's normalized coordinates over time (Gaussian, present neighbours only), in
 * place; tmp holds F * 36 floats. */
static void smooth_clip(float *x0, const float *mask, int F, float sigma, float *tmp) {
    const int R = (int)ceilf(3.0f * sigma);
    memcpy(tmp, x0, sizeof(float) * (size_t)F * DR_POSE_DIM);
    for (int f = 0; f < F; f++)
        for (int j = 0; j < DR_POSE_DIM; j++) {
            if (mask[(size_t)f * DR_POSE_DIM + j] <= 0) continue;
            float acc = 0, wsum = 0;
            for (int d = -R; d <= R; d++) {
                int g = f + d;
                if (g < 0 || g >= F || mask[(size_t)g * DR_POSE_DIM + j] <= 0) continue;
                float w = expf(-0.5f * (float)(d * d) / (sigma * sigma));
                acc += w * tmp[(size_t)g * DR_POSE_DIM + j];
                wsum += w;
            }
            x0[(size_t)f * DR_POSE_DIM + j] = acc / wsum;
        }
}

static void fill_interp_batch(const text_split *s, dr_textenc *te, const int *clips, int B, dr_rng *rng,
                              float subject_prob, const dr_interp_config *cfg, float smooth_targets, float *tmp,
                              interp_batch *bt) {
    const int F = cfg->frames, K = cfg->num_keyframes;
    for (int b = 0; b < B; b++) {
        const dr_pose *clip = dr_dataset_clip(&s->ds, clips[b]);
        float *x0 = bt->x0 + (size_t)b * F * DR_POSE_DIM, *mask = bt->mask + (size_t)b * F * DR_POSE_DIM;
        for (int f = 0; f < F; f++) frame_features(&s->ds, &clip[f], x0 + (size_t)f * DR_POSE_DIM, mask + (size_t)f * DR_POSE_DIM);
        float kp[DR_NUM_KEYFRAMES * DR_POSE_DIM], km[DR_NUM_KEYFRAMES * DR_NUM_KEYPOINTS];
        int *idx = bt->kfi + (size_t)b * K;
        for (int k = 0; k < K; k++) {
            idx[k] = (int)((long)k * F / K);
            memcpy(kp + k * DR_POSE_DIM, x0 + (size_t)idx[k] * DR_POSE_DIM, sizeof(float) * DR_POSE_DIM);
            for (int j = 0; j < DR_NUM_KEYPOINTS; j++) km[k * DR_NUM_KEYPOINTS + j] = mask[(size_t)idx[k] * DR_POSE_DIM + 2 * j];
        }
        /* key frames stay the raw (jittered) frames, as the model gets them at test time */
        if (smooth_targets > 0) smooth_clip(x0, mask, F, smooth_targets, tmp);
        dr_interp_condition(cfg, kp, km, idx, bt->fc + (size_t)b * F * DR_INTERP_FRAME_COND,
                            bt->kf + (size_t)b * K * DR_INTERP_KF_FEAT, NULL);
        if (te) {
            int k = rng && dr_rng_uniform(rng) < subject_prob ? 1 : 0;
            memcpy(bt->ids + (size_t)b * s->len, s->ids + ((size_t)clips[b] * 2 + k) * s->len,
                   sizeof(int) * (size_t)s->len);
        }
    }
}

/* The spectral skip path's prior (pose_diffusion.h): the variance of x0 - guide per DCT
 * frequency over time, averaged over the coordinates present in every frame of 512 training
 * clips spread over the split (their training targets and guides, as fill_interp_batch
 * makes them). Floored at 1e-8 (a std of 0.016 px): the filter must not divide by zero. */
static void measure_prior_spectrum(const text_split *tr, dr_interp *m, float smooth_targets, float *spec,
                                   float *tmp) {
    const dr_interp_config *cfg = &m->cfg;
    const int F = cfg->frames, n = tr->ds.num_clips < 512 ? tr->ds.num_clips : 512;
    interp_batch bt;
    memset(&bt, 0, sizeof bt);
    double *acc = calloc((size_t)F, sizeof(double));
    bt.x0 = malloc(sizeof(float) * (size_t)F * DR_POSE_DIM);
    bt.mask = malloc(sizeof(float) * (size_t)F * DR_POSE_DIM);
    bt.kf = malloc(sizeof(float) * (size_t)cfg->num_keyframes * DR_INTERP_KF_FEAT);
    bt.fc = malloc(sizeof(float) * (size_t)F * DR_INTERP_FRAME_COND);
    bt.kfi = malloc(sizeof(int) * (size_t)cfg->num_keyframes);
    float *r = malloc(sizeof(float) * (size_t)F);
    double cnt = 0;
    if (acc && bt.x0 && bt.mask && bt.kf && bt.fc && bt.kfi && r)
        for (int i = 0; i < n; i++) {
            int clip = (int)((long)i * tr->ds.num_clips / n);
            fill_interp_batch(tr, NULL, &clip, 1, NULL, 0, cfg, smooth_targets, tmp, &bt);
            for (int j = 0; j < DR_POSE_DIM; j++) {
                bool all = true;
                for (int f = 0; f < F && all; f++) all = bt.mask[(size_t)f * DR_POSE_DIM + j] > 0;
                if (!all) continue;
                for (int f = 0; f < F; f++)
                    r[f] = bt.x0[(size_t)f * DR_POSE_DIM + j] - bt.fc[(size_t)f * DR_INTERP_FRAME_COND + j];
                for (int k = 0; k < F; k++) {
                    double v = 0;
                    for (int f = 0; f < F; f++) v += (double)m->dct[(size_t)k * F + f] * r[f];
                    acc[k] += v * v;
                }
                cnt += 1;
            }
        }
    for (int k = 0; k < F; k++) spec[k] = cnt > 0 ? (float)fmax(acc[k] / cnt, 1e-8) : spec[k];
    free(acc);
    free(bt.x0);
    free(bt.mask);
    free(bt.kf);
    free(bt.fc);
    free(bt.kfi);
    free(r);
}

/* Validation: 4 fixed batches of val clips with fixed timesteps and noise, nothing dropped:
 * comparable from one validation to the next (and with step 0, the untrained model = the
 * guide plus the skip path). */
static int interp_validate(dr_interp *m, const text_split *va, dr_textenc *te, const dr_interp_train_opts *o,
                           interp_batch *bt, int *clips, float *scratch, float *smooth_tmp, float *val, float *val_mse,
                           dr_err *err) {
    const int B = o->batch, Lt = m->cfg.text_len;
    double vl = 0, vm = 0;
    const int nb = 4;
    for (int vb = 0; vb < nb; vb++) {
        dr_rng vr = dr_rng_fork(o->seed ^ 0xa11dull, (uint64_t)vb);
        for (int b = 0; b < B; b++) clips[b] = (vb * B + b) % va->ds.num_clips;
        fill_interp_batch(va, te, clips, B, NULL, 0, &m->cfg, o->smooth_targets, smooth_tmp, bt);
        int rc;
        if (te && (rc = dr_textenc_forward(te, bt->ids, B, Lt, bt->text, NULL, bt->valid, err))) return rc;
        dr_interp_cond vc = {bt->kf, bt->kfi, bt->fc, te ? bt->text : NULL, te ? bt->valid : NULL, NULL, NULL};
        float vmse = 0;
        vl += dr_interp_loss(m, bt->x0, bt->mask, &vc, B, &vr, false, scratch, &vmse);
        vm += vmse;
    }
    *val = (float)(vl / nb);
    *val_mse = (float)(vm / nb);
    return DR_OK;
}

int dr_interp_train(const dr_interp_train_opts *o, dr_err *err) {
    if (o->batch < 1 || o->batch > 512 || o->steps < 1 || !(o->lr > 0))
        return dr_err_set(err, DR_EINVAL, "train interp: bad options (batch 1..512, steps >= 1, lr > 0)");
    dr_tokenizer *tok = NULL;
    dr_textenc te;
    dr_interp m;
    text_split tr, va;
    interp_batch bt;
    memset(&te, 0, sizeof te);
    memset(&m, 0, sizeof m);
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    memset(&bt, 0, sizeof bt);
    int *clips = NULL;
    float *scratch = NULL, *smooth_tmp = NULL;
    char *cfg_json = NULL;
    int rc = DR_OK;
    const bool text = !o->no_text;
    if (text) {
        if (!o->tokenizer_path || !o->textenc_path) {
            return dr_err_set(err, DR_EINVAL, "train interp: --tokenizer and --textenc are needed (or --no-text)");
        }
        if ((rc = dr_tokenizer_load(&tok, o->tokenizer_path, err))) return rc;
        if ((rc = dr_textenc_load(&te, o->textenc_path, err))) goto done;
        if (te.cfg.vocab_size < dr_tokenizer_vocab_size(tok)) {
            rc = dr_err_set(err, DR_EINVAL, "%s: vocabulary %d smaller than the tokenizer's %d", o->textenc_path,
                            te.cfg.vocab_size, dr_tokenizer_vocab_size(tok));
            goto done;
        }
    }
    dr_interp_config cfg = dr_interp_default_config(text ? te.cfg.dim : 0, text ? te.cfg.max_len : 0);
    cfg.dim = o->dim;
    cfg.num_layers = o->layers;
    cfg.num_heads = o->heads;
    cfg.mlp_dim = o->mlp_dim;
    cfg.guide = o->guide;
    cfg.spectral_skip = o->spectral_skip;
    cfg.out_smooth = o->out_smooth;
    if (o->dim % o->heads) {
        rc = dr_err_set(err, DR_EINVAL, "train interp: dim %d is not a multiple of heads %d", o->dim, o->heads);
        goto done;
    }
    const int B = o->batch, F = cfg.frames, K = cfg.num_keyframes, Lt = cfg.text_len, Td = cfg.text_dim;
    if ((rc = text_split_open(&tr, o->data_dir, "train", text ? tok : NULL, &te.cfg, Lt, err))) goto done;
    if ((rc = text_split_open(&va, o->data_dir, "val", text ? tok : NULL, &te.cfg, Lt, err))) goto done;
    if ((rc = dr_interp_create(&m, &cfg, err))) goto done;
    dr_interp_init_weights(&m, o->seed);
    if ((rc = dr_interp_alloc_acts(&m, B, err))) goto done;
    if (text && (rc = dr_textenc_alloc_acts(&te, B, err))) goto done;
    if (dr_params_alloc_grad(&m.params) || dr_params_alloc_optim(&m.params)) {
        rc = dr_err_set(err, DR_ENOMEM, "train interp: out of memory");
        goto done;
    }
    bt.x0 = malloc(sizeof(float) * (size_t)B * F * DR_POSE_DIM);
    bt.mask = malloc(sizeof(float) * (size_t)B * F * DR_POSE_DIM);
    bt.kf = malloc(sizeof(float) * (size_t)B * K * DR_INTERP_KF_FEAT);
    bt.fc = malloc(sizeof(float) * (size_t)B * F * DR_INTERP_FRAME_COND);
    bt.text = malloc(sizeof(float) * ((size_t)B * Lt * Td + 1));
    bt.kfi = malloc(sizeof(int) * (size_t)B * K);
    bt.ids = malloc(sizeof(int) * ((size_t)B * Lt + 1));
    bt.valid = malloc((size_t)B * Lt + 1);
    clips = malloc(sizeof(int) * (size_t)B);
    scratch = malloc(sizeof(float) * (size_t)dr_interp_loss_scratch_floats(&m, B));
    smooth_tmp = malloc(sizeof(float) * (size_t)F * DR_POSE_DIM);
    cfg_json = dr_interp_config_json(&cfg);
    if (!smooth_tmp || !bt.x0 || !bt.mask || !bt.kf || !bt.fc || !bt.text || !bt.kfi || !bt.ids || !bt.valid || !clips || !scratch ||
        !cfg_json) {
        rc = dr_err_set(err, DR_ENOMEM, "train interp: out of memory");
        goto done;
    }
    if (cfg.spectral_skip) {
        float *spec = dr_params_get(&m.params, "prior_spec");
        measure_prior_spectrum(&tr, &m, o->smooth_targets, spec, smooth_tmp);
        if (!o->quiet)
            fprintf(stderr, "train interp: prior spectrum of x0 - guide (DCT variance): k=0 %.2e, k=10 %.2e, "
                            "k=20 %.2e, k=40 %.2e, k=%d %.2e\n",
                    (double)spec[0], (double)spec[10 < F ? 10 : F - 1], (double)spec[20 < F ? 20 : F - 1],
                    (double)spec[40 < F ? 40 : F - 1], F - 1, (double)spec[F - 1]);
    }
    char ck[4200];
    ckpt_path(ck, sizeof ck, o->out_path, ".ckpt");
    long start = 0;
    if (o->resume && dr_file_exists(ck) && (rc = dr_params_load_checkpoint(&m.params, ck, &start, NULL, err)))
        goto done;
    dr_adamw_config ac = dr_adamw_default();
    ac.weight_decay = 0.01f;
    dr_progress prog;
    dr_progress_begin(&prog, text ? "train interp" : "train interp (no text)", start, o->steps, o->quiet);
    double ema = 0, ema_mse = 0;
    float val = NAN, val_mse = NAN;
    char extra[160];
    if (start == 0) {
        if ((rc = interp_validate(&m, &va, text ? &te : NULL, o, &bt, clips, scratch, smooth_tmp, &val, &val_mse, err)))
            goto done;
        if (!o->quiet) fprintf(stderr, "train interp: step 0 (untrained: guide + skip path) val %.5f  val_mse %.5f\n",
                               (double)val, (double)val_mse);
    }
    for (long step = start + 1; step <= o->steps; step++) {
        dr_rng rng = dr_rng_fork(o->seed, (uint64_t)step);
        for (int b = 0; b < B; b++) clips[b] = (int)dr_rng_below(&rng, (uint32_t)tr.ds.num_clips);
        fill_interp_batch(&tr, text ? &te : NULL, clips, B, &rng, o->subject_prob, &cfg, o->smooth_targets, smooth_tmp,
                          &bt);
        if (text && (rc = dr_textenc_forward(&te, bt.ids, B, Lt, bt.text, NULL, bt.valid, err))) goto done;
        dr_interp_cond cond = {bt.kf, bt.kfi, bt.fc, text ? bt.text : NULL, text ? bt.valid : NULL, NULL, NULL};
        dr_params_zero_grad(&m.params);
        float mse = 0;
        float loss = dr_interp_loss(&m, bt.x0, bt.mask, &cond, B, &rng, true, scratch, &mse);
        if (!isfinite(loss)) {
            rc = dr_err_set(err, DR_ERANGE, "train interp: loss is not finite at step %ld", step);
            goto done;
        }
        dr_clip_grad_norm(m.params.grad, m.params.total, 1.0f);
        float lr = dr_lr_schedule(step - 1, 200, o->steps, o->lr, o->lr * 0.05f);
        dr_adamw_step(&m.params, lr, (int)step, &ac);
        ema = step == start + 1 ? loss : 0.98 * ema + 0.02 * loss;
        ema_mse = step == start + 1 ? mse : 0.98 * ema_mse + 0.02 * mse;
        if (step % o->val_every == 0 || step == o->steps) {
            if ((rc = interp_validate(&m, &va, text ? &te : NULL, o, &bt, clips, scratch, smooth_tmp, &val, &val_mse, err)))
                goto done;
        }
        snprintf(extra, sizeof extra, "loss %.5f  mse %.5f  val %.5f  val_mse %.5f  lr %.2e", ema, ema_mse, val,
                 val_mse, lr);
        dr_progress_update(&prog, step, extra);
        if (step % o->ckpt_every == 0 || step == o->steps) {
            char *st = state_json(o->seed);
            rc = dr_params_save_checkpoint(&m.params, ck, "pose_interp", cfg_json, step, st, err);
            free(st);
            /* the model file too, so an interrupted run still leaves the latest usable model */
            if (!rc) rc = dr_interp_save(&m, o->out_path, err);
            if (rc) goto done;
        }
    }
    dr_progress_end(&prog, extra);
    rc = dr_interp_save(&m, o->out_path, err);
done:
    free(bt.x0);
    free(bt.mask);
    free(bt.kf);
    free(bt.fc);
    free(bt.text);
    free(bt.kfi);
    free(bt.ids);
    free(bt.valid);
    free(clips);
    free(scratch);
    free(smooth_tmp);
    free(cfg_json);
    dr_interp_free(&m);
    dr_textenc_free(&te);
    text_split_close(&tr);
    text_split_close(&va);
    dr_tokenizer_free(tok);
    return rc;
}

/* ---------------------------------------------------------------- motion metrics */

static bool present(const dr_pose *p, int j) { return p->kp[j].c > 0; }

void dr_motion_metrics_add(dr_motion_metrics *m, const dr_pose *pred, const dr_pose *truth, int F,
                           const int *kf_index, int K) {
    m->clips++;
    for (int f = 0; f < F; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            bool pp = present(&pred[f], j), tp = present(&truth[f], j);
            m->pres_ok += pp == tp;
            m->pres_n += 1;
            if (pp && tp) {
                m->pos_sum += hypotf(pred[f].kp[j].x - truth[f].kp[j].x, pred[f].kp[j].y - truth[f].kp[j].y);
                m->pos_n += 1;
            }
        }
    /* finite differences of order 1..3 where the keypoint is present in every frame used */
    static const float coef[4][4] = {{0}, {-1, 1}, {1, -2, 1}, {-1, 3, -3, 1}};
    for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
        for (int f = 0; f + 1 < F; f++)
            for (int order = 1; order <= 3 && f + order < F; order++) {
                bool all_p = true, all_t = true;
                float dpx = 0, dpy = 0, dtx = 0, dty = 0;
                for (int i = 0; i <= order; i++) {
                    all_p = all_p && present(&pred[f + i], j);
                    all_t = all_t && present(&truth[f + i], j);
                    dpx += coef[order][i] * pred[f + i].kp[j].x;
                    dpy += coef[order][i] * pred[f + i].kp[j].y;
                    dtx += coef[order][i] * truth[f + i].kp[j].x;
                    dty += coef[order][i] * truth[f + i].kp[j].y;
                }
                if (order == 3 && all_p) {
                    m->jerk_sum += hypotf(dpx, dpy);
                    m->jerk_n += 1;
                }
                if (all_p && all_t) {
                    float e = hypotf(dpx - dtx, dpy - dty);
                    if (order == 1) m->vel_sum += e, m->vel_n += 1;
                    else if (order == 2) m->acc_sum += e, m->acc_n += 1;
                    else m->jerr_sum += e, m->jerr_n += 1;
                }
            }
    /* foot sliding: the prediction's ankles while within 5 px of their lowest point (the
     * clip's ground line, image y grows downwards) move horizontally by this much a frame */
    const int ankles[2] = {DR_KP_RANKLE, DR_KP_LANKLE};
    float ground = -1e30f;
    for (int f = 0; f < F; f++)
        for (int a = 0; a < 2; a++)
            if (present(&pred[f], ankles[a]) && pred[f].kp[ankles[a]].y > ground) ground = pred[f].kp[ankles[a]].y;
    for (int f = 0; f + 1 < F; f++)
        for (int a = 0; a < 2; a++) {
            int j = ankles[a];
            if (present(&pred[f], j) && present(&pred[f + 1], j) && pred[f].kp[j].y >= ground - 5.0f &&
                pred[f + 1].kp[j].y >= ground - 5.0f) {
                m->slide_sum += fabsf(pred[f + 1].kp[j].x - pred[f].kp[j].x);
                m->slide_n += 1;
            }
        }
    /* bone length: coefficient of variation over the clip, per limb present at least 10 frames */
    for (int l = 0; l < DR_NUM_LIMBS; l++) {
        int a = dr_limbs[l][0], b = dr_limbs[l][1], n = 0;
        double s = 0, s2 = 0;
        for (int f = 0; f < F; f++)
            if (present(&pred[f], a) && present(&pred[f], b)) {
                double len = hypot(pred[f].kp[a].x - pred[f].kp[b].x, pred[f].kp[a].y - pred[f].kp[b].y);
                s += len;
                s2 += len * len;
                n++;
            }
        if (n >= 10 && s > 0) {
            double mean = s / n, var = fmax(0.0, s2 / n - mean * mean);
            m->bone_sum += sqrt(var) / mean;
            m->bone_n += 1;
        }
    }
    for (int k = 0; k < K; k++) {
        int f = kf_index[k];
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
            if (present(&truth[f], j) && present(&pred[f], j)) {
                m->kf_sum += hypotf(pred[f].kp[j].x - truth[f].kp[j].x, pred[f].kp[j].y - truth[f].kp[j].y);
                m->kf_n += 1;
            }
    }
}
