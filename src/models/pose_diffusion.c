/* pose_diffusion.c - the key-frame-to-200-frame pose diffusion model (see pose_diffusion.h). */
#include "models/pose_diffusion.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "models/tokenizer.h"
#include "nn/nn.h"

#define PD DR_POSE_DIM
#define IN_FEAT (DR_POSE_DIM + DR_INTERP_FRAME_COND)

/* ---------------------------------------------------------------- config */

dr_interp_config dr_interp_default_config(int text_dim, int text_len) {
    dr_interp_config c;
    memset(&c, 0, sizeof c);
    c.frames = DR_CLIP_FRAMES;
    c.num_keyframes = DR_NUM_KEYFRAMES;
    c.dim = 128;
    c.num_layers = 4;
    c.num_heads = 4;
    c.mlp_dim = 384;
    c.text_dim = text_dim;
    c.text_len = text_dim > 0 ? text_len : 0;
    c.diffusion_steps = 1000;
    c.vel_weight = 1.0f;
    c.sigma_guided = 0.025f; /* rms of (truth - linear interpolation) on synth-v1, normalized units */
    c.sigma_free = 0.5f;     /* rms of a normalized pose coordinate */
    c.p_drop_kf = 0.1f;
    c.p_drop_text = 0.2f;
    c.uncond_weight = 0.01f;
    c.guide = DR_INTERP_GUIDE_SPLINE;
    c.spectral_skip = 1;
    c.out_smooth = 1.0f;
    return c;
}

char *dr_interp_config_json(const dr_interp_config *c) {
    char *buf = malloc(1024);
    if (!buf) return NULL;
    snprintf(buf, 1024,
             "{\"frames\":%d,\"num_keyframes\":%d,\"dim\":%d,\"num_layers\":%d,\"num_heads\":%d,\"mlp_dim\":%d,"
             "\"text_dim\":%d,\"text_len\":%d,\"diffusion_steps\":%d,\"prediction\":\"x0\",\"schedule\":\"cosine\","
             "\"vel_weight\":%g,\"p_drop_kf\":%g,\"p_drop_text\":%g,\"sigma_guided\":%g,\"sigma_free\":%g,"
             "\"guide\":\"%s\",\"spectral_skip\":%d,\"out_smooth\":%g,\"uncond_weight\":%g}",
             c->frames, c->num_keyframes, c->dim, c->num_layers, c->num_heads, c->mlp_dim, c->text_dim, c->text_len,
             c->diffusion_steps, (double)c->vel_weight, (double)c->p_drop_kf, (double)c->p_drop_text,
             (double)c->sigma_guided, (double)c->sigma_free, c->guide == DR_INTERP_GUIDE_SPLINE ? "spline" : "linear",
             c->spectral_skip, (double)c->out_smooth, (double)c->uncond_weight);
    return buf;
}

int dr_interp_config_parse(dr_interp_config *cfg, const char *json, const char *what, dr_err *err) {
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_EFORMAT, "%s: interpolator config is not a JSON object", what);
    }
    dr_interp_config c = dr_interp_default_config(0, 0);
    struct { const char *key; int *dst; } ints[] = {
        {"frames", &c.frames}, {"num_keyframes", &c.num_keyframes}, {"dim", &c.dim}, {"num_layers", &c.num_layers},
        {"num_heads", &c.num_heads}, {"mlp_dim", &c.mlp_dim}, {"text_dim", &c.text_dim}, {"text_len", &c.text_len},
        {"diffusion_steps", &c.diffusion_steps},
    };
    int rc = DR_OK;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, ints[i].key);
        if (!cJSON_IsNumber(it)) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: interpolator config lacks \"%s\"", what, ints[i].key);
            goto done;
        }
        *ints[i].dst = (int)it->valuedouble;
    }
    struct { const char *key; float *dst; } floats[] = {
        {"vel_weight", &c.vel_weight}, {"p_drop_kf", &c.p_drop_kf}, {"p_drop_text", &c.p_drop_text},
        {"sigma_guided", &c.sigma_guided}, {"sigma_free", &c.sigma_free}, {"out_smooth", &c.out_smooth},
        {"uncond_weight", &c.uncond_weight}};
    /* absent in files written before the skip path / the spline guide / the output low-pass */
    c.sigma_guided = c.sigma_free = 0.0f;
    c.out_smooth = 0.0f;
    c.uncond_weight = 0.1f;
    c.guide = DR_INTERP_GUIDE_LINEAR;
    c.spectral_skip = 0;
    const cJSON *gk = cJSON_GetObjectItemCaseSensitive(root, "guide");
    if (gk) {
        if (cJSON_IsString(gk) && !strcmp(gk->valuestring, "spline")) c.guide = DR_INTERP_GUIDE_SPLINE;
        else if (!cJSON_IsString(gk) || strcmp(gk->valuestring, "linear")) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: interpolator guide must be \"linear\" or \"spline\"", what);
            goto done;
        }
    }
    const cJSON *sk = cJSON_GetObjectItemCaseSensitive(root, "spectral_skip");
    if (cJSON_IsNumber(sk)) c.spectral_skip = sk->valuedouble != 0;
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, floats[i].key);
        if (cJSON_IsNumber(it)) *floats[i].dst = (float)it->valuedouble;
    }
    if (c.frames < 2 || c.frames > 4096 || c.num_keyframes < 1 || c.num_keyframes > c.frames || c.dim <= 0 ||
        c.dim > 4096 || c.num_heads <= 0 || c.dim % c.num_heads || c.num_layers <= 0 || c.num_layers > 64 ||
        c.mlp_dim <= 0 || c.mlp_dim > 16384 || c.text_dim < 0 || c.text_dim > 8192 || c.text_len < 0 ||
        c.text_len > 4096 || (c.text_dim > 0) != (c.text_len > 0) || c.diffusion_steps < 2 ||
        c.diffusion_steps > 100000 || !(c.sigma_guided >= 0.0f && c.sigma_guided < 100.0f) ||
        !(c.sigma_free >= 0.0f && c.sigma_free < 100.0f) || !(c.out_smooth >= 0.0f && c.out_smooth <= 25.0f) ||
        !(c.uncond_weight >= 0.0f && c.uncond_weight <= 1.0f)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: inconsistent interpolator sizes", what);
        goto done;
    }
    *cfg = c;
done:
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- parameters */

static float *W(const dr_interp *m, int layer, const char *suffix) {
    char name[96];
    if (layer >= 0) snprintf(name, sizeof name, "blocks.%d.%s", layer, suffix);
    else snprintf(name, sizeof name, "%s", suffix);
    return dr_params_get(&m->params, name);
}

static float *GW(const dr_interp *m, int layer, const char *suffix) {
    char name[96];
    if (layer >= 0) snprintf(name, sizeof name, "blocks.%d.%s", layer, suffix);
    else snprintf(name, sizeof name, "%s", suffix);
    return dr_params_grad(&m->params, name);
}

static int add_linear(dr_params *p, const char *prefix, int out, int in, bool bias) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", prefix);
    if (dr_params_add2(p, n, false, out, in) < 0) return -1;
    snprintf(n, sizeof n, "%s.bias", prefix);
    if (bias && dr_params_add1(p, n, true, out) < 0) return -1;
    return 0;
}

static int add_norm(dr_params *p, const char *prefix, int dim) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", prefix);
    if (dr_params_add1(p, n, true, dim) < 0) return -1;
    snprintf(n, sizeof n, "%s.bias", prefix);
    return dr_params_add1(p, n, true, dim) < 0 ? -1 : 0;
}

/* Cosine schedule (Nichol & Dhariwal 2021): alpha_bar(t) = f(t+1) / f(0), f(u) =
 * cos^2(((u / T) + s) / (1 + s) * pi / 2), with each beta clipped at 0.999. */
static void cosine_schedule(float *alpha_bar, int T) {
    const double s = 0.008;
    double f0 = cos(s / (1 + s) * M_PI / 2);
    f0 *= f0;
    double prev = 1.0;
    for (int t = 0; t < T; t++) {
        double f = cos(((double)(t + 1) / T + s) / (1 + s) * M_PI / 2);
        double ab = f * f / f0;
        double beta = 1.0 - ab / prev;
        if (beta > 0.999) beta = 0.999;
        prev = prev * (1.0 - beta);
        alpha_bar[t] = (float)prev;
    }
}

