/* Tests of the CLIP text encoder (src/models/text_encoder.c):
 * - quick_gelu and erf-GELU against closed forms, and their backward by finite differences;
 * - the InfoNCE loss against a double-precision reference, and its gradients (both
 *   embeddings and the temperature, with and without duplicate-prompt groups);
 * - every parameter gradient of a tiny encoder (the transformer block, final norm, pooling,
 *   projection, embeddings) by finite differences;
 * - a tiny Hugging Face CLIP checkpoint (config.json + model.safetensors with an extra vision
 *   tensor) that the test writes itself, loaded and compared with a naive double-precision
 *   forward written here from the HF CLIPTextModel definition, for quick_gelu / argmax pooling
 *   and gelu / eos-id pooling;
 * - director's own file format round trip, and broken inputs rejected with clear errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "io/safetensors.h"
#include "models/interp_train.h"
#include "models/text_encoder.h"
#include "pose/dataset.h"
#include "testutil.h"

/* ---------------------------------------------------------------- activations */

typedef struct act_ctx {
    dr_act_kind kind;
    float *x, *out, *probe;
    long n;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    dr_act_forward(c->kind, c->out, c->x, c->n);
    return tu_dot(c->out, c->probe, c->n);
}

static void test_activations(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    const long n = 64;
    for (int kind = 0; kind < 3; kind++) {
        act_ctx c = {(dr_act_kind)kind, tu_randn(&rng, n, 2.0f), calloc(n, 4), tu_randn(&rng, n, 1.0f), n};
        dr_act_forward(c.kind, c.out, c.x, n);
        for (long i = 0; i < n; i++) {
            double x = c.x[i], want;
            if (kind == DR_ACT_QUICK_GELU) want = x / (1 + exp(-1.702 * x));
            else if (kind == DR_ACT_GELU_ERF) want = 0.5 * x * (1 + erf(x / sqrt(2.0)));
            else want = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
            assert_true(fabs(c.out[i] - want) < 1e-5 * (1 + fabs(want)));
        }
        float *g = calloc(n, 4);
        dr_act_backward(c.kind, g, c.probe, c.x, n);
        double err = tu_gradcheck(act_loss, &c, c.x, g, n, 1e-2f, 64, 1e-3);
        if (!(err < 1e-2)) fail_msg("activation %d: gradient error %g", kind, err);
        free(g);
        free(c.x);
        free(c.out);
        free(c.probe);
    }
}

/* ---------------------------------------------------------------- InfoNCE */

static double clip_loss_ref(const float *a, const float *b, const int *group, float ls, int B, int P) {
    double an[16][16], bn[16][16], S[16][16], loss = 0;
    for (int i = 0; i < B; i++) {
        double na = 0, nb = 0;
        for (int p = 0; p < P; p++) {
            na += (double)a[i * P + p] * a[i * P + p];
            nb += (double)b[i * P + p] * b[i * P + p];
        }
        for (int p = 0; p < P; p++) {
            an[i][p] = a[i * P + p] / sqrt(na);
            bn[i][p] = b[i * P + p] / sqrt(nb);
        }
    }
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            S[i][j] = 0;
            for (int p = 0; p < P; p++) S[i][j] += an[i][p] * bn[j][p];
            S[i][j] *= exp(ls);
        }
    for (int i = 0; i < B; i++) {
        int cnt = 0;
        for (int j = 0; j < B; j++) cnt += group ? group[i] == group[j] : i == j;
        double lr = 0, lc = 0;
        for (int j = 0; j < B; j++) {
            lr += exp(S[i][j]);
            lc += exp(S[j][i]);
        }
        for (int j = 0; j < B; j++) {
            if (!(group ? group[i] == group[j] : i == j)) continue;
            loss -= 0.5 / cnt * (S[i][j] - log(lr)); /* row i, target j */
            loss -= 0.5 / cnt * (S[j][i] - log(lc)); /* column i, target j */
        }
    }
    return loss / B;
}

typedef struct clip_ctx {
    float *a, *b, ls, *cache;
    const int *group;
    int B, P;
} clip_ctx;

static double clip_loss_fn(void *p) {
    clip_ctx *c = p;
    return dr_clip_loss_forward(c->a, c->b, c->group, c->ls, c->B, c->P, c->cache);
}

