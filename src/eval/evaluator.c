/* evaluator.c - the contrastive text-motion evaluator: motion encoder, file format, training. */
#include "eval/evaluator.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/rng.h"
#include "eval/metrics.h"
#include "models/text_encoder.h"
#include "models/tokenizer.h"
#include "nn/nn.h"
#include "nn/optim.h"
#include "nn/params.h"
#include "pose/dataset.h"

#define EVAL_KIND "director-evaluator"
#define MAX_CONV 6
#define LOGIT_SCALE_MAX 4.6052f /* ln 100, CLIP's clamp */

struct dr_evaluator {
    dr_textenc te;              /* own config and weights: shares nothing with the generator's */
    dr_motionenc_config mc;
    dr_params mp;               /* motion tower + logit_scale */
    dr_tokenizer *tok;          /* NULL for an evaluator built by dr_evaluator_create for tests */
    char *tok_json;             /* the tokenizer file's text, saved with the model */
    char *train_json;           /* how it was trained (JSON object), saved with the model; may be NULL */
    int max_batch;
    int T[MAX_CONV + 1];        /* frames after the input layer (0) and after each conv */
    /* motion activations [max_batch, ...] and backward buffers */
    float *feat_full, *feat, *pre[MAX_CONV + 1], *act[MAX_CONV + 1], *pooled, *mout, *tout;
    float *d_a, *d_b, *d_pooled, *d_mout, *d_tout, *conv_scratch, *clip_cache;
    int *ids;                   /* [max_batch, text_len] */
};

/* ---------------------------------------------------------------- features */

void dr_evaluator_motion_features(const dr_pose *clip, int frames, int width, int height, float *feat) {
    float prev[DR_POSE_DIM], prev_mask[DR_NUM_KEYPOINTS];
    for (int t = 0; t < frames; t++) {
        float *f = feat + (size_t)t * DR_EVAL_MOTION_FEAT;
        dr_pose_normalize(&clip[t], width, height, f, f + DR_POSE_DIM);
        float *vel = f + DR_POSE_DIM + DR_NUM_KEYPOINTS;
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            bool both = t > 0 && f[DR_POSE_DIM + k] > 0.0f && prev_mask[k] > 0.0f;
            vel[2 * k] = both ? 10.0f * (f[2 * k] - prev[2 * k]) : 0.0f;
            vel[2 * k + 1] = both ? 10.0f * (f[2 * k + 1] - prev[2 * k + 1]) : 0.0f;
        }
        memcpy(prev, f, sizeof prev);
        memcpy(prev_mask, f + DR_POSE_DIM, sizeof prev_mask);
    }
}

/* ---------------------------------------------------------------- construction */

static dr_conv1d_shape conv_shape(const dr_evaluator *ev, int l, int B) {
    /* conv layer l (1-based) reads T[l - 1] frames */
    dr_conv1d_shape s = {B, ev->T[l - 1], ev->mc.dim, ev->mc.dim, ev->mc.kernel, 2, 1, DR_PAD_SAME};
    return s;
}

static int motion_declare(dr_evaluator *ev, dr_err *err) {
    const dr_motionenc_config *m = &ev->mc;
    if (m->frames < 2 || m->frames > 100000 || m->stride < 1 || m->stride > m->frames || m->dim < 1 || m->layers < 0 ||
        m->layers > MAX_CONV || m->kernel < 1 || m->proj_dim < 1)
        return dr_err_set(err, DR_EFORMAT,
                          "motion encoder config out of range (frames %d, stride %d, dim %d, layers %d (max %d), "
                          "kernel %d, proj_dim %d)",
                          m->frames, m->stride, m->dim, m->layers, MAX_CONV, m->kernel, m->proj_dim);
    dr_params *p = &ev->mp;
    dr_params_init(p);
    int rc = 0;
    rc |= dr_params_add2(p, "motion.in.weight", false, m->dim, DR_EVAL_MOTION_FEAT) < 0;
    rc |= dr_params_add1(p, "motion.in.bias", true, m->dim) < 0;
    ev->T[0] = (m->frames + m->stride - 1) / m->stride;
    for (int l = 1; l <= m->layers; l++) {
        char name[64];
        int64_t shape[3] = {m->dim, m->dim, m->kernel};
        snprintf(name, sizeof name, "motion.conv%d.weight", l);
        rc |= dr_params_add(p, name, false, 3, shape) < 0;
        snprintf(name, sizeof name, "motion.conv%d.bias", l);
        rc |= dr_params_add1(p, name, true, m->dim) < 0;
        dr_conv1d_shape s = conv_shape(ev, l, 1);
        ev->T[l] = dr_conv1d_out_len(&s);
    }
    rc |= dr_params_add2(p, "motion.proj.weight", false, m->proj_dim, m->dim) < 0;
    rc |= dr_params_add1(p, "motion.proj.bias", true, m->proj_dim) < 0;
    rc |= dr_params_add1(p, "logit_scale", true, 1) < 0;
    if (rc || dr_params_alloc(p)) return dr_err_set(err, DR_ENOMEM, "evaluator: out of memory for the motion encoder");
    return DR_OK;
}

static void free_buffers(dr_evaluator *ev) {
    float **bufs[] = {&ev->feat_full, &ev->feat, &ev->pooled, &ev->mout, &ev->tout, &ev->d_a, &ev->d_b, &ev->d_pooled,
                      &ev->d_mout, &ev->d_tout, &ev->conv_scratch, &ev->clip_cache};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        dr_free(*bufs[i]);
        *bufs[i] = NULL;
    }
    for (int l = 0; l <= MAX_CONV; l++) {
        dr_free(ev->pre[l]);
        dr_free(ev->act[l]);
        ev->pre[l] = ev->act[l] = NULL;
    }
    free(ev->ids);
    ev->ids = NULL;
    ev->max_batch = 0;
}