int dr_interp_create(dr_interp *m, const dr_interp_config *cfg, dr_err *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    dr_params *p = &m->params;
    dr_params_init(p);
    const int D = cfg->dim, M = cfg->mlp_dim;
    int bad = 0;
    bad |= add_linear(p, "in", D, IN_FEAT, true);
    bad |= dr_params_add2(p, "pos_emb", true, cfg->frames, D) < 0;
    bad |= add_linear(p, "time.fc1", D, D, true);
    bad |= add_linear(p, "time.fc2", D, D, true);
    bad |= add_linear(p, "kf", D, DR_INTERP_KF_FEAT, true);
    if (cfg->text_dim > 0) bad |= add_linear(p, "txt", D, cfg->text_dim, true);
    bad |= add_norm(p, "ctx_norm", D);
    for (int l = 0; l < cfg->num_layers && !bad; l++) {
        char n[96];
#define BLK(s) (snprintf(n, sizeof n, "blocks.%d.%s", l, s), n)
        bad |= add_norm(p, BLK("norm1"), D);
        bad |= add_linear(p, BLK("film1"), 2 * D, D, true);
        bad |= add_linear(p, BLK("attn.q"), D, D, true);
        bad |= add_linear(p, BLK("attn.k"), D, D, true);
        bad |= add_linear(p, BLK("attn.v"), D, D, true);
        bad |= add_linear(p, BLK("attn.o"), D, D, true);
        bad |= add_norm(p, BLK("norm2"), D);
        bad |= add_linear(p, BLK("xattn.q"), D, D, true);
        bad |= add_linear(p, BLK("xattn.k"), D, D, true);
        bad |= add_linear(p, BLK("xattn.v"), D, D, true);
        bad |= add_linear(p, BLK("xattn.o"), D, D, true);
        bad |= add_norm(p, BLK("norm3"), D);
        bad |= add_linear(p, BLK("film3"), 2 * D, D, true);
        bad |= add_linear(p, BLK("mlp.fc1"), M, D, true);
        bad |= add_linear(p, BLK("mlp.fc2"), D, M, true);
#undef BLK
    }
    bad |= add_norm(p, "out_norm", D);
    bad |= add_linear(p, "out", PD, D, true);
    /* measured, not trained: it never gets a gradient and is excluded from weight decay */
    if (cfg->spectral_skip) bad |= dr_params_add1(p, "prior_spec", true, cfg->frames) < 0;
    m->alpha_bar = malloc(sizeof(float) * (size_t)cfg->diffusion_steps);
    if (cfg->spectral_skip) m->dct = malloc(sizeof(float) * (size_t)cfg->frames * cfg->frames);
    if (bad || !m->alpha_bar || (cfg->spectral_skip && !m->dct) || dr_params_alloc(p)) {
        dr_interp_free(m);
        return dr_err_set(err, DR_ENOMEM, "interpolator: cannot allocate parameters");
    }
    cosine_schedule(m->alpha_bar, cfg->diffusion_steps);
    if (m->dct) {
        const int F = cfg->frames;
        for (int k = 0; k < F; k++)
            for (int f = 0; f < F; f++)
                m->dct[(size_t)k * F + f] =
                    (float)(sqrt((k ? 2.0 : 1.0) / F) * cos(M_PI * (f + 0.5) * k / F));
    }
    return DR_OK;
}

void dr_interp_init_weights(dr_interp *m, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    const float resid = 0.02f / sqrtf(2.0f * (float)m->cfg.num_layers);
    for (int i = 0; i < m->params.count; i++) {
        const dr_param *it = &m->params.items[i];
        const char *n = it->name;
        size_t len = strlen(n);
        bool bias = len > 5 && !strcmp(n + len - 5, ".bias");
        if (!strcmp(n, "prior_spec")) /* white until measured: the scalar skip path */
            dr_params_fill(&m->params, n, m->cfg.sigma_guided * m->cfg.sigma_guided);
        else if (strstr(n, "norm") && !bias) dr_params_fill(&m->params, n, 1.0f);
        else if (bias) dr_params_fill(&m->params, n, 0.0f);
        else if (strstr(n, "film") || !strcmp(n, "out.weight")) dr_params_fill(&m->params, n, 0.0f);
        else if (!strcmp(n, "pos_emb")) dr_params_init_normal(&m->params, n, &rng, 0.02f);
        else if (!strncmp(n, "in.", 3) || !strncmp(n, "kf.", 3) || !strncmp(n, "txt.", 4) || !strncmp(n, "time.", 5))
            dr_params_init_normal(&m->params, n, &rng, 1.0f / sqrtf((float)it->shape[1]));
        else if (strstr(n, ".o.weight") || strstr(n, "fc2.weight")) dr_params_init_normal(&m->params, n, &rng, resid);
        else dr_params_init_normal(&m->params, n, &rng, 0.02f);
    }
}

static void acts_free(dr_interp_acts *a) {
    float **f[] = {&a->in_feat, &a->res, &a->h1, &a->f1, &a->q, &a->k, &a->v, &a->att, &a->sa, &a->x2, &a->h2,
                   &a->cq, &a->ck, &a->cv, &a->catt, &a->ca, &a->x3, &a->h3, &a->f3, &a->m1, &a->g,
                   &a->ln_mean, &a->ln_rstd, &a->ho, &a->ho_mean, &a->ho_rstd, &a->ctx_raw, &a->ctx, &a->ctx_mean,
                   &a->ctx_rstd, &a->kf_lin, &a->txt_lin, &a->temb_in, &a->t1, &a->t1a, &a->temb, &a->st, &a->ss,
                   &a->keep_kf, &a->keep_text, &a->d_res, &a->d_a, &a->d_b, &a->d_q, &a->d_k, &a->d_v, &a->d_big,
                   &a->d_ctx, &a->d_ca, &a->d_ck, &a->d_cv, &a->d_ss, &a->d_st, &a->d_t, &a->attn_scratch,
                   &a->kf_in, &a->txt_in, &a->out_raw, &a->d_out, &a->skip_tmp};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        dr_free(*f[i]);
        *f[i] = NULL;
    }
    free(a->ctx_valid);
    free(a->kf_index);
    a->ctx_valid = NULL;
    a->kf_index = NULL;
    a->max_batch = 0;
}

void dr_interp_free(dr_interp *m) {
    if (!m) return;
    acts_free(&m->acts);
    dr_params_free(&m->params);
    free(m->alpha_bar);
    free(m->dct);
    m->alpha_bar = NULL;
    m->dct = NULL;
}

int dr_interp_alloc_acts(dr_interp *m, int max_batch, dr_err *err) {
    dr_interp_acts *a = &m->acts;
    acts_free(a);
    const dr_interp_config *c = &m->cfg;
    const size_t B = (size_t)max_batch, F = (size_t)c->frames, D = (size_t)c->dim, M = (size_t)c->mlp_dim;
    const size_t L = (size_t)c->num_layers, H = (size_t)c->num_heads, K = (size_t)c->num_keyframes;
    const size_t Lt = (size_t)c->text_len, Kc = K + Lt, N = B * F, NC = N * D;
    dr_attn_shape ss = {max_batch, (int)F, (int)F, (int)H, (int)H, (int)(D / H), false, NULL};
    dr_attn_shape cs = {max_batch, (int)F, (int)Kc, (int)H, (int)H, (int)(D / H), false, NULL};
    size_t scratch = dr_attention_scratch_floats(&ss);
    if (dr_attention_scratch_floats(&cs) > scratch) scratch = dr_attention_scratch_floats(&cs);
    bool ok = true;
#define ALLOC(ptr, n) ok = ok && ((ptr) = dr_calloc(sizeof(float) * ((n) + 1))) != NULL
    ALLOC(a->in_feat, N * IN_FEAT);
    ALLOC(a->res, (L + 1) * NC);
    ALLOC(a->h1, L * NC);
    ALLOC(a->f1, L * NC);
    ALLOC(a->q, L * NC);
    ALLOC(a->k, L * NC);
    ALLOC(a->v, L * NC);
    ALLOC(a->att, L * B * H * F * F);
    ALLOC(a->sa, L * NC);
    ALLOC(a->x2, L * NC);
    ALLOC(a->h2, L * NC);
    ALLOC(a->cq, L * NC);
    ALLOC(a->ck, L * B * Kc * D);
    ALLOC(a->cv, L * B * Kc * D);
    ALLOC(a->catt, L * B * H * F * Kc);
    ALLOC(a->ca, L * NC);
    ALLOC(a->x3, L * NC);
    ALLOC(a->h3, L * NC);
    ALLOC(a->f3, L * NC);
    ALLOC(a->m1, L * N * M);
    ALLOC(a->g, L * N * M);
    ALLOC(a->ln_mean, L * 3 * N);
    ALLOC(a->ln_rstd, L * 3 * N);
    ALLOC(a->ho, NC);
    ALLOC(a->ho_mean, N);
    ALLOC(a->ho_rstd, N);
    ALLOC(a->ctx_raw, B * Kc * D);
    ALLOC(a->ctx, B * Kc * D);
    ALLOC(a->ctx_mean, B * Kc);
    ALLOC(a->ctx_rstd, B * Kc);
    ALLOC(a->kf_lin, B * K * D);
    ALLOC(a->txt_lin, B * Lt * D);
    ALLOC(a->kf_in, B * K * DR_INTERP_KF_FEAT);
    ALLOC(a->txt_in, B * Lt * (size_t)c->text_dim);
    ALLOC(a->temb_in, B * D);
    ALLOC(a->t1, B * D);
    ALLOC(a->t1a, B * D);
    ALLOC(a->temb, B * D);
    ALLOC(a->st, B * D);
    ALLOC(a->ss, L * 2 * B * 2 * D);
    ALLOC(a->keep_kf, B);
    ALLOC(a->keep_text, B);
    ALLOC(a->d_res, NC);
    ALLOC(a->d_a, NC);
    ALLOC(a->d_b, NC);
    ALLOC(a->d_q, NC);
    ALLOC(a->d_k, NC);
    ALLOC(a->d_v, NC);
    ALLOC(a->d_big, 2 * N * M);
    ALLOC(a->d_ctx, B * Kc * D);
    ALLOC(a->d_ca, B * Kc * D);
    ALLOC(a->d_ck, B * Kc * D);
    ALLOC(a->d_cv, B * Kc * D);
    ALLOC(a->d_ss, B * 2 * D);
    ALLOC(a->d_st, B * D);
    ALLOC(a->d_t, 3 * B * D);
    ALLOC(a->attn_scratch, scratch);
    ALLOC(a->out_raw, N * PD);
    ALLOC(a->d_out, N * PD);
    ALLOC(a->skip_tmp, 2 * N * PD);
#undef ALLOC
    a->ctx_valid = calloc(B * Kc + 1, 1);
    a->kf_index = calloc(B * K + 1, sizeof(int));
    if (!ok || !a->ctx_valid || !a->kf_index) {
        acts_free(a);
        return dr_err_set(err, DR_ENOMEM, "interpolator: cannot allocate activations for batch %d", max_batch);
    }
    a->max_batch = max_batch;
    return DR_OK;
}