static void test_clip_loss(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 2);
    const int B = 6, P = 5;
    const int groups[6] = {0, 1, 0, 2, 3, 1};
    for (int use_group = 0; use_group < 2; use_group++) {
        clip_ctx c = {tu_randn(&rng, B * P, 1.0f), tu_randn(&rng, B * P, 1.0f), 1.3f,
                      malloc(sizeof(float) * dr_clip_loss_cache_floats(B, P)), use_group ? groups : NULL, B, P};
        double want = clip_loss_ref(c.a, c.b, c.group, c.ls, B, P);
        double got = clip_loss_fn(&c);
        assert_true(fabs(got - want) < 1e-5 * (1 + fabs(want)));
        float *da = calloc(B * P, 4), *db = calloc(B * P, 4), dls = 0;
        clip_loss_fn(&c);
        dr_clip_loss_backward(da, db, &dls, c.a, c.b, c.group, c.ls, B, P, c.cache, 1.0f);
        double ea = tu_gradcheck(clip_loss_fn, &c, c.a, da, B * P, 1e-2f, 64, 1e-3);
        double eb = tu_gradcheck(clip_loss_fn, &c, c.b, db, B * P, 1e-2f, 64, 1e-3);
        double es = tu_gradcheck(clip_loss_fn, &c, &c.ls, &dls, 1, 1e-2f, 1, 1e-3);
        if (!(ea < 1e-2 && eb < 1e-2 && es < 1e-2))
            fail_msg("InfoNCE gradients (groups %d): a %g b %g scale %g", use_group, ea, eb, es);
        free(c.a);
        free(c.b);
        free(c.cache);
        free(da);
        free(db);
    }
    /* matched pairs score below mismatched ones */
    float a[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0}, b[4 * 3], sh[4 * 3];
    memcpy(b, a, sizeof a);
    for (int i = 0; i < 4; i++) memcpy(sh + i * 3, a + ((i + 1) % 4) * 3, 12);
    float cache[256];
    assert_true(dr_clip_loss_forward(a, b, NULL, 2.0f, 4, 3, cache) <
                dr_clip_loss_forward(a, sh, NULL, 2.0f, 4, 3, cache));
}

/* ---------------------------------------------------------------- whole-model gradients */

static dr_textenc_config tiny_config(dr_act_kind act) {
    dr_textenc_config c = dr_textenc_default_config(13);
    c.max_len = 7;
    c.dim = 8;
    c.num_layers = 2;
    c.num_heads = 2;
    c.mlp_dim = 12;
    c.proj_dim = 6;
    c.bos_id = 11;
    c.eos_id = 12;
    c.pad_id = 0;
    c.act = act;
    return c;
}

typedef struct te_ctx {
    dr_textenc *te;
    const int *ids;
    int B, T;
    float *states, *pooled, *ps, *pp;
} te_ctx;

static double te_loss(void *p) {
    te_ctx *c = p;
    dr_err err;
    assert_int_equal(dr_textenc_forward(c->te, c->ids, c->B, c->T, c->states, c->pooled, NULL, &err), 0);
    int C = c->te->cfg.dim, P = dr_textenc_out_dim(&c->te->cfg);
    return tu_dot(c->states, c->ps, (long)c->B * c->T * C) + tu_dot(c->pooled, c->pp, (long)c->B * P);
}

