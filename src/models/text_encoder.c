/* text_encoder.c - CLIP text transformer: parameters, HF loading, forward, backward, InfoNCE. */
#include "models/text_encoder.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "io/safetensors.h"
#include "nn/nn.h"

/* ---------------------------------------------------------------- activations */

void dr_quick_gelu_forward(float *out, const float *inp, long n) {
#pragma omp parallel for
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x / (1.0f + expf(-1.702f * x));
    }
}

void dr_quick_gelu_backward(float *dinp, const float *dout, const float *inp, long n) {
#pragma omp parallel for
    for (long i = 0; i < n; i++) {
        float x = inp[i], s = 1.0f / (1.0f + expf(-1.702f * x));
        dinp[i] += dout[i] * (s + 1.702f * x * s * (1.0f - s));
    }
}

void dr_gelu_erf_forward(float *out, const float *inp, long n) {
#pragma omp parallel for
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * 0.70710678f));
    }
}

void dr_gelu_erf_backward(float *dinp, const float *dout, const float *inp, long n) {
#pragma omp parallel for
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678f));
        float pdf = 0.39894228f * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void dr_act_forward(dr_act_kind kind, float *out, const float *inp, long n) {
    switch (kind) {
    case DR_ACT_QUICK_GELU: dr_quick_gelu_forward(out, inp, n); break;
    case DR_ACT_GELU_ERF: dr_gelu_erf_forward(out, inp, n); break;
    default: dr_gelu_forward(out, inp, n); break;
    }
}

void dr_act_backward(dr_act_kind kind, float *dinp, const float *dout, const float *inp, long n) {
    switch (kind) {
    case DR_ACT_QUICK_GELU: dr_quick_gelu_backward(dinp, dout, inp, n); break;
    case DR_ACT_GELU_ERF: dr_gelu_erf_backward(dinp, dout, inp, n); break;
    default: dr_gelu_backward(dinp, dout, inp, n); break;
    }
}

/* ---------------------------------------------------------------- config */

dr_textenc_config dr_textenc_default_config(int vocab_size) {
    dr_textenc_config c = {0};
    c.vocab_size = vocab_size;
    c.max_len = 48;
    c.dim = 128;
    c.num_layers = 4;
    c.num_heads = 4;
    c.mlp_dim = 512;
    c.proj_dim = 128;
    c.bos_id = -1;
    c.eos_id = -1;
    c.pad_id = 0;
    c.pool_argmax = false;
    c.act = DR_ACT_GELU_TANH;
    c.ln_eps = 1e-5f;
    return c;
}

int dr_textenc_out_dim(const dr_textenc_config *cfg) { return cfg->proj_dim > 0 ? cfg->proj_dim : cfg->dim; }

static const char *act_name(dr_act_kind k) {
    return k == DR_ACT_QUICK_GELU ? "quick_gelu" : k == DR_ACT_GELU_ERF ? "gelu" : "gelu_pytorch_tanh";
}

char *dr_textenc_config_json(const dr_textenc_config *c) {
    char *buf = malloc(1024);
    if (!buf) return NULL;
    snprintf(buf, 1024,
             "{\"vocab_size\":%d,\"max_position_embeddings\":%d,\"hidden_size\":%d,\"num_hidden_layers\":%d,"
             "\"num_attention_heads\":%d,\"intermediate_size\":%d,\"projection_dim\":%d,\"bos_token_id\":%d,"
             "\"eos_token_id\":%d,\"pad_token_id\":%d,\"pool\":\"%s\",\"hidden_act\":\"%s\",\"layer_norm_eps\":%g}",
             c->vocab_size, c->max_len, c->dim, c->num_layers, c->num_heads, c->mlp_dim, c->proj_dim, c->bos_id,
             c->eos_id, c->pad_id, c->pool_argmax ? "argmax" : "eos", act_name(c->act), (double)c->ln_eps);
    return buf;
}

static bool json_int(const cJSON *o, const char *key, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it)) return false;
    *out = (int)it->valuedouble;
    return true;
}

