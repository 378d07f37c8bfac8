/* llama.c - DirectorLLM (llama.h): parameters, training forward/backward, KV-cached
 * inference and constrained sampling, composed from the layers of nn/nn.h. */
#include "models/llama.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/gemv.h"
#include "core/parallel.h"
#include "nn/fastmath.h"

const char *const dr_llama_special_names[DR_LLAMA_NUM_SPECIALS] = {
    "<|begin_of_text|>", "<|end_of_text|>", "<|pose_begin|>", "<|pose_end|>", "<|pad|>",
};

/* ---- configuration ------------------------------------------------------------- */

dr_llama_config dr_llama_config_director(int n_text) {
    dr_llama_config c = {
        .dim = 256, .n_layers = 6, .n_heads = 8, .n_kv_heads = 4, .head_dim = 32, .ffn_hidden = 704,
        .rope_theta = 10000.0f, .norm_eps = 1e-5f, .max_seq_len = 256, .tied_embeddings = false,
        .n_text = n_text, .pose_levels = 6, .pose_codebook = 512, .pose_keyframes = 20,
    };
    c.vocab_size = n_text + DR_LLAMA_NUM_SPECIALS + c.pose_levels * c.pose_codebook;
    return c;
}

int dr_llama_config_validate(const dr_llama_config *c, dr_err *err) {
    if (c->vocab_size <= 0 || c->dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->head_dim <= 0 || c->ffn_hidden <= 0 || c->max_seq_len <= 0)
        return dr_err_set(err, DR_EINVAL, "llm config: every size must be positive");
    if (c->n_heads % c->n_kv_heads != 0)
        return dr_err_set(err, DR_EINVAL, "llm config: n_heads (%d) is not a multiple of n_kv_heads (%d)",
                          c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2 != 0)
        return dr_err_set(err, DR_EINVAL, "llm config: head_dim (%d) must be even for RoPE", c->head_dim);
    if (!(c->rope_theta > 1.0f) || !(c->norm_eps > 0.0f) || !isfinite(c->rope_theta) || !isfinite(c->norm_eps))
        return dr_err_set(err, DR_EINVAL, "llm config: rope_theta must be > 1 and norm_eps > 0");
    if (c->vocab_size > (1 << 24) || c->dim > (1 << 16) || c->ffn_hidden > (1 << 18) || c->n_layers > 1024 ||
        c->max_seq_len > (1 << 20) || (long)c->n_heads * c->head_dim > (1 << 16))
        return dr_err_set(err, DR_ERANGE, "llm config: sizes out of range");
    if (c->pose_levels < 0 || c->pose_codebook < 0 || c->pose_keyframes < 0 || c->n_text < 0)
        return dr_err_set(err, DR_EINVAL, "llm config: negative vocabulary layout field");
    if (c->pose_levels > 0) {
        if (c->pose_codebook <= 0 || c->pose_keyframes <= 0)
            return dr_err_set(err, DR_EINVAL, "llm config: pose_codebook and pose_keyframes must be positive");
        long want = (long)c->n_text + DR_LLAMA_NUM_SPECIALS + (long)c->pose_levels * c->pose_codebook;
        if (want != c->vocab_size)
            return dr_err_set(err, DR_EINVAL,
                              "llm config: vocab_size %d != n_text %d + %d specials + %d x %d pose codes", c->vocab_size,
                              c->n_text, DR_LLAMA_NUM_SPECIALS, c->pose_levels, c->pose_codebook);
        if (dr_llama_pose_slots(c) + 4 > c->max_seq_len)
            return dr_err_set(err, DR_EINVAL, "llm config: max_seq_len %d cannot hold %d pose tokens", c->max_seq_len,
                              dr_llama_pose_slots(c));
    }
    return DR_OK;
}

char *dr_llama_config_to_json(const dr_llama_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "architecture", "LlamaForCausalLM");
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "hidden_size", c->dim);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "intermediate_size", c->ffn_hidden);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    cJSON_AddNumberToObject(o, "rms_norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_seq_len);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddNumberToObject(o, "n_text_tokens", c->n_text);
    cJSON_AddNumberToObject(o, "pose_levels", c->pose_levels);
    cJSON_AddNumberToObject(o, "pose_codebook_size", c->pose_codebook);
    cJSON_AddNumberToObject(o, "pose_keyframes", c->pose_keyframes);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int json_int(const cJSON *o, const char *key, int *out, dr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return dr_err_set(err, DR_EFORMAT, "llm config: \"%s\" is missing or not a number", key);
    double d = v->valuedouble;
    if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != floor(d))
        return dr_err_set(err, DR_EFORMAT, "llm config: \"%s\" is not an integer", key);
    *out = (int)d;
    return DR_OK;
}

static int json_float(const cJSON *o, const char *key, float *out, dr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return dr_err_set(err, DR_EFORMAT, "llm config: \"%s\" is missing or not a number", key);
    *out = (float)v->valuedouble;
    return DR_OK;
}

int dr_llama_config_from_json(dr_llama_config *c, const char *json, dr_err *err) {
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return dr_err_set(err, DR_EFORMAT, "llm config: not a JSON object");
    }
    memset(c, 0, sizeof *c);
    int rc = DR_OK;
    if ((rc = json_int(o, "vocab_size", &c->vocab_size, err)) || (rc = json_int(o, "hidden_size", &c->dim, err)) ||
        (rc = json_int(o, "num_hidden_layers", &c->n_layers, err)) ||
        (rc = json_int(o, "num_attention_heads", &c->n_heads, err)) ||
        (rc = json_int(o, "num_key_value_heads", &c->n_kv_heads, err)) ||
        (rc = json_int(o, "head_dim", &c->head_dim, err)) ||
        (rc = json_int(o, "intermediate_size", &c->ffn_hidden, err)) ||
        (rc = json_float(o, "rope_theta", &c->rope_theta, err)) ||
        (rc = json_float(o, "rms_norm_eps", &c->norm_eps, err)) ||
        (rc = json_int(o, "max_position_embeddings", &c->max_seq_len, err)) ||
        (rc = json_int(o, "n_text_tokens", &c->n_text, err)) || (rc = json_int(o, "pose_levels", &c->pose_levels, err)) ||
        (rc = json_int(o, "pose_codebook_size", &c->pose_codebook, err)) ||
        (rc = json_int(o, "pose_keyframes", &c->pose_keyframes, err))) {
        cJSON_Delete(o);
        return rc;
    }
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings");
    if (!cJSON_IsBool(tied)) {
        cJSON_Delete(o);
        return dr_err_set(err, DR_EFORMAT, "llm config: \"tie_word_embeddings\" is missing or not a boolean");
    }
    c->tied_embeddings = cJSON_IsTrue(tied);
    cJSON_Delete(o);
    return dr_llama_config_validate(c, err);
}