/* Size every activation buffer for batches of up to B (grown, never shrunk). */
static int ensure_batch(dr_evaluator *ev, int B, dr_err *err) {
    if (B <= ev->max_batch) return DR_OK;
    free_buffers(ev);
    const size_t C = (size_t)ev->mc.dim, P = (size_t)ev->mc.proj_dim, F = (size_t)ev->mc.frames;
    size_t scratch = 1;
    for (int l = 1; l <= ev->mc.layers; l++) {
        dr_conv1d_shape s = conv_shape(ev, l, B);
        size_t need = dr_conv1d_scratch_floats(&s);
        if (need > scratch) scratch = need;
    }
    int ok = 1;
    ok &= (ev->feat_full = dr_alloc(sizeof(float) * B * F * DR_EVAL_MOTION_FEAT)) != NULL;
    ok &= (ev->feat = dr_alloc(sizeof(float) * B * ev->T[0] * DR_EVAL_MOTION_FEAT)) != NULL;
    for (int l = 0; l <= ev->mc.layers; l++) {
        ok &= (ev->pre[l] = dr_alloc(sizeof(float) * B * ev->T[l] * C)) != NULL;
        ok &= (ev->act[l] = dr_alloc(sizeof(float) * B * ev->T[l] * C)) != NULL;
    }
    ok &= (ev->pooled = dr_alloc(sizeof(float) * B * C)) != NULL;
    ok &= (ev->mout = dr_alloc(sizeof(float) * B * P)) != NULL;
    ok &= (ev->tout = dr_alloc(sizeof(float) * B * P)) != NULL;
    ok &= (ev->d_a = dr_alloc(sizeof(float) * B * ev->T[0] * C)) != NULL;
    ok &= (ev->d_b = dr_alloc(sizeof(float) * B * ev->T[0] * C)) != NULL;
    ok &= (ev->d_pooled = dr_alloc(sizeof(float) * B * C)) != NULL;
    ok &= (ev->d_mout = dr_alloc(sizeof(float) * B * P)) != NULL;
    ok &= (ev->d_tout = dr_alloc(sizeof(float) * B * P)) != NULL;
    ok &= (ev->conv_scratch = dr_alloc(sizeof(float) * scratch)) != NULL;
    ok &= (ev->clip_cache = dr_alloc(sizeof(float) * dr_clip_loss_cache_floats(B, (int)P))) != NULL;
    ok &= (ev->ids = malloc(sizeof(int) * B * ev->te.cfg.max_len)) != NULL;
    if (!ok) {
        free_buffers(ev);
        return dr_err_set(err, DR_ENOMEM, "evaluator: out of memory for a batch of %d", B);
    }
    int rc = dr_textenc_alloc_acts(&ev->te, B, err);
    if (rc) {
        free_buffers(ev);
        return rc;
    }
    ev->max_batch = B;
    return DR_OK;
}

static void init_motion_weights(dr_evaluator *ev, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    const dr_motionenc_config *m = &ev->mc;
    dr_params_init_normal(&ev->mp, "motion.in.weight", &rng, 1.0f / sqrtf((float)DR_EVAL_MOTION_FEAT));
    for (int l = 1; l <= m->layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "motion.conv%d.weight", l);
        dr_params_init_normal(&ev->mp, name, &rng, 1.0f / sqrtf((float)(m->dim * m->kernel)));
    }
    dr_params_init_normal(&ev->mp, "motion.proj.weight", &rng, 1.0f / sqrtf((float)m->dim));
    dr_params_fill(&ev->mp, "logit_scale", logf(1.0f / 0.07f)); /* CLIP's initial temperature */
}

static dr_evaluator *evaluator_alloc(void) { return calloc(1, sizeof(dr_evaluator)); }

void dr_evaluator_free(dr_evaluator *ev) {
    if (!ev) return;
    free_buffers(ev);
    dr_textenc_free(&ev->te);
    dr_params_free(&ev->mp);
    if (ev->tok) dr_tokenizer_free(ev->tok);
    free(ev->tok_json);
    free(ev->train_json);
    free(ev);
}

int dr_evaluator_create(dr_evaluator **out, int vocab_size, int bos_id, int eos_id, int pad_id, int text_len,
                        int text_dim, int text_layers, int text_heads, const dr_motionenc_config *mcfg, uint64_t seed,
                        dr_err *err) {
    *out = NULL;
    if (vocab_size < 1 || eos_id < 0 || eos_id >= vocab_size || text_len < 2 || text_heads < 1 ||
        text_dim % text_heads != 0 || text_layers < 1)
        return dr_err_set(err, DR_EINVAL, "evaluator: bad text encoder settings (vocab %d, eos %d, len %d, dim %d, "
                          "heads %d, layers %d)", vocab_size, eos_id, text_len, text_dim, text_heads, text_layers);
    dr_evaluator *ev = evaluator_alloc();
    if (!ev) return dr_err_set(err, DR_ENOMEM, "evaluator: out of memory");
    dr_textenc_config tc = dr_textenc_default_config(vocab_size);
    tc.max_len = text_len;
    tc.dim = text_dim;
    tc.num_layers = text_layers;
    tc.num_heads = text_heads;
    tc.mlp_dim = 4 * text_dim;
    tc.proj_dim = mcfg->proj_dim;
    tc.bos_id = bos_id;
    tc.eos_id = eos_id;
    tc.pad_id = pad_id >= 0 ? pad_id : eos_id;
    ev->mc = *mcfg;
    int rc = dr_textenc_create(&ev->te, &tc, err);
    if (!rc) rc = motion_declare(ev, err);
    if (rc) {
        dr_evaluator_free(ev);
        return rc;
    }
    /* Separate streams for the two towers, both from the evaluator's own seed. */
    dr_textenc_init_weights(&ev->te, seed ^ 0x7465787465766131ull);
    init_motion_weights(ev, seed ^ 0x6d6f74696f6e6576ull);
    *out = ev;
    return DR_OK;
}