/* ---------------------------------------------------------------- files */

int dr_interp_save(const dr_interp *m, const char *path, dr_err *err) {
    char *cj = dr_interp_config_json(&m->cfg);
    if (!cj) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_params_save(&m->params, path, "pose_interp", cj, err);
    free(cj);
    return rc;
}

int dr_interp_load(dr_interp *m, const char *path, dr_err *err) {
    memset(m, 0, sizeof *m);
    char *kind = NULL, *cj = NULL;
    int rc = dr_model_file_info(path, &kind, &cj, err);
    if (rc) return rc;
    if (!kind || strcmp(kind, "pose_interp") || !cj) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a pose interpolator model (kind \"%s\")", path, kind ? kind : "");
        free(kind);
        free(cj);
        return rc;
    }
    dr_interp_config cfg;
    rc = dr_interp_config_parse(&cfg, cj, path, err);
    free(kind);
    free(cj);
    if (rc) return rc;
    if ((rc = dr_interp_create(m, &cfg, err))) return rc;
    if ((rc = dr_params_load(&m->params, path, false, err))) dr_interp_free(m);
    return rc;
}

/* ---------------------------------------------------------------- key-frame guide */

void dr_interp_guide(const float *kf_pose, const float *kf_mask, const int *kf_index, int K, int F,
                     float *frame_cond, float *kf_feat, float *lerp, float *presence) {
    if (kf_feat)
        for (int k = 0; k < K; k++) {
            memcpy(kf_feat + (size_t)k * DR_INTERP_KF_FEAT, kf_pose + (size_t)k * PD, PD * sizeof(float));
            memcpy(kf_feat + (size_t)k * DR_INTERP_KF_FEAT + PD, kf_mask + (size_t)k * DR_NUM_KEYPOINTS,
                   DR_NUM_KEYPOINTS * sizeof(float));
        }
    int seg = 0; /* key frames seg and seg + 1 bracket frame f */
    for (int f = 0; f < F; f++) {
        while (seg + 1 < K - 1 && kf_index[seg + 1] <= f) seg++;
        int k0 = seg, k1 = K > 1 ? seg + 1 : seg;
        float w; /* weight of k1 */
        if (K == 1 || f <= kf_index[k0]) w = 0.0f;
        else if (f >= kf_index[k1]) w = 1.0f;
        else w = (float)(f - kf_index[k0]) / (float)(kf_index[k1] - kf_index[k0]);
        /* nearest key frame, ties to the earlier one */
        int near = (K > 1 && w > 0.5f) ? k1 : k0;
        bool is_kf = false;
        for (int k = k0; k <= k1; k++) is_kf |= kf_index[k] == f;
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            float m0 = kf_mask[(size_t)k0 * DR_NUM_KEYPOINTS + j], m1 = kf_mask[(size_t)k1 * DR_NUM_KEYPOINTS + j];
            float pres = (1 - w) * m0 + w * m1;
            for (int d = 0; d < 2; d++) {
                float a = kf_pose[(size_t)k0 * PD + 2 * j + d], b = kf_pose[(size_t)k1 * PD + 2 * j + d];
                float v;
                if (m0 > 0 && m1 > 0) v = (1 - w) * a + w * b;
                else if (m0 > 0) v = a;
                else if (m1 > 0) v = b;
                else v = 0.0f;
                if (lerp) lerp[(size_t)f * PD + 2 * j + d] = v;
                if (frame_cond) frame_cond[(size_t)f * DR_INTERP_FRAME_COND + 2 * j + d] = v;
            }
            if (frame_cond) frame_cond[(size_t)f * DR_INTERP_FRAME_COND + PD + j] = pres;
            if (presence) presence[(size_t)f * DR_NUM_KEYPOINTS + j] = kf_mask[(size_t)near * DR_NUM_KEYPOINTS + j] > 0;
        }
        if (frame_cond) frame_cond[(size_t)f * DR_INTERP_FRAME_COND + DR_INTERP_FRAME_COND - 1] = is_kf ? 1.0f : 0.0f;
    }
}

void dr_interp_spline(const float *kf_pose, const float *kf_mask, const int *kf_index, int K, int F, float *pose,
                      int stride) {
    for (int k = 0; k + 1 < K; k++)
        for (int f = kf_index[k]; f <= kf_index[k + 1] && f < F; f++) {
            const float u = (float)(f - kf_index[k]) / (float)(kf_index[k + 1] - kf_index[k]);
            for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
                const float *m = kf_mask + j;
                if (m[(size_t)k * DR_NUM_KEYPOINTS] <= 0 || m[(size_t)(k + 1) * DR_NUM_KEYPOINTS] <= 0) continue;
                const bool has0 = k > 0 && m[(size_t)(k - 1) * DR_NUM_KEYPOINTS] > 0;
                const bool has3 = k + 2 < K && m[(size_t)(k + 2) * DR_NUM_KEYPOINTS] > 0;
                for (int d = 0; d < 2; d++) {
                    const int c = 2 * j + d;
                    const float p1 = kf_pose[(size_t)k * PD + c], p2 = kf_pose[(size_t)(k + 1) * PD + c];
                    const float p0 = has0 ? kf_pose[(size_t)(k - 1) * PD + c] : 2 * p1 - p2;
                    const float p3 = has3 ? kf_pose[(size_t)(k + 2) * PD + c] : 2 * p2 - p1;
                    pose[(size_t)f * stride + c] =
                        0.5f * (2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u * u +
                                (-p0 + 3 * p1 - 3 * p2 + p3) * u * u * u);
                }
            }
        }
}

void dr_interp_condition(const dr_interp_config *cfg, const float *kf_pose, const float *kf_mask, const int *kf_index,
                         float *frame_cond, float *kf_feat, float *presence) {
    dr_interp_guide(kf_pose, kf_mask, kf_index, cfg->num_keyframes, cfg->frames, frame_cond, kf_feat, NULL, presence);
    if (frame_cond && cfg->guide == DR_INTERP_GUIDE_SPLINE)
        dr_interp_spline(kf_pose, kf_mask, kf_index, cfg->num_keyframes, cfg->frames, frame_cond,
                         DR_INTERP_FRAME_COND);
}

/* ---------------------------------------------------------------- forward */

/* The fixed output low-pass: y = A x over time per coordinate, A[f][g] = w(f - g) with a
 * Gaussian w normalised to sum 1 over its full support and zero padding at the clip ends, so
 * A is symmetric and the backward pass is the same operation. */
static void time_lowpass(float *y, const float *x, int B, int F, float sigma) {
    const int R = (int)ceilf(3.0f * sigma);
    float w[152], wsum = 0;
    for (int d = -R; d <= R; d++) wsum += (w[d + R] = expf(-0.5f * (float)(d * d) / (sigma * sigma)));
    for (int d = 0; d <= 2 * R; d++) w[d] /= wsum;
#pragma omp parallel for
    for (int n = 0; n < B * F; n++) {
        const int b = n / F, f = n % F;
        float acc[PD] = {0};
        for (int d = -R; d <= R; d++) {
            const int g = f + d;
            if (g < 0 || g >= F) continue;
            const float *src = x + ((size_t)b * F + g) * PD;
            for (int j = 0; j < PD; j++) acc[j] += w[d + R] * src[j];
        }
        memcpy(y + (size_t)n * PD, acc, sizeof acc);
    }
}

