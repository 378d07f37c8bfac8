/* llama_export.c - DirectorLLM <-> GGUF (llama.cpp) and Hugging Face folders
 * (llama_export.h, docs/INTEROP.md). */
#include "models/llama_export.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "io/gguf.h"
#include "io/safetensors.h"

/* ---- vocabulary ------------------------------------------------------------------ */

int dr_llama_match_tokenizer(const dr_llama_config *c, dr_tokenizer *tok, dr_err *err) {
    int n = dr_tokenizer_vocab_size(tok);
    if (c->pose_levels <= 0) {
        if (n > c->vocab_size)
            return dr_err_set(err, DR_EINVAL, "tokenizer has %d tokens but the model only %d", n, c->vocab_size);
        return DR_OK;
    }
    int n_text = dr_tokenizer_text_vocab_size(tok);
    if (n_text != c->n_text)
        return dr_err_set(err, DR_EINVAL, "tokenizer has %d text tokens but the model expects %d", n_text, c->n_text);
    for (int i = 0; i < DR_LLAMA_NUM_SPECIALS; i++) {
        int id = dr_tokenizer_special_id(tok, dr_llama_special_names[i]);
        if (id != dr_llama_special(c, i))
            return dr_err_set(err, DR_EINVAL, "tokenizer has %s at id %d, the model expects it at %d",
                              dr_llama_special_names[i], id, dr_llama_special(c, i));
    }
    if (n == dr_llama_pose_base(c)) {
        int first = -1, rc = dr_tokenizer_add_pose_tokens(tok, c->pose_levels, c->pose_codebook, &first, err);
        if (rc) return rc;
        n = dr_tokenizer_vocab_size(tok);
    }
    char last[48];
    snprintf(last, sizeof last, "<|pose_%d_%d|>", c->pose_levels - 1, c->pose_codebook - 1);
    if (n != c->vocab_size || dr_tokenizer_special_id(tok, "<|pose_0_0|>") != dr_llama_pose_base(c) ||
        dr_tokenizer_special_id(tok, last) != c->vocab_size - 1)
        return dr_err_set(err, DR_EINVAL,
                          "tokenizer has %d tokens whose pose tokens do not match the model's %d x %d pose codes "
                          "(vocabulary %d)",
                          n, c->pose_levels, c->pose_codebook, c->vocab_size);
    return DR_OK;
}

/* ---- RoPE row order ---------------------------------------------------------------- */

void dr_llama_permute_rope_rows(float *dst, const float *src, int n_heads, int head_dim, int in_dim) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((size_t)h * head_dim + 2 * i + j) * in_dim,
                       src + ((size_t)h * head_dim + (size_t)j * half + i) * in_dim, sizeof(float) * (size_t)in_dim);
}

void dr_llama_unpermute_rope_rows(float *dst, const float *src, int n_heads, int head_dim, int in_dim) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(dst + ((size_t)h * head_dim + (size_t)j * half + i) * in_dim,
                       src + ((size_t)h * head_dim + 2 * i + j) * in_dim, sizeof(float) * (size_t)in_dim);
}

/* ---- GGUF -------------------------------------------------------------------------- */

/* GPT-2's byte-level alphabet (as in tokenizer.c): printable bytes stand for themselves,
 * the other 68 become U+0100 + k in byte order. GGUF "gpt2" vocabularies store text
 * tokens and merges in this form, like tokenizer.json does. */
static uint32_t byte_to_char(uint8_t b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t k = 0;
    for (int c = 0; c < b; c++)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) k++;
    return 256 + k;
}