int dr_evaluator_dim(const dr_evaluator *ev) { return ev->mc.proj_dim; }
int dr_evaluator_frames(const dr_evaluator *ev) { return ev->mc.frames; }
const char *dr_evaluator_training_info(const dr_evaluator *ev) { return ev->train_json ? ev->train_json : ""; }

float *dr_evaluator_tensor(dr_evaluator *ev, const char *name, float **grad, long *numel) {
    dr_params *tabs[2] = {&ev->te.params, &ev->mp};
    for (int i = 0; i < 2; i++) {
        int k = dr_params_find(tabs[i], name);
        if (k < 0) continue;
        if (grad) *grad = tabs[i]->grad ? tabs[i]->grad + tabs[i]->items[k].offset : NULL;
        if (numel) *numel = (long)tabs[i]->items[k].numel;
        return tabs[i]->data + tabs[i]->items[k].offset;
    }
    return NULL;
}

/* ---------------------------------------------------------------- motion tower */

static const float *MP(const dr_evaluator *ev, const char *fmt, int l) {
    char name[64];
    snprintf(name, sizeof name, fmt, l);
    return dr_params_get(&ev->mp, name);
}

static float *MG(const dr_evaluator *ev, const char *fmt, int l) {
    char name[64];
    snprintf(name, sizeof name, fmt, l);
    return dr_params_grad(&ev->mp, name);
}

/* clips [B, frames] -> ev->mout [B, P] (not normalized) */
static void motion_forward(dr_evaluator *ev, const dr_pose *clips, int B, int width, int height) {
    const int C = ev->mc.dim, P = ev->mc.proj_dim, F = ev->mc.frames, L = ev->mc.layers;
    const int T0 = ev->T[0], S = ev->mc.stride;
#pragma omp parallel for
    for (int b = 0; b < B; b++) {
        /* features at the full frame rate (velocities see every frame), then every S-th frame */
        float *full = ev->feat_full + (size_t)b * F * DR_EVAL_MOTION_FEAT;
        dr_evaluator_motion_features(clips + (size_t)b * F, F, width, height, full);
        for (int t = 0; t < T0; t++)
            memcpy(ev->feat + ((size_t)b * T0 + t) * DR_EVAL_MOTION_FEAT, full + (size_t)t * S * DR_EVAL_MOTION_FEAT,
                   sizeof(float) * DR_EVAL_MOTION_FEAT);
    }
    dr_linear_forward(ev->pre[0], ev->feat, MP(ev, "motion.in.weight", 0), MP(ev, "motion.in.bias", 0), B * T0,
                      DR_EVAL_MOTION_FEAT, C);
    dr_gelu_forward(ev->act[0], ev->pre[0], (long)B * T0 * C);
    for (int l = 1; l <= L; l++) {
        dr_conv1d_shape s = conv_shape(ev, l, B);
        dr_conv1d_forward(ev->pre[l], ev->act[l - 1], MP(ev, "motion.conv%d.weight", l),
                          MP(ev, "motion.conv%d.bias", l), &s, ev->conv_scratch);
        dr_gelu_forward(ev->act[l], ev->pre[l], (long)B * ev->T[l] * C);
    }
    const int TL = ev->T[L];
    const float *last = ev->act[L];
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            float s = 0.0f;
            for (int t = 0; t < TL; t++) s += last[((size_t)b * TL + t) * C + c];
            ev->pooled[(size_t)b * C + c] = s / (float)TL;
        }
    dr_linear_forward(ev->mout, ev->pooled, MP(ev, "motion.proj.weight", 0), MP(ev, "motion.proj.bias", 0), B, C, P);
}

/* Backward of the last motion_forward from d_mout [B, P]; accumulates into ev->mp.grad. */
static void motion_backward(dr_evaluator *ev, const float *d_mout, int B) {
    const int C = ev->mc.dim, P = ev->mc.proj_dim, L = ev->mc.layers;
    memset(ev->d_pooled, 0, sizeof(float) * B * C);
    dr_linear_backward(ev->d_pooled, MG(ev, "motion.proj.weight", 0), MG(ev, "motion.proj.bias", 0), d_mout,
                       ev->pooled, MP(ev, "motion.proj.weight", 0), B, C, P);
    const int TL = ev->T[L];
    float *d_act = ev->d_a, *d_pre = ev->d_b;
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (int t = 0; t < TL; t++)
            for (int c = 0; c < C; c++) d_act[((size_t)b * TL + t) * C + c] = ev->d_pooled[(size_t)b * C + c] / (float)TL;
    for (int l = L; l >= 1; l--) {
        long n = (long)B * ev->T[l] * C;
        memset(d_pre, 0, sizeof(float) * n);
        dr_gelu_backward(d_pre, d_act, ev->pre[l], n);
        memset(d_act, 0, sizeof(float) * (size_t)B * ev->T[l - 1] * C);
        dr_conv1d_shape s = conv_shape(ev, l, B);
        dr_conv1d_backward(d_act, MG(ev, "motion.conv%d.weight", l), MG(ev, "motion.conv%d.bias", l), d_pre,
                           ev->act[l - 1], MP(ev, "motion.conv%d.weight", l), &s, ev->conv_scratch);
    }
    long n0 = (long)B * ev->T[0] * C;
    memset(d_pre, 0, sizeof(float) * n0);
    dr_gelu_backward(d_pre, d_act, ev->pre[0], n0);
    dr_linear_backward(NULL, MG(ev, "motion.in.weight", 0), MG(ev, "motion.in.bias", 0), d_pre, ev->feat,
                       MP(ev, "motion.in.weight", 0), B * ev->T[0], DR_EVAL_MOTION_FEAT, C);
}