static void test_encoder_gradients(void **state) {
    (void)state;
    dr_err err;
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    for (int act = 0; act < 2; act++) {
        dr_textenc te;
        dr_textenc_config cfg = tiny_config((dr_act_kind)act);
        assert_int_equal(dr_textenc_create(&te, &cfg, &err), 0);
        dr_textenc_init_weights(&te, 7);
        /* larger weights than the training init so every path carries a visible gradient */
        for (size_t i = 0; i < te.params.total; i++) te.params.data[i] += 0.3f * dr_rng_normal(&rng);
        assert_int_equal(dr_textenc_alloc_acts(&te, 2, &err), 0);
        assert_int_equal(dr_params_alloc_grad(&te.params), 0);
        const int B = 2, T = 6;
        int ids[12];
        int text0[3] = {3, 5, 7}, text1[1] = {9};
        dr_textenc_frame_ids(&cfg, text0, 3, ids, T);
        dr_textenc_frame_ids(&cfg, text1, 1, ids + T, T);
        assert_int_equal(ids[4], 12); /* eos after bos + 3 */
        assert_int_equal(ids[T + 3], 0);
        float *ps = tu_randn(&rng, B * T * cfg.dim, 1.0f), *pp = tu_randn(&rng, B * cfg.proj_dim, 1.0f);
        float *states = calloc(B * T * cfg.dim, 4), *pooled = calloc(B * cfg.proj_dim, 4);
        te_ctx c = {&te, ids, B, T, states, pooled, ps, pp};
        te_loss(&c);
        dr_params_zero_grad(&te.params);
        dr_textenc_backward(&te, pp, ps);
        float *g = malloc(sizeof(float) * te.params.total);
        memcpy(g, te.params.grad, sizeof(float) * te.params.total);
        double gall = 0;
        for (size_t j = 0; j < te.params.total; j++) gall = fmax(gall, fabs(g[j]));
        for (int i = 0; i < te.params.count; i++) {
            const dr_param *it = &te.params.items[i];
            double gmax = 0;
            for (size_t j = 0; j < it->numel; j++) gmax = fmax(gmax, fabs(g[it->offset + j]));
            /* the key bias shifts every score of a query equally, so softmax cancels it: its true
             * gradient is 0 and the difference quotient is rounding noise, judged on the global scale */
            double floor = gmax < 1e-5 * gall ? 1e-2 * gall : fmax(1e-3, 1e-2 * gmax);
            double e = tu_gradcheck(te_loss, &c, te.params.data + it->offset, g + it->offset, (long)it->numel, 1e-2f,
                                    24, floor);
            if (!(e < 2e-2)) fail_msg("text encoder (act %d): %s gradient error %g", act, it->name, e);
        }
        /* the pooled vector reads only up to the end token: padding does not change it */
        float pooled2[12];
        int ids2[12];
        memcpy(ids2, ids, sizeof ids);
        ids2[T + 4] = 5;
        assert_int_equal(dr_textenc_forward(&te, ids2, B, T, NULL, pooled2, NULL, &err), 0);
        te_loss(&c);
        assert_true(tu_max_abs_diff(pooled2, pooled, B * cfg.proj_dim) < 1e-6);
        free(g);
        free(ps);
        free(pp);
        free(states);
        free(pooled);
        dr_textenc_free(&te);
    }
}

/* ---------------------------------------------------------------- HF checkpoint */

typedef struct hf_model {
    int V, P, C, I, L, H, proj;
    float *tok, *pos, *lnf_w, *lnf_b, *projw;
    float *wq[2], *bq[2], *wk[2], *bk[2], *wv[2], *bv[2], *wo[2], *bo[2];
    float *ln1w[2], *ln1b[2], *ln2w[2], *ln2b[2], *w1[2], *b1[2], *w2[2], *b2[2];
} hf_model;

