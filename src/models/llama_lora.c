/* llama_lora.c - LoRA adapters through DirectorLLM's own training pass (llama_lora.h). */
#include "models/llama_lora.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"

static const char *const attn_names[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                         "self_attn.o_proj"};
static const char *const mlp_names[] = {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};

int dr_llama_lora_init(dr_llama_lora *l, dr_llama *m, const dr_llama_lora_opts *opts, uint64_t seed, dr_err *err) {
    memset(l, 0, sizeof *l);
    if (opts->rank < 1 || !(opts->alpha > 0.0f) || !isfinite(opts->alpha))
        return dr_err_set(err, DR_EINVAL, "lora: rank must be >= 1 and alpha > 0 (got %d, %g)", opts->rank,
                          (double)opts->alpha);
    l->m = m;
    l->opts = *opts;
    l->scale = opts->alpha / (float)opts->rank;
    dr_params_init(&l->params);
    const int per_layer = 4 + (opts->mlp ? 3 : 0);
    l->n_targets = m->cfg.n_layers * per_layer;
    l->targets = calloc((size_t)l->n_targets, sizeof *l->targets);
    if (!l->targets) return dr_err_set(err, DR_ENOMEM, "lora: out of memory");
    size_t frozen = 0;
    int rc = DR_OK;
    /* declare A and B of every target; remember the model matrix and its shape */
    for (int i = 0; i < l->n_targets && !rc; i++) {
        const int layer = i / per_layer, k = i % per_layer;
        char name[96], an[112], bn[112];
        snprintf(name, sizeof name, "model.layers.%d.%s.weight", layer, k < 4 ? attn_names[k] : mlp_names[k - 4]);
        int idx = dr_params_find(&m->params, name);
        if (idx < 0) {
            rc = dr_err_set(err, DR_ENOTFOUND, "lora: the model has no %s", name);
            break;
        }
        const dr_param *p = &m->params.items[idx];
        dr_llama_lora_target *t = &l->targets[i];
        t->w = m->params.data + p->offset;
        t->out = (int)p->shape[0];
        t->in = (int)p->shape[1];
        frozen += p->numel;
        snprintf(an, sizeof an, "%.*s.lora_A", (int)(strlen(name) - 7), name); /* "...q_proj.lora_A" */
        snprintf(bn, sizeof bn, "%.*s.lora_B", (int)(strlen(name) - 7), name);
        if (dr_params_add2(&l->params, an, false, opts->rank, t->in) < 0 ||
            dr_params_add2(&l->params, bn, false, t->out, opts->rank) < 0)
            rc = dr_err_set(err, DR_ENOMEM, "lora: cannot declare the adapters of %s", name);
    }
    if (!rc && (dr_params_alloc(&l->params) || !(l->frozen = dr_alloc(sizeof(float) * frozen))))
        rc = dr_err_set(err, DR_ENOMEM, "lora: out of memory for %zu adapter and %zu frozen values", l->params.total,
                        frozen);
    const size_t table = (size_t)m->cfg.vocab_size * m->cfg.dim;
    if (!rc && opts->train_embeddings &&
        (!(l->embed_m = dr_calloc(sizeof(float) * table)) || !(l->embed_v = dr_calloc(sizeof(float) * table)) ||
         (!m->cfg.tied_embeddings && (!(l->head_m = dr_calloc(sizeof(float) * table)) ||
                                      !(l->head_v = dr_calloc(sizeof(float) * table))))))
        rc = dr_err_set(err, DR_ENOMEM, "lora: out of memory for the embedding's optimizer state");
    if (rc) {
        dr_llama_lora_free(l);
        return rc;
    }
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    size_t off = 0;
    for (int i = 0; i < l->n_targets; i++) {
        dr_llama_lora_target *t = &l->targets[i];
        t->a = l->params.data + l->params.items[2 * i].offset;
        t->b = l->params.data + l->params.items[2 * i + 1].offset;
        t->w0 = l->frozen + off;
        off += (size_t)t->out * t->in;
        memcpy(t->w0, t->w, sizeof(float) * (size_t)t->out * t->in);
        /* A as nn.Linear's Kaiming-uniform(a = sqrt(5)) init, B zero: W starts at W0 */
        const float bound = 1.0f / sqrtf((float)t->in);
        dr_rng_fill_uniform(&rng, t->a, (long)opts->rank * t->in, -bound, bound);
    }
    return DR_OK;
}