int dr_textenc_config_parse(dr_textenc_config *cfg, const char *json, const char *what, dr_err *err) {
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_EFORMAT, "%s: text encoder config is not a JSON object", what);
    }
    const cJSON *o = root;
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(root, "text_config"); /* full CLIPConfig */
    if (cJSON_IsObject(tc)) o = tc;
    dr_textenc_config c = dr_textenc_default_config(0);
    c.max_len = 77;
    c.proj_dim = 0;
    int rc = DR_OK;
    if (!json_int(o, "vocab_size", &c.vocab_size) || !json_int(o, "hidden_size", &c.dim) ||
        !json_int(o, "num_hidden_layers", &c.num_layers) || !json_int(o, "num_attention_heads", &c.num_heads) ||
        !json_int(o, "intermediate_size", &c.mlp_dim)) {
        rc = dr_err_set(err, DR_EFORMAT,
                        "%s: text encoder config lacks one of vocab_size, hidden_size, num_hidden_layers, "
                        "num_attention_heads, intermediate_size",
                        what);
        goto done;
    }
    json_int(o, "max_position_embeddings", &c.max_len);
    if (!json_int(o, "projection_dim", &c.proj_dim)) json_int(root, "projection_dim", &c.proj_dim);
    json_int(o, "bos_token_id", &c.bos_id);
    json_int(o, "eos_token_id", &c.eos_id);
    json_int(o, "pad_token_id", &c.pad_id);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
    if (cJSON_IsNumber(eps)) c.ln_eps = (float)eps->valuedouble;
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(o, "pool");
    if (cJSON_IsString(pool)) c.pool_argmax = !strcmp(pool->valuestring, "argmax");
    else c.pool_argmax = c.eos_id == 2; /* transformers' legacy rule for the original OpenAI configs */
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    c.act = DR_ACT_QUICK_GELU; /* CLIPTextConfig default */
    if (cJSON_IsString(act)) {
        const char *a = act->valuestring;
        if (!strcmp(a, "quick_gelu")) c.act = DR_ACT_QUICK_GELU;
        else if (!strcmp(a, "gelu")) c.act = DR_ACT_GELU_ERF;
        else if (!strcmp(a, "gelu_pytorch_tanh") || !strcmp(a, "gelu_new")) c.act = DR_ACT_GELU_TANH;
        else {
            rc = dr_err_set(err, DR_EUNSUPPORTED, "%s: unsupported hidden_act \"%s\"", what, a);
            goto done;
        }
    }
    if (c.vocab_size <= 0 || c.dim <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.dim % c.num_heads ||
        c.mlp_dim <= 0 || c.max_len <= 1 || c.proj_dim < 0 || c.vocab_size > (1 << 24) || c.dim > 8192 ||
        c.mlp_dim > 32768 || c.num_layers > 128 || c.max_len > 4096) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: inconsistent text encoder sizes (dim %d, heads %d, layers %d)", what,
                        c.dim, c.num_heads, c.num_layers);
        goto done;
    }
    if (!c.pool_argmax && (c.eos_id < 0 || c.eos_id >= c.vocab_size)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: eos_token_id %d outside the vocabulary", what, c.eos_id);
        goto done;
    }
    *cfg = c;
done:
    cJSON_Delete(root);
    return rc;
}

/* ---------------------------------------------------------------- parameters */

static float *P(const dr_textenc *te, int layer, const char *suffix) {
    char name[96];
    if (layer >= 0) snprintf(name, sizeof name, "text_model.encoder.layers.%d.%s", layer, suffix);
    else snprintf(name, sizeof name, "%s", suffix);
    return dr_params_get(&te->params, name);
}

static float *G(const dr_textenc *te, int layer, const char *suffix) {
    char name[96];
    if (layer >= 0) snprintf(name, sizeof name, "text_model.encoder.layers.%d.%s", layer, suffix);
    else snprintf(name, sizeof name, "%s", suffix);
    return dr_params_grad(&te->params, name);
}