/* ---- parameters ---------------------------------------------------------------- */

static int declare(dr_params *p, dr_err *err, bool no_decay, int64_t d0, int64_t d1, const char *fmt, int layer) {
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    int rc = d1 > 0 ? dr_params_add2(p, name, no_decay, d0, d1) : dr_params_add1(p, name, no_decay, d0);
    return rc < 0 ? dr_err_set(err, rc, "llm: cannot declare parameter %s", name) : DR_OK;
}

/* Resolve the tensor pointers into params.data. */
static void bind_pointers(dr_llama *m) {
    char name[96];
    m->embed = dr_params_get(&m->params, "model.embed_tokens.weight");
    m->final_norm = dr_params_get(&m->params, "model.norm.weight");
    m->lm_head = m->cfg.tied_embeddings ? m->embed : dr_params_get(&m->params, "lm_head.weight");
    for (int l = 0; l < m->cfg.n_layers; l++) {
        dr_llama_layer *w = &m->layers[l];
#define BIND(field, suffix)                                                   \
    snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix); \
    w->field = dr_params_get(&m->params, name)
        BIND(attn_norm, "input_layernorm.weight");
        BIND(wq, "self_attn.q_proj.weight");
        BIND(wk, "self_attn.k_proj.weight");
        BIND(wv, "self_attn.v_proj.weight");
        BIND(wo, "self_attn.o_proj.weight");
        BIND(ffn_norm, "post_attention_layernorm.weight");
        BIND(w_gate, "mlp.gate_proj.weight");
        BIND(w_up, "mlp.up_proj.weight");
        BIND(w_down, "mlp.down_proj.weight");
#undef BIND
    }
}

int dr_llama_init(dr_llama *m, const dr_llama_config *cfg, dr_err *err) {
    memset(m, 0, sizeof *m);
    int rc = dr_llama_config_validate(cfg, err);
    if (rc) return rc;
    m->cfg = *cfg;
    dr_params_init(&m->params);
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->layers) return dr_err_set(err, DR_ENOMEM, "llm: out of memory");
    const int64_t C = cfg->dim, QD = (int64_t)cfg->n_heads * cfg->head_dim, KVD = (int64_t)cfg->n_kv_heads * cfg->head_dim,
                  F = cfg->ffn_hidden, V = cfg->vocab_size;
    rc = declare(&m->params, err, false, V, C, "model.embed_tokens.weight", 0);
    for (int l = 0; l < cfg->n_layers && !rc; l++) {
        if ((rc = declare(&m->params, err, true, C, 0, "model.layers.%d.input_layernorm.weight", l)) ||
            (rc = declare(&m->params, err, false, QD, C, "model.layers.%d.self_attn.q_proj.weight", l)) ||
            (rc = declare(&m->params, err, false, KVD, C, "model.layers.%d.self_attn.k_proj.weight", l)) ||
            (rc = declare(&m->params, err, false, KVD, C, "model.layers.%d.self_attn.v_proj.weight", l)) ||
            (rc = declare(&m->params, err, false, C, QD, "model.layers.%d.self_attn.o_proj.weight", l)) ||
            (rc = declare(&m->params, err, true, C, 0, "model.layers.%d.post_attention_layernorm.weight", l)) ||
            (rc = declare(&m->params, err, false, F, C, "model.layers.%d.mlp.gate_proj.weight", l)) ||
            (rc = declare(&m->params, err, false, F, C, "model.layers.%d.mlp.up_proj.weight", l)) ||
            (rc = declare(&m->params, err, false, C, F, "model.layers.%d.mlp.down_proj.weight", l)))
            break;
    }
    if (!rc) rc = declare(&m->params, err, true, C, 0, "model.norm.weight", 0);
    if (!rc && !cfg->tied_embeddings) rc = declare(&m->params, err, false, V, C, "lm_head.weight", 0);
    if (!rc && dr_params_alloc(&m->params) != DR_OK) rc = dr_err_set(err, DR_ENOMEM, "llm: out of memory for parameters");
    if (rc) {
        dr_llama_free(m);
        return rc;
    }
    bind_pointers(m);
    return DR_OK;
}

void dr_llama_init_weights(dr_llama *m, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    const float std = 0.02f, resid_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < m->params.count; i++) {
        const dr_param *p = &m->params.items[i];
        const char *name = p->name;
        if (strstr(name, "norm.weight"))
            dr_params_fill(&m->params, name, 1.0f);
        else if (strstr(name, "o_proj") || strstr(name, "down_proj"))
            dr_params_init_normal(&m->params, name, &rng, resid_std);
        else
            dr_params_init_normal(&m->params, name, &rng, std);
    }
}

static void acts_free(dr_llama_acts *a) {
    dr_free(a->base);
    free(a->tokens);
    free(a->targets);
    memset(a, 0, sizeof *a);
}

void dr_llama_free(dr_llama *m) {
    acts_free(&m->acts);
    dr_params_free(&m->params);
    free(m->layers);
    memset(m, 0, sizeof *m);
}

size_t dr_llama_num_params(const dr_llama *m) { return m->params.total; }

double dr_llama_config_num_params(const dr_llama_config *c) {
    const double C = c->dim, QD = (double)c->n_heads * c->head_dim, KVD = (double)c->n_kv_heads * c->head_dim;
    const double layer = 2 * C + QD * C * 2 + KVD * C * 2 + 3 * C * (double)c->ffn_hidden;
    return (double)c->vocab_size * C * (c->tied_embeddings ? 1 : 2) + c->n_layers * layer + C;
}