int dr_interp_forward(dr_interp *m, const float *x_t, const float *tvals, const dr_interp_cond *cond, int B,
                      float *x0_pred, dr_err *err) {
    const dr_interp_config *c = &m->cfg;
    dr_interp_acts *a = &m->acts;
    if (B <= 0 || B > a->max_batch)
        return dr_err_set(err, DR_EINVAL, "interpolator: batch %d outside the allocated %d", B, a->max_batch);
    if (c->text_dim > 0 && (!cond->text || !cond->text_valid))
        return dr_err_set(err, DR_EINVAL, "interpolator: this model needs the text condition");
    const int F = c->frames, D = c->dim, M = c->mlp_dim, H = c->num_heads, L = c->num_layers, K = c->num_keyframes;
    const int Lt = c->text_len, Kc = K + Lt, Td = c->text_dim;
    const int N = B * F;
    const size_t maxN = (size_t)a->max_batch * F, NC = maxN * D, NM = maxN * M;
    const size_t ATT = (size_t)a->max_batch * H * F * F, CATT = (size_t)a->max_batch * H * F * Kc;
    const size_t CKV = (size_t)a->max_batch * Kc * D, SS = (size_t)a->max_batch * 2 * D;
    for (int b = 0; b < B; b++)
        if (!(tvals[b] >= 0.0f && tvals[b] <= (float)(c->diffusion_steps - 1)))
            return dr_err_set(err, DR_EINVAL, "interpolator: timestep %g outside 0..%d", (double)tvals[b],
                              c->diffusion_steps - 1);
    for (int b = 0; b < B * K; b++)
        if (cond->kf_index[b] < 0 || cond->kf_index[b] >= F)
            return dr_err_set(err, DR_EINVAL, "interpolator: key-frame index %d outside 0..%d", cond->kf_index[b],
                              F - 1);
    a->B = B;
    memcpy(a->keep_kf, cond->keep_kf, (size_t)B * sizeof(float));
    memcpy(a->keep_text, c->text_dim > 0 ? cond->keep_text : cond->keep_kf, (size_t)B * sizeof(float));
    memcpy(a->kf_index, cond->kf_index, (size_t)B * K * sizeof(int));
    /* timestep embedding -> MLP -> SiLU, the input of every FiLM */
    dr_timestep_embedding(a->temb_in, tvals, B, D, 10000.0f);
    dr_linear_forward(a->t1, a->temb_in, W(m, -1, "time.fc1.weight"), W(m, -1, "time.fc1.bias"), B, D, D);
    dr_silu_forward(a->t1a, a->t1, (long)B * D);
    dr_linear_forward(a->temb, a->t1a, W(m, -1, "time.fc2.weight"), W(m, -1, "time.fc2.bias"), B, D, D);
    dr_silu_forward(a->st, a->temb, (long)B * D);
    /* input: [x_t, keep_kf * guide] -> linear + frame position */
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        float keep = a->keep_kf[n / F];
        float *dst = a->in_feat + (size_t)n * IN_FEAT;
        memcpy(dst, x_t + (size_t)n * PD, PD * sizeof(float));
        for (int j = 0; j < DR_INTERP_FRAME_COND; j++)
            dst[PD + j] = keep * cond->frame_cond[(size_t)n * DR_INTERP_FRAME_COND + j];
    }
    dr_linear_forward(a->res, a->in_feat, W(m, -1, "in.weight"), W(m, -1, "in.bias"), N, IN_FEAT, D);
    const float *pos = W(m, -1, "pos_emb");
#pragma omp parallel for
    for (int n = 0; n < N; n++) dr_add_inplace(a->res + (size_t)n * D, pos + (size_t)(n % F) * D, D);
    /* context tokens: key frames (+ their frame position), then text; dropped ones are zeros */
    memcpy(a->kf_in, cond->kf, (size_t)B * K * DR_INTERP_KF_FEAT * sizeof(float));
    dr_linear_forward(a->kf_lin, a->kf_in, W(m, -1, "kf.weight"), W(m, -1, "kf.bias"), B * K, DR_INTERP_KF_FEAT, D);
    if (Td > 0) {
        memcpy(a->txt_in, cond->text, (size_t)B * Lt * Td * sizeof(float));
        dr_linear_forward(a->txt_lin, a->txt_in, W(m, -1, "txt.weight"), W(m, -1, "txt.bias"), B * Lt, Td, D);
    }
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < K; k++) {
            float *dst = a->ctx_raw + ((size_t)b * Kc + k) * D;
            const float *src = a->kf_lin + ((size_t)b * K + k) * D, *pe = pos + (size_t)a->kf_index[b * K + k] * D;
            for (int j = 0; j < D; j++) dst[j] = a->keep_kf[b] * (src[j] + pe[j]);
            a->ctx_valid[b * Kc + k] = 1;
        }
        for (int k = 0; k < Lt; k++) {
            float *dst = a->ctx_raw + ((size_t)b * Kc + K + k) * D;
            const float *src = a->txt_lin + ((size_t)b * Lt + k) * D;
            for (int j = 0; j < D; j++) dst[j] = a->keep_text[b] * src[j];
            a->ctx_valid[b * Kc + K + k] = a->keep_text[b] > 0 ? cond->text_valid[(size_t)b * Lt + k] : 1;
        }
    }
    dr_layernorm_forward(a->ctx, a->ctx_mean, a->ctx_rstd, a->ctx_raw, W(m, -1, "ctx_norm.weight"),
                         W(m, -1, "ctx_norm.bias"), B * Kc, D, 1e-5f);
    dr_attn_shape sshape = {B, F, F, H, H, D / H, false, NULL};
    dr_attn_shape cshape = {B, F, Kc, H, H, D / H, false, a->ctx_valid};
    for (int l = 0; l < L; l++) {
        float *x = a->res + l * NC, *xo = a->res + (l + 1) * NC;
        float *h1 = a->h1 + l * NC, *f1 = a->f1 + l * NC, *q = a->q + l * NC, *k = a->k + l * NC;
        float *v = a->v + l * NC, *att = a->att + l * ATT, *sa = a->sa + l * NC, *x2 = a->x2 + l * NC;
        float *h2 = a->h2 + l * NC, *cq = a->cq + l * NC, *ck = a->ck + l * CKV, *cv = a->cv + l * CKV;
        float *catt = a->catt + l * CATT, *ca = a->ca + l * NC, *x3 = a->x3 + l * NC, *h3 = a->h3 + l * NC;
        float *f3 = a->f3 + l * NC, *m1 = a->m1 + l * NM, *g = a->g + l * NM;
        float *mean = a->ln_mean + (size_t)l * 3 * maxN, *rstd = a->ln_rstd + (size_t)l * 3 * maxN;
        float *ss1 = a->ss + (size_t)l * 2 * SS, *ss3 = ss1 + SS;
        dr_linear_forward(ss1, a->st, W(m, l, "film1.weight"), W(m, l, "film1.bias"), B, D, 2 * D);
        dr_linear_forward(ss3, a->st, W(m, l, "film3.weight"), W(m, l, "film3.bias"), B, D, 2 * D);
        /* self-attention over time */
        dr_layernorm_forward(h1, mean, rstd, x, W(m, l, "norm1.weight"), W(m, l, "norm1.bias"), N, D, 1e-5f);
        dr_film_forward(f1, h1, ss1, B, F, D);
        dr_linear_forward(q, f1, W(m, l, "attn.q.weight"), W(m, l, "attn.q.bias"), N, D, D);
        dr_linear_forward(k, f1, W(m, l, "attn.k.weight"), W(m, l, "attn.k.bias"), N, D, D);
        dr_linear_forward(v, f1, W(m, l, "attn.v.weight"), W(m, l, "attn.v.bias"), N, D, D);
        dr_attention_forward(sa, att, q, k, v, &sshape, a->attn_scratch);
        dr_linear_forward(x2, sa, W(m, l, "attn.o.weight"), W(m, l, "attn.o.bias"), N, D, D);
        dr_add_inplace(x2, x, (long)N * D);
        /* cross-attention to key frames and text */
        dr_layernorm_forward(h2, mean + maxN, rstd + maxN, x2, W(m, l, "norm2.weight"), W(m, l, "norm2.bias"), N, D,
                             1e-5f);
        dr_linear_forward(cq, h2, W(m, l, "xattn.q.weight"), W(m, l, "xattn.q.bias"), N, D, D);
        dr_linear_forward(ck, a->ctx, W(m, l, "xattn.k.weight"), W(m, l, "xattn.k.bias"), B * Kc, D, D);
        dr_linear_forward(cv, a->ctx, W(m, l, "xattn.v.weight"), W(m, l, "xattn.v.bias"), B * Kc, D, D);
        dr_attention_forward(ca, catt, cq, ck, cv, &cshape, a->attn_scratch);
        dr_linear_forward(x3, ca, W(m, l, "xattn.o.weight"), W(m, l, "xattn.o.bias"), N, D, D);
        dr_add_inplace(x3, x2, (long)N * D);
        /* MLP */
        dr_layernorm_forward(h3, mean + 2 * maxN, rstd + 2 * maxN, x3, W(m, l, "norm3.weight"), W(m, l, "norm3.bias"),
                             N, D, 1e-5f);
        dr_film_forward(f3, h3, ss3, B, F, D);
        dr_linear_forward(m1, f3, W(m, l, "mlp.fc1.weight"), W(m, l, "mlp.fc1.bias"), N, D, M);
        dr_gelu_forward(g, m1, (long)N * M);
        dr_linear_forward(xo, g, W(m, l, "mlp.fc2.weight"), W(m, l, "mlp.fc2.bias"), N, M, D);
        dr_add_inplace(xo, x3, (long)N * D);
    }
    dr_layernorm_forward(a->ho, a->ho_mean, a->ho_rstd, a->res + L * NC, W(m, -1, "out_norm.weight"),
                         W(m, -1, "out_norm.bias"), N, D, 1e-5f);
    if (c->out_smooth > 0.0f) {
        dr_linear_forward(a->out_raw, a->ho, W(m, -1, "out.weight"), W(m, -1, "out.bias"), N, D, PD);
        time_lowpass(x0_pred, a->out_raw, B, F, c->out_smooth);
    } else {
        dr_linear_forward(x0_pred, a->ho, W(m, -1, "out.weight"), W(m, -1, "out.bias"), N, D, PD);
    }
    /* the network predicts the correction to a skip path: the guide's linear interpolation
     * (an untrained model is the linear baseline), plus, with the skip path on, the
     * least-squares share of x_t (at small t the model thus copies x_t without learning to) */
#pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const int b = n / F;
        const float keep = a->keep_kf[b];
        const float *xt = a->in_feat + (size_t)n * IN_FEAT, *lerp = xt + PD; /* lerp already scaled by keep */
        const float ab = m->alpha_bar[(int)tvals[b]], s = keep != 0.0f ? c->sigma_guided : c->sigma_free;
        /* the spectral skip's x_t share is added per clip below */
        const float g = keep != 0.0f && c->spectral_skip ? 0.0f : s > 0 ? sqrtf(ab) * s * s / (ab * s * s + 1.0f - ab) : 0.0f;
        float *y = x0_pred + (size_t)n * PD;
        for (int j = 0; j < PD; j++) y[j] += lerp[j] + g * (xt[j] - sqrtf(ab) * lerp[j]);
    }
    if (c->spectral_skip) {
        /* per frequency k of the DCT over time: gain sqrt(ab) S_k / (ab S_k + 1 - ab) on
         * x_t - sqrt(ab) guide (the orthonormal DCT keeps the unit noise white) */
        const float *C = m->dct, *S = W(m, -1, "prior_spec");
#pragma omp parallel for
        for (int b = 0; b < B; b++) {
            if (a->keep_kf[b] == 0.0f) continue;
            const float ab = m->alpha_bar[(int)tvals[b]], sab = sqrtf(ab);
            float *u = a->skip_tmp + (size_t)b * 2 * F * PD, *v = u + (size_t)F * PD;
            for (int f = 0; f < F; f++) {
                const float *xt = a->in_feat + ((size_t)b * F + f) * IN_FEAT;
                for (int j = 0; j < PD; j++) u[(size_t)f * PD + j] = xt[j] - sab * xt[PD + j];
            }
            for (int k = 0; k < F; k++) {
                float acc[PD] = {0};
                const float *row = C + (size_t)k * F;
                for (int f = 0; f < F; f++)
                    for (int j = 0; j < PD; j++) acc[j] += row[f] * u[(size_t)f * PD + j];
                const float sk = S[k], gk = sab * sk / (ab * sk + 1.0f - ab);
                for (int j = 0; j < PD; j++) v[(size_t)k * PD + j] = gk * acc[j];
            }
            float *y = x0_pred + (size_t)b * F * PD;
            for (int k = 0; k < F; k++) {
                const float *row = C + (size_t)k * F, *vk = v + (size_t)k * PD;
                for (int f = 0; f < F; f++)
                    for (int j = 0; j < PD; j++) y[(size_t)f * PD + j] += row[f] * vk[j];
            }
        }
    }
    return DR_OK;
}

/* ---------------------------------------------------------------- backward */

void dr_interp_backward(dr_interp *m, const float *d_x0) {
    const dr_interp_config *c = &m->cfg;
    dr_interp_acts *a = &m->acts;
    const int B = a->B, F = c->frames, D = c->dim, M = c->mlp_dim, H = c->num_heads, L = c->num_layers;
    const int K = c->num_keyframes, Lt = c->text_len, Kc = K + Lt, Td = c->text_dim, N = B * F;
    const size_t maxN = (size_t)a->max_batch * F, NC = maxN * D, NM = maxN * M;
    const size_t ATT = (size_t)a->max_batch * H * F * F, CATT = (size_t)a->max_batch * H * F * Kc;
    const size_t CKV = (size_t)a->max_batch * Kc * D, SS = (size_t)a->max_batch * 2 * D;
    const size_t nd = (size_t)N * D * sizeof(float), nm = (size_t)N * M * sizeof(float);
    const size_t cd = (size_t)B * Kc * D * sizeof(float);
    dr_attn_shape sshape = {B, F, F, H, H, D / H, false, NULL};
    dr_attn_shape cshape = {B, F, Kc, H, H, D / H, false, a->ctx_valid};
    float *dres = a->d_res;
    memset(a->d_a, 0, nd);
    if (c->out_smooth > 0.0f) { /* the low-pass is symmetric: its transpose is itself */
        time_lowpass(a->d_out, d_x0, B, F, c->out_smooth);
        d_x0 = a->d_out;
    }
    dr_linear_backward(a->d_a, GW(m, -1, "out.weight"), GW(m, -1, "out.bias"), d_x0, a->ho, W(m, -1, "out.weight"), N,
                       D, PD);
    memset(dres, 0, nd);
    dr_layernorm_backward(dres, GW(m, -1, "out_norm.weight"), GW(m, -1, "out_norm.bias"), a->d_a, a->res + L * NC,
                          W(m, -1, "out_norm.weight"), a->ho_mean, a->ho_rstd, N, D);
    memset(a->d_ctx, 0, cd);
    memset(a->d_st, 0, (size_t)B * D * sizeof(float));
    for (int l = L - 1; l >= 0; l--) {
        float *x = a->res + l * NC;
        float *h1 = a->h1 + l * NC, *f1 = a->f1 + l * NC, *q = a->q + l * NC, *k = a->k + l * NC;
        float *v = a->v + l * NC, *att = a->att + l * ATT, *sa = a->sa + l * NC, *x2 = a->x2 + l * NC;
        float *h2 = a->h2 + l * NC, *cq = a->cq + l * NC, *ck = a->ck + l * CKV, *cv = a->cv + l * CKV;
        float *catt = a->catt + l * CATT, *ca = a->ca + l * NC, *x3 = a->x3 + l * NC, *h3 = a->h3 + l * NC;
        float *f3 = a->f3 + l * NC, *m1 = a->m1 + l * NM, *g = a->g + l * NM;
        float *mean = a->ln_mean + (size_t)l * 3 * maxN, *rstd = a->ln_rstd + (size_t)l * 3 * maxN;
        float *ss1 = a->ss + (size_t)l * 2 * SS, *ss3 = ss1 + SS;
        float *dg = a->d_big, *dm1 = a->d_big + (size_t)N * M;
        /* MLP: dres = d(out) = d(x3) through the residual */
        memset(dg, 0, nm);
        memset(dm1, 0, nm);
        dr_linear_backward(dg, GW(m, l, "mlp.fc2.weight"), GW(m, l, "mlp.fc2.bias"), dres, g, W(m, l, "mlp.fc2.weight"),
                           N, M, D);
        dr_gelu_backward(dm1, dg, m1, (long)N * M);
        memset(a->d_a, 0, nd);
        dr_linear_backward(a->d_a, GW(m, l, "mlp.fc1.weight"), GW(m, l, "mlp.fc1.bias"), dm1, f3,
                           W(m, l, "mlp.fc1.weight"), N, D, M);
        memset(a->d_b, 0, nd);
        memset(a->d_ss, 0, (size_t)B * 2 * D * sizeof(float));
        dr_film_backward(a->d_b, a->d_ss, a->d_a, h3, ss3, B, F, D);
        dr_linear_backward(a->d_st, GW(m, l, "film3.weight"), GW(m, l, "film3.bias"), a->d_ss, a->st,
                           W(m, l, "film3.weight"), B, D, 2 * D);
        dr_layernorm_backward(dres, GW(m, l, "norm3.weight"), GW(m, l, "norm3.bias"), a->d_b, x3,
                              W(m, l, "norm3.weight"), mean + 2 * maxN, rstd + 2 * maxN, N, D);
        /* cross-attention: dres = d(x3) -> d(x2) */
        memset(a->d_a, 0, nd);
        dr_linear_backward(a->d_a, GW(m, l, "xattn.o.weight"), GW(m, l, "xattn.o.bias"), dres, ca,
                           W(m, l, "xattn.o.weight"), N, D, D);
        memset(a->d_q, 0, nd);
        memset(a->d_ck, 0, cd);
        memset(a->d_cv, 0, cd);
        dr_attention_backward(a->d_q, a->d_ck, a->d_cv, a->d_a, cq, ck, cv, catt, &cshape, a->attn_scratch);
        memset(a->d_b, 0, nd);
        dr_linear_backward(a->d_b, GW(m, l, "xattn.q.weight"), GW(m, l, "xattn.q.bias"), a->d_q, h2,
                           W(m, l, "xattn.q.weight"), N, D, D);
        dr_linear_backward(a->d_ctx, GW(m, l, "xattn.k.weight"), GW(m, l, "xattn.k.bias"), a->d_ck, a->ctx,
                           W(m, l, "xattn.k.weight"), B * Kc, D, D);
        dr_linear_backward(a->d_ctx, GW(m, l, "xattn.v.weight"), GW(m, l, "xattn.v.bias"), a->d_cv, a->ctx,
                           W(m, l, "xattn.v.weight"), B * Kc, D, D);
        dr_layernorm_backward(dres, GW(m, l, "norm2.weight"), GW(m, l, "norm2.bias"), a->d_b, x2,
                              W(m, l, "norm2.weight"), mean + maxN, rstd + maxN, N, D);
        /* self-attention: dres = d(x2) -> d(x) */
        memset(a->d_a, 0, nd);
        dr_linear_backward(a->d_a, GW(m, l, "attn.o.weight"), GW(m, l, "attn.o.bias"), dres, sa,
                           W(m, l, "attn.o.weight"), N, D, D);
        memset(a->d_q, 0, nd);
        memset(a->d_k, 0, nd);
        memset(a->d_v, 0, nd);
        dr_attention_backward(a->d_q, a->d_k, a->d_v, a->d_a, q, k, v, att, &sshape, a->attn_scratch);
        memset(a->d_b, 0, nd);
        dr_linear_backward(a->d_b, GW(m, l, "attn.q.weight"), GW(m, l, "attn.q.bias"), a->d_q, f1,
                           W(m, l, "attn.q.weight"), N, D, D);
        dr_linear_backward(a->d_b, GW(m, l, "attn.k.weight"), GW(m, l, "attn.k.bias"), a->d_k, f1,
                           W(m, l, "attn.k.weight"), N, D, D);
        dr_linear_backward(a->d_b, GW(m, l, "attn.v.weight"), GW(m, l, "attn.v.bias"), a->d_v, f1,
                           W(m, l, "attn.v.weight"), N, D, D);
        memset(a->d_a, 0, nd);
        memset(a->d_ss, 0, (size_t)B * 2 * D * sizeof(float));
        dr_film_backward(a->d_a, a->d_ss, a->d_b, h1, ss1, B, F, D);
        dr_linear_backward(a->d_st, GW(m, l, "film1.weight"), GW(m, l, "film1.bias"), a->d_ss, a->st,
                           W(m, l, "film1.weight"), B, D, 2 * D);
        dr_layernorm_backward(dres, GW(m, l, "norm1.weight"), GW(m, l, "norm1.bias"), a->d_a, x,
                              W(m, l, "norm1.weight"), mean, rstd, N, D);
    }
    /* input projection and frame positions */
    dr_linear_backward(NULL, GW(m, -1, "in.weight"), GW(m, -1, "in.bias"), dres, a->in_feat, W(m, -1, "in.weight"), N,
                       IN_FEAT, D);
    float *dpos = GW(m, -1, "pos_emb");
    for (int n = 0; n < N; n++) dr_add_inplace(dpos + (size_t)(n % F) * D, dres + (size_t)n * D, D);
    /* context */
    memset(a->d_ca, 0, cd);
    dr_layernorm_backward(a->d_ca, GW(m, -1, "ctx_norm.weight"), GW(m, -1, "ctx_norm.bias"), a->d_ctx, a->ctx_raw,
                          W(m, -1, "ctx_norm.weight"), a->ctx_mean, a->ctx_rstd, B * Kc, D);
    float *dkf = a->d_ck; /* [B, K, D] */
    float *dtx = a->d_cv; /* [B, Lt, D] */
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < K; k++) {
            const float *src = a->d_ca + ((size_t)b * Kc + k) * D;
            float *dst = dkf + ((size_t)b * K + k) * D, *dp = dpos + (size_t)a->kf_index[b * K + k] * D;
            for (int j = 0; j < D; j++) {
                dst[j] = a->keep_kf[b] * src[j];
                dp[j] += a->keep_kf[b] * src[j];
            }
        }
        for (int k = 0; k < Lt; k++) {
            const float *src = a->d_ca + ((size_t)b * Kc + K + k) * D;
            float *dst = dtx + ((size_t)b * Lt + k) * D;
            for (int j = 0; j < D; j++) dst[j] = a->keep_text[b] * src[j];
        }
    }
    dr_linear_backward(NULL, GW(m, -1, "kf.weight"), GW(m, -1, "kf.bias"), dkf, a->kf_in, W(m, -1, "kf.weight"),
                       B * K, DR_INTERP_KF_FEAT, D);
    if (Td > 0)
        dr_linear_backward(NULL, GW(m, -1, "txt.weight"), GW(m, -1, "txt.bias"), dtx, a->txt_in,
                           W(m, -1, "txt.weight"), B * Lt, Td, D);
    /* timestep MLP */
    float *dtemb = a->d_t, *dt1a = a->d_t + (size_t)B * D, *dt1 = a->d_t + 2 * (size_t)B * D;
    memset(a->d_t, 0, 3 * (size_t)B * D * sizeof(float));
    dr_silu_backward(dtemb, a->d_st, a->temb, (long)B * D);
    dr_linear_backward(dt1a, GW(m, -1, "time.fc2.weight"), GW(m, -1, "time.fc2.bias"), dtemb, a->t1a,
                       W(m, -1, "time.fc2.weight"), B, D, D);
    dr_silu_backward(dt1, dt1a, a->t1, (long)B * D);
    dr_linear_backward(NULL, GW(m, -1, "time.fc1.weight"), GW(m, -1, "time.fc1.bias"), dt1, a->temb_in,
                       W(m, -1, "time.fc1.weight"), B, D, D);
}