int dr_textenc_create(dr_textenc *te, const dr_textenc_config *cfg, dr_err *err) {
    memset(te, 0, sizeof *te);
    te->cfg = *cfg;
    dr_params *p = &te->params;
    dr_params_init(p);
    const int C = cfg->dim, I = cfg->mlp_dim;
    int rc = 0;
    rc |= dr_params_add2(p, "text_model.embeddings.token_embedding.weight", false, cfg->vocab_size, C) < 0;
    rc |= dr_params_add2(p, "text_model.embeddings.position_embedding.weight", true, cfg->max_len, C) < 0;
    for (int l = 0; l < cfg->num_layers && !rc; l++) {
        char n[96];
        static const char *proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        for (int j = 0; j < 4; j++) {
            snprintf(n, sizeof n, "text_model.encoder.layers.%d.self_attn.%s.weight", l, proj[j]);
            rc |= dr_params_add2(p, n, false, C, C) < 0;
            snprintf(n, sizeof n, "text_model.encoder.layers.%d.self_attn.%s.bias", l, proj[j]);
            rc |= dr_params_add1(p, n, true, C) < 0;
        }
        for (int j = 1; j <= 2; j++) {
            snprintf(n, sizeof n, "text_model.encoder.layers.%d.layer_norm%d.weight", l, j);
            rc |= dr_params_add1(p, n, true, C) < 0;
            snprintf(n, sizeof n, "text_model.encoder.layers.%d.layer_norm%d.bias", l, j);
            rc |= dr_params_add1(p, n, true, C) < 0;
        }
        snprintf(n, sizeof n, "text_model.encoder.layers.%d.mlp.fc1.weight", l);
        rc |= dr_params_add2(p, n, false, I, C) < 0;
        snprintf(n, sizeof n, "text_model.encoder.layers.%d.mlp.fc1.bias", l);
        rc |= dr_params_add1(p, n, true, I) < 0;
        snprintf(n, sizeof n, "text_model.encoder.layers.%d.mlp.fc2.weight", l);
        rc |= dr_params_add2(p, n, false, C, I) < 0;
        snprintf(n, sizeof n, "text_model.encoder.layers.%d.mlp.fc2.bias", l);
        rc |= dr_params_add1(p, n, true, C) < 0;
    }
    rc |= dr_params_add1(p, "text_model.final_layer_norm.weight", true, C) < 0;
    rc |= dr_params_add1(p, "text_model.final_layer_norm.bias", true, C) < 0;
    if (cfg->proj_dim > 0) rc |= dr_params_add2(p, "text_projection.weight", false, cfg->proj_dim, C) < 0;
    if (rc || dr_params_alloc(p)) {
        dr_params_free(p);
        return dr_err_set(err, DR_ENOMEM, "text encoder: cannot allocate parameters");
    }
    return DR_OK;
}

void dr_textenc_init_weights(dr_textenc *te, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    const dr_textenc_config *c = &te->cfg;
    float resid_std = 0.02f / sqrtf(2.0f * (float)c->num_layers);
    for (int i = 0; i < te->params.count; i++) {
        const dr_param *it = &te->params.items[i];
        const char *n = it->name;
        size_t len = strlen(n);
        bool is_bias = len > 5 && !strcmp(n + len - 5, ".bias");
        if (strstr(n, "layer_norm") && !is_bias) dr_params_fill(&te->params, n, 1.0f);
        else if (is_bias) dr_params_fill(&te->params, n, 0.0f);
        else if (strstr(n, "out_proj") || strstr(n, "fc2")) dr_params_init_normal(&te->params, n, &rng, resid_std);
        else if (strstr(n, "position_embedding")) dr_params_init_normal(&te->params, n, &rng, 0.01f);
        else dr_params_init_normal(&te->params, n, &rng, 0.02f);
    }
}

static void acts_free(dr_textenc_acts *a) {
    float **f[] = {&a->res, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->q, &a->k, &a->v, &a->att, &a->attn_out,
                   &a->mid, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fc1, &a->fc1_act, &a->lnf, &a->lnf_mean,
                   &a->lnf_rstd, &a->pooled, &a->d_res, &a->d_a, &a->d_b, &a->d_big, &a->d_q, &a->d_k, &a->d_v,
                   &a->attn_scratch};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        dr_free(*f[i]);
        *f[i] = NULL;
    }
    free(a->pool_pos);
    free(a->ids);
    a->pool_pos = a->ids = NULL;
    a->max_batch = 0;
}

void dr_textenc_free(dr_textenc *te) {
    if (!te) return;
    acts_free(&te->acts);
    dr_params_free(&te->params);
}

int dr_textenc_alloc_acts(dr_textenc *te, int max_batch, dr_err *err) {
    dr_textenc_acts *a = &te->acts;
    acts_free(a);
    const dr_textenc_config *c = &te->cfg;
    const size_t L = (size_t)c->num_layers, T = (size_t)c->max_len, C = (size_t)c->dim, I = (size_t)c->mlp_dim;
    const size_t N = (size_t)max_batch * T, H = (size_t)c->num_heads;
    dr_attn_shape s = {max_batch, (int)T, (int)T, (int)H, (int)H, (int)(C / H), true, NULL};
    bool ok = true;
#define ALLOC(ptr, n) ok = ok && ((ptr) = dr_calloc(sizeof(float) * (n))) != NULL
    ALLOC(a->res, (L + 1) * N * C);
    ALLOC(a->ln1, L * N * C);
    ALLOC(a->ln1_mean, L * N);
    ALLOC(a->ln1_rstd, L * N);
    ALLOC(a->q, L * N * C);
    ALLOC(a->k, L * N * C);
    ALLOC(a->v, L * N * C);
    ALLOC(a->att, L * (size_t)max_batch * H * T * T);
    ALLOC(a->attn_out, L * N * C);
    ALLOC(a->mid, L * N * C);
    ALLOC(a->ln2, L * N * C);
    ALLOC(a->ln2_mean, L * N);
    ALLOC(a->ln2_rstd, L * N);
    ALLOC(a->fc1, L * N * I);
    ALLOC(a->fc1_act, L * N * I);
    ALLOC(a->lnf, N * C);
    ALLOC(a->lnf_mean, N);
    ALLOC(a->lnf_rstd, N);
    ALLOC(a->pooled, (size_t)max_batch * C);
    ALLOC(a->d_res, N * C);
    ALLOC(a->d_a, N * C);
    ALLOC(a->d_b, N * C);
    ALLOC(a->d_big, 2 * N * I);
    ALLOC(a->d_q, N * C);
    ALLOC(a->d_k, N * C);
    ALLOC(a->d_v, N * C);
    ALLOC(a->attn_scratch, dr_attention_scratch_floats(&s) + 1);
#undef ALLOC
    a->pool_pos = calloc((size_t)max_batch, sizeof(int));
    a->ids = calloc(N, sizeof(int));
    if (!ok || !a->pool_pos || !a->ids) {
        acts_free(a);
        return dr_err_set(err, DR_ENOMEM, "text encoder: cannot allocate activations for batch %d", max_batch);
    }
    a->max_batch = max_batch;
    return DR_OK;
}