int dr_llama_save(const dr_llama *m, const char *path, dr_err *err) {
    char *json = dr_llama_config_to_json(&m->cfg);
    if (!json) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_params_save(&m->params, path, "llm", json, err);
    free(json);
    return rc;
}

int dr_llama_read_config(const char *path, dr_llama_config *cfg, dr_err *err) {
    char *kind = NULL, *json = NULL;
    int rc = dr_model_file_info(path, &kind, &json, err);
    if (rc) return rc;
    if (!kind || strcmp(kind, "llm") != 0)
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a DirectorLLM file (kind \"%s\")", path, kind ? kind : "");
    else if ((rc = dr_llama_config_from_json(cfg, json ? json : "", err)) != DR_OK)
        dr_err_prefix(err, "%s", path);
    free(kind);
    free(json);
    if (rc) return rc;
    /* The config alone decides how much memory is allocated before any tensor is read:
     * a file must at least hold every parameter at 2 bytes (F16/BF16), so a small file
     * claiming a huge model is refused instead of allocating and zeroing gigabytes. */
    struct stat st;
    if (stat(path, &st) != 0) return dr_err_set(err, DR_EIO, "%s: cannot stat: %s", path, strerror(errno));
    double need = 2.0 * dr_llama_config_num_params(cfg);
    if (need > (double)st.st_size)
        return dr_err_set(err, DR_EFORMAT, "%s: the config declares %.0f parameters but the file has only %lld bytes",
                          path, need / 2.0, (long long)st.st_size);
    return DR_OK;
}

int dr_llama_load(dr_llama *m, const char *path, dr_err *err) {
    memset(m, 0, sizeof *m);
    dr_llama_config cfg;
    int rc = dr_llama_read_config(path, &cfg, err);
    if (rc) return rc;
    if ((rc = dr_llama_init(m, &cfg, err)) != DR_OK) return rc;
    if ((rc = dr_params_load(&m->params, path, false, err)) != DR_OK) dr_llama_free(m);
    return rc;
}

/* ---- training ------------------------------------------------------------------ */

/* Carve the activation buffer for (B, T). With base == NULL only the size is computed. */
static size_t acts_layout(dr_llama_acts *a, const dr_llama_config *c, int B, int T, float *base) {
    const size_t N = (size_t)B * T, L = (size_t)c->n_layers, C = (size_t)c->dim;
    const size_t QD = (size_t)c->n_heads * c->head_dim, KVD = (size_t)c->n_kv_heads * c->head_dim;
    const size_t F = (size_t)c->ffn_hidden, V = (size_t)c->vocab_size;
    const size_t ATT = (size_t)B * c->n_heads * T * T;
    size_t off = 0;
#define CARVE(field, count)                                      \
    do {                                                         \
        if (base) a->field = base + off;                         \
        off += ((size_t)(count) + 15) / 16 * 16; /* 64-byte aligned */ \
    } while (0)
    CARVE(resid, (L + 1) * N * C);
    CARVE(ln1, L * N * C);
    CARVE(ln1_rstd, L * N);
    CARVE(q, L * N * QD);
    CARVE(k, L * N * KVD);
    CARVE(v, L * N * KVD);
    CARVE(att, L * ATT);
    CARVE(atty, L * N * QD);
    CARVE(resid_mid, L * N * C);
    CARVE(ln2, L * N * C);
    CARVE(ln2_rstd, L * N);
    CARVE(mlp_gate, L * N * F);
    CARVE(mlp_up, L * N * F);
    CARVE(mlp_h, L * N * F);
    CARVE(lnf, N * C);
    CARVE(lnf_rstd, N);
    CARVE(logits, N * V);
    CARVE(dresid, N * C);
    CARVE(dln, N * C);
    CARVE(dq, N * QD);
    CARVE(dk, N * KVD);
    CARVE(dv, N * KVD);
    CARVE(datty, N * QD);
    CARVE(dlogits, N * V);
    CARVE(scratch, ATT > 3 * N * F ? ATT : 3 * N * F);
    CARVE(tmp, N * C);
#undef CARVE
    return off;
}

static int acts_ensure(dr_llama *m, int B, int T, dr_err *err) {
    dr_llama_acts *a = &m->acts;
    size_t need = acts_layout(a, &m->cfg, B, T, NULL);
    size_t n = (size_t)B * T;
    if (need > a->capacity || n > (size_t)(a->B * a->T)) {
        acts_free(a);
        a->base = dr_alloc(need * sizeof(float));
        a->tokens = malloc(n * sizeof(int));
        a->targets = malloc(n * sizeof(int));
        if (!a->base || !a->tokens || !a->targets) {
            acts_free(a);
            return dr_err_set(err, DR_ENOMEM, "llm: out of memory for activations (B %d, T %d)", B, T);
        }
        a->capacity = need;
    }
    acts_layout(a, &m->cfg, B, T, a->base);
    a->B = B;
    a->T = T;
    return DR_OK;
}