static void l2_normalize_rows(float *x, int n, int dim) {
    for (int i = 0; i < n; i++) {
        double s = 0.0;
        for (int d = 0; d < dim; d++) s += (double)x[(size_t)i * dim + d] * x[(size_t)i * dim + d];
        float inv = (float)(1.0 / sqrt(s + 1e-12));
        for (int d = 0; d < dim; d++) x[(size_t)i * dim + d] *= inv;
    }
}

/* ---------------------------------------------------------------- text side */

/* One text -> the text encoder's padded input ids (max_len of them). */
static int tokenize(const dr_evaluator *ev, const char *text, int *out, dr_err *err) {
    size_t len = strlen(text);
    int n = 0;
    int rc = dr_tokenizer_encode(ev->tok, text, len, 0, NULL, 0, &n, err); /* count */
    if (rc) return rc;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!ids) return dr_err_set(err, DR_ENOMEM, "evaluator: out of memory");
    rc = dr_tokenizer_encode(ev->tok, text, len, 0, ids, n, &n, err);
    if (!rc) dr_textenc_frame_ids(&ev->te.cfg, ids, n, out, ev->te.cfg.max_len);
    free(ids);
    return rc;
}

int dr_evaluator_embed_texts(dr_evaluator *ev, const char *const *texts, int n, float *out, dr_err *err) {
    if (!ev->tok) return dr_err_set(err, DR_EINVAL, "evaluator: no tokenizer (built for tests)");
    const int P = ev->mc.proj_dim, T = ev->te.cfg.max_len, chunk = 64;
    int rc = ensure_batch(ev, chunk, err);
    for (int i0 = 0; !rc && i0 < n; i0 += chunk) {
        int B = n - i0 < chunk ? n - i0 : chunk;
        for (int b = 0; b < B && !rc; b++) {
            rc = tokenize(ev, texts[i0 + b], ev->ids + (size_t)b * T, err);
            if (rc) dr_err_prefix(err, "text %d", i0 + b);
        }
        if (!rc) rc = dr_textenc_forward(&ev->te, ev->ids, B, T, NULL, out + (size_t)i0 * P, NULL, err);
    }
    if (!rc) l2_normalize_rows(out, n, P);
    return rc;
}

int dr_evaluator_embed_motions(dr_evaluator *ev, const dr_pose *clips, int n, int frames, int width, int height,
                               float *out, dr_err *err) {
    if (frames != ev->mc.frames)
        return dr_err_set(err, DR_EINVAL, "evaluator: clips of %d frames, the motion encoder reads %d", frames,
                          ev->mc.frames);
    if (width < 1 || height < 1) return dr_err_set(err, DR_EINVAL, "evaluator: bad canvas %d x %d", width, height);
    const int P = ev->mc.proj_dim, chunk = 64;
    int rc = ensure_batch(ev, chunk, err);
    for (int i0 = 0; !rc && i0 < n; i0 += chunk) {
        int B = n - i0 < chunk ? n - i0 : chunk;
        motion_forward(ev, clips + (size_t)i0 * frames, B, width, height);
        memcpy(out + (size_t)i0 * P, ev->mout, sizeof(float) * B * P);
    }
    if (!rc) {
        for (long i = 0; i < (long)n * P; i++)
            if (!isfinite(out[i])) return dr_err_set(err, DR_ERANGE, "evaluator: motion embedding not finite");
        l2_normalize_rows(out, n, P);
    }
    return rc;
}

/* ---------------------------------------------------------------- loss */

int dr_evaluator_loss(dr_evaluator *ev, const int *ids, const int *group, const dr_pose *clips, int B, int width,
                      int height, bool backward, float *loss, dr_err *err) {
    const int P = ev->mc.proj_dim, T = ev->te.cfg.max_len;
    int rc = ensure_batch(ev, B, err);
    if (rc) return rc;
    rc = dr_textenc_forward(&ev->te, ids, B, T, NULL, ev->tout, NULL, err);
    if (rc) return rc;
    motion_forward(ev, clips, B, width, height);
    float *ls = dr_params_get(&ev->mp, "logit_scale");
    *loss = dr_clip_loss_forward(ev->tout, ev->mout, group, *ls, B, P, ev->clip_cache);
    if (!backward) return DR_OK;
    if (dr_params_alloc_grad(&ev->te.params) || dr_params_alloc_grad(&ev->mp))
        return dr_err_set(err, DR_ENOMEM, "evaluator: out of memory for gradients");
    dr_params_zero_grad(&ev->te.params);
    dr_params_zero_grad(&ev->mp);
    memset(ev->d_tout, 0, sizeof(float) * B * P);
    memset(ev->d_mout, 0, sizeof(float) * B * P);
    float dls = 0.0f;
    dr_clip_loss_backward(ev->d_tout, ev->d_mout, &dls, ev->tout, ev->mout, group, *ls, B, P, ev->clip_cache, 1.0f);
    dr_textenc_backward(&ev->te, ev->d_tout, NULL);
    motion_backward(ev, ev->d_mout, B);
    *dr_params_grad(&ev->mp, "logit_scale") += dls;
    return DR_OK;
}