/* ---------------------------------------------------------------- forward / backward */

int dr_textenc_frame_ids(const dr_textenc_config *cfg, const int *ids, int n, int *out, int len) {
    int k = 0;
    if (cfg->bos_id >= 0 && k < len - 1) out[k++] = cfg->bos_id;
    for (int i = 0; i < n && k < len - 1; i++) out[k++] = ids[i];
    out[k++] = cfg->eos_id;
    int real = k;
    while (k < len) out[k++] = cfg->pad_id;
    return real;
}

int dr_textenc_forward(dr_textenc *te, const int *ids, int B, int T, float *states, float *pooled, uint8_t *valid,
                       dr_err *err) {
    const dr_textenc_config *c = &te->cfg;
    dr_textenc_acts *a = &te->acts;
    if (B <= 0 || B > a->max_batch || T <= 0 || T > c->max_len)
        return dr_err_set(err, DR_EINVAL, "text encoder: batch %d x %d tokens outside the allocated %d x %d", B, T,
                          a->max_batch, c->max_len);
    const int C = c->dim, I = c->mlp_dim, H = c->num_heads, L = c->num_layers;
    const long N = (long)B * T;
    for (long i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return dr_err_set(err, DR_EINVAL, "text encoder: token id %d outside the vocabulary of %d", ids[i],
                              c->vocab_size);
    a->B = B;
    a->T = T;
    memcpy(a->ids, ids, (size_t)N * sizeof(int));
    for (int b = 0; b < B; b++) {
        const int *row = ids + (size_t)b * T;
        int pos = T - 1;
        if (c->pool_argmax) {
            pos = 0;
            for (int t = 1; t < T; t++)
                if (row[t] > row[pos]) pos = t;
        } else {
            for (int t = 0; t < T; t++)
                if (row[t] == c->eos_id) { pos = t; break; }
        }
        a->pool_pos[b] = pos;
        if (valid)
            for (int t = 0; t < T; t++) valid[(size_t)b * T + t] = t <= pos;
    }
    /* embeddings */
    const float *tok = P(te, -1, "text_model.embeddings.token_embedding.weight");
    const float *posw = P(te, -1, "text_model.embeddings.position_embedding.weight");
    float *x = a->res;
    dr_embedding_forward(x, ids, tok, (int)N, C);
#pragma omp parallel for
    for (long i = 0; i < N; i++) {
        const float *pe = posw + (size_t)(i % T) * C;
        for (int j = 0; j < C; j++) x[i * C + j] += pe[j];
    }
    dr_attn_shape s = {B, T, T, H, H, C / H, true, NULL};
    const size_t NC = (size_t)a->max_batch * c->max_len * C, NI = (size_t)a->max_batch * c->max_len * I;
    const size_t NN = (size_t)a->max_batch * c->max_len, ATT = (size_t)a->max_batch * H * c->max_len * c->max_len;
    for (int l = 0; l < L; l++) {
        float *xin = a->res + l * NC, *xout = a->res + (l + 1) * NC;
        float *ln1 = a->ln1 + l * NC, *q = a->q + l * NC, *k = a->k + l * NC, *v = a->v + l * NC;
        float *att = a->att + l * ATT, *ao = a->attn_out + l * NC, *mid = a->mid + l * NC, *ln2 = a->ln2 + l * NC;
        float *f1 = a->fc1 + l * NI, *f1a = a->fc1_act + l * NI;
        dr_layernorm_forward(ln1, a->ln1_mean + l * NN, a->ln1_rstd + l * NN, xin, P(te, l, "layer_norm1.weight"),
                             P(te, l, "layer_norm1.bias"), (int)N, C, c->ln_eps);
        dr_linear_forward(q, ln1, P(te, l, "self_attn.q_proj.weight"), P(te, l, "self_attn.q_proj.bias"), (int)N, C, C);
        dr_linear_forward(k, ln1, P(te, l, "self_attn.k_proj.weight"), P(te, l, "self_attn.k_proj.bias"), (int)N, C, C);
        dr_linear_forward(v, ln1, P(te, l, "self_attn.v_proj.weight"), P(te, l, "self_attn.v_proj.bias"), (int)N, C, C);
        dr_attention_forward(ao, att, q, k, v, &s, a->attn_scratch);
        dr_linear_forward(a->d_a, ao, P(te, l, "self_attn.out_proj.weight"), P(te, l, "self_attn.out_proj.bias"),
                          (int)N, C, C);
#pragma omp parallel for
        for (long i = 0; i < N * C; i++) mid[i] = xin[i] + a->d_a[i];
        dr_layernorm_forward(ln2, a->ln2_mean + l * NN, a->ln2_rstd + l * NN, mid, P(te, l, "layer_norm2.weight"),
                             P(te, l, "layer_norm2.bias"), (int)N, C, c->ln_eps);
        dr_linear_forward(f1, ln2, P(te, l, "mlp.fc1.weight"), P(te, l, "mlp.fc1.bias"), (int)N, C, I);
        dr_act_forward(c->act, f1a, f1, N * I);
        dr_linear_forward(a->d_a, f1a, P(te, l, "mlp.fc2.weight"), P(te, l, "mlp.fc2.bias"), (int)N, I, C);
#pragma omp parallel for
        for (long i = 0; i < N * C; i++) xout[i] = mid[i] + a->d_a[i];
    }
    dr_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->res + L * NC,
                         P(te, -1, "text_model.final_layer_norm.weight"),
                         P(te, -1, "text_model.final_layer_norm.bias"), (int)N, C, c->ln_eps);
    if (states) memcpy(states, a->lnf, (size_t)N * C * sizeof(float));
    for (int b = 0; b < B; b++)
        memcpy(a->pooled + (size_t)b * C, a->lnf + ((size_t)b * T + a->pool_pos[b]) * C, (size_t)C * sizeof(float));
    if (pooled) {
        if (c->proj_dim > 0)
            dr_linear_forward(pooled, a->pooled, P(te, -1, "text_projection.weight"), NULL, B, C, c->proj_dim);
        else memcpy(pooled, a->pooled, (size_t)B * C * sizeof(float));
    }
    return DR_OK;
}