/* Byte-level form of raw bytes, NUL-terminated, into out (room for 2 * n + 1). */
static size_t byte_level(const uint32_t table[256], const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = table[(uint8_t)s[i]];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else { /* every mapped code point is below U+0800: two UTF-8 bytes */
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = 0;
    return o;
}

enum { GGUF_TOKEN_NORMAL = 1, GGUF_TOKEN_CONTROL = 3, GGUF_TOKEN_USER_DEFINED = 4, GGUF_TOKEN_UNUSED = 5 };

/* The tokenizer.ggml.* arrays: tokens, token types and merges as strings. */
typedef struct gguf_vocab {
    char **tokens;
    int32_t *types;
    char **merges;
    int n_tokens, n_merges;
} gguf_vocab;

static void gguf_vocab_free(gguf_vocab *v) {
    for (int i = 0; v->tokens && i < v->n_tokens; i++) free(v->tokens[i]);
    for (int i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->tokens);
    free(v->types);
    free(v->merges);
    memset(v, 0, sizeof *v);
}

static int gguf_vocab_build(gguf_vocab *v, const dr_tokenizer *tok, int vocab_size, dr_err *err) {
    memset(v, 0, sizeof *v);
    uint32_t table[256];
    for (int b = 0; b < 256; b++) table[b] = byte_to_char((uint8_t)b);
    const int n_tok = dr_tokenizer_vocab_size(tok), n_text = dr_tokenizer_text_vocab_size(tok);
    const int n_merges = dr_tokenizer_num_merges(tok);
    v->tokens = calloc((size_t)vocab_size, sizeof *v->tokens);
    v->types = calloc((size_t)vocab_size, sizeof *v->types);
    v->merges = calloc((size_t)(n_merges ? n_merges : 1), sizeof *v->merges);
    if (!v->tokens || !v->types || !v->merges) goto oom;
    v->n_tokens = vocab_size;
    v->n_merges = n_merges;
    for (int id = 0; id < vocab_size; id++) {
        size_t len = 0;
        const char *s = id < n_tok ? dr_tokenizer_token(tok, id, &len) : NULL;
        if (!s) { /* padding rows of a model larger than its tokenizer (as convert_hf_to_gguf.py) */
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", id);
            if (!(v->tokens[id] = strdup(pad))) goto oom;
            v->types[id] = GGUF_TOKEN_UNUSED;
        } else if (id < n_text) {
            if (!(v->tokens[id] = malloc(2 * len + 1))) goto oom;
            byte_level(table, s, len, v->tokens[id]);
            v->types[id] = GGUF_TOKEN_NORMAL;
        } else { /* added tokens are stored as plain UTF-8 and matched before BPE */
            if (!(v->tokens[id] = malloc(len + 1))) goto oom;
            memcpy(v->tokens[id], s, len);
            v->tokens[id][len] = 0;
            v->types[id] = dr_tokenizer_is_special(tok, id) ? GGUF_TOKEN_CONTROL : GGUF_TOKEN_USER_DEFINED;
        }
    }
    for (int r = 0; r < n_merges; r++) {
        int left, right;
        size_t ll, rl;
        dr_tokenizer_merge(tok, r, &left, &right);
        const char *ls = dr_tokenizer_token(tok, left, &ll), *rs = dr_tokenizer_token(tok, right, &rl);
        if (!(v->merges[r] = malloc(2 * (ll + rl) + 2))) goto oom;
        size_t o = byte_level(table, ls, ll, v->merges[r]);
        v->merges[r][o++] = ' ';
        byte_level(table, rs, rl, v->merges[r] + o);
    }
    return DR_OK;
oom:
    gguf_vocab_free(v);
    return dr_err_set(err, DR_ENOMEM, "gguf export: out of memory for the vocabulary");
}

int dr_llama_export_gguf(const dr_llama *m, dr_tokenizer *tok, const dr_llama_gguf_opts *opts, const char *path,
                         dr_err *err) {
    const dr_llama_config *c = &m->cfg;
    const dr_llama_gguf_opts defaults = {0};
    if (!opts) opts = &defaults;
    int rc = dr_llama_match_tokenizer(c, tok, err);
    if (rc) return dr_err_prefix(err, "%s", path);

    gguf_vocab vocab;
    if ((rc = gguf_vocab_build(&vocab, tok, c->vocab_size, err))) return rc;
    const int C = c->dim, D = c->head_dim, QD = c->n_heads * D, KVD = c->n_kv_heads * D;
    /* the permuted q and k of every layer, held until the file is written */
    float *permuted = malloc(sizeof(float) * (size_t)c->n_layers * (size_t)(QD + KVD) * C);
    dr_gguf_writer w;
    dr_gguf_writer_init(&w);
    if (!permuted) {
        rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const uint32_t wtype = opts->f16 ? DR_GGML_F16 : DR_GGML_F32;
    if ((rc = dr_gguf_add_string(&w, "general.architecture", "llama", err)) ||
        (rc = dr_gguf_add_string(&w, "general.name", opts->name ? opts->name : "DirectorLLM", err)) ||
        (rc = dr_gguf_add_u32(&w, "general.file_type", opts->f16 ? 1u : 0u, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.vocab_size", (uint32_t)c->vocab_size, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.context_length", (uint32_t)c->max_seq_len, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.embedding_length", (uint32_t)C, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.block_count", (uint32_t)c->n_layers, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.feed_forward_length", (uint32_t)c->ffn_hidden, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.rope.dimension_count", (uint32_t)D, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.attention.head_count", (uint32_t)c->n_heads, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.attention.key_length", (uint32_t)D, err)) ||
        (rc = dr_gguf_add_u32(&w, "llama.attention.value_length", (uint32_t)D, err)) ||
        (rc = dr_gguf_add_f32(&w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps, err)) ||
        (rc = dr_gguf_add_f32(&w, "llama.rope.freq_base", c->rope_theta, err)) ||
        (rc = dr_gguf_add_string(&w, "tokenizer.ggml.model", "gpt2", err)) ||
        (rc = dr_gguf_add_string(&w, "tokenizer.ggml.pre", "llama-bpe", err)) ||
        (rc = dr_gguf_add_string_array(&w, "tokenizer.ggml.tokens", (const char *const *)vocab.tokens,
                                       (size_t)vocab.n_tokens, err)) ||
        (rc = dr_gguf_add_i32_array(&w, "tokenizer.ggml.token_type", vocab.types, (size_t)vocab.n_tokens, err)) ||
        (rc = dr_gguf_add_string_array(&w, "tokenizer.ggml.merges", (const char *const *)vocab.merges,
                                       (size_t)vocab.n_merges, err)))
        goto done;
    if (c->pose_levels > 0) {
        if ((rc = dr_gguf_add_u32(&w, "tokenizer.ggml.bos_token_id", (uint32_t)dr_llama_special(c, DR_LLAMA_BOS), err)) ||
            (rc = dr_gguf_add_u32(&w, "tokenizer.ggml.eos_token_id", (uint32_t)dr_llama_special(c, DR_LLAMA_EOS), err)) ||
            (rc = dr_gguf_add_u32(&w, "tokenizer.ggml.padding_token_id", (uint32_t)dr_llama_special(c, DR_LLAMA_PAD),
                                  err)) ||
            (rc = dr_gguf_add_bool(&w, "tokenizer.ggml.add_bos_token", true, err)) ||
            (rc = dr_gguf_add_bool(&w, "tokenizer.ggml.add_eos_token", false, err)) ||
            /* director's layout, ignored by llama.cpp, for tools that want the pose tokens */
            (rc = dr_gguf_add_u32(&w, "director.n_text_tokens", (uint32_t)c->n_text, err)) ||
            (rc = dr_gguf_add_u32(&w, "director.pose_levels", (uint32_t)c->pose_levels, err)) ||
            (rc = dr_gguf_add_u32(&w, "director.pose_codebook_size", (uint32_t)c->pose_codebook, err)) ||
            (rc = dr_gguf_add_u32(&w, "director.pose_keyframes", (uint32_t)c->pose_keyframes, err)) ||
            (rc = dr_gguf_add_u32(&w, "director.pose_token_base", (uint32_t)dr_llama_pose_base(c), err)))
            goto done;
    }

    const int64_t emb_shape[2] = {c->vocab_size, C}, norm_shape[1] = {C};
    if ((rc = dr_gguf_add_tensor(&w, "token_embd.weight", wtype, 2, emb_shape, m->embed, err))) goto done;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        const dr_llama_layer *L = &m->layers[l];
        float *q = permuted + (size_t)l * (size_t)(QD + KVD) * C, *k = q + (size_t)QD * C;
        dr_llama_permute_rope_rows(q, L->wq, c->n_heads, D, C);
        dr_llama_permute_rope_rows(k, L->wk, c->n_kv_heads, D, C);
        const int64_t q_shape[2] = {QD, C}, kv_shape[2] = {KVD, C}, o_shape[2] = {C, QD};
        const int64_t up_shape[2] = {c->ffn_hidden, C}, down_shape[2] = {C, c->ffn_hidden};
        struct {
            const char *suffix;
            const float *data;
            int ndim;
            const int64_t *shape;
        } t[] = {
            {"attn_norm", L->attn_norm, 1, norm_shape}, {"attn_q", q, 2, q_shape},
            {"attn_k", k, 2, kv_shape},                 {"attn_v", L->wv, 2, kv_shape},
            {"attn_output", L->wo, 2, o_shape},         {"ffn_norm", L->ffn_norm, 1, norm_shape},
            {"ffn_gate", L->w_gate, 2, up_shape},       {"ffn_up", L->w_up, 2, up_shape},
            {"ffn_down", L->w_down, 2, down_shape},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0] && !rc; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, t[i].suffix);
            rc = dr_gguf_add_tensor(&w, name, t[i].ndim == 1 ? DR_GGML_F32 : wtype, t[i].ndim, t[i].shape, t[i].data,
                                    err);
        }
    }
    if (rc || (rc = dr_gguf_add_tensor(&w, "output_norm.weight", DR_GGML_F32, 1, norm_shape, m->final_norm, err)))
        goto done;
    if (!c->tied_embeddings && (rc = dr_gguf_add_tensor(&w, "output.weight", wtype, 2, emb_shape, m->lm_head, err)))
        goto done;
    rc = dr_gguf_write(&w, path, err);