/* ---------------------------------------------------------------- files */

/* Both towers in one table (the file's tensors), with values and, for checkpoints, moments. */
static int combined_table(const dr_evaluator *ev, dr_params *all, bool with_optim) {
    dr_params_init(all);
    const dr_params *tabs[2] = {&ev->te.params, &ev->mp};
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < tabs[t]->count; i++) {
            const dr_param *it = &tabs[t]->items[i];
            if (dr_params_add(all, it->name, it->no_decay, it->ndim, it->shape) < 0) return DR_ENOMEM;
        }
    if (dr_params_alloc(all) || (with_optim && dr_params_alloc_optim(all))) return DR_ENOMEM;
    return DR_OK;
}

/* Copy values (and moments) between the towers and the combined table. */
static void combined_copy(dr_evaluator *ev, dr_params *all, bool to_all, bool with_optim) {
    dr_params *tabs[2] = {&ev->te.params, &ev->mp};
    size_t off = 0;
    for (int t = 0; t < 2; t++) {
        size_t n = tabs[t]->total;
        float *src[3] = {tabs[t]->data, tabs[t]->m, tabs[t]->v}, *dst[3] = {all->data + off, all->m ? all->m + off : NULL,
                                                                           all->v ? all->v + off : NULL};
        for (int k = 0; k < (with_optim ? 3 : 1); k++) {
            if (!src[k] || !dst[k]) continue;
            if (to_all)
                memcpy(dst[k], src[k], n * sizeof(float));
            else
                memcpy(src[k], dst[k], n * sizeof(float));
        }
        off += n;
    }
}

static char *config_json(const dr_evaluator *ev) {
    cJSON *root = cJSON_CreateObject();
    char *tj = dr_textenc_config_json(&ev->te.cfg);
    cJSON *text = tj ? cJSON_Parse(tj) : NULL;
    free(tj);
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "frames", ev->mc.frames);
    cJSON_AddNumberToObject(m, "stride", ev->mc.stride);
    cJSON_AddNumberToObject(m, "dim", ev->mc.dim);
    cJSON_AddNumberToObject(m, "layers", ev->mc.layers);
    cJSON_AddNumberToObject(m, "kernel", ev->mc.kernel);
    cJSON_AddNumberToObject(m, "proj_dim", ev->mc.proj_dim);
    cJSON_AddNumberToObject(m, "features", DR_EVAL_MOTION_FEAT);
    char *out = NULL;
    if (root && text && m) {
        cJSON_AddItemToObject(root, "text", text);
        cJSON_AddItemToObject(root, "motion", m);
        cJSON_AddStringToObject(root, "tokenizer", ev->tok_json ? ev->tok_json : "");
        cJSON *tr = ev->train_json ? cJSON_Parse(ev->train_json) : NULL;
        if (tr) cJSON_AddItemToObject(root, "training", tr);
        out = cJSON_PrintUnformatted(root);
    } else {
        cJSON_Delete(text);
        cJSON_Delete(m);
    }
    cJSON_Delete(root);
    return out;
}

static int save_file(dr_evaluator *ev, const char *path, bool checkpoint, long step, dr_err *err) {
    dr_params all;
    char *cfg = config_json(ev);
    int rc = cfg ? combined_table(ev, &all, checkpoint) : DR_ENOMEM;
    if (rc) {
        free(cfg);
        if (cfg) dr_params_free(&all);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    combined_copy(ev, &all, true, checkpoint);
    if (checkpoint)
        rc = dr_params_save_checkpoint(&all, path, EVAL_KIND, cfg, step, NULL, err);
    else
        rc = dr_params_save(&all, path, EVAL_KIND, cfg, err);
    dr_params_free(&all);
    free(cfg);
    return rc;
}

static bool json_int(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) return false;
    *out = (int)v->valuedouble;
    return true;
}

/* Parameters of the two towers, counted before anything is allocated, so that a hostile file
 * cannot ask for gigabytes. */
static double tower_floats(const dr_textenc_config *t, const dr_motionenc_config *m) {
    double text = (double)t->vocab_size * t->dim + (double)t->max_len * t->dim +
                  (double)t->num_layers * (4.0 * t->dim * t->dim + 2.0 * t->dim * t->mlp_dim) +
                  (double)t->proj_dim * t->dim;
    double motion = (double)DR_EVAL_MOTION_FEAT * m->dim + (double)m->layers * m->dim * m->dim * m->kernel +
                    (double)m->proj_dim * m->dim;
    return text + motion;
}