void dr_textenc_backward(dr_textenc *te, const float *dpooled, const float *dstates) {
    const dr_textenc_config *c = &te->cfg;
    dr_textenc_acts *a = &te->acts;
    const int B = a->B, T = a->T, C = c->dim, I = c->mlp_dim, H = c->num_heads, L = c->num_layers;
    const long N = (long)B * T;
    const size_t NC = (size_t)a->max_batch * c->max_len * C, NI = (size_t)a->max_batch * c->max_len * I;
    const size_t NN = (size_t)a->max_batch * c->max_len, ATT = (size_t)a->max_batch * H * c->max_len * c->max_len;
    dr_attn_shape s = {B, T, T, H, H, C / H, true, NULL};
    /* d(last hidden state) */
    float *dlnf = a->d_a;
    if (dstates) memcpy(dlnf, dstates, (size_t)N * C * sizeof(float));
    else memset(dlnf, 0, (size_t)N * C * sizeof(float));
    if (dpooled) {
        float *dp = a->d_b;
        memset(dp, 0, (size_t)B * C * sizeof(float));
        if (c->proj_dim > 0)
            dr_linear_backward(dp, G(te, -1, "text_projection.weight"), NULL, dpooled, a->pooled,
                               P(te, -1, "text_projection.weight"), B, C, c->proj_dim);
        else memcpy(dp, dpooled, (size_t)B * C * sizeof(float));
        for (int b = 0; b < B; b++) {
            float *dst = dlnf + ((size_t)b * T + a->pool_pos[b]) * C;
            for (int j = 0; j < C; j++) dst[j] += dp[(size_t)b * C + j];
        }
    }
    float *dres = a->d_res;
    memset(dres, 0, (size_t)N * C * sizeof(float));
    dr_layernorm_backward(dres, G(te, -1, "text_model.final_layer_norm.weight"),
                          G(te, -1, "text_model.final_layer_norm.bias"), dlnf, a->res + L * NC,
                          P(te, -1, "text_model.final_layer_norm.weight"), a->lnf_mean, a->lnf_rstd, (int)N, C);
    for (int l = L - 1; l >= 0; l--) {
        float *xin = a->res + l * NC, *ln1 = a->ln1 + l * NC, *q = a->q + l * NC, *k = a->k + l * NC;
        float *v = a->v + l * NC, *att = a->att + l * ATT, *ao = a->attn_out + l * NC, *mid = a->mid + l * NC;
        float *ln2 = a->ln2 + l * NC, *f1 = a->fc1 + l * NI, *f1a = a->fc1_act + l * NI;
        float *dact = a->d_big, *dfc1 = a->d_big + (size_t)N * I;
        /* MLP branch: dres is d(xout) = d(mid) through the residual */
        memset(dact, 0, (size_t)N * I * sizeof(float));
        memset(dfc1, 0, (size_t)N * I * sizeof(float));
        dr_linear_backward(dact, G(te, l, "mlp.fc2.weight"), G(te, l, "mlp.fc2.bias"), dres, f1a,
                           P(te, l, "mlp.fc2.weight"), (int)N, I, C);
        dr_act_backward(c->act, dfc1, dact, f1, N * I);
        memset(a->d_a, 0, (size_t)N * C * sizeof(float));
        dr_linear_backward(a->d_a, G(te, l, "mlp.fc1.weight"), G(te, l, "mlp.fc1.bias"), dfc1, ln2,
                           P(te, l, "mlp.fc1.weight"), (int)N, C, I);
        dr_layernorm_backward(dres, G(te, l, "layer_norm2.weight"), G(te, l, "layer_norm2.bias"), a->d_a, mid,
                              P(te, l, "layer_norm2.weight"), a->ln2_mean + l * NN, a->ln2_rstd + l * NN, (int)N, C);
        /* attention branch: dres is now d(mid) */
        memset(a->d_a, 0, (size_t)N * C * sizeof(float));
        dr_linear_backward(a->d_a, G(te, l, "self_attn.out_proj.weight"), G(te, l, "self_attn.out_proj.bias"), dres,
                           ao, P(te, l, "self_attn.out_proj.weight"), (int)N, C, C);
        memset(a->d_q, 0, (size_t)N * C * sizeof(float));
        memset(a->d_k, 0, (size_t)N * C * sizeof(float));
        memset(a->d_v, 0, (size_t)N * C * sizeof(float));
        dr_attention_backward(a->d_q, a->d_k, a->d_v, a->d_a, q, k, v, att, &s, a->attn_scratch);
        memset(a->d_b, 0, (size_t)N * C * sizeof(float));
        dr_linear_backward(a->d_b, G(te, l, "self_attn.q_proj.weight"), G(te, l, "self_attn.q_proj.bias"), a->d_q, ln1,
                           P(te, l, "self_attn.q_proj.weight"), (int)N, C, C);
        dr_linear_backward(a->d_b, G(te, l, "self_attn.k_proj.weight"), G(te, l, "self_attn.k_proj.bias"), a->d_k, ln1,
                           P(te, l, "self_attn.k_proj.weight"), (int)N, C, C);
        dr_linear_backward(a->d_b, G(te, l, "self_attn.v_proj.weight"), G(te, l, "self_attn.v_proj.bias"), a->d_v, ln1,
                           P(te, l, "self_attn.v_proj.weight"), (int)N, C, C);
        dr_layernorm_backward(dres, G(te, l, "layer_norm1.weight"), G(te, l, "layer_norm1.bias"), a->d_b, xin,
                              P(te, l, "layer_norm1.weight"), a->ln1_mean + l * NN, a->ln1_rstd + l * NN, (int)N, C);
    }
    dr_embedding_backward(G(te, -1, "text_model.embeddings.token_embedding.weight"), dres, a->ids, (int)N, C);
    float *dpos = G(te, -1, "text_model.embeddings.position_embedding.weight");
    for (long i = 0; i < N; i++) {
        float *dst = dpos + (size_t)(i % T) * C;
        for (int j = 0; j < C; j++) dst[j] += dres[i * C + j];
    }
}