done:
    dr_gguf_writer_free(&w);
    free(permuted);
    gguf_vocab_free(&vocab);
    return rc;
}

/* ---- Hugging Face folder ------------------------------------------------------------ */

/* A float as the shortest decimal that reads back as the same float ("1e-05", not
 * 9.99999974737875e-06), so config.json looks like one written by transformers. */
static void add_float(cJSON *o, const char *key, float v) {
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    if (v == floorf(v) && fabsf(v) < 1e15f) snprintf(buf, sizeof buf, "%.1f", (double)v); /* 500000.0, not 5e+05 */
    else if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
    cJSON_AddRawToObject(o, key, buf);
}

static int write_json(const char *dir, const char *file, cJSON *o, dr_err *err) {
    char path[4096];
    if (dr_path_join(path, sizeof path, dir, file)) return dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    char *s = o ? cJSON_Print(o) : NULL;
    if (!s) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_write_file_atomic(path, s, strlen(s), err);
    free(s);
    return rc;
}

static cJSON *hf_config_json(const dr_llama_config *c) {
    cJSON *o = cJSON_CreateObject(), *arch = cJSON_CreateArray();
    if (!o || !arch) {
        cJSON_Delete(o);
        cJSON_Delete(arch);
        return NULL;
    }
    cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
    cJSON_AddItemToObject(o, "architectures", arch);
    cJSON_AddStringToObject(o, "model_type", "llama");
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "hidden_size", c->dim);
    cJSON_AddNumberToObject(o, "intermediate_size", c->ffn_hidden);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->max_seq_len);
    add_float(o, "rms_norm_eps", c->norm_eps);
    add_float(o, "rope_theta", c->rope_theta);
    cJSON_AddNullToObject(o, "rope_scaling");
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied_embeddings);
    if (c->pose_levels > 0) {
        cJSON_AddNumberToObject(o, "bos_token_id", dr_llama_special(c, DR_LLAMA_BOS));
        cJSON_AddNumberToObject(o, "eos_token_id", dr_llama_special(c, DR_LLAMA_EOS));
        cJSON_AddNumberToObject(o, "pad_token_id", dr_llama_special(c, DR_LLAMA_PAD));
    }
    cJSON_AddBoolToObject(o, "attention_bias", false);
    cJSON_AddNumberToObject(o, "attention_dropout", 0.0);
    cJSON_AddBoolToObject(o, "mlp_bias", false);
    cJSON_AddNumberToObject(o, "initializer_range", 0.02);
    cJSON_AddNumberToObject(o, "pretraining_tp", 1);
    cJSON_AddBoolToObject(o, "use_cache", true);
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    cJSON *d = cJSON_AddObjectToObject(o, "director");
    if (d) {
        cJSON_AddNumberToObject(d, "n_text_tokens", c->n_text);
        cJSON_AddNumberToObject(d, "pose_levels", c->pose_levels);
        cJSON_AddNumberToObject(d, "pose_codebook_size", c->pose_codebook);
        cJSON_AddNumberToObject(d, "pose_keyframes", c->pose_keyframes);
    }
    return o;
}