static void add3(float *out, const float *a, const float *b, long n) {
#pragma omp parallel for schedule(static) if (n > 32768)
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static inline float *grad_of(const dr_llama *m, const float *param) {
    return m->params.grad + (param - m->params.data);
}

void dr_llama_block_forward(dr_llama *m, int l) {
    dr_llama_acts *a = &m->acts;
    const dr_llama_config *c = &m->cfg;
    const int B = a->B, T = a->T;
    const long N = (long)B * T;
    const int C = c->dim, D = c->head_dim, Hq = c->n_heads, Hkv = c->n_kv_heads, F = c->ffn_hidden;
    const int QD = Hq * D, KVD = Hkv * D;
    const long att_size = (long)B * Hq * T * T;
    const dr_attn_shape shape = {.B = B, .Tq = T, .Tk = T, .Hq = Hq, .Hkv = Hkv, .D = D, .causal = true};
    const dr_llama_layer *w = &m->layers[l];
    float *x = a->resid + l * N * C, *out = x + N * C;
    float *ln1 = a->ln1 + l * N * C, *q = a->q + l * N * QD, *k = a->k + l * N * KVD, *v = a->v + l * N * KVD;
    float *att = a->att + l * att_size, *atty = a->atty + l * N * QD, *mid = a->resid_mid + l * N * C;
    float *ln2 = a->ln2 + l * N * C;
    dr_swiglu_mlp_acts mlp = {a->mlp_gate + l * N * F, a->mlp_up + l * N * F, a->mlp_h + l * N * F};

    dr_rmsnorm_forward(ln1, a->ln1_rstd + l * N, x, w->attn_norm, (int)N, C, c->norm_eps);
    dr_linear_forward(q, ln1, w->wq, NULL, (int)N, C, QD);
    dr_linear_forward(k, ln1, w->wk, NULL, (int)N, C, KVD);
    dr_linear_forward(v, ln1, w->wv, NULL, (int)N, C, KVD);
    dr_rope_forward(q, B, T, Hq, D, NULL, 0, c->rope_theta);
    dr_rope_forward(k, B, T, Hkv, D, NULL, 0, c->rope_theta);
    dr_attention_forward(atty, att, q, k, v, &shape, NULL);
    dr_linear_forward(a->tmp, atty, w->wo, NULL, (int)N, QD, C);
    add3(mid, x, a->tmp, N * C);
    dr_rmsnorm_forward(ln2, a->ln2_rstd + l * N, mid, w->ffn_norm, (int)N, C, c->norm_eps);
    dr_swiglu_mlp_forward(a->tmp, &mlp, ln2, w->w_gate, w->w_up, w->w_down, (int)N, C, F);
    add3(out, mid, a->tmp, N * C);
}

void dr_llama_block_backward(dr_llama *m, int l) {
    dr_llama_acts *a = &m->acts;
    const dr_llama_config *c = &m->cfg;
    const int B = a->B, T = a->T;
    const long N = (long)B * T;
    const int C = c->dim, D = c->head_dim, Hq = c->n_heads, Hkv = c->n_kv_heads, F = c->ffn_hidden;
    const int QD = Hq * D, KVD = Hkv * D;
    const long att_size = (long)B * Hq * T * T;
    const dr_attn_shape shape = {.B = B, .Tq = T, .Tk = T, .Hq = Hq, .Hkv = Hkv, .D = D, .causal = true};
    const dr_llama_layer *w = &m->layers[l];
    float *x = a->resid + l * N * C;
    float *ln1 = a->ln1 + l * N * C, *q = a->q + l * N * QD, *k = a->k + l * N * KVD, *v = a->v + l * N * KVD;
    float *att = a->att + l * att_size, *atty = a->atty + l * N * QD, *mid = a->resid_mid + l * N * C;
    float *ln2 = a->ln2 + l * N * C;
    dr_swiglu_mlp_acts mlp = {a->mlp_gate + l * N * F, a->mlp_up + l * N * F, a->mlp_h + l * N * F};

    /* MLP branch: dresid holds d(block output) = d(mid) through the skip path */
    memset(a->dln, 0, sizeof(float) * (size_t)N * C);
    dr_swiglu_mlp_backward(a->dln, grad_of(m, w->w_gate), grad_of(m, w->w_up), grad_of(m, w->w_down), a->dresid,
                           &mlp, ln2, w->w_gate, w->w_up, w->w_down, (int)N, C, F, a->scratch);
    dr_rmsnorm_backward(a->dresid, grad_of(m, w->ffn_norm), a->dln, mid, w->ffn_norm, a->ln2_rstd + l * N,
                        (int)N, C);
    /* attention branch: dresid now holds d(mid) = d(x) through the skip path */
    memset(a->datty, 0, sizeof(float) * (size_t)N * QD);
    dr_linear_backward(a->datty, grad_of(m, w->wo), NULL, a->dresid, atty, w->wo, (int)N, QD, C);
    memset(a->dq, 0, sizeof(float) * (size_t)N * QD);
    memset(a->dk, 0, sizeof(float) * (size_t)N * KVD);
    memset(a->dv, 0, sizeof(float) * (size_t)N * KVD);
    dr_attention_backward(a->dq, a->dk, a->dv, a->datty, q, k, v, att, &shape, a->scratch);
    dr_rope_backward(a->dq, B, T, Hq, D, NULL, 0, c->rope_theta);
    dr_rope_backward(a->dk, B, T, Hkv, D, NULL, 0, c->rope_theta);
    memset(a->dln, 0, sizeof(float) * (size_t)N * C);
    dr_linear_backward(a->dln, grad_of(m, w->wq), NULL, a->dq, ln1, w->wq, (int)N, C, QD);
    dr_linear_backward(a->dln, grad_of(m, w->wk), NULL, a->dk, ln1, w->wk, (int)N, C, KVD);
    dr_linear_backward(a->dln, grad_of(m, w->wv), NULL, a->dv, ln1, w->wv, (int)N, C, KVD);
    dr_rmsnorm_backward(a->dresid, grad_of(m, w->attn_norm), a->dln, x, w->attn_norm, a->ln1_rstd + l * N, (int)N,
                        C);
}

int dr_llama_forward(dr_llama *m, const int *tokens, const int *targets, int B, int T, float *loss, dr_err *err) {
    const dr_llama_config *c = &m->cfg;
    if (B <= 0 || T <= 0) return dr_err_set(err, DR_EINVAL, "llm forward: empty batch (B %d, T %d)", B, T);
    if (T > c->max_seq_len)
        return dr_err_set(err, DR_ERANGE, "llm forward: sequence length %d exceeds max_seq_len %d", T, c->max_seq_len);
    const long N = (long)B * T;
    for (long i = 0; i < N; i++) {
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return dr_err_set(err, DR_ERANGE, "llm forward: token %d at %ld outside the vocabulary [0, %d)", tokens[i],
                              i, c->vocab_size);
        if (targets && (targets[i] < -1 || targets[i] >= c->vocab_size))
            return dr_err_set(err, DR_ERANGE, "llm forward: target %d at %ld outside [-1, %d)", targets[i], i,
                              c->vocab_size);
    }
    int rc = acts_ensure(m, B, T, err);
    if (rc) return rc;
    dr_llama_acts *a = &m->acts;
    memcpy(a->tokens, tokens, (size_t)N * sizeof(int));
    a->have_targets = targets != NULL;
    if (targets) memcpy(a->targets, targets, (size_t)N * sizeof(int));

    const int C = c->dim, V = c->vocab_size;

    dr_embedding_forward(a->resid, tokens, m->embed, (int)N, C);
    for (int l = 0; l < c->n_layers; l++) dr_llama_block_forward(m, l);
    dr_rmsnorm_forward(a->lnf, a->lnf_rstd, a->resid + c->n_layers * N * C, m->final_norm, (int)N, C, c->norm_eps);
    dr_linear_forward(a->logits, a->lnf, m->lm_head, NULL, (int)N, C, V);
    if (targets) {
        float l = dr_softmax_xent_forward(a->logits, a->logits, targets, (int)N, V, &a->num_valid);
        if (loss) *loss = l;
    } else if (loss) {
        *loss = 0.0f;
    }
    return DR_OK;
}

int dr_llama_backward(dr_llama *m, float loss_scale, dr_err *err) {
    dr_llama_acts *a = &m->acts;
    const dr_llama_config *c = &m->cfg;
    if (!a->base || !a->have_targets)
        return dr_err_set(err, DR_EINVAL, "llm backward: no forward pass with targets to differentiate");
    if (!m->params.grad && dr_params_alloc_grad(&m->params) != DR_OK)
        return dr_err_set(err, DR_ENOMEM, "llm backward: out of memory for gradients");
    const int B = a->B, T = a->T;
    const long N = (long)B * T;
    const int C = c->dim, V = c->vocab_size;
    if (a->num_valid == 0) return DR_OK; /* no valid target: the loss is a constant 0 */

    memset(a->dlogits, 0, sizeof(float) * (size_t)N * V);
    dr_softmax_xent_backward(a->dlogits, a->logits, a->targets, (int)N, V, loss_scale / (float)a->num_valid);
    memset(a->dln, 0, sizeof(float) * (size_t)N * C);
    dr_linear_backward(a->dln, grad_of(m, m->lm_head), NULL, a->dlogits, a->lnf, m->lm_head, (int)N, C, V);
    memset(a->dresid, 0, sizeof(float) * (size_t)N * C);
    dr_rmsnorm_backward(a->dresid, grad_of(m, m->final_norm), a->dln, a->resid + c->n_layers * N * C, m->final_norm,
                        a->lnf_rstd, (int)N, C);

    for (int l = c->n_layers - 1; l >= 0; l--) dr_llama_block_backward(m, l);
    dr_embedding_backward(grad_of(m, m->embed), a->dresid, a->tokens, (int)N, C);
    return DR_OK;
}

const float *dr_llama_logits(const dr_llama *m) { return m->acts.have_targets ? NULL : m->acts.logits; }

void dr_llama_argmax(const dr_llama *m, int *preds) {
    const long N = (long)m->acts.B * m->acts.T;
    const int V = m->cfg.vocab_size;
#pragma omp parallel for schedule(static) if (N * V > 32768)
    for (long i = 0; i < N; i++) {
        const float *row = m->acts.logits + i * V;
        int best = 0;
        for (int j = 1; j < V; j++)
            if (row[j] > row[best]) best = j;
        preds[i] = best;
    }
}

/* ---- inference ----------------------------------------------------------------- */

int dr_llama_session_init(dr_llama_session *s, const dr_llama *m, int batch, int max_len, dr_err *err) {
    memset(s, 0, sizeof *s);
    const dr_llama_config *c = &m->cfg;
    if (batch <= 0 || max_len <= 0) return dr_err_set(err, DR_EINVAL, "llm session: batch and length must be positive");
    if (max_len > c->max_seq_len)
        return dr_err_set(err, DR_ERANGE, "llm session: length %d exceeds max_seq_len %d", max_len, c->max_seq_len);
    s->m = m;
    s->batch = batch;
    s->max_len = max_len;
    /* Prefill in chunks of at most 128 positions per row, so the attention buffer
     * stays chunk x max_len per head however long the context. */
    s->chunk = max_len < 128 ? max_len : 128;
    const size_t L = (size_t)c->n_layers, KVD = (size_t)c->n_kv_heads * c->head_dim;
    const size_t QD = (size_t)c->n_heads * c->head_dim, C = (size_t)c->dim, F = (size_t)c->ffn_hidden;
    const size_t n = (size_t)batch * s->chunk;
    const size_t cache = L * batch * max_len * KVD;
    size_t sizes[] = {cache, cache, n * C, n * C, n * QD, n * KVD, n * KVD, n * QD, n * C, n * F, n * F, n * F,
                      (size_t)c->n_heads * s->chunk * max_len, (size_t)batch * C, (size_t)batch * c->vocab_size, n,
                      (size_t)max_len * c->head_dim};
    float **ptrs[] = {&s->k_cache, &s->v_cache, &s->x, &s->xn, &s->q, &s->k, &s->v, &s->atty, &s->tmp,
                      &s->gate, &s->up, &s->h, &s->att, &s->last, &s->logits, &s->rstd, &s->rope};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 15) / 16 * 16;
    s->base = dr_alloc(total * sizeof(float));
    s->ids = malloc(n * sizeof(int));
    if (!s->base || !s->ids) {
        dr_llama_session_free(s);
        return dr_err_set(err, DR_ENOMEM, "llm session: out of memory (batch %d, length %d)", batch, max_len);
    }
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = s->base + off;
        off += (sizes[i] + 15) / 16 * 16;
    }
    /* The rotation table of decoding steps: RoPE applied to (1, ..., 1, 0, ..., 0) at every
     * position gives cos in the first half and sin in the second, the very floats
     * dr_rope_forward computes, so decoding rotates exactly as prefill and training do. */
    const int D = c->head_dim;
    for (int t = 0; t < max_len; t++)
        for (int i = 0; i < D; i++) s->rope[(long)t * D + i] = i < D / 2 ? 1.0f : 0.0f;
    dr_rope_forward(s->rope, 1, max_len, 1, D, NULL, 0, c->rope_theta);
    return DR_OK;
}