/* ---------------------------------------------------------------- files */

/* Whether a safetensors file declares a tensor. */
static int safetensors_has(const char *path, const char *name, bool *has, dr_err *err) {
    dr_st_file f;
    int rc = dr_st_open(&f, path, err);
    if (rc) return rc;
    *has = dr_st_find(&f, name) != NULL;
    dr_st_close(&f);
    return DR_OK;
}

static int load_hf(dr_textenc *te, const char *weights, const char *config_path, dr_err *err) {
    char *json = NULL;
    size_t size = 0;
    int rc = dr_read_file(config_path, 4u << 20, &json, &size, err);
    if (rc) return rc;
    dr_textenc_config cfg;
    rc = dr_textenc_config_parse(&cfg, json, config_path, err);
    free(json);
    if (rc) return rc;
    bool has_proj = false;
    if ((rc = safetensors_has(weights, "text_projection.weight", &has_proj, err))) return rc;
    if (!has_proj) cfg.proj_dim = 0;
    else if (cfg.proj_dim <= 0) cfg.proj_dim = cfg.dim; /* sized by the tensor; load checks the shape */
    if ((rc = dr_textenc_create(te, &cfg, err))) return rc;
    if ((rc = dr_params_load(&te->params, weights, true, err))) {
        dr_textenc_free(te);
        return rc;
    }
    return DR_OK;
}