static cJSON *hf_tokenizer_config_json(const dr_llama_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "tokenizer_class", "PreTrainedTokenizerFast");
    if (c->pose_levels > 0) {
        cJSON_AddStringToObject(o, "bos_token", dr_llama_special_names[DR_LLAMA_BOS]);
        cJSON_AddStringToObject(o, "eos_token", dr_llama_special_names[DR_LLAMA_EOS]);
        cJSON_AddStringToObject(o, "pad_token", dr_llama_special_names[DR_LLAMA_PAD]);
    }
    cJSON_AddBoolToObject(o, "clean_up_tokenization_spaces", false);
    cJSON_AddNumberToObject(o, "model_max_length", c->max_seq_len);
    cJSON_AddArrayToObject(o, "model_input_names");
    cJSON *names = cJSON_GetObjectItemCaseSensitive(o, "model_input_names");
    cJSON_AddItemToArray(names, cJSON_CreateString("input_ids"));
    cJSON_AddItemToArray(names, cJSON_CreateString("attention_mask"));
    return o;
}

static cJSON *hf_generation_config_json(const dr_llama_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (c->pose_levels > 0) {
        cJSON_AddNumberToObject(o, "bos_token_id", dr_llama_special(c, DR_LLAMA_BOS));
        cJSON_AddNumberToObject(o, "eos_token_id", dr_llama_special(c, DR_LLAMA_EOS));
        cJSON_AddNumberToObject(o, "pad_token_id", dr_llama_special(c, DR_LLAMA_PAD));
    }
    cJSON_AddBoolToObject(o, "do_sample", false);
    return o;
}