static void ref_ln(double *out, const double *x, const float *w, const float *b, int C, double eps) {
    double mean = 0, var = 0;
    for (int j = 0; j < C; j++) mean += x[j];
    mean /= C;
    for (int j = 0; j < C; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= C;
    for (int j = 0; j < C; j++) out[j] = (x[j] - mean) / sqrt(var + eps) * w[j] + b[j];
}

static void ref_lin(double *out, const double *x, const float *w, const float *b, int in, int outn) {
    for (int o = 0; o < outn; o++) {
        double s = b ? b[o] : 0;
        for (int i = 0; i < in; i++) s += (double)w[o * in + i] * x[i];
        out[o] = s;
    }
}

/* HF CLIPTextTransformer.forward for one sequence, in double. */
static void ref_forward(const hf_model *m, const int *ids, int T, bool quick, bool argmax, int eos, double *states,
                        double *pooled) {
    enum { MT = 8, MC = 16, MI = 32 };
    double x[MT][MC], h[MT][MC], q[MT][MC], k[MT][MC], v[MT][MC], ctx[MT][MC], tmp[MC], f[MI];
    const int C = m->C, Hd = C / m->H;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < C; j++) x[t][j] = (double)m->tok[ids[t] * C + j] + m->pos[t * C + j];
    for (int l = 0; l < m->L; l++) {
        for (int t = 0; t < T; t++) {
            ref_ln(h[t], x[t], m->ln1w[l], m->ln1b[l], C, 1e-5);
            ref_lin(q[t], h[t], m->wq[l], m->bq[l], C, C);
            ref_lin(k[t], h[t], m->wk[l], m->bk[l], C, C);
            ref_lin(v[t], h[t], m->wv[l], m->bv[l], C, C);
        }
        for (int hh = 0; hh < m->H; hh++)
            for (int t = 0; t < T; t++) {
                double s[MT], mx = -1e300, sum = 0;
                for (int u = 0; u <= t; u++) {
                    s[u] = 0;
                    for (int d = 0; d < Hd; d++) s[u] += q[t][hh * Hd + d] * k[u][hh * Hd + d];
                    s[u] /= sqrt((double)Hd);
                    mx = fmax(mx, s[u]);
                }
                for (int u = 0; u <= t; u++) sum += (s[u] = exp(s[u] - mx));
                for (int d = 0; d < Hd; d++) {
                    double acc = 0;
                    for (int u = 0; u <= t; u++) acc += s[u] / sum * v[u][hh * Hd + d];
                    ctx[t][hh * Hd + d] = acc;
                }
            }
        for (int t = 0; t < T; t++) {
            ref_lin(tmp, ctx[t], m->wo[l], m->bo[l], C, C);
            for (int j = 0; j < C; j++) x[t][j] += tmp[j];
            ref_ln(h[t], x[t], m->ln2w[l], m->ln2b[l], C, 1e-5);
            ref_lin(f, h[t], m->w1[l], m->b1[l], C, m->I);
            for (int j = 0; j < m->I; j++)
                f[j] = quick ? f[j] / (1 + exp(-1.702 * f[j])) : 0.5 * f[j] * (1 + erf(f[j] / sqrt(2.0)));
            ref_lin(tmp, f, m->w2[l], m->b2[l], m->I, C);
            for (int j = 0; j < C; j++) x[t][j] += tmp[j];
        }
    }
    for (int t = 0; t < T; t++) ref_ln(states + t * C, x[t], m->lnf_w, m->lnf_b, C, 1e-5);
    int pos = 0;
    for (int t = 0; t < T; t++) {
        if (argmax && ids[t] > ids[pos]) pos = t;
        if (!argmax && ids[t] == eos) { pos = t; break; }
    }
    ref_lin(pooled, states + pos * C, m->projw, NULL, C, m->proj);
}

static float *add_t(dr_st_writer *w, dr_rng *rng, const char *name, int64_t d0, int64_t d1, float std, float mean) {
    long n = d0 * (d1 > 0 ? d1 : 1);
    float *x = tu_randn(rng, n, std);
    for (long i = 0; i < n; i++) x[i] += mean;
    int64_t shape[2] = {d0, d1};
    dr_err err;
    assert_int_equal(dr_st_writer_add(w, name, DR_ST_F32, d1 > 0 ? 2 : 1, shape, x, &err), 0);
    return x;
}