int dr_evaluator_from_config(dr_evaluator **out, const char *kind, const char *cfg, const char *path, dr_err *err) {
    *out = NULL;
    int rc = DR_OK;
    cJSON *root = NULL;
    dr_evaluator *ev = NULL;
    if (!kind || strcmp(kind, EVAL_KIND)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: not an evaluator file (kind '%s', expected '%s')", path,
                        kind ? kind : "", EVAL_KIND);
        goto done;
    }
    root = cfg ? cJSON_Parse(cfg) : NULL;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *motion = cJSON_GetObjectItemCaseSensitive(root, "motion");
    const cJSON *tokj = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    int feats = 0;
    ev = evaluator_alloc();
    if (!ev) {
        rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (!cJSON_IsObject(text) || !cJSON_IsObject(motion) || !cJSON_IsString(tokj) ||
        !json_int(motion, "frames", &ev->mc.frames) || !json_int(motion, "stride", &ev->mc.stride) ||
        !json_int(motion, "dim", &ev->mc.dim) ||
        !json_int(motion, "layers", &ev->mc.layers) || !json_int(motion, "kernel", &ev->mc.kernel) ||
        !json_int(motion, "proj_dim", &ev->mc.proj_dim) || !json_int(motion, "features", &feats) ||
        feats != DR_EVAL_MOTION_FEAT) {
        rc = dr_err_set(err, DR_EFORMAT,
                        "%s: evaluator config needs \"text\", \"motion\" {frames, stride, dim, layers, kernel, proj_dim, "
                        "features = %d} and \"tokenizer\"",
                        path, DR_EVAL_MOTION_FEAT);
        goto done;
    }
    char *text_json = cJSON_PrintUnformatted(text);
    dr_textenc_config tc;
    rc = text_json ? dr_textenc_config_parse(&tc, text_json, path, err) : dr_err_set(err, DR_ENOMEM, "out of memory");
    free(text_json);
    if (rc) goto done;
    if (tower_floats(&tc, &ev->mc) > 5e7 || ev->mc.dim > 4096 || ev->mc.kernel > 64) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: evaluator config asks for %.3g parameters (limit 5e7)", path,
                        tower_floats(&tc, &ev->mc));
        goto done;
    }
    if (dr_textenc_out_dim(&tc) != ev->mc.proj_dim) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: text embedding size %d differs from the motion side's %d", path,
                        dr_textenc_out_dim(&tc), ev->mc.proj_dim);
        goto done;
    }
    const cJSON *training = cJSON_GetObjectItemCaseSensitive(root, "training");
    if (cJSON_IsObject(training)) ev->train_json = cJSON_PrintUnformatted(training);
    ev->tok_json = strdup(tokj->valuestring);
    if (!ev->tok_json) {
        rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    rc = dr_tokenizer_load_json(&ev->tok, ev->tok_json, strlen(ev->tok_json), path, err);
    if (!rc) rc = dr_textenc_create(&ev->te, &tc, err);
    if (!rc) rc = motion_declare(ev, err);
    if (!rc && (tc.vocab_size > dr_tokenizer_vocab_size(ev->tok) || tc.eos_id < 0))
        rc = dr_err_set(err, DR_EFORMAT, "%s: text encoder vocabulary (%d, eos %d) does not fit its tokenizer (%d)",
                        path, tc.vocab_size, tc.eos_id, dr_tokenizer_vocab_size(ev->tok));
done:
    cJSON_Delete(root);
    if (rc) {
        if (rc == DR_EFORMAT && !strstr(err ? err->msg : "", path)) dr_err_prefix(err, "%s", path);
        dr_evaluator_free(ev);
        return rc;
    }
    *out = ev;
    return DR_OK;
}

/* Rebuild an (untrained) evaluator from a file's metadata: configs and tokenizer. */
static int from_metadata(dr_evaluator **out, const char *path, dr_err *err) {
    char *kind = NULL, *cfg = NULL;
    *out = NULL;
    int rc = dr_model_file_info(path, &kind, &cfg, err);
    if (!rc) rc = dr_evaluator_from_config(out, kind, cfg, path, err);
    free(kind);
    free(cfg);
    return rc;
}

int dr_evaluator_load(dr_evaluator **out, const char *path, dr_err *err) {
    dr_evaluator *ev;
    int rc = from_metadata(&ev, path, err);
    if (rc) return rc;
    rc = dr_params_load(&ev->te.params, path, true, err);
    if (!rc) rc = dr_params_load(&ev->mp, path, true, err);
    if (rc) {
        dr_evaluator_free(ev);
        return rc;
    }
    *out = ev;
    return DR_OK;
}

/* ---------------------------------------------------------------- training */

void dr_evaluator_train_defaults(dr_evaluator_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 1500;
    o->batch = 128;
    o->lr = 1e-3f;
    o->seed = 0x45564131; /* "EVA1": its own seed, unlike every generator's default */
    o->text_dim = 128;
    o->text_layers = 2;
    o->text_heads = 4;
    o->text_len = 24;
    o->motion_dim = 128;
    o->motion_layers = 3;
    o->frame_stride = 2;
    o->proj_dim = 128;
    o->val_every = 100;
    o->ckpt_every = 250;
    o->val_clips = 512;
}

/* Each distinct subject text gets an id (clips sorted by text with qsort_r: reentrant). */
static int cmp_subject(const void *a, const void *b, void *ctx) {
    const dr_dataset *ds = ctx;
    return strcmp(ds->subject[*(const int *)a], ds->subject[*(const int *)b]);
}

static int text_groups(const dr_dataset *ds, int *group) {
    int n = ds->num_clips;
    int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!idx) return DR_ENOMEM;
    for (int i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, (size_t)n, sizeof(int), cmp_subject, (void *)ds);
    int id = -1;
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(ds->subject[idx[i]], ds->subject[idx[i - 1]])) id++;
        group[idx[i]] = id;
    }
    free(idx);
    return DR_OK;
}