void dr_llama_session_free(dr_llama_session *s) {
    dr_free(s->base);
    dr_free(s->w16);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

void dr_llama_session_reset(dr_llama_session *s) { s->len = 0; }

int dr_llama_session_use_bf16(dr_llama_session *s, dr_err *err) {
    if (s->w16) return DR_OK;
    const dr_params *p = &s->m->params;
    s->w16 = dr_alloc(sizeof(uint16_t) * p->total);
    if (!s->w16) return dr_err_set(err, DR_ENOMEM, "llm session: out of memory for the bf16 weights");
    dr_bf16_from_f32(s->w16, p->data, (long)p->total);
    return DR_OK;
}

/* One chunk of Tc tokens per row (ids [batch * Tc], row-major), appended at s->len. */
static void session_chunk(dr_llama_session *s, const int *ids, int Tc) {
    const dr_llama *m = s->m;
    const dr_llama_config *c = &m->cfg;
    const int C = c->dim, D = c->head_dim, Hq = c->n_heads, Hkv = c->n_kv_heads, F = c->ffn_hidden;
    const int QD = Hq * D, KVD = Hkv * D, Bn = s->batch;
    const int n = Bn * Tc;
    const long row_cache = (long)s->max_len * KVD, layer_cache = (long)Bn * row_cache;
    float *rstd = s->rstd;
    dr_attn_shape shape = {.B = 1, .Tq = Tc, .Tk = s->len + Tc, .Hq = Hq, .Hkv = Hkv, .D = D, .causal = true};

    dr_embedding_forward(s->x, ids, m->embed, n, C);
    for (int l = 0; l < c->n_layers; l++) {
        const dr_llama_layer *w = &m->layers[l];
        dr_rmsnorm_forward(s->xn, rstd, s->x, w->attn_norm, n, C, c->norm_eps);
        dr_linear_forward(s->q, s->xn, w->wq, NULL, n, C, QD);
        dr_linear_forward(s->k, s->xn, w->wk, NULL, n, C, KVD);
        dr_linear_forward(s->v, s->xn, w->wv, NULL, n, C, KVD);
        dr_rope_forward(s->q, Bn, Tc, Hq, D, NULL, s->len, c->rope_theta);
        dr_rope_forward(s->k, Bn, Tc, Hkv, D, NULL, s->len, c->rope_theta);
        float *kc = s->k_cache + l * layer_cache, *vc = s->v_cache + l * layer_cache;
        for (int r = 0; r < Bn; r++) {
            memcpy(kc + r * row_cache + (long)s->len * KVD, s->k + (long)r * Tc * KVD, sizeof(float) * (size_t)Tc * KVD);
            memcpy(vc + r * row_cache + (long)s->len * KVD, s->v + (long)r * Tc * KVD, sizeof(float) * (size_t)Tc * KVD);
            dr_attention_forward(s->atty + (long)r * Tc * QD, s->att, s->q + (long)r * Tc * QD, kc + r * row_cache,
                                 vc + r * row_cache, &shape, NULL);
        }
        dr_linear_forward(s->tmp, s->atty, w->wo, NULL, n, QD, C);
        dr_add_inplace(s->x, s->tmp, (long)n * C);
        dr_rmsnorm_forward(s->xn, rstd, s->x, w->ffn_norm, n, C, c->norm_eps);
        dr_swiglu_mlp_acts mlp = {s->gate, s->up, s->h};
        dr_swiglu_mlp_forward(s->tmp, &mlp, s->xn, w->w_gate, w->w_up, w->w_down, n, C, F);
        dr_add_inplace(s->x, s->tmp, (long)n * C);
    }
    s->len += Tc;
    /* keep the last position of every row for the logits */
    for (int r = 0; r < Bn; r++)
        memcpy(s->last + (long)r * C, s->x + ((long)r * Tc + Tc - 1) * C, sizeof(float) * (size_t)C);
}

/* ---- decoding: one token per row ----
 * A decoding step multiplies `batch` rows by every weight matrix: reading the weights is
 * the work. dr_gemv streams each matrix once per four rows on the calling thread, with no
 * GEMM set-up and no OpenMP region (under OMP_WAIT_POLICY=passive each region wakes the
 * sleeping pool through the kernel, and a step would need about 50 of them). K and V are
 * written straight into the cache and the residual products accumulate into x. This beats
 * the chunked GEMM path at every batch measured (1 to 32 rows: 3-4x at 9-32, where the
 * GEMM path's per-row attention products and OpenMP regions dominate), so every T = 1
 * step takes it. */

/* Attention of one query row over the n cached keys of its KV head (keys and values
 * `ld` floats apart): the same softmax as the training path (scores scaled inside the
 * exponent, dr_expf, normalised probabilities times V). scores holds n floats. */
static void decode_attend(float *out, const float *q, const float *kc, const float *vc, int n, int ld, int D,
                          float *scores) {
    const float scale = 1.0f / sqrtf((float)D);
    dr_dot_rows(scores, q, kc, ld, n, D);
    float maxv = -INFINITY;
    for (int t = 0; t < n; t++) maxv = scores[t] > maxv ? scores[t] : maxv;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int t = 0; t < n; t++) {
        float e = dr_expf((scores[t] - maxv) * scale);
        scores[t] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int t = 0; t < n; t++) scores[t] *= inv;
    dr_axpy_rows(out, scores, vc, ld, n, D);
}