/* ---------------------------------------------------------------- loss */

long dr_interp_loss_scratch_floats(const dr_interp *m, int B) { return 3L * B * m->cfg.frames * PD + 3L * B; }

float dr_interp_loss(dr_interp *m, const float *x0, const float *mask, dr_interp_cond *cond, int B, dr_rng *rng,
                     bool train, float *scratch, float *mse_out) {
    const dr_interp_config *c = &m->cfg;
    const int F = c->frames, T = c->diffusion_steps;
    const long n = (long)B * F * PD;
    float *x_t = scratch, *pred = x_t + n, *dpred = pred + n, *tv = dpred + n, *keep = tv + B, *keep_tx = keep + B;
    for (int b = 0; b < B; b++) {
        int t = (int)dr_rng_below(rng, (uint32_t)T);
        tv[b] = (float)t;
        float ab = m->alpha_bar[t], sa = sqrtf(ab), sn = sqrtf(1.0f - ab);
        for (long i = (long)b * F * PD; i < (long)(b + 1) * F * PD; i++) x_t[i] = sa * x0[i] + sn * dr_rng_normal(rng);
        keep[b] = train && dr_rng_uniform(rng) < c->p_drop_kf ? 0.0f : 1.0f;
        keep_tx[b] = train && dr_rng_uniform(rng) < c->p_drop_text ? 0.0f : 1.0f;
    }
    cond->keep_kf = keep;
    cond->keep_text = keep_tx;
    dr_err err;
    if (dr_interp_forward(m, x_t, tv, cond, B, pred, &err)) return NAN;
    /* masked x0 MSE + vel_weight * masked velocity MSE (means over present values) */
    /* Clips whose key frames were dropped (the unconditional path) err a hundred times more
     * than guided ones; weighted fully they would steer most of the gradient, so they count
     * c->uncond_weight. */
    double se = 0, sv = 0, cnt = 0, cntv = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)pred[i] - x0[i], w = keep[i / ((long)F * PD)] > 0 ? 1.0 : c->uncond_weight;
        se += w * mask[i] * d * d;
        cnt += mask[i];
    }
    for (int b = 0; b < B; b++) {
        double w = keep[b] > 0 ? 1.0 : c->uncond_weight;
        for (int f = 0; f + 1 < F; f++)
            for (int j = 0; j < PD; j++) {
                long i0 = ((long)b * F + f) * PD + j, i1 = i0 + PD;
                double mv = (double)mask[i0] * mask[i1];
                double d = ((double)pred[i1] - pred[i0]) - ((double)x0[i1] - x0[i0]);
                sv += w * mv * d * d;
                cntv += mv;
            }
    }
    cnt = cnt > 0 ? cnt : 1;
    cntv = cntv > 0 ? cntv : 1;
    float loss = (float)(se / cnt + c->vel_weight * sv / cntv);
    if (mse_out) *mse_out = (float)(se / cnt);
    if (train && m->params.grad) {
        for (long i = 0; i < n; i++) {
            double w = keep[i / ((long)F * PD)] > 0 ? 1.0 : c->uncond_weight;
            dpred[i] = (float)(2.0 * w * mask[i] * ((double)pred[i] - x0[i]) / cnt);
        }
        for (int b = 0; b < B; b++) {
            const float wv = (float)(2.0 * c->vel_weight / cntv * (keep[b] > 0 ? 1.0 : c->uncond_weight));
            for (int f = 0; f + 1 < F; f++)
                for (int j = 0; j < PD; j++) {
                    long i0 = ((long)b * F + f) * PD + j, i1 = i0 + PD;
                    float mv = mask[i0] * mask[i1];
                    float d = (pred[i1] - pred[i0]) - (x0[i1] - x0[i0]);
                    dpred[i1] += wv * mv * d;
                    dpred[i0] -= wv * mv * d;
                }
        }
        dr_interp_backward(m, dpred);
    }
    return loss;
}

/* ---------------------------------------------------------------- sampling */

dr_interp_opts dr_interp_default_opts(void) {
    /* Chosen on 40 val clips of synth-v2 for the shipped model (docs/MODELS.md): DDIM down to
     * t = 300 with the model's correction of the spline guide low-passed (sigma 2 frames, the
     * band of its smoothed training targets) beat the full chain to t = 0 and a single x0
     * estimate on position and on every dynamics figure. */
    dr_interp_opts o = {.steps = 10, .guidance_kf = 1.0f, .guidance_text = 1.0f, .seed = 0, .inpaint = true,
                        .t_min = 300, .smooth = 2.0f};
    return o;
}

/* Which of the three predictions (none, kf only, kf + text) the guidance combination needs. */
typedef struct guidance_plan {
    int count;
    int kind[3]; /* 0 = unconditional, 1 = key frames only, 2 = key frames + text */
    float weight[3];
} guidance_plan;