int dr_textenc_load(dr_textenc *te, const char *path, dr_err *err) {
    memset(te, 0, sizeof *te);
    char weights[4096], config[4096];
    if (dr_is_dir(path)) {
        if (dr_path_join(weights, sizeof weights, path, "model.safetensors") ||
            dr_path_join(config, sizeof config, path, "config.json"))
            return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
        if (!dr_file_exists(weights) || !dr_file_exists(config))
            return dr_err_set(err, DR_ENOTFOUND, "%s: a CLIP folder needs config.json and model.safetensors", path);
        return load_hf(te, weights, config, err);
    }
    /* A director file carries its config in the metadata; an HF file has none. */
    dr_st_file f;
    int rc = dr_st_open(&f, path, err);
    if (rc) return rc;
    const char *kind = dr_st_meta(&f, "director.kind");
    bool director_file = kind != NULL, is_textenc = kind && !strcmp(kind, "text_encoder");
    char kind_copy[64];
    snprintf(kind_copy, sizeof kind_copy, "%s", kind ? kind : "");
    dr_st_close(&f);
    if (director_file) {
        if (!is_textenc) return dr_err_set(err, DR_EFORMAT, "%s: a \"%s\" model, not a text encoder", path, kind_copy);
        char *cj = NULL;
        if ((rc = dr_model_file_info(path, NULL, &cj, err))) return rc;
        dr_textenc_config cfg;
        rc = dr_textenc_config_parse(&cfg, cj, path, err);
        free(cj);
        if (rc) return rc;
        if ((rc = dr_textenc_create(te, &cfg, err))) return rc;
        if ((rc = dr_params_load(&te->params, path, false, err))) dr_textenc_free(te);
        return rc;
    }
    /* A bare HF safetensors file: config.json must sit beside it. */
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    snprintf(config, sizeof config, "%.*s%sconfig.json", dirlen, path, slash ? "/" : "");
    if (!dr_file_exists(config))
        return dr_err_set(err, DR_EFORMAT, "%s: no director metadata and no config.json beside it", path);
    snprintf(weights, sizeof weights, "%s", path);
    return load_hf(te, weights, config, err);
}

int dr_textenc_save(const dr_textenc *te, const char *path, dr_err *err) {
    char *cj = dr_textenc_config_json(&te->cfg);
    if (!cj) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_params_save(&te->params, path, "text_encoder", cj, err);
    free(cj);
    return rc;
}

/* ---------------------------------------------------------------- InfoNCE */

long dr_clip_loss_cache_floats(int B, int P) { return 2L * B * P + 3L * B * B + 2L * B; }