/* The product y (+)= x W^T for one weight matrix of the model, from the session's bf16
 * copy when it has one (w16 = that copy's base + the same offset as W in params.data). */
static void decode_gemv(const dr_llama_session *s, float *y, int ldy, const float *x, int ldx, const float *W, int M,
                        int O, int K, bool accumulate) {
    if (s->w16)
        dr_gemv_bf16(y, ldy, x, ldx, s->w16 + (W - s->m->params.data), M, O, K, accumulate);
    else
        dr_gemv(y, ldy, x, ldx, W, M, O, K, accumulate);
}

/* RoPE of n heads (x [n][D]) at one position from the session's table: the arithmetic of
 * dr_rope_forward (lo' = lo c - hi s, hi' = hi c + lo s) without its sin/cos. */
static void decode_rope(float *x, int n, int D, const float *table) {
    const int half = D / 2;
    const float *cs = table, *sn = table + half;
    for (int h = 0; h < n; h++) {
        float *lo = x + (long)h * D, *hi = lo + half;
#pragma omp simd
        for (int i = 0; i < half; i++) {
            const float a = lo[i], e = hi[i];
            lo[i] = a * cs[i] - e * sn[i];
            hi[i] = e * cs[i] + a * sn[i];
        }
    }
}

/* One token per row (ids [batch]) at position s->len. */
static void session_decode(dr_llama_session *s, const int *ids) {
    const dr_llama *m = s->m;
    const dr_llama_config *c = &m->cfg;
    const int C = c->dim, D = c->head_dim, Hq = c->n_heads, Hkv = c->n_kv_heads, F = c->ffn_hidden;
    const int QD = Hq * D, KVD = Hkv * D, Bn = s->batch, group = Hq / Hkv, pos = s->len;
    const long row_cache = (long)s->max_len * KVD, layer_cache = (long)Bn * row_cache;

    dr_embedding_forward(s->x, ids, m->embed, Bn, C);
    for (int l = 0; l < c->n_layers; l++) {
        const dr_llama_layer *w = &m->layers[l];
        float *kc = s->k_cache + l * layer_cache, *vc = s->v_cache + l * layer_cache;
        dr_rmsnorm_forward(s->xn, s->rstd, s->x, w->attn_norm, Bn, C, c->norm_eps);
        decode_gemv(s, s->q, QD, s->xn, C, w->wq, Bn, QD, C, false);
        decode_gemv(s, s->k, KVD, s->xn, C, w->wk, Bn, KVD, C, false);
        decode_gemv(s, vc + (long)pos * KVD, (int)row_cache, s->xn, C, w->wv, Bn, KVD, C, false);
        decode_rope(s->q, Bn * Hq, D, s->rope + (long)pos * D);
        decode_rope(s->k, Bn * Hkv, D, s->rope + (long)pos * D);
        for (int r = 0; r < Bn; r++) {
            memcpy(kc + r * row_cache + (long)pos * KVD, s->k + (long)r * KVD, sizeof(float) * (size_t)KVD);
            for (int h = 0; h < Hq; h++) {
                const long kv = r * row_cache + (long)(h / group) * D;
                decode_attend(s->atty + (long)r * QD + h * D, s->q + (long)r * QD + h * D, kc + kv, vc + kv, pos + 1,
                              KVD, D, s->att);
            }
        }
        decode_gemv(s, s->x, C, s->atty, QD, w->wo, Bn, C, QD, true);
        dr_rmsnorm_forward(s->xn, s->rstd, s->x, w->ffn_norm, Bn, C, c->norm_eps);
        decode_gemv(s, s->gate, F, s->xn, C, w->w_gate, Bn, F, C, false);
        decode_gemv(s, s->up, F, s->xn, C, w->w_up, Bn, F, C, false);
        /* SwiGLU as dr_swiglu_forward, inline: a few hundred values do not need its
         * (if-disabled, still entered) OpenMP region */
#pragma omp simd
        for (long i = 0; i < (long)Bn * F; i++) s->h[i] = s->gate[i] * dr_sigmoidf(s->gate[i]) * s->up[i];
        decode_gemv(s, s->x, C, s->h, F, w->w_down, Bn, C, F, true);
    }
    s->len += 1;
    memcpy(s->last, s->x, sizeof(float) * (size_t)Bn * C);
}