int dr_llama_export_hf(const dr_llama *m, dr_tokenizer *tok, const char *dir, dr_err *err) {
    const dr_llama_config *c = &m->cfg;
    int rc = dr_llama_match_tokenizer(c, tok, err);
    if (rc) return dr_err_prefix(err, "%s", dir);
    char tmp[4096], path[4096];
    if ((rc = dr_tmpdir_create(dir, tmp, sizeof tmp, err))) return rc;
    cJSON *cfg = hf_config_json(c), *tcfg = hf_tokenizer_config_json(c), *gcfg = hf_generation_config_json(c);
    dr_st_writer w;
    dr_st_writer_init(&w);
    /* tensors in the order of the parameter table (== the Hugging Face names) */
    for (int i = 0; i < m->params.count && !rc; i++) {
        const dr_param *p = &m->params.items[i];
        rc = dr_st_writer_add(&w, p->name, DR_ST_F32, p->ndim, p->shape, m->params.data + p->offset, err);
    }
    if (!rc) rc = dr_st_writer_meta(&w, "format", "pt", err);
    if (!rc && dr_path_join(path, sizeof path, tmp, "model.safetensors"))
        rc = dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    if (!rc) rc = dr_st_writer_write(&w, path, err);
    if (!rc && dr_path_join(path, sizeof path, tmp, "tokenizer.json"))
        rc = dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    if (!rc) rc = dr_tokenizer_save(tok, path, err);
    if (!rc) rc = write_json(tmp, "config.json", cfg, err);
    if (!rc) rc = write_json(tmp, "tokenizer_config.json", tcfg, err);
    if (!rc) rc = write_json(tmp, "generation_config.json", gcfg, err);
    if (!rc) rc = dr_tmpdir_commit(tmp, dir, err);
    if (rc) dr_rm_rf(tmp);
    dr_st_writer_free(&w);
    cJSON_Delete(cfg);
    cJSON_Delete(tcfg);
    cJSON_Delete(gcfg);
    return rc;
}

/* ---- from a Hugging Face checkpoint ----------------------------------------------- */

dr_llama_hf_opts dr_llama_hf_default_opts(void) {
    dr_llama_hf_opts o = {.pose_levels = 6, .pose_codebook = 512, .pose_keyframes = 20, .max_seq_len = 0, .seed = 1};
    return o;
}

/* The checkpoint's safetensors files and which of them holds each tensor. */
typedef struct hf_weights {
    dr_st_file *files;
    int n_files;
} hf_weights;

static void hf_weights_close(hf_weights *h) {
    for (int i = 0; i < h->n_files; i++) dr_st_close(&h->files[i]);
    free(h->files);
    memset(h, 0, sizeof *h);
}

static int hf_weights_open(hf_weights *h, const char *dir, dr_err *err) {
    memset(h, 0, sizeof *h);
    char path[4096];
    if (dr_path_join(path, sizeof path, dir, "model.safetensors")) return dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    if (dr_file_exists(path)) {
        if (!(h->files = calloc(1, sizeof *h->files))) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", dir);
        h->n_files = 1;
        return dr_st_open(&h->files[0], path, err);
    }
    /* sharded: model.safetensors.index.json {"weight_map": {tensor: file}}; open each file once */
    if (dr_path_join(path, sizeof path, dir, "model.safetensors.index.json"))
        return dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    if (!dr_file_exists(path))
        return dr_err_set(err, DR_ENOTFOUND, "%s: neither model.safetensors nor model.safetensors.index.json", dir);
    char *text = NULL;
    size_t len = 0;
    int rc = dr_read_file(path, 64u << 20, &text, &len, err);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map"), *item;
    if (!cJSON_IsObject(map)) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_EFORMAT, "%s: no \"weight_map\" object", path);
    }
    char **names = calloc((size_t)cJSON_GetArraySize(map) + 1, sizeof *names);
    int n = 0;
    if (!names) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    cJSON_ArrayForEach(item, map) {
        if (rc) break;
        if (!cJSON_IsString(item) || !item->valuestring[0] || strchr(item->valuestring, '/') ||
            !strcmp(item->valuestring, ".") || !strcmp(item->valuestring, "..")) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: tensor \"%.64s\" maps to a bad file name", path, item->string);
            break;
        }
        int seen = 0;
        for (int i = 0; i < n && !seen; i++) seen = !strcmp(names[i], item->valuestring);
        if (!seen) names[n++] = item->valuestring;
    }
    if (!rc && n == 0) rc = dr_err_set(err, DR_EFORMAT, "%s: empty weight_map", path);
    if (!rc && !(h->files = calloc((size_t)n, sizeof *h->files))) rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < n && !rc; i++) {
        char shard[4096];
        if (dr_path_join(shard, sizeof shard, dir, names[i])) rc = dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
        else if (!(rc = dr_st_open(&h->files[i], shard, err))) h->n_files = i + 1;
    }
    free(names);
    cJSON_Delete(root);
    if (rc) hf_weights_close(h);
    return rc;
}

static const dr_st_tensor *hf_find(const hf_weights *h, const char *name, const dr_st_file **file) {
    for (int i = 0; i < h->n_files; i++) {
        const dr_st_tensor *t = dr_st_find(&h->files[i], name);
        if (t) {
            *file = &h->files[i];
            return t;
        }
    }
    return NULL;
}