static void write_hf(const char *dir, hf_model *m, bool quick, bool legacy, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    dr_st_writer w;
    dr_st_writer_init(&w);
    m->V = 20;
    m->P = 8;
    m->C = 16;
    m->I = 32;
    m->L = 2;
    m->H = 4;
    m->proj = 12;
    m->tok = add_t(&w, &rng, "text_model.embeddings.token_embedding.weight", m->V, m->C, 0.5f, 0);
    m->pos = add_t(&w, &rng, "text_model.embeddings.position_embedding.weight", m->P, m->C, 0.3f, 0);
    char n[128];
    for (int l = 0; l < m->L; l++) {
#define T2(field, s, d0, d1, sd, mu) \
    (snprintf(n, sizeof n, "text_model.encoder.layers.%d.%s", l, s), m->field[l] = add_t(&w, &rng, n, d0, d1, sd, mu))
        T2(wq, "self_attn.q_proj.weight", m->C, m->C, 0.3f, 0);
        T2(bq, "self_attn.q_proj.bias", m->C, 0, 0.1f, 0);
        T2(wk, "self_attn.k_proj.weight", m->C, m->C, 0.3f, 0);
        T2(bk, "self_attn.k_proj.bias", m->C, 0, 0.1f, 0);
        T2(wv, "self_attn.v_proj.weight", m->C, m->C, 0.3f, 0);
        T2(bv, "self_attn.v_proj.bias", m->C, 0, 0.1f, 0);
        T2(wo, "self_attn.out_proj.weight", m->C, m->C, 0.3f, 0);
        T2(bo, "self_attn.out_proj.bias", m->C, 0, 0.1f, 0);
        T2(ln1w, "layer_norm1.weight", m->C, 0, 0.1f, 1.0f);
        T2(ln1b, "layer_norm1.bias", m->C, 0, 0.1f, 0);
        T2(ln2w, "layer_norm2.weight", m->C, 0, 0.1f, 1.0f);
        T2(ln2b, "layer_norm2.bias", m->C, 0, 0.1f, 0);
        T2(w1, "mlp.fc1.weight", m->I, m->C, 0.3f, 0);
        T2(b1, "mlp.fc1.bias", m->I, 0, 0.1f, 0);
        T2(w2, "mlp.fc2.weight", m->C, m->I, 0.2f, 0);
        T2(b2, "mlp.fc2.bias", m->C, 0, 0.1f, 0);
#undef T2
    }
    m->lnf_w = add_t(&w, &rng, "text_model.final_layer_norm.weight", m->C, 0, 0.1f, 1.0f);
    m->lnf_b = add_t(&w, &rng, "text_model.final_layer_norm.bias", m->C, 0, 0.1f, 0);
    m->projw = add_t(&w, &rng, "text_projection.weight", m->proj, m->C, 0.3f, 0);
    /* a full CLIPModel also holds the vision tower and the temperature: ignored */
    float *extra1 = add_t(&w, &rng, "vision_model.embeddings.class_embedding", 24, 0, 1.0f, 0);
    float *extra2 = add_t(&w, &rng, "logit_scale", 1, 0, 1.0f, 0);
    char path[4096];
    dr_err err;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(dr_st_writer_write(&w, path, &err), 0);
    dr_st_writer_free(&w);
    free(extra1);
    free(extra2);
    char cfg[1024];
    if (legacy) /* the original OpenAI conversion: CLIPConfig with text_config, eos_token_id 2 */
        snprintf(cfg, sizeof cfg,
                 "{\"architectures\":[\"CLIPModel\"],\"projection_dim\":%d,\"text_config\":{\"vocab_size\":%d,"
                 "\"hidden_size\":%d,\"intermediate_size\":%d,\"num_attention_heads\":%d,\"num_hidden_layers\":%d,"
                 "\"max_position_embeddings\":%d,\"hidden_act\":\"%s\",\"layer_norm_eps\":1e-05,"
                 "\"bos_token_id\":0,\"eos_token_id\":2,\"pad_token_id\":1}}",
                 m->proj, m->V, m->C, m->I, m->H, m->L, m->P, quick ? "quick_gelu" : "gelu");
    else
        snprintf(cfg, sizeof cfg,
                 "{\"architectures\":[\"CLIPTextModelWithProjection\"],\"vocab_size\":%d,\"hidden_size\":%d,"
                 "\"intermediate_size\":%d,\"projection_dim\":%d,\"num_attention_heads\":%d,\"num_hidden_layers\":%d,"
                 "\"max_position_embeddings\":%d,\"hidden_act\":\"%s\",\"layer_norm_eps\":1e-05,"
                 "\"bos_token_id\":18,\"eos_token_id\":17,\"pad_token_id\":1}",
                 m->V, m->C, m->I, m->proj, m->H, m->L, m->P, quick ? "quick_gelu" : "gelu");
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(dr_write_file_atomic(path, cfg, strlen(cfg), &err), 0);
}

static void hf_free(hf_model *m) {
    float *all[] = {m->tok, m->pos, m->lnf_w, m->lnf_b, m->projw};
    for (size_t i = 0; i < 5; i++) free(all[i]);
    for (int l = 0; l < m->L; l++) {
        float *pl[] = {m->wq[l], m->bq[l], m->wk[l], m->bk[l], m->wv[l], m->bv[l], m->wo[l], m->bo[l],
                       m->ln1w[l], m->ln1b[l], m->ln2w[l], m->ln2b[l], m->w1[l], m->b1[l], m->w2[l], m->b2[l]};
        for (size_t i = 0; i < 16; i++) free(pl[i]);
    }
}