static guidance_plan plan_guidance(bool has_text, float s_kf, float s_text) {
    /* x0 = (1 - s_kf) x(-,-) + (s_kf - s_text) x(kf,-) + s_text x(kf,text); without text,
     * x0 = (1 - s_kf) x(-) + s_kf x(kf). Zero weights are skipped. */
    float w[3] = {1.0f - s_kf, has_text ? s_kf - s_text : s_kf, has_text ? s_text : 0.0f};
    guidance_plan p = {0};
    for (int i = 0; i < 3; i++)
        if (w[i] != 0.0f) {
            p.kind[p.count] = i;
            p.weight[p.count++] = w[i];
        }
    if (p.count == 0) { /* all weights cancel: the combination is 0 * anything; keep one pass */
        p.kind[0] = has_text ? 2 : 1;
        p.weight[0] = 0.0f;
        p.count = 1;
    }
    return p;
}

int dr_interp_sample(dr_interp *m, const dr_interp_cond *cond, const dr_interp_opts *opts, float *out, dr_err *err) {
    const dr_interp_config *c = &m->cfg;
    const int F = c->frames, K = c->num_keyframes, Lt = c->text_len, Td = c->text_dim, T = c->diffusion_steps;
    const bool has_text = Td > 0;
    if (opts->t_min < 0 || opts->t_min >= T)
        return dr_err_set(err, DR_EINVAL, "interpolator: t_min %d outside 0..%d", opts->t_min, T - 1);
    if (opts->steps < 0 || opts->steps > T - opts->t_min)
        return dr_err_set(err, DR_EINVAL, "interpolator: %d sampling steps outside 0..%d", opts->steps,
                          T - opts->t_min);
    if (!(opts->smooth >= 0.0f && opts->smooth <= 50.0f))
        return dr_err_set(err, DR_EINVAL, "interpolator: smoothing %g outside 0..50 frames", (double)opts->smooth);
    if (!isfinite(opts->guidance_kf) || !isfinite(opts->guidance_text))
        return dr_err_set(err, DR_EINVAL, "interpolator: guidance scales must be finite");
    guidance_plan plan = plan_guidance(has_text, opts->guidance_kf, opts->guidance_text);
    const int B = plan.count;
    int rc;
    if (m->acts.max_batch < B && (rc = dr_interp_alloc_acts(m, 3, err))) return rc;
    const long FP = (long)F * PD;
    /* batch the needed predictions: replicate the condition B times with the plan's keep flags */
    float *buf = malloc(sizeof(float) * ((size_t)B * (FP * 2 + (size_t)F * DR_INTERP_FRAME_COND +
                                                      (size_t)K * DR_INTERP_KF_FEAT + (size_t)Lt * Td + 3) +
                                         (size_t)FP * 3 + (size_t)K * (PD + DR_NUM_KEYPOINTS)));
    int *kfi = malloc(sizeof(int) * (size_t)B * K);
    uint8_t *tvalid = malloc((size_t)B * Lt + 1);
    if (!buf || !kfi || !tvalid) {
        free(buf);
        free(kfi);
        free(tvalid);
        return dr_err_set(err, DR_ENOMEM, "interpolator: out of memory");
    }
    float *xin = buf, *pred = xin + B * FP, *fc = pred + B * FP, *kf = fc + (size_t)B * F * DR_INTERP_FRAME_COND;
    float *txt = kf + (size_t)B * K * DR_INTERP_KF_FEAT, *tv = txt + (size_t)B * Lt * Td, *keep_kf = tv + B;
    float *keep_tx = keep_kf + B, *x = keep_tx + B, *x0 = x + FP, *fix = x0 + FP;
    float *kres = fix + FP, *kmask = kres + (size_t)K * PD;
    for (int b = 0; b < B; b++) {
        memcpy(fc + (size_t)b * F * DR_INTERP_FRAME_COND, cond->frame_cond, sizeof(float) * F * DR_INTERP_FRAME_COND);
        memcpy(kf + (size_t)b * K * DR_INTERP_KF_FEAT, cond->kf, sizeof(float) * K * DR_INTERP_KF_FEAT);
        memcpy(kfi + (size_t)b * K, cond->kf_index, sizeof(int) * K);
        if (has_text) {
            memcpy(txt + (size_t)b * Lt * Td, cond->text, sizeof(float) * Lt * Td);
            memcpy(tvalid + (size_t)b * Lt, cond->text_valid, (size_t)Lt);
        }
        keep_kf[b] = plan.kind[b] >= 1;
        keep_tx[b] = plan.kind[b] == 2;
    }
    dr_interp_cond bc = {kf, kfi, fc, has_text ? txt : NULL, has_text ? tvalid : NULL, keep_kf, keep_tx};
    dr_rng rng;
    dr_rng_seed(&rng, opts->seed);
    dr_rng_fill_normal(&rng, x, FP, 0.0f, 1.0f);
    const bool ddpm = opts->steps == 0;
    /* steps cover t in [t_min, T - 1]; the last x0 estimate (at t >= t_min) is the output */
    const int t0 = opts->t_min, span = T - t0;
    const int S = ddpm ? span : opts->steps;
    rc = DR_OK;
    for (int i = S - 1; i >= 0; i--) {
        int t = ddpm ? t0 + i : t0 + (int)((long)(i + 1) * span / S) - 1;
        int tp = ddpm ? t0 + i - 1 : (i > 0 ? t0 + (int)((long)i * span / S) - 1 : -1);
        for (int b = 0; b < B; b++) {
            memcpy(xin + b * FP, x, sizeof(float) * FP);
            tv[b] = (float)t;
        }
        if ((rc = dr_interp_forward(m, xin, tv, &bc, B, pred, err))) break;
        for (long j = 0; j < FP; j++) {
            float v = 0;
            for (int b = 0; b < B; b++) v += plan.weight[b] * pred[b * FP + j];
            x0[j] = fminf(4.0f, fmaxf(-4.0f, v));
        }
        if (opts->smooth > 0.0f) {
            /* low-pass the model's correction of its guide (not the guide itself) */
            const int R = (int)ceilf(3.0f * opts->smooth);
            for (long j = 0; j < FP; j++)
                fix[j] = x0[j] - cond->frame_cond[(j / PD) * DR_INTERP_FRAME_COND + j % PD];
            for (int f = 0; f < F; f++) {
                float acc[PD] = {0}, wsum = 0;
                for (int d = -R; d <= R; d++) {
                    int g = f + d;
                    if (g < 0 || g >= F) continue;
                    float w = expf(-0.5f * (float)(d * d) / (opts->smooth * opts->smooth));
                    wsum += w;
                    for (int j = 0; j < PD; j++) acc[j] += w * fix[(size_t)g * PD + j];
                }
                for (int j = 0; j < PD; j++)
                    x0[(size_t)f * PD + j] = cond->frame_cond[(size_t)f * DR_INTERP_FRAME_COND + j] + acc[j] / wsum;
            }
        }
        if (opts->inpaint) {
            /* Pin the key frames without kinking the motion: the residuals (given - estimated)
             * at the key frames, linearly interpolated between them (the guide's own rule), are
             * added to every frame; the key frames are then set exactly (a + (b - a) may miss b
             * by an ulp). */
            for (int k = 0; k < K; k++) {
                const float *kp = cond->kf + (size_t)k * DR_INTERP_KF_FEAT;
                const float *est = x0 + (size_t)cond->kf_index[k] * PD;
                for (int j = 0; j < PD; j++) kres[(size_t)k * PD + j] = kp[PD + j / 2] > 0 ? kp[j] - est[j] : 0.0f;
                for (int j = 0; j < DR_NUM_KEYPOINTS; j++) kmask[(size_t)k * DR_NUM_KEYPOINTS + j] = kp[PD + j];
            }
            dr_interp_guide(kres, kmask, cond->kf_index, K, F, NULL, NULL, fix, NULL);
            for (long j = 0; j < FP; j++) x0[j] += fix[j];
            for (int k = 0; k < K; k++) {
                const float *kp = cond->kf + (size_t)k * DR_INTERP_KF_FEAT;
                float *dst = x0 + (size_t)cond->kf_index[k] * PD;
                for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
                    if (kp[PD + j] > 0) {
                        dst[2 * j] = kp[2 * j];
                        dst[2 * j + 1] = kp[2 * j + 1];
                    }
            }
        }
        float ab = m->alpha_bar[t], abp = tp >= 0 ? m->alpha_bar[tp] : 1.0f;
        if (ddpm) {
            /* posterior q(x_{t-1} | x_t, x0) */
            float beta = 1.0f - ab / abp;
            float c0 = sqrtf(abp) * beta / (1.0f - ab), ct = sqrtf(ab / abp) * (1.0f - abp) / (1.0f - ab);
            float sd = tp >= 0 ? sqrtf(beta * (1.0f - abp) / (1.0f - ab)) : 0.0f;
            for (long j = 0; j < FP; j++) x[j] = c0 * x0[j] + ct * x[j] + (sd > 0 ? sd * dr_rng_normal(&rng) : 0.0f);
        } else {
            /* DDIM, eta = 0: x_prev = sqrt(ab') x0 + sqrt(1 - ab') eps(x_t, x0) */
            float sa = sqrtf(ab), sn = sqrtf(1.0f - ab), sap = sqrtf(abp), snp = sqrtf(1.0f - abp);
            for (long j = 0; j < FP; j++) {
                float eps = (x[j] - sa * x0[j]) / sn;
                x[j] = sap * x0[j] + snp * eps;
            }
        }
    }
    if (!rc) memcpy(out, x0, sizeof(float) * FP);
    free(buf);
    free(kfi);
    free(tvalid);
    return rc;
}