/* Validation: R-precision (batches of 32) of val clips with distinct subject texts. */
static int validate(dr_evaluator *ev, const dr_dataset *val, const int *clip_ids, int n, double top[3], dr_err *err) {
    const int P = ev->mc.proj_dim, F = val->num_frames;
    float *te = malloc(sizeof(float) * (size_t)n * P), *me = malloc(sizeof(float) * (size_t)n * P);
    dr_pose *clips = malloc(sizeof(dr_pose) * (size_t)n * F);
    const char **texts = malloc(sizeof(char *) * (size_t)n);
    int rc = te && me && clips && texts ? DR_OK : dr_err_set(err, DR_ENOMEM, "evaluator: out of memory");
    for (int i = 0; !rc && i < n; i++) {
        texts[i] = val->subject[clip_ids[i]];
        memcpy(clips + (size_t)i * F, dr_dataset_clip(val, clip_ids[i]), sizeof(dr_pose) * F);
    }
    if (!rc) rc = dr_evaluator_embed_texts(ev, texts, n, te, err);
    if (!rc) rc = dr_evaluator_embed_motions(ev, clips, n, F, val->width, val->height, me, err);
    if (!rc) rc = dr_eval_r_precision(te, me, n, P, 32, NULL, top, NULL, NULL, err);
    free(te);
    free(me);
    free(clips);
    free(texts);
    return rc;
}