/* Read tensor `name` of shape [d0] or [d0, d1] (d1 = 0 for 1-D) into out. */
static int hf_read(const hf_weights *h, const char *dir, const char *name, int64_t d0, int64_t d1, float *out,
                   dr_err *err) {
    const dr_st_file *f = NULL;
    const dr_st_tensor *t = hf_find(h, name, &f);
    if (!t) return dr_err_set(err, DR_ENOTFOUND, "%s: the checkpoint has no tensor %s", dir, name);
    int ndim = d1 > 0 ? 2 : 1;
    if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        char have[96] = "[", want[64];
        for (int i = 0; i < t->ndim; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        strcat(have, "]");
        if (ndim == 2) snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
        else snprintf(want, sizeof want, "[%lld]", (long long)d0);
        return dr_err_set(err, DR_EFORMAT, "%s: tensor %s has shape %s, config.json implies %s", f->path, name, have,
                          want);
    }
    return dr_st_read_f32(f, t, out, t->numel, err);
}

static int cfg_int(const cJSON *o, const char *key, int dflt, int *out, const char *path, dr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (dflt < 0) return dr_err_set(err, DR_EFORMAT, "%s: \"%s\" is missing", path, key);
        *out = dflt;
        return DR_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 2147483647.0)
        return dr_err_set(err, DR_EFORMAT, "%s: \"%s\" is not a non-negative integer", path, key);
    *out = (int)v->valuedouble;
    return DR_OK;
}

static int cfg_float(const cJSON *o, const char *key, double dflt, float *out, const char *path, dr_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = (float)dflt;
        return DR_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return dr_err_set(err, DR_EFORMAT, "%s: \"%s\" is not a number", path, key);
    *out = (float)v->valuedouble;
    return DR_OK;
}

static bool cfg_true(const cJSON *o, const char *key) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)); }

/* Architecture fields of config.json into c (vocabulary layout left to the caller);
 * *hf_vocab gets the checkpoint's vocab_size. */
static int parse_hf_config(const cJSON *o, const char *path, dr_llama_config *c, int *hf_vocab, dr_err *err) {
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(o)) return dr_err_set(err, DR_EFORMAT, "%s: not a JSON object", path);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    if (mt && (!cJSON_IsString(mt) || strcmp(mt->valuestring, "llama")))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: model_type \"%s\" is not llama", path,
                          cJSON_IsString(mt) ? mt->valuestring : "?");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu")))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: hidden_act must be silu", path);
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
    if (scaling && !cJSON_IsNull(scaling))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: rope_scaling is not supported (plain RoPE only)", path);
    if (cfg_true(o, "attention_bias") || cfg_true(o, "mlp_bias"))
        return dr_err_set(err, DR_EUNSUPPORTED, "%s: attention or MLP biases are not supported", path);
    int rc;
    if ((rc = cfg_int(o, "vocab_size", -1, hf_vocab, path, err)) || (rc = cfg_int(o, "hidden_size", -1, &c->dim, path, err)) ||
        (rc = cfg_int(o, "intermediate_size", -1, &c->ffn_hidden, path, err)) ||
        (rc = cfg_int(o, "num_hidden_layers", -1, &c->n_layers, path, err)) ||
        (rc = cfg_int(o, "num_attention_heads", -1, &c->n_heads, path, err)) ||
        (rc = cfg_int(o, "num_key_value_heads", c->n_heads, &c->n_kv_heads, path, err)) ||
        (rc = cfg_int(o, "max_position_embeddings", 2048, &c->max_seq_len, path, err)) ||
        (rc = cfg_float(o, "rms_norm_eps", 1e-6, &c->norm_eps, path, err)) ||
        (rc = cfg_float(o, "rope_theta", 10000.0, &c->rope_theta, path, err)))
        return rc;
    if (c->n_heads <= 0 || c->dim % c->n_heads)
        return dr_err_set(err, DR_EFORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                          c->dim, c->n_heads);
    if ((rc = cfg_int(o, "head_dim", c->dim / c->n_heads, &c->head_dim, path, err))) return rc;
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings");
    c->tied_embeddings = cJSON_IsTrue(tied); /* LlamaConfig's default is false */
    return DR_OK;
}

/* Read a JSON file of the checkpoint. */
static int read_json(const char *dir, const char *file, size_t max, cJSON **out, char *path, size_t path_size,
                     dr_err *err) {
    *out = NULL;
    if (dr_path_join(path, path_size, dir, file)) return dr_err_set(err, DR_ERANGE, "%s: path too long", dir);
    char *text = NULL;
    size_t len = 0;
    int rc = dr_read_file(path, max, &text, &len, err);
    if (rc) return rc;
    *out = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*out) return dr_err_set(err, DR_EFORMAT, "%s: not valid JSON", path);
    return DR_OK;
}

/* The id of an added token named `content` in a tokenizer.json, or -1. */
static int added_token_id(const cJSON *tok_json, const char *content) {
    const cJSON *item, *added = cJSON_GetObjectItemCaseSensitive(tok_json, "added_tokens");
    cJSON_ArrayForEach(item, added) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(item, "content"), *id = cJSON_GetObjectItemCaseSensitive(item, "id");
        if (cJSON_IsString(c) && cJSON_IsNumber(id) && !strcmp(c->valuestring, content)) return (int)id->valuedouble;
    }
    return -1;
}