void dr_llama_lora_free(dr_llama_lora *l) {
    dr_params_free(&l->params);
    dr_free(l->frozen);
    dr_free(l->embed_m);
    dr_free(l->embed_v);
    dr_free(l->head_m);
    dr_free(l->head_v);
    free(l->targets);
    memset(l, 0, sizeof *l);
}

void dr_llama_lora_apply(dr_llama_lora *l) {
    const int r = l->opts.rank;
    for (int i = 0; i < l->n_targets; i++) {
        dr_llama_lora_target *t = &l->targets[i];
        memcpy(t->w, t->w0, sizeof(float) * (size_t)t->out * t->in);
        /* W += s * B [out, r] @ A [r, in] */
        dr_sgemm(false, false, t->out, t->in, r, l->scale, t->b, r, t->a, t->in, 1.0f, t->w, t->in);
    }
}

int dr_llama_lora_backward(dr_llama_lora *l, dr_err *err) {
    const dr_llama *m = l->m;
    if (!m->params.grad) return dr_err_set(err, DR_EINVAL, "lora backward: the model has no gradient yet");
    if (!l->params.grad && dr_params_alloc_grad(&l->params))
        return dr_err_set(err, DR_ENOMEM, "lora backward: out of memory");
    const int r = l->opts.rank;
    for (int i = 0; i < l->n_targets; i++) {
        const dr_llama_lora_target *t = &l->targets[i];
        const float *dw = m->params.grad + (t->w - m->params.data);
        float *ga = l->params.grad + (t->a - l->params.data), *gb = l->params.grad + (t->b - l->params.data);
        /* dA [r, in] += s * B^T [r, out] @ dW [out, in];  dB [out, r] += s * dW [out, in] @ A^T [in, r] */
        dr_sgemm(true, false, r, t->in, t->out, l->scale, t->b, r, dw, t->in, 1.0f, ga, t->in);
        dr_sgemm(false, true, t->out, r, t->in, l->scale, dw, t->in, t->a, t->in, 1.0f, gb, r);
    }
    return DR_OK;
}

/* The adapter options as JSON; checkpoints also record whether the embedding and head train,
 * which --resume must match. */
static char *lora_config_json(const dr_llama_lora *l, bool with_train_embeddings) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "rank", l->opts.rank);
    cJSON_AddNumberToObject(o, "alpha", l->opts.alpha);
    cJSON_AddBoolToObject(o, "mlp", l->opts.mlp);
    if (with_train_embeddings) cJSON_AddBoolToObject(o, "train_embeddings", l->opts.train_embeddings);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

int dr_llama_lora_save(const dr_llama_lora *l, const char *path, dr_err *err) {
    char *json = lora_config_json(l, false);
    if (!json) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_params_save(&l->params, path, "llm-lora", json, err);
    free(json);
    return rc;
}

int dr_llama_lora_load(dr_llama_lora *l, const char *path, dr_err *err) {
    char *kind = NULL, *json = NULL;
    int rc = dr_model_file_info(path, &kind, &json, err);
    if (rc) return rc;
    char *want = lora_config_json(l, false);
    if (!kind || strcmp(kind, "llm-lora"))
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a LoRA adapter file (kind \"%s\")", path, kind ? kind : "");
    else if (!want || !json || strcmp(want, json))
        rc = dr_err_set(err, DR_EFORMAT, "%s: adapter options %s differ from the attached %s", path, json ? json : "?",
                        want ? want : "?");
    free(kind);
    free(json);
    free(want);
    if (!rc) rc = dr_params_load(&l->params, path, false, err);
    if (!rc) dr_llama_lora_apply(l);
    return rc;
}

/* Serial on purpose: a parallel reduction's order, hence the clipped norm's last bits,
 * could change from run to run. */