/* Cache layout: an [B,P], bn [B,P], prow [B,B], pcol [B,B], target [B,B], na [B], nb [B]. */
float dr_clip_loss_forward(const float *a, const float *b, const int *group, float log_scale, int B, int P,
                           float *cache) {
    float *an = cache, *bn = an + (size_t)B * P, *prow = bn + (size_t)B * P, *pcol = prow + (size_t)B * B;
    float *tgt = pcol + (size_t)B * B, *na = tgt + (size_t)B * B, *nb = na + B;
    for (int i = 0; i < B; i++) {
        double sa = 0, sb = 0;
        for (int j = 0; j < P; j++) {
            sa += (double)a[(size_t)i * P + j] * a[(size_t)i * P + j];
            sb += (double)b[(size_t)i * P + j] * b[(size_t)i * P + j];
        }
        na[i] = (float)sqrt(sa + 1e-12);
        nb[i] = (float)sqrt(sb + 1e-12);
        for (int j = 0; j < P; j++) {
            an[(size_t)i * P + j] = a[(size_t)i * P + j] / na[i];
            bn[(size_t)i * P + j] = b[(size_t)i * P + j] / nb[i];
        }
    }
    const float scale = expf(log_scale);
    dr_sgemm(false, true, B, B, P, scale, an, P, bn, P, 0.0f, prow, B); /* logits */
    for (int i = 0; i < B; i++) {
        int cnt = 0;
        for (int j = 0; j < B; j++) cnt += group ? group[i] == group[j] : i == j;
        for (int j = 0; j < B; j++)
            tgt[(size_t)i * B + j] = (group ? group[i] == group[j] : i == j) ? 1.0f / (float)cnt : 0.0f;
    }
    double loss = 0;
    /* column softmax first (reads logits), then row softmax in place */
    for (int j = 0; j < B; j++) {
        float mx = -INFINITY;
        for (int i = 0; i < B; i++) mx = fmaxf(mx, prow[(size_t)i * B + j]);
        double sum = 0;
        for (int i = 0; i < B; i++) sum += exp((double)prow[(size_t)i * B + j] - mx);
        double lse = mx + log(sum);
        for (int i = 0; i < B; i++) {
            double lp = prow[(size_t)i * B + j] - lse;
            pcol[(size_t)i * B + j] = (float)exp(lp);
            loss -= 0.5 * tgt[(size_t)i * B + j] * lp;
        }
    }
    for (int i = 0; i < B; i++) {
        float *row = prow + (size_t)i * B, mx = -INFINITY;
        for (int j = 0; j < B; j++) mx = fmaxf(mx, row[j]);
        double sum = 0;
        for (int j = 0; j < B; j++) sum += exp((double)row[j] - mx);
        double lse = mx + log(sum);
        for (int j = 0; j < B; j++) {
            double lp = row[j] - lse;
            loss -= 0.5 * tgt[(size_t)i * B + j] * lp;
            row[j] = (float)exp(lp);
        }
    }
    return (float)(loss / B);
}

void dr_clip_loss_backward(float *da, float *db, float *dlog_scale, const float *a, const float *b,
                           const int *group, float log_scale, int B, int P, const float *cache, float dloss) {
    (void)a;
    (void)b;
    (void)group;
    const float *an = cache, *bn = an + (size_t)B * P, *prow = bn + (size_t)B * P, *pcol = prow + (size_t)B * B;
    const float *tgt = pcol + (size_t)B * B, *na = tgt + (size_t)B * B, *nb = na + B;
    const float scale = expf(log_scale);
    /* dlogits = (prow - t + pcol - t) / (2B) * dloss; the small B x B x P products stay naive */
    double dls = 0;
    for (int i = 0; i < B; i++) {
        for (int j = 0; j < B; j++) {
            size_t ij = (size_t)i * B + j;
            float g = (prow[ij] + pcol[ij] - 2.0f * tgt[ij]) / (2.0f * (float)B) * dloss;
            double dot = 0;
            for (int p = 0; p < P; p++) dot += (double)an[(size_t)i * P + p] * bn[(size_t)j * P + p];
            dls += (double)g * scale * dot; /* d logit / d log_scale = logit */
        }
    }
    if (dlog_scale) *dlog_scale += (float)dls;
    for (int i = 0; i < B; i++) {
        /* dan_i = scale * sum_j g_ij bn_j; dbn_i = scale * sum_j g_ji an_j */
        float dan[P > 0 ? P : 1], dbn[P > 0 ? P : 1];
        for (int p = 0; p < P; p++) dan[p] = dbn[p] = 0.0f;
        for (int j = 0; j < B; j++) {
            float gij = (prow[(size_t)i * B + j] + pcol[(size_t)i * B + j] - 2.0f * tgt[(size_t)i * B + j]) /
                        (2.0f * (float)B) * dloss * scale;
            float gji = (prow[(size_t)j * B + i] + pcol[(size_t)j * B + i] - 2.0f * tgt[(size_t)j * B + i]) /
                        (2.0f * (float)B) * dloss * scale;
            for (int p = 0; p < P; p++) {
                dan[p] += gij * bn[(size_t)j * P + p];
                dbn[p] += gji * an[(size_t)j * P + p];
            }
        }
        /* through the normalization: d x = (d xn - xn (xn . d xn)) / |x| */
        double da_dot = 0, db_dot = 0;
        for (int p = 0; p < P; p++) {
            da_dot += (double)an[(size_t)i * P + p] * dan[p];
            db_dot += (double)bn[(size_t)i * P + p] * dbn[p];
        }
        for (int p = 0; p < P; p++) {
            if (da) da[(size_t)i * P + p] += (dan[p] - an[(size_t)i * P + p] * (float)da_dot) / na[i];
            if (db) db[(size_t)i * P + p] += (dbn[p] - bn[(size_t)i * P + p] * (float)db_dot) / nb[i];
        }
    }
}