int dr_llama_session_step(dr_llama_session *s, const int *tokens, int T, const float **logits, dr_err *err) {
    return dr_llama_session_step_range(s, tokens, T, 0, s->m->cfg.vocab_size, logits, err);
}

int dr_llama_session_step_range(dr_llama_session *s, const int *tokens, int T, int lo, int hi, const float **logits,
                                dr_err *err) {
    const dr_llama *m = s->m;
    const dr_llama_config *c = &m->cfg;
    if (T <= 0) return dr_err_set(err, DR_EINVAL, "llm session: no tokens");
    if (lo < 0 || hi > c->vocab_size || lo >= hi)
        return dr_err_set(err, DR_ERANGE, "llm session: logit range [%d, %d) outside the vocabulary [0, %d)", lo, hi,
                          c->vocab_size);
    if (s->len + T > s->max_len)
        return dr_err_set(err, DR_ERANGE, "llm session: %d + %d tokens exceed the session length %d", s->len, T,
                          s->max_len);
    for (long i = 0; i < (long)s->batch * T; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return dr_err_set(err, DR_ERANGE, "llm session: token %d outside the vocabulary [0, %d)", tokens[i],
                              c->vocab_size);
    const bool decode = T == 1;
    if (decode) session_decode(s, tokens);
    for (int t0 = 0; t0 < T && !decode; t0 += s->chunk) {
        const int Tc = T - t0 < s->chunk ? T - t0 : s->chunk;
        for (int r = 0; r < s->batch; r++)
            memcpy(s->ids + (long)r * Tc, tokens + (long)r * T + t0, sizeof(int) * (size_t)Tc);
        session_chunk(s, s->ids, Tc);
    }
    dr_rmsnorm_forward(s->xn, s->rstd, s->last, m->final_norm, s->batch, c->dim, c->norm_eps);
    /* rows lo..hi-1 of the head are contiguous: a constrained step reads one codebook's
     * rows only, a fraction of the largest matrix of the model */
    if (decode)
        decode_gemv(s, s->logits, hi - lo, s->xn, c->dim, m->lm_head + (long)lo * c->dim, s->batch, hi - lo, c->dim,
                    false);
    else
        dr_linear_forward(s->logits, s->xn, m->lm_head + (long)lo * c->dim, NULL, s->batch, c->dim, hi - lo);
    *logits = s->logits;
    return DR_OK;
}

/* ---- sampling ------------------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

int dr_llama_sample(const float *logits, int lo, int hi, const dr_llama_sampling *sp, dr_rng *rng, float *work) {
    const int n = hi - lo;
    const float *l = logits + lo;
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best]) best = i;
    if (n <= 1 || !(sp->temperature > 0.0f)) return lo + best;

    float *p = work, *sorted = work + n;
    const float inv_t = 1.0f / sp->temperature;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        p[i] = expf((l[i] - l[best]) * inv_t);
        sum += p[i];
    }
    /* top-k and top-p keep every token whose probability reaches a threshold; ties at
     * the threshold are all kept, so the result does not depend on sort stability. */
    float threshold = 0.0f;
    bool sorted_ready = false;
    if (sp->top_k > 0 && sp->top_k < n) {
        memcpy(sorted, p, sizeof(float) * (size_t)n);
        qsort(sorted, (size_t)n, sizeof(float), cmp_desc);
        sorted_ready = true;
        threshold = sorted[sp->top_k - 1];
    }
    if (sp->top_p > 0.0f && sp->top_p < 1.0f) {
        if (!sorted_ready) {
            memcpy(sorted, p, sizeof(float) * (size_t)n);
            qsort(sorted, (size_t)n, sizeof(float), cmp_desc);
        }
        double kept = 0.0;
        for (int i = 0; i < n && sorted[i] >= threshold; i++) kept += sorted[i];
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            cum += sorted[i];
            if (cum >= sp->top_p * kept) {
                if (sorted[i] > threshold) threshold = sorted[i];
                break;
            }
        }
    }
    sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (p[i] < threshold) p[i] = 0.0f;
        sum += p[i];
    }
    double u = (double)dr_rng_uniform(rng) * sum, cum = 0.0;
    int last_nonzero = best;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0.0f) continue;
        cum += p[i];
        last_nonzero = i;
        if (u < cum) return lo + i;
    }
    return lo + last_nonzero; /* u landed on the rounding slack at the very end */
}