static double sum_squares(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

static void scale(float *x, size_t n, float k) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) x[i] *= k;
}

int dr_llama_lora_step(dr_llama_lora *l, float lr, int step, const dr_adamw_config *adam, float grad_clip,
                       float *norm, dr_err *err) {
    dr_llama *m = l->m;
    if (!l->params.m && dr_params_alloc_optim(&l->params))
        return dr_err_set(err, DR_ENOMEM, "lora step: out of memory for the optimizer state");
    if (l->params.grad) dr_params_zero_grad(&l->params);
    int rc = dr_llama_lora_backward(l, err);
    if (rc) return rc;
    const size_t table = (size_t)m->cfg.vocab_size * m->cfg.dim;
    float *g_embed = m->params.grad + (m->embed - m->params.data);
    float *g_head = m->cfg.tied_embeddings ? NULL : m->params.grad + (m->lm_head - m->params.data);
    const bool emb = l->opts.train_embeddings;
    double ss = sum_squares(l->params.grad, l->params.total);
    if (emb) ss += sum_squares(g_embed, table) + (g_head ? sum_squares(g_head, table) : 0.0);
    const float total = (float)sqrt(ss);
    if (norm) *norm = total;
    if (grad_clip > 0.0f && total > grad_clip) {
        const float k = grad_clip / (total + 1e-6f);
        scale(l->params.grad, l->params.total, k);
        if (emb) {
            scale(g_embed, table, k);
            if (g_head) scale(g_head, table, k);
        }
    }
    dr_adamw_step(&l->params, lr, step, adam);
    if (emb) {
        dr_adamw_update(m->embed, g_embed, l->embed_m, l->embed_v, table, lr, step, adam->weight_decay, adam);
        if (g_head) dr_adamw_update(m->lm_head, g_head, l->head_m, l->head_v, table, lr, step, adam->weight_decay, adam);
    }
    dr_llama_lora_apply(l);
    return DR_OK;
}

/* ---- checkpoints ----
 * The trained state of a LoRA run is small (adapters, and the embedding and head when
 * they train, with their AdamW moments); the frozen base is large and does not change.
 * They go to two files: `path` holds the trained state and the step (kind
 * "llm-lora-checkpoint", via dr_params_save_checkpoint on a params set that gathers the
 * trained tensors), `path`.base the base model with the pretrained W0 in the adapted
 * matrices (kind "llm": it loads as a plain DirectorLLM). */

static const char *const CKPT_KIND = "llm-lora-checkpoint";

/* The trained tensors as one params set (names as in the adapter file plus the model's
 * embedding / head names); allocated with optimizer state, values not filled. */
static int trained_set(const dr_llama_lora *l, dr_params *t, dr_err *err) {
    const dr_llama_config *c = &l->m->cfg;
    dr_params_init(t);
    int rc = 0;
    for (int i = 0; i < l->params.count && rc >= 0; i++) {
        const dr_param *p = &l->params.items[i];
        rc = dr_params_add2(t, p->name, p->no_decay, p->shape[0], p->shape[1]);
    }
    if (rc >= 0 && l->opts.train_embeddings) {
        rc = dr_params_add2(t, "model.embed_tokens.weight", false, c->vocab_size, c->dim);
        if (rc >= 0 && !c->tied_embeddings) rc = dr_params_add2(t, "lm_head.weight", false, c->vocab_size, c->dim);
    }
    if (rc < 0 || dr_params_alloc(t) || dr_params_alloc_optim(t)) {
        dr_params_free(t);
        return dr_err_set(err, DR_ENOMEM, "lora checkpoint: out of memory");
    }
    return DR_OK;
}

/* Copy between the trained set and where the values live (to_set: gather, else scatter).
 * Offsets: the adapters first, in l->params' order, then the embedding, then the head. */