/* New rows [first, V) of a [V, C] table: each row the mean of rows [0, n_text) plus
 * noise of 0.02 x that dimension's std; rows listed in copy_from (>= 0) are copied from
 * the checkpoint's table src [hf_vocab, C] instead. */
static int extend_rows(float *table, int n_text, int V, int C, const float *src, int hf_vocab, const int *copy_from,
                       dr_rng *rng) {
    double *mean = calloc((size_t)C, sizeof *mean), *var = calloc((size_t)C, sizeof *var);
    if (!mean || !var) {
        free(mean);
        free(var);
        return DR_ENOMEM;
    }
    for (int r = 0; r < n_text; r++)
        for (int j = 0; j < C; j++) mean[j] += table[(size_t)r * C + j];
    for (int j = 0; j < C; j++) mean[j] /= n_text;
    for (int r = 0; r < n_text; r++)
        for (int j = 0; j < C; j++) {
            double d = table[(size_t)r * C + j] - mean[j];
            var[j] += d * d;
        }
    for (int r = n_text; r < V; r++) {
        int from = copy_from ? copy_from[r - n_text] : -1;
        float *row = table + (size_t)r * C;
        if (from >= 0 && from < hf_vocab) {
            memcpy(row, src + (size_t)from * C, sizeof(float) * (size_t)C);
            continue;
        }
        for (int j = 0; j < C; j++) row[j] = (float)(mean[j] + 0.02 * sqrt(var[j] / n_text) * dr_rng_normal(rng));
    }
    free(mean);
    free(var);
    return DR_OK;
}

/* The tokenizer of a foreign checkpoint reduced to its BPE vocabulary and merges, then
 * given director's specials and pose tokens. */
static int extended_tokenizer(cJSON *tok_json, const char *path, const dr_llama_config *c, dr_tokenizer **out,
                              dr_err *err) {
    *out = NULL;
    cJSON *saved_added = cJSON_DetachItemFromObjectCaseSensitive(tok_json, "added_tokens");
    cJSON *saved_post = cJSON_DetachItemFromObjectCaseSensitive(tok_json, "post_processor");
    char *text = cJSON_PrintUnformatted(tok_json);
    if (saved_added) cJSON_AddItemToObject(tok_json, "added_tokens", saved_added);
    if (saved_post) cJSON_AddItemToObject(tok_json, "post_processor", saved_post);
    if (!text) return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    int rc = dr_tokenizer_load_json(out, text, strlen(text), path, err);
    free(text);
    if (rc) return rc;
    if (dr_tokenizer_text_vocab_size(*out) != c->n_text)
        rc = dr_err_set(err, DR_EFORMAT, "%s: %d text tokens, expected %d", path, dr_tokenizer_text_vocab_size(*out),
                        c->n_text);
    for (int i = 0; i < DR_LLAMA_NUM_SPECIALS && !rc; i++)
        rc = dr_tokenizer_add_token(*out, dr_llama_special_names[i], true, NULL, err);
    if (!rc) rc = dr_tokenizer_add_pose_tokens(*out, c->pose_levels, c->pose_codebook, NULL, err);
    if (rc) {
        dr_err_prefix(err, "%s", path);
        dr_tokenizer_free(*out);
        *out = NULL;
    }
    return rc;
}