static void test_hf_checkpoint(void **state) {
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        bool legacy = variant == 0, quick = variant == 0;
        char dir[4096];
        tu_tmpdir(dir, sizeof dir, legacy ? "clip_legacy" : "clip_eos");
        hf_model m;
        write_hf(dir, &m, quick, legacy, 40 + variant);
        dr_textenc te;
        dr_err err;
        if (dr_textenc_load(&te, dir, &err)) fail_msg("load %s: %s", dir, err.msg);
        assert_int_equal(te.cfg.act, quick ? DR_ACT_QUICK_GELU : DR_ACT_GELU_ERF);
        assert_int_equal(te.cfg.pool_argmax, legacy);
        assert_int_equal(te.cfg.proj_dim, m.proj);
        assert_int_equal(dr_textenc_alloc_acts(&te, 2, &err), 0);
        /* legacy: the end token is the largest id (19); otherwise eos_token_id 17 */
        int ids[2][6] = {{18, 4, 9, 19, 1, 1}, {18, 7, 3, 12, 5, 19}};
        if (!legacy) {
            ids[0][3] = 17;
            ids[1][5] = 17;
            ids[1][2] = 19; /* a large id that must not be mistaken for the end */
        }
        const int T = 6;
        float states[2 * 6 * 16], pooled[2 * 12];
        uint8_t valid[12];
        assert_int_equal(dr_textenc_forward(&te, &ids[0][0], 2, T, states, pooled, valid, &err), 0);
        for (int b = 0; b < 2; b++) {
            double rs[6 * 16], rp[12];
            ref_forward(&m, ids[b], T, quick, legacy, 17, rs, rp);
            for (int i = 0; i < T * m.C; i++)
                if (fabs(states[b * T * m.C + i] - rs[i]) > 1e-4 * (1 + fabs(rs[i])))
                    fail_msg("variant %d: state %d.%d = %g, reference %g", variant, b, i, states[b * T * m.C + i],
                             rs[i]);
            for (int i = 0; i < m.proj; i++)
                if (fabs(pooled[b * m.proj + i] - rp[i]) > 1e-4 * (1 + fabs(rp[i])))
                    fail_msg("variant %d: pooled %d.%d = %g, reference %g", variant, b, i, pooled[b * m.proj + i], rp[i]);
        }
        assert_int_equal(valid[3], 1);
        assert_int_equal(valid[4], 0);
        assert_int_equal(valid[6 + 5], 1);
        /* the weights file alone, with config.json beside it, loads too */
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        dr_textenc te2;
        if (dr_textenc_load(&te2, path, &err)) fail_msg("load %s: %s", path, err.msg);
        assert_int_equal(te2.params.total, te.params.total);
        dr_textenc_free(&te2);
        dr_textenc_free(&te);
        hf_free(&m);
    }
}

static void test_save_load_and_errors(void **state) {
    (void)state;
    char dir[4096], path[4096];
    tu_tmpdir(dir, sizeof dir, "textenc_io");
    dr_textenc te, te2;
    dr_err err;
    dr_textenc_config cfg = tiny_config(DR_ACT_GELU_TANH);
    assert_int_equal(dr_textenc_create(&te, &cfg, &err), 0);
    dr_textenc_init_weights(&te, 5);
    snprintf(path, sizeof path, "%s/te.safetensors", dir);
    assert_int_equal(dr_textenc_save(&te, path, &err), 0);
    if (dr_textenc_load(&te2, path, &err)) fail_msg("%s", err.msg);
    char *j1 = dr_textenc_config_json(&te.cfg), *j2 = dr_textenc_config_json(&te2.cfg);
    assert_string_equal(j1, j2);
    free(j1);
    free(j2);
    assert_memory_equal(te2.params.data, te.params.data, te.params.total * sizeof(float));
    /* bad token ids and shapes are errors, not crashes */
    assert_int_equal(dr_textenc_alloc_acts(&te2, 1, &err), 0);
    int ids[7] = {11, 3, 99, 12, 0, 0, 0};
    float pooled[6];
    assert_int_equal(dr_textenc_forward(&te2, ids, 1, 7, NULL, pooled, NULL, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "99"));
    assert_int_equal(dr_textenc_forward(&te2, ids, 2, 7, NULL, pooled, NULL, &err), DR_EINVAL);
    assert_int_equal(dr_textenc_forward(&te2, ids, 1, 8, NULL, pooled, NULL, &err), DR_EINVAL);
    dr_textenc_free(&te2);
    dr_textenc_free(&te);
    /* a folder without config.json, a config with a bad activation, a missing file */
    assert_int_not_equal(dr_textenc_load(&te, dir, &err), 0);
    assert_non_null(strstr(err.msg, "config.json"));
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *bad = "{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,\"num_attention_heads\":2,"
                      "\"num_hidden_layers\":1,\"hidden_act\":\"relu6\",\"eos_token_id\":3}";
    dr_textenc_config c2;
    assert_int_equal(dr_textenc_config_parse(&c2, bad, path, &err), DR_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "relu6"));
    assert_int_equal(dr_textenc_config_parse(&c2, "{\"hidden_size\":8}", path, &err), DR_EFORMAT);
    assert_int_equal(dr_textenc_config_parse(&c2, "[1,2", path, &err), DR_EFORMAT);
    const char *heads = "{\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":8,\"num_attention_heads\":3,"
                        "\"num_hidden_layers\":1,\"eos_token_id\":3}";
    assert_int_equal(dr_textenc_config_parse(&c2, heads, path, &err), DR_EFORMAT);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    assert_int_not_equal(dr_textenc_load(&te, path, &err), 0);
}