/* ---- director sequences ---------------------------------------------------------- */

int dr_llama_build_sequence(const dr_llama_config *c, const int *prompt, int n_prompt, const int *codes,
                            int *tokens, int max_len) {
    const int slots = dr_llama_pose_slots(c);
    const int len = n_prompt + slots + 4;
    if (c->pose_levels <= 0 || n_prompt < 0 || len > max_len) return DR_ERANGE;
    int n = 0;
    tokens[n++] = dr_llama_special(c, DR_LLAMA_BOS);
    for (int i = 0; i < n_prompt; i++) {
        if (prompt[i] < 0 || prompt[i] >= c->n_text) return DR_ERANGE;
        tokens[n++] = prompt[i];
    }
    tokens[n++] = dr_llama_special(c, DR_LLAMA_POSE_BEGIN);
    for (int i = 0; i < slots; i++) {
        if (codes[i] < 0 || codes[i] >= c->pose_codebook) return DR_ERANGE;
        tokens[n++] = dr_llama_pose_token(c, i % c->pose_levels, codes[i]);
    }
    tokens[n++] = dr_llama_special(c, DR_LLAMA_POSE_END);
    tokens[n++] = dr_llama_special(c, DR_LLAMA_EOS);
    return n;
}

int dr_llama_generate_pose(const dr_llama *m, const int *prompt, int n_prompt, int n_samples,
                           const dr_llama_sampling *sp, uint64_t seed, int *codes, dr_err *err) {
    const dr_llama_config *c = &m->cfg;
    if (c->pose_levels <= 0) return dr_err_set(err, DR_EINVAL, "llm generate: the model has no pose vocabulary");
    if (n_samples <= 0) return dr_err_set(err, DR_EINVAL, "llm generate: n_samples must be positive");
    if (!(sp->temperature >= 0.0f) || sp->top_k < 0 || !(sp->top_p > 0.0f && sp->top_p <= 1.0f))
        return dr_err_set(err, DR_EINVAL, "llm generate: temperature must be >= 0, top_k >= 0, top_p in (0, 1]");
    const int slots = dr_llama_pose_slots(c);
    /* positions fed to the model: <|begin_of_text|> prompt <|pose_begin|> and every pose
     * token but the last (its successors are fixed by the grammar) */
    const int prefix = n_prompt + 2, len = prefix + slots - 1;
    if (n_prompt < 0 || len > c->max_seq_len)
        return dr_err_set(err, DR_ERANGE, "llm generate: prompt of %d tokens is too long (at most %d)", n_prompt,
                          c->max_seq_len - slots - 1);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= c->n_text)
            return dr_err_set(err, DR_ERANGE, "llm generate: prompt token %d is not a text token", prompt[i]);

    dr_llama_session s;
    int rc = dr_llama_session_init(&s, m, n_samples, len, err);
    if (rc) return rc;
    if (sp->bf16_weights && (rc = dr_llama_session_use_bf16(&s, err))) {
        dr_llama_session_free(&s);
        return rc;
    }
    int *feed = malloc(sizeof(int) * (size_t)n_samples * prefix);
    dr_rng *rngs = malloc(sizeof(dr_rng) * (size_t)n_samples);
    float *work = malloc(sizeof(float) * 2 * (size_t)c->pose_codebook);
    if (!feed || !rngs || !work) {
        rc = dr_err_set(err, DR_ENOMEM, "llm generate: out of memory");
        goto done;
    }
    for (int j = 0; j < n_samples; j++) {
        int *row = feed + (long)j * prefix;
        row[0] = dr_llama_special(c, DR_LLAMA_BOS);
        memcpy(row + 1, prompt, sizeof(int) * (size_t)n_prompt);
        row[prefix - 1] = dr_llama_special(c, DR_LLAMA_POSE_BEGIN);
        rngs[j] = dr_rng_fork(seed, (uint64_t)j);
    }
    /* every step computes only the logits of the codebook the next slot may take */
    const float *logits;
    int lo, hi;
    dr_llama_pose_slot_range(c, 0, &lo, &hi);
    if ((rc = dr_llama_session_step_range(&s, feed, prefix, lo, hi, &logits, err)) != DR_OK) goto done;
    for (int slot = 0; slot < slots; slot++) {
        for (int j = 0; j < n_samples; j++) {
            int code = dr_llama_sample(logits + (long)j * (hi - lo), 0, hi - lo, sp, &rngs[j], work);
            codes[(long)j * slots + slot] = code;
            feed[j] = lo + code;
        }
        if (slot + 1 == slots) break;
        dr_llama_pose_slot_range(c, slot + 1, &lo, &hi);
        if ((rc = dr_llama_session_step_range(&s, feed, 1, lo, hi, &logits, err)) != DR_OK) goto done;
    }
done:
    free(feed);
    free(rngs);
    free(work);
    dr_llama_session_free(&s);
    return rc;
}