/* ---------------------------------------------------------------- pipeline entry */

static int check_keyframes(int num_keyframes, int want, const int *kf_index, int frames, dr_err *err) {
    if (num_keyframes != want)
        return dr_err_set(err, DR_EINVAL, "interpolator: expected %d key frames, got %d", want, num_keyframes);
    if (kf_index)
        for (int k = 0; k < num_keyframes; k++) {
            if (kf_index[k] < 0 || kf_index[k] >= frames)
                return dr_err_set(err, DR_EINVAL, "interpolator: key frame %d at frame %d, outside 0..%d", k,
                                  kf_index[k], frames - 1);
            if (k > 0 && kf_index[k] <= kf_index[k - 1])
                return dr_err_set(err, DR_EINVAL, "interpolator: key-frame indices must increase (%d then %d)",
                                  kf_index[k - 1], kf_index[k]);
        }
    return DR_OK;
}

static void default_index(int *idx, int K, int frames) {
    for (int k = 0; k < K; k++) idx[k] = (int)((long)k * frames / K);
}

/* Denormalize [F, 36] with the presence rule and the confidence of the nearest key frame. */
static void write_poses(const float *x, const float *presence, const dr_pose *keyframes, const int *idx, int K,
                        int F, int width, int height, dr_pose *out) {
    int near = 0;
    for (int f = 0; f < F; f++) {
        while (near + 1 < K && abs(idx[near + 1] - f) < abs(idx[near] - f)) near++;
        dr_pose_denormalize(x + (size_t)f * PD, presence + (size_t)f * DR_NUM_KEYPOINTS, width, height, 1.0f,
                            &out[f]);
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++)
            if (out[f].kp[j].c > 0) out[f].kp[j].c = keyframes[near].kp[j].c > 0 ? keyframes[near].kp[j].c : 1.0f;
    }
}

/* The classical baselines: linear interpolation, or Catmull-Rom splines over it. */
static int baseline(const dr_pose *keyframes, int num_keyframes, const int *kf_index, int frames, int width,
                    int height, bool spline, dr_pose *out, dr_err *err) {
    const char *what = spline ? "spline interpolation" : "linear interpolation";
    if (num_keyframes < 1 || num_keyframes > frames)
        return dr_err_set(err, DR_EINVAL, "%s: %d key frames for %d frames", what, num_keyframes, frames);
    int rc = check_keyframes(num_keyframes, num_keyframes, kf_index, frames, err);
    if (rc) return rc;
    const int K = num_keyframes, F = frames;
    float *buf = malloc(sizeof(float) * ((size_t)K * (PD + DR_NUM_KEYPOINTS) + (size_t)F * (PD + DR_NUM_KEYPOINTS)));
    int *idx = malloc(sizeof(int) * (size_t)K);
    if (!buf || !idx) {
        free(buf);
        free(idx);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", what);
    }
    float *kp = buf, *km = kp + (size_t)K * PD, *lerp = km + (size_t)K * DR_NUM_KEYPOINTS, *pres = lerp + (size_t)F * PD;
    if (kf_index) memcpy(idx, kf_index, sizeof(int) * (size_t)K);
    else default_index(idx, K, F);
    for (int k = 0; k < K; k++)
        dr_pose_normalize(&keyframes[k], width, height, kp + (size_t)k * PD, km + (size_t)k * DR_NUM_KEYPOINTS);
    dr_interp_guide(kp, km, idx, K, F, NULL, NULL, lerp, pres);
    if (spline) dr_interp_spline(kp, km, idx, K, F, lerp, PD);
    write_poses(lerp, pres, keyframes, idx, K, F, width, height, out);
    free(buf);
    free(idx);
    return DR_OK;
}

int dr_interp_linear(const dr_pose *keyframes, int num_keyframes, const int *kf_index, int frames, int width,
                     int height, dr_pose *out, dr_err *err) {
    return baseline(keyframes, num_keyframes, kf_index, frames, width, height, false, out, err);
}

int dr_interp_catmull_rom(const dr_pose *keyframes, int num_keyframes, const int *kf_index, int frames, int width,
                          int height, dr_pose *out, dr_err *err) {
    return baseline(keyframes, num_keyframes, kf_index, frames, width, height, true, out, err);
}

int dr_interp_run(dr_interp *m, dr_textenc *te, const int *text_ids, int n_text_ids, const dr_pose *keyframes,
                  int num_keyframes, const int *kf_index, int width, int height, const dr_interp_opts *opts,
                  dr_pose *out, dr_err *err) {
    const dr_interp_config *c = &m->cfg;
    const int K = c->num_keyframes, F = c->frames, Lt = c->text_len, Td = c->text_dim;
    int rc = check_keyframes(num_keyframes, K, kf_index, F, err);
    if (rc) return rc;
    if (width <= 0 || height <= 0)
        return dr_err_set(err, DR_EINVAL, "interpolator: canvas %d x %d is not positive", width, height);
    if (Td > 0) {
        if (!te) return dr_err_set(err, DR_EINVAL, "interpolator: this model needs a text encoder");
        if (te->cfg.dim != Td || te->cfg.max_len < Lt)
            return dr_err_set(err, DR_EINVAL,
                              "interpolator: text encoder width %d / length %d does not match the model (%d / %d)",
                              te->cfg.dim, te->cfg.max_len, Td, Lt);
    }
    size_t nf = (size_t)K * (PD + DR_NUM_KEYPOINTS + DR_INTERP_KF_FEAT) + (size_t)F * (DR_INTERP_FRAME_COND + PD +
                DR_NUM_KEYPOINTS) + (size_t)Lt * Td + 2;
    float *buf = malloc(sizeof(float) * nf);
    int *idx = malloc(sizeof(int) * ((size_t)K + (size_t)Lt + 1));
    uint8_t *valid = malloc((size_t)Lt + 1);
    if (!buf || !idx || !valid) {
        rc = dr_err_set(err, DR_ENOMEM, "interpolator: out of memory");
        goto done;
    }
    float *kp = buf, *km = kp + (size_t)K * PD, *kf = km + (size_t)K * DR_NUM_KEYPOINTS;
    float *fc = kf + (size_t)K * DR_INTERP_KF_FEAT, *x = fc + (size_t)F * DR_INTERP_FRAME_COND, *pres = x + (size_t)F * PD;
    float *txt = pres + (size_t)F * DR_NUM_KEYPOINTS, *ones = txt + (size_t)Lt * Td;
    int *ids = idx + K;
    if (kf_index) memcpy(idx, kf_index, sizeof(int) * (size_t)K);
    else default_index(idx, K, F);
    for (int k = 0; k < K; k++)
        dr_pose_normalize(&keyframes[k], width, height, kp + (size_t)k * PD, km + (size_t)k * DR_NUM_KEYPOINTS);
    dr_interp_condition(c, kp, km, idx, fc, kf, pres);
    if (Td > 0) {
        if (te->acts.max_batch < 1 && (rc = dr_textenc_alloc_acts(te, 1, err))) goto done;
        dr_textenc_frame_ids(&te->cfg, text_ids, text_ids ? n_text_ids : 0, ids, Lt);
        if ((rc = dr_textenc_forward(te, ids, 1, Lt, txt, NULL, valid, err))) goto done;
    }
    ones[0] = ones[1] = 1.0f;
    dr_interp_cond cond = {kf, idx, fc, Td > 0 ? txt : NULL, Td > 0 ? valid : NULL, ones, ones + 1};
    if ((rc = dr_interp_sample(m, &cond, opts, x, err))) goto done;
    write_poses(x, pres, keyframes, idx, K, F, width, height, out);
done:
    free(buf);
    free(idx);
    free(valid);
    return rc;
}

int dr_interp_run_prompt(dr_interp *m, dr_textenc *te, const struct dr_tokenizer *tok, const char *prompt,
                         const dr_pose *keyframes, int num_keyframes, const int *kf_index, int width, int height,
                         const dr_interp_opts *opts, dr_pose *out, dr_err *err) {
    int *ids = NULL, n = 0, rc;
    if (m->cfg.text_dim > 0 && tok && prompt && *prompt) {
        /* only the first text_len - 2 tokens can be seen; a little more is kept so the
         * framing, not the tokenizer, decides the truncation */
        const int max = m->cfg.text_len + 2;
        int32_t *raw = malloc(sizeof(int32_t) * 4096);
        ids = malloc(sizeof(int) * (size_t)max);
        if (!raw || !ids) {
            free(raw);
            free(ids);
            return dr_err_set(err, DR_ENOMEM, "interpolator: out of memory");
        }
        int total = 0;
        rc = dr_tokenizer_encode(tok, prompt, strlen(prompt), 0, raw, 4096, &total, err);
        if (rc) {
            free(raw);
            free(ids);
            return dr_err_prefix(err, "prompt");
        }
        n = total < max ? total : max;
        for (int i = 0; i < n; i++) ids[i] = raw[i];
        free(raw);
    }
    rc = dr_interp_run(m, te, ids, n, keyframes, num_keyframes, kf_index, width, height, opts, out, err);
    free(ids);
    return rc;
}