/* ---------------------------------------------------------------- motion encoder */

typedef struct me_ctx {
    dr_motion_encoder *me;
    int B;
    float *probe;
} me_ctx;

static double me_loss(void *p) {
    me_ctx *c = p;
    dr_motion_encoder_forward(c->me, c->B);
    return tu_dot(c->me->emb, c->probe, (long)c->B * c->me->P);
}

static void test_motion_encoder(void **state) {
    (void)state;
    dr_err err;
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    dr_motion_encoder me;
    assert_int_equal(dr_motion_encoder_create(&me, 8, 5, 2, 3, &err), 0);
    assert_int_equal(me.T1, 20);
    assert_int_equal(me.T2, 10);
    /* features of a clip: a keypoint moving 1 px a frame has velocity 4 * 5 px / (H / 2) */
    dr_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.width = 512;
    ds.height = 320;
    dr_pose *clip = calloc(DR_CLIP_FRAMES, sizeof(dr_pose));
    for (int f = 0; f < DR_CLIP_FRAMES; f++) clip[f].kp[3] = (dr_keypoint){100.0f + f, 60.0f, 1.0f};
    dr_motion_encoder_features(&ds, clip, me.in);
    float *row = me.in + 7 * DR_MOTION_FEAT;
    assert_true(fabsf(row[6] - (100.0f + 35 - 256) / 160.0f) < 1e-5f);
    assert_true(fabsf(row[36 + 6] - 4.0f * 5.0f / 160.0f) < 1e-5f);
    assert_true(row[72 + 3] == 1.0f && row[72 + 4] == 0.0f && row[36 + 8] == 0.0f);
    free(clip);
    /* gradients of every tensor on random inputs */
    for (long i = 0; i < 2L * DR_MOTION_STEPS * DR_MOTION_FEAT; i++) me.in[i] = dr_rng_normal(&rng);
    me_ctx c = {&me, 2, tu_randn(&rng, 2 * 5, 1.0f)};
    me_loss(&c);
    dr_params_zero_grad(&me.params);
    dr_motion_encoder_backward(&me, c.probe);
    float *g = malloc(sizeof(float) * me.params.total);
    memcpy(g, me.params.grad, sizeof(float) * me.params.total);
    for (int i = 0; i < me.params.count; i++) {
        const dr_param *it = &me.params.items[i];
        if (!strcmp(it->name, "logit_scale")) continue; /* used by the loss, not the encoder */
        double gmax = 0;
        for (size_t j = 0; j < it->numel; j++) gmax = fmax(gmax, fabs(g[it->offset + j]));
        double e = tu_gradcheck(me_loss, &c, me.params.data + it->offset, g + it->offset, (long)it->numel, 1e-2f, 24,
                                fmax(1e-3, 1e-2 * gmax));
        if (!(e < 1e-2)) fail_msg("motion encoder: %s gradient error %g", it->name, e);
    }
    free(g);
    free(c.probe);
    dr_motion_encoder_free(&me);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_clip_loss),
        cmocka_unit_test(test_encoder_gradients),
        cmocka_unit_test(test_hf_checkpoint),
        cmocka_unit_test(test_save_load_and_errors),
        cmocka_unit_test(test_motion_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