static void trained_copy(dr_llama_lora *l, dr_params *t, bool to_set) {
    dr_llama *m = l->m;
    const size_t table = (size_t)m->cfg.vocab_size * m->cfg.dim, n = l->params.total;
    float *mine[3][3] = {{l->params.data, l->params.m, l->params.v},
                         {m->embed, l->embed_m, l->embed_v},
                         {m->lm_head, l->head_m, l->head_v}};
    float *theirs[3] = {t->data, t->m, t->v};
    const size_t off[3] = {0, n, n + table}, len[3] = {n, table, table};
    const int parts = !l->opts.train_embeddings ? 1 : m->cfg.tied_embeddings ? 2 : 3;
    for (int part = 0; part < parts; part++)
        for (int k = 0; k < 3; k++) {
            float *a = mine[part][k], *b = theirs[k] + off[part];
            if (to_set) memcpy(b, a, sizeof(float) * len[part]);
            else memcpy(a, b, sizeof(float) * len[part]);
        }
}

int dr_llama_lora_save_checkpoint(dr_llama_lora *l, const char *path, long step, const char *state_json,
                                  dr_err *err) {
    if (!l->params.m && dr_params_alloc_optim(&l->params)) /* a checkpoint before the first step */
        return dr_err_set(err, DR_ENOMEM, "lora checkpoint: out of memory");
    char base[4096];
    if (snprintf(base, sizeof base, "%s.base", path) >= (int)sizeof base)
        return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
    /* the base file: W0 back into the adapted matrices for the save, then W0 + s B A again
     * (apply recomputes it from the same values: the same bits as before) */
    for (int i = 0; i < l->n_targets; i++)
        memcpy(l->targets[i].w, l->targets[i].w0, sizeof(float) * (size_t)l->targets[i].out * l->targets[i].in);
    int rc = dr_llama_save(l->m, base, err);
    dr_llama_lora_apply(l);
    if (rc) return rc;
    dr_params t;
    if ((rc = trained_set(l, &t, err)) != DR_OK) return rc;
    trained_copy(l, &t, true);
    char *config = lora_config_json(l, true);
    rc = config ? dr_params_save_checkpoint(&t, path, CKPT_KIND, config, step, state_json ? state_json : "{}", err)
                : dr_err_set(err, DR_ENOMEM, "lora checkpoint: out of memory");
    free(config);
    dr_params_free(&t);
    return rc;
}

int dr_llama_lora_load_checkpoint(dr_llama_lora *l, dr_llama *m, const char *path, const dr_llama_lora_opts *opts,
                                  long *step, char **state_json, dr_err *err) {
    memset(l, 0, sizeof *l);
    memset(m, 0, sizeof *m);
    if (state_json) *state_json = NULL;
    char base[4096], *kind = NULL, *json = NULL;
    if (snprintf(base, sizeof base, "%s.base", path) >= (int)sizeof base)
        return dr_err_set(err, DR_ERANGE, "%s: path too long", path);
    int rc = dr_model_file_info(path, &kind, &json, err);
    if (rc) return rc;
    if (!kind || strcmp(kind, CKPT_KIND))
        rc = dr_err_set(err, DR_EFORMAT, "%s: not a LoRA checkpoint (kind \"%s\")", path, kind ? kind : "");
    free(kind);
    /* the run's options must be the checkpoint's */
    if (!rc && (rc = dr_llama_load(m, base, err)) == DR_OK && (rc = dr_llama_lora_init(l, m, opts, 0, err)) == DR_OK) {
        char *want = lora_config_json(l, true);
        if (!want || !json || strcmp(want, json))
            rc = dr_err_set(err, DR_EFORMAT, "%s: LoRA options %s differ from this run's %s", path, json ? json : "?",
                            want ? want : "?");
        free(want);
    }
    free(json);
    dr_params t;
    memset(&t, 0, sizeof t);
    if (!rc && (rc = trained_set(l, &t, err)) == DR_OK &&
        (rc = dr_params_load_checkpoint(&t, path, step, state_json, err)) == DR_OK &&
        (rc = dr_params_alloc_optim(&l->params) ? dr_err_set(err, DR_ENOMEM, "lora checkpoint: out of memory") : DR_OK) ==
            DR_OK) {
        trained_copy(l, &t, false);
        dr_llama_lora_apply(l);
    }
    dr_params_free(&t);
    if (rc) {
        dr_llama_lora_free(l);
        dr_llama_free(m);
    }
    return rc;
}