int dr_evaluator_train(const dr_evaluator_train_opts *o, dr_err *err) {
    if (o->steps < 1 || o->batch < 2 || o->lr <= 0.0f || o->text_len < 4 || o->val_every < 1 || o->ckpt_every < 1)
        return dr_err_set(err, DR_EINVAL, "train eval: steps, batch >= 2, lr, text_len >= 4 and intervals must be positive");
    dr_dataset train = {0}, val = {0};
    dr_tokenizer *tok = NULL;
    dr_evaluator *ev = NULL;
    char *tok_json = NULL;
    int *ids_all = NULL, *group_all = NULL, *val_ids = NULL, *batch_ids = NULL, *batch_group = NULL;
    dr_pose *batch_clips = NULL;
    size_t tok_len = 0;
    bool val_open = false;
    int rc = dr_dataset_open(&train, o->data_dir, "train", err);
    if (rc) return rc;
    rc = dr_dataset_open(&val, o->data_dir, "val", err);
    if (rc) goto done;
    val_open = true;
    if (train.num_clips < o->batch) {
        rc = dr_err_set(err, DR_EINVAL, "%s: the train split has %d clips, fewer than a batch of %d", o->data_dir,
                        train.num_clips, o->batch);
        goto done;
    }
    rc = dr_read_file(o->tokenizer_path, DR_TOKENIZER_MAX_FILE_BYTES, &tok_json, &tok_len, err);
    if (!rc) rc = dr_tokenizer_load_json(&tok, tok_json, tok_len, o->tokenizer_path, err);
    if (rc) goto done;
    int eos = dr_tokenizer_special_id(tok, DR_TOKEN_END), bos = dr_tokenizer_special_id(tok, DR_TOKEN_BEGIN);
    int pad = dr_tokenizer_special_id(tok, DR_TOKEN_PAD);
    if (eos < 0) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: tokenizer has no %s token", o->tokenizer_path, DR_TOKEN_END);
        goto done;
    }
    dr_motionenc_config mc = {train.num_frames, o->frame_stride, o->motion_dim, o->motion_layers, 4, o->proj_dim};
    rc = dr_evaluator_create(&ev, dr_tokenizer_vocab_size(tok), bos, eos, pad, o->text_len, o->text_dim,
                             o->text_layers, o->text_heads, &mc, o->seed, err);
    if (rc) goto done;
    ev->tok = tok;
    ev->tok_json = tok_json;
    tok = NULL;
    tok_json = NULL;
    if (dr_params_alloc_grad(&ev->te.params) || dr_params_alloc_grad(&ev->mp) ||
        dr_params_alloc_optim(&ev->te.params) || dr_params_alloc_optim(&ev->mp)) {
        rc = dr_err_set(err, DR_ENOMEM, "train eval: out of memory for the optimizer");
        goto done;
    }
    const int T = o->text_len, B = o->batch, F = train.num_frames, N = train.num_clips;
    ids_all = malloc(sizeof(int) * (size_t)N * T);
    group_all = malloc(sizeof(int) * (size_t)N);
    batch_ids = malloc(sizeof(int) * (size_t)B * T);
    batch_group = malloc(sizeof(int) * (size_t)B);
    batch_clips = dr_alloc(sizeof(dr_pose) * (size_t)B * F);
    if (!ids_all || !group_all || !batch_ids || !batch_group || !batch_clips || text_groups(&train, group_all)) {
        rc = dr_err_set(err, DR_ENOMEM, "train eval: out of memory for %d clips", N);
        goto done;
    }
    for (int i = 0; i < N && !rc; i++) {
        rc = tokenize(ev, train.subject[i], ids_all + (size_t)i * T, err);
        if (rc) dr_err_prefix(err, "%s/train.jsonl: clip %d", o->data_dir, i);
    }
    if (rc) goto done;
    /* Validation clips: distinct subject texts in a seeded order, a multiple of 32. */
    int n_val = 0;
    if (val.num_clips > 0) {
        int *perm = malloc(sizeof(int) * (size_t)val.num_clips);
        val_ids = malloc(sizeof(int) * (size_t)val.num_clips);
        if (!perm || !val_ids) {
            free(perm);
            rc = dr_err_set(err, DR_ENOMEM, "train eval: out of memory");
            goto done;
        }
        for (int i = 0; i < val.num_clips; i++) perm[i] = i;
        dr_rng vr;
        dr_rng_seed(&vr, o->seed + 1);
        dr_rng_shuffle(&vr, perm, val.num_clips);
        for (int i = 0; i < val.num_clips && n_val < o->val_clips; i++) {
            bool seen = false;
            for (int j = 0; j < n_val && !seen; j++) seen = !strcmp(val.subject[val_ids[j]], val.subject[perm[i]]);
            if (!seen) val_ids[n_val++] = perm[i];
        }
        free(perm);
        n_val -= n_val % 32;
    }
    long step = 0;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", o->out_path);
    if (o->resume && dr_file_exists(ckpt)) {
        dr_params all;
        if (combined_table(ev, &all, true)) {
            dr_params_free(&all);
            rc = dr_err_set(err, DR_ENOMEM, "train eval: out of memory");
            goto done;
        }
        rc = dr_params_load_checkpoint(&all, ckpt, &step, NULL, err);
        if (!rc) combined_copy(ev, &all, false, true);
        dr_params_free(&all);
        if (rc) goto done;
    }
    dr_adamw_config acfg = dr_adamw_default();
    acfg.weight_decay = 0.01f;
    dr_progress prog;
    dr_progress_begin(&prog, "train eval", step, o->steps, o->quiet);
    double t0 = dr_now(), loss_avg = 0.0, top[3] = {0, 0, 0};
    bool have_val = false, first = true;
    long warmup = o->steps / 10 < 100 ? o->steps / 10 : 100;
    while (step < o->steps) {
        dr_rng rng = dr_rng_fork(o->seed, (uint64_t)step);
        for (int b = 0; b < B; b++) {
            int c = (int)dr_rng_below(&rng, (uint32_t)N);
            memcpy(batch_ids + (size_t)b * T, ids_all + (size_t)c * T, sizeof(int) * T);
            batch_group[b] = group_all[c];
            memcpy(batch_clips + (size_t)b * F, dr_dataset_clip(&train, c), sizeof(dr_pose) * F);
        }
        float loss;
        rc = dr_evaluator_loss(ev, batch_ids, batch_group, batch_clips, B, train.width, train.height, true, &loss, err);
        if (rc) goto done;
        if (!isfinite(loss)) {
            rc = dr_err_set(err, DR_ERANGE, "train eval: loss is not finite at step %ld", step + 1);
            goto done;
        }
        step++;
        float lr = dr_lr_schedule(step, warmup, o->steps, o->lr, o->lr * 0.1f);
        dr_clip_grad_norm(ev->te.params.grad, ev->te.params.total, 1.0f);
        dr_clip_grad_norm(ev->mp.grad, ev->mp.total, 1.0f);
        dr_adamw_step(&ev->te.params, lr, (int)step, &acfg);
        dr_adamw_step(&ev->mp, lr, (int)step, &acfg);
        float *ls = dr_params_get(&ev->mp, "logit_scale");
        if (*ls > LOGIT_SCALE_MAX) *ls = LOGIT_SCALE_MAX;
        if (*ls < 0.0f) *ls = 0.0f;
        loss_avg = first ? loss : 0.95 * loss_avg + 0.05 * loss; /* smoothed for the progress line */
        first = false;
        bool out_of_time = o->max_seconds > 0 && dr_now() - t0 > o->max_seconds;
        if (n_val >= 32 && (step % o->val_every == 0 || step == o->steps || out_of_time)) {
            rc = validate(ev, &val, val_ids, n_val, top, err);
            if (rc) goto done;
            have_val = true;
        }
        if (step % o->ckpt_every == 0 || step == o->steps || out_of_time) {
            rc = save_file(ev, ckpt, true, step, err);
            if (rc) goto done;
        }
        char extra[160];
        if (have_val)
            snprintf(extra, sizeof extra, "loss %.4f  temp %.4f  val top1 %.3f top3 %.3f", loss_avg,
                     expf(-*ls), top[0], top[2]);
        else
            snprintf(extra, sizeof extra, "loss %.4f  temp %.4f", loss_avg, expf(-*ls));
        dr_progress_update(&prog, step, extra);
        if (out_of_time) break;
    }
    {
        char extra[160];
        snprintf(extra, sizeof extra, "loss %.4f  val top1 %.3f top3 %.3f (%d val clips)%s", loss_avg, top[0], top[2],
                 n_val, step < o->steps ? "  stopped early: time limit (--resume continues)" : "");
        dr_progress_end(&prog, extra);
    }
    {
        /* Provenance for the report: what the evaluator was trained on and how well it ranks. */
        cJSON *tr = cJSON_CreateObject();
        cJSON_AddStringToObject(tr, "data", o->data_dir);
        cJSON_AddNumberToObject(tr, "train_clips", N);
        cJSON_AddNumberToObject(tr, "steps", (double)step);
        cJSON_AddNumberToObject(tr, "batch", B);
        cJSON_AddNumberToObject(tr, "lr", o->lr);
        cJSON_AddNumberToObject(tr, "seed", (double)o->seed);
        cJSON_AddNumberToObject(tr, "val_clips", n_val);
        cJSON_AddNumberToObject(tr, "val_top1", top[0]);
        cJSON_AddNumberToObject(tr, "val_top3", top[2]);
        cJSON_AddNumberToObject(tr, "seconds", dr_now() - t0);
        free(ev->train_json);
        ev->train_json = cJSON_PrintUnformatted(tr);
        cJSON_Delete(tr);
    }
    rc = save_file(ev, o->out_path, false, step, err);
done:
    dr_dataset_close(&train);
    if (val_open) dr_dataset_close(&val);
    if (tok) dr_tokenizer_free(tok);
    free(tok_json);
    dr_evaluator_free(ev);
    free(ids_all);
    free(group_all);
    free(val_ids);
    free(batch_ids);
    free(batch_group);
    dr_free(batch_clips);
    return rc;
}