int dr_llama_from_hf(const char *dir, const dr_llama_hf_opts *opts, dr_llama *out, dr_tokenizer **tok_out,
                     dr_err *err) {
    memset(out, 0, sizeof *out);
    *tok_out = NULL;
    const dr_llama_hf_opts defaults = dr_llama_hf_default_opts();
    if (!opts) opts = &defaults;
    char cfg_path[4096], tok_path[4096];
    cJSON *cfg_json = NULL, *tok_json = NULL;
    dr_tokenizer *tok = NULL;
    hf_weights h = {0};
    float *hf_table = NULL;
    dr_llama_config c;
    int hf_vocab = 0, rc;
    if ((rc = read_json(dir, "config.json", 1u << 20, &cfg_json, cfg_path, sizeof cfg_path, err)) ||
        (rc = parse_hf_config(cfg_json, cfg_path, &c, &hf_vocab, err)))
        goto done;
    const cJSON *director = cJSON_GetObjectItemCaseSensitive(cfg_json, "director");
    const bool exact = cJSON_IsObject(director);
    if ((rc = read_json(dir, "tokenizer.json", DR_TOKENIZER_MAX_FILE_BYTES, &tok_json, tok_path, sizeof tok_path, err)))
        goto done;
    if (exact) { /* written by dr_llama_export_hf: the layout is in config.json */
        c.vocab_size = hf_vocab;
        if ((rc = cfg_int(director, "n_text_tokens", -1, &c.n_text, cfg_path, err)) ||
            (rc = cfg_int(director, "pose_levels", -1, &c.pose_levels, cfg_path, err)) ||
            (rc = cfg_int(director, "pose_codebook_size", -1, &c.pose_codebook, cfg_path, err)) ||
            (rc = cfg_int(director, "pose_keyframes", -1, &c.pose_keyframes, cfg_path, err)))
            goto done;
        if ((rc = dr_llama_config_validate(&c, err))) {
            dr_err_prefix(err, "%s", cfg_path);
            goto done;
        }
        if ((rc = dr_tokenizer_load(&tok, tok_path, err))) goto done;
        if ((rc = dr_llama_match_tokenizer(&c, tok, err))) {
            dr_err_prefix(err, "%s", tok_path);
            goto done;
        }
    } else {
        if (opts->pose_levels <= 0 || opts->pose_codebook <= 0 || opts->pose_keyframes <= 0) {
            rc = dr_err_set(err, DR_EINVAL, "%s: the pose layout (levels, codebook, key frames) must be positive", dir);
            goto done;
        }
        c.pose_levels = opts->pose_levels;
        c.pose_codebook = opts->pose_codebook;
        c.pose_keyframes = opts->pose_keyframes;
        if (opts->max_seq_len > 0) c.max_seq_len = opts->max_seq_len;
        else if (c.max_seq_len > 4096) c.max_seq_len = 4096;
        /* n_text from the BPE vocabulary alone */
        const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tok_json, "model"), "vocab");
        c.n_text = cJSON_IsObject(vocab) ? cJSON_GetArraySize(vocab) : 0;
        if (c.n_text <= 0 || c.n_text > hf_vocab) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: %d vocabulary tokens but config.json says vocab_size %d", tok_path,
                            c.n_text, hf_vocab);
            goto done;
        }
        c.vocab_size = c.n_text + DR_LLAMA_NUM_SPECIALS + c.pose_levels * c.pose_codebook;
        if ((rc = dr_llama_config_validate(&c, err))) {
            dr_err_prefix(err, "%s", cfg_path);
            goto done;
        }
        if ((rc = extended_tokenizer(tok_json, tok_path, &c, &tok, err))) goto done;
    }
    if ((rc = dr_llama_init(out, &c, err)) || (rc = hf_weights_open(&h, dir, err))) goto done;

    /* every block tensor and the final norm under its own (Hugging Face) name */
    for (int i = 0; i < out->params.count && !rc; i++) {
        const dr_param *p = &out->params.items[i];
        if (!strcmp(p->name, "model.embed_tokens.weight") || !strcmp(p->name, "lm_head.weight")) continue;
        rc = hf_read(&h, dir, p->name, p->shape[0], p->ndim > 1 ? p->shape[1] : 0, out->params.data + p->offset, err);
    }
    if (rc) goto done;
    const char *tables[2] = {"model.embed_tokens.weight", c.tied_embeddings ? NULL : "lm_head.weight"};
    if (exact) {
        for (int t = 0; t < 2 && !rc; t++)
            if (tables[t]) rc = hf_read(&h, dir, tables[t], c.vocab_size, c.dim, dr_params_get(&out->params, tables[t]), err);
        goto done;
    }
    /* extend: text rows copied, new rows initialised */
    int copy_from[DR_LLAMA_NUM_SPECIALS] = {-1, -1, -1, -1, -1};
    copy_from[DR_LLAMA_BOS] = added_token_id(tok_json, dr_llama_special_names[DR_LLAMA_BOS]);
    copy_from[DR_LLAMA_EOS] = added_token_id(tok_json, dr_llama_special_names[DR_LLAMA_EOS]);
    int *copy = calloc((size_t)(c.vocab_size - c.n_text), sizeof *copy);
    hf_table = malloc(sizeof(float) * (size_t)hf_vocab * c.dim);
    if (!copy || !hf_table) {
        free(copy);
        rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory for the embedding", dir);
        goto done;
    }
    for (int r = 0; r < c.vocab_size - c.n_text; r++) copy[r] = r < DR_LLAMA_NUM_SPECIALS ? copy_from[r] : -1;
    dr_rng rng;
    dr_rng_seed(&rng, opts->seed);
    for (int t = 0; t < 2 && !rc; t++) {
        if (!tables[t]) continue;
        if ((rc = hf_read(&h, dir, tables[t], hf_vocab, c.dim, hf_table, err))) break;
        float *dst = dr_params_get(&out->params, tables[t]);
        memcpy(dst, hf_table, sizeof(float) * (size_t)c.n_text * c.dim);
        if (extend_rows(dst, c.n_text, c.vocab_size, c.dim, hf_table, hf_vocab, copy, &rng))
            rc = dr_err_set(err, DR_ENOMEM, "%s: out of memory", dir);
    }
    free(copy);
done:
    free(hf_table);
    hf_weights_close(&h);
    cJSON_Delete(cfg_json);
    cJSON_Delete(tok_json);
    if (rc) {
        dr_tokenizer_free(tok);
        dr_llama_free(out);
        return rc;
    }
    *tok_out = tok;
    return DR_OK;
}
