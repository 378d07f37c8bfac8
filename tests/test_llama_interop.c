/* Tests of src/models/llama_export.c: the q/k row permutation (inverse, and its meaning:
 * adjacent-pair RoPE on permuted rows = rotate-half RoPE, permuted); the GGUF export read
 * back with the generic reader (keys, vocabulary strings and types, merges, tensor
 * shapes, values, F16); the Hugging Face export read back by dr_llama_from_hf (values,
 * tokenizer and generation identical) and run by an independent float64 torch forward
 * (tests/interop/hf_reference.py, skipped without Debian's python3-torch); a tiny
 * foreign Hugging Face checkpoint written here (sharded, BF16 shard, Llama-3-style added
 * tokens) extended into a DirectorLLM; hostile checkpoints; the CLI. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/llama.h"
#include "models/llama_export.h"
#include "models/rvq.h"
#include "models/tokenizer.h"
#include "pose/dataset.h"
#include "testutil.h"

static const char *const corpus[] = {
    "a person walks forward slowly", "a man jumps up and down twice", "someone waves with the right hand",
    "a woman runs in a circle", "the person sits down on a chair", "a child kicks a ball with the left foot",
};

static dr_tokenizer *train_tokenizer(void) {
    dr_tokenizer *tok = NULL;
    dr_err err = {0};
    dr_tokenizer_train_opts o = {.vocab_size = 290, .min_frequency = 2};
    assert_int_equal(dr_tokenizer_train(&tok, corpus, (int)(sizeof corpus / sizeof corpus[0]), &o, &err), DR_OK);
    return tok;
}

static void randomize(dr_llama *m, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    for (size_t i = 0; i < m->params.total; i++) m->params.data[i] = 0.15f * dr_rng_normal(&rng);
    for (int i = 0; i < m->params.count; i++)
        if (strstr(m->params.items[i].name, "norm.weight")) {
            float *w = m->params.data + m->params.items[i].offset;
            for (size_t j = 0; j < m->params.items[i].numel; j++) w[j] = 1.0f + 0.2f * dr_rng_normal(&rng);
        }
}

/* A tiny DirectorLLM over tok's text vocabulary (pose layout 2 x 16, 4 key frames). */
static void make_director(dr_llama *m, const dr_tokenizer *tok, bool tied, uint64_t seed) {
    dr_llama_config c = dr_llama_config_director(dr_tokenizer_text_vocab_size(tok));
    c.dim = 32, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 8, c.ffn_hidden = 48;
    c.pose_levels = 2, c.pose_codebook = 16, c.pose_keyframes = 4, c.max_seq_len = 64, c.tied_embeddings = tied;
    c.vocab_size = c.n_text + DR_LLAMA_NUM_SPECIALS + c.pose_levels * c.pose_codebook;
    dr_err err = {0};
    assert_int_equal(dr_llama_init(m, &c, &err), DR_OK);
    randomize(m, seed);
}

/* ---- the permutation ---- */

static void test_permutation(void **state) {
    (void)state;
    enum { H = 3, D = 8, IN = 5 };
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    float *w = tu_randn(&rng, H * D * IN, 1.0f), p[H * D * IN], back[H * D * IN];
    dr_llama_permute_rope_rows(p, w, H, D, IN);
    dr_llama_unpermute_rope_rows(back, p, H, D, IN);
    assert_memory_equal(back, w, sizeof back);
    /* the formula: new row h*D + 2i + j = old row h*D + j*D/2 + i */
    assert_memory_equal(p + (1 * D + 2 * 3 + 1) * IN, w + (1 * D + 1 * D / 2 + 3) * IN, sizeof(float) * IN);
    assert_memory_equal(p + (2 * D + 2 * 1 + 0) * IN, w + (2 * D + 0 + 1) * IN, sizeof(float) * IN);
    /* meaning: one head's projected vector q; rotate-half RoPE (HF) at position t, then
     * permuted, equals adjacent-pair RoPE (llama.cpp) of the permuted q */
    const double theta = 10000.0, t = 7.0;
    double q[D], hf[D], adj[D], qp[D];
    for (int i = 0; i < D; i++) q[i] = dr_rng_normal(&rng);
    for (int i = 0; i < D / 2; i++) {
        double a = t * pow(theta, -2.0 * i / D), cs = cos(a), sn = sin(a);
        hf[i] = q[i] * cs - q[i + D / 2] * sn;
        hf[i + D / 2] = q[i + D / 2] * cs + q[i] * sn;
        qp[2 * i] = q[i], qp[2 * i + 1] = q[i + D / 2];
    }
    for (int i = 0; i < D / 2; i++) {
        double a = t * pow(theta, -2.0 * i / D), cs = cos(a), sn = sin(a);
        adj[2 * i] = qp[2 * i] * cs - qp[2 * i + 1] * sn;
        adj[2 * i + 1] = qp[2 * i + 1] * cs + qp[2 * i] * sn;
    }
    for (int i = 0; i < D / 2; i++) {
        assert_true(fabs(adj[2 * i] - hf[i]) < 1e-12);
        assert_true(fabs(adj[2 * i + 1] - hf[i + D / 2]) < 1e-12);
    }
    free(w);
}

/* ---- GGUF ---- */

static const dr_gguf_kv *kv(const dr_gguf_file *f, const char *key) {
    const dr_gguf_kv *v = dr_gguf_find_kv(f, key);
    if (!v) fprintf(stderr, "missing key %s\n", key);
    assert_non_null(v);
    return v;
}

static void check_gguf(bool tied, bool f16) {
    char dir[1024], path[1200];
    tu_tmpdir(dir, sizeof dir, "gguf");
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    dr_tokenizer *tok = train_tokenizer();
    dr_llama m;
    make_director(&m, tok, tied, tied ? 3 : 4);
    const dr_llama_config *c = &m.cfg;
    dr_err err = {0};
    dr_llama_gguf_opts opts = {.f16 = f16, .name = "tiny"};
    assert_int_equal(dr_tokenizer_vocab_size(tok), dr_llama_pose_base(c)); /* no pose tokens yet */
    assert_int_equal(dr_llama_export_gguf(&m, tok, &opts, path, &err), DR_OK);
    assert_int_equal(dr_tokenizer_vocab_size(tok), c->vocab_size); /* appended */

    dr_gguf_file f;
    assert_int_equal(dr_gguf_open(&f, path, &err), DR_OK);
    assert_int_equal(f.version, 3);
    assert_true(dr_gguf_str_eq(kv(&f, "general.architecture")->str, "llama"));
    assert_true(dr_gguf_str_eq(kv(&f, "general.name")->str, "tiny"));
    assert_int_equal(kv(&f, "general.file_type")->value.u, f16 ? 1 : 0);
    assert_int_equal(kv(&f, "llama.block_count")->value.u, c->n_layers);
    assert_int_equal(kv(&f, "llama.embedding_length")->value.u, c->dim);
    assert_int_equal(kv(&f, "llama.feed_forward_length")->value.u, c->ffn_hidden);
    assert_int_equal(kv(&f, "llama.context_length")->value.u, c->max_seq_len);
    assert_int_equal(kv(&f, "llama.vocab_size")->value.u, c->vocab_size);
    assert_int_equal(kv(&f, "llama.attention.head_count")->value.u, c->n_heads);
    assert_int_equal(kv(&f, "llama.attention.head_count_kv")->value.u, c->n_kv_heads);
    assert_int_equal(kv(&f, "llama.rope.dimension_count")->value.u, c->head_dim);
    assert_true(kv(&f, "llama.attention.layer_norm_rms_epsilon")->type == DR_GGUF_F32);
    assert_true((float)kv(&f, "llama.attention.layer_norm_rms_epsilon")->value.f == c->norm_eps);
    assert_true((float)kv(&f, "llama.rope.freq_base")->value.f == c->rope_theta);
    assert_true(dr_gguf_str_eq(kv(&f, "tokenizer.ggml.model")->str, "gpt2"));
    assert_true(dr_gguf_str_eq(kv(&f, "tokenizer.ggml.pre")->str, "llama-bpe"));
    assert_int_equal(kv(&f, "tokenizer.ggml.bos_token_id")->value.u, dr_llama_special(c, DR_LLAMA_BOS));
    assert_int_equal(kv(&f, "tokenizer.ggml.eos_token_id")->value.u, dr_llama_special(c, DR_LLAMA_EOS));
    assert_int_equal(kv(&f, "director.pose_token_base")->value.u, dr_llama_pose_base(c));

    /* vocabulary: byte-level text tokens, specials and pose tokens as control tokens */
    const dr_gguf_kv *tokens = kv(&f, "tokenizer.ggml.tokens"), *types = kv(&f, "tokenizer.ggml.token_type");
    assert_int_equal(tokens->count, c->vocab_size);
    assert_int_equal(types->count, c->vocab_size);
    char space = ' ';
    int space_id = dr_tokenizer_token_id(tok, &space, 1);
    assert_true(space_id >= 0 && space_id < c->n_text);
    assert_true(dr_gguf_str_eq(tokens->strings[space_id], "\xC4\xA0")); /* U+0120, GPT-2's space */
    char a = 'a';
    assert_true(dr_gguf_str_eq(tokens->strings[dr_tokenizer_token_id(tok, &a, 1)], "a"));
    assert_int_equal(dr_gguf_array_int(types, (uint64_t)space_id), 1);
    assert_true(dr_gguf_str_eq(tokens->strings[dr_llama_special(c, DR_LLAMA_POSE_BEGIN)], "<|pose_begin|>"));
    assert_int_equal(dr_gguf_array_int(types, (uint64_t)dr_llama_special(c, DR_LLAMA_POSE_BEGIN)), 3);
    int pose = dr_llama_pose_token(c, 1, 3);
    assert_true(dr_gguf_str_eq(tokens->strings[pose], "<|pose_1_3|>"));
    assert_int_equal(dr_gguf_array_int(types, (uint64_t)pose), 3);
    for (uint64_t i = 0; i < tokens->count; i++) /* no duplicates */
        for (uint64_t j = i + 1; j < tokens->count; j++)
            assert_false(tokens->strings[i].len == tokens->strings[j].len &&
                         !memcmp(tokens->strings[i].data, tokens->strings[j].data, tokens->strings[i].len));
    const dr_gguf_kv *merges = kv(&f, "tokenizer.ggml.merges");
    assert_int_equal(merges->count, dr_tokenizer_num_merges(tok));
    assert_true(merges->count > 0);
    for (uint64_t r = 0; r < merges->count; r++) { /* "left right": both parts are tokens, merged is too */
        int left, right, merged = dr_tokenizer_merge(tok, (int)r, &left, &right);
        dr_gguf_str s = merges->strings[r];
        dr_gguf_str l = tokens->strings[left], rt = tokens->strings[right], mg = tokens->strings[merged];
        assert_int_equal(s.len, l.len + 1 + rt.len);
        assert_memory_equal(s.data, l.data, l.len);
        assert_int_equal(s.data[l.len], ' ');
        assert_memory_equal(s.data + l.len + 1, rt.data, rt.len);
        assert_int_equal(mg.len, l.len + rt.len);
    }

    /* tensors */
    int expect = 1 + 9 * c->n_layers + 1 + (tied ? 0 : 1);
    assert_int_equal(f.tensor_count, expect);
    assert_true((dr_gguf_find_tensor(&f, "output.weight") == NULL) == tied);
    const dr_gguf_tensor *emb = dr_gguf_find_tensor(&f, "token_embd.weight");
    assert_non_null(emb);
    assert_int_equal(emb->shape[0], c->vocab_size);
    assert_int_equal(emb->shape[1], c->dim);
    assert_int_equal(emb->ne[0], c->dim); /* fastest-varying first on disk */
    assert_int_equal(emb->type, f16 ? DR_GGML_F16 : DR_GGML_F32);
    const size_t C = (size_t)c->dim, QD = (size_t)c->n_heads * c->head_dim, KVD = (size_t)c->n_kv_heads * c->head_dim;
    float *buf = malloc(sizeof(float) * (size_t)c->vocab_size * C), *un = malloc(sizeof(float) * QD * C);
    const double tol = f16 ? 1e-3 : 0.0;
    assert_int_equal(dr_gguf_read_f32(&f, emb, buf, emb->numel, &err), DR_OK);
    assert_true(tu_max_abs_diff(buf, m.embed, (long)emb->numel) <= tol);
    for (int l = 0; l < c->n_layers; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", l);
        const dr_gguf_tensor *t = dr_gguf_find_tensor(&f, name);
        assert_non_null(t);
        assert_int_equal(t->shape[0], (int64_t)QD);
        assert_int_equal(dr_gguf_read_f32(&f, t, buf, t->numel, &err), DR_OK);
        dr_llama_unpermute_rope_rows(un, buf, c->n_heads, c->head_dim, c->dim);
        assert_true(tu_max_abs_diff(un, m.layers[l].wq, (long)(QD * C)) <= tol);
        if (!f16) assert_true(tu_max_abs_diff(buf, m.layers[l].wq, (long)(QD * C)) > 0.01); /* really permuted */
        snprintf(name, sizeof name, "blk.%d.attn_k.weight", l);
        t = dr_gguf_find_tensor(&f, name);
        assert_int_equal(t->shape[0], (int64_t)KVD);
        assert_int_equal(dr_gguf_read_f32(&f, t, buf, t->numel, &err), DR_OK);
        dr_llama_unpermute_rope_rows(un, buf, c->n_kv_heads, c->head_dim, c->dim);
        assert_true(tu_max_abs_diff(un, m.layers[l].wk, (long)(KVD * C)) <= tol);
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        t = dr_gguf_find_tensor(&f, name);
        assert_int_equal(dr_gguf_read_f32(&f, t, buf, t->numel, &err), DR_OK);
        assert_true(tu_max_abs_diff(buf, m.layers[l].wv, (long)(KVD * C)) <= tol);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        t = dr_gguf_find_tensor(&f, name);
        assert_int_equal(t->shape[0], c->dim);
        assert_int_equal(t->shape[1], c->ffn_hidden);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        t = dr_gguf_find_tensor(&f, name);
        assert_int_equal(t->type, DR_GGML_F32); /* norms stay F32 */
        assert_int_equal(dr_gguf_read_f32(&f, t, buf, t->numel, &err), DR_OK);
        assert_memory_equal(buf, m.layers[l].ffn_norm, sizeof(float) * C);
    }
    free(buf);
    free(un);
    dr_gguf_close(&f);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
}

static void test_gguf_untied_f32(void **state) {
    (void)state;
    check_gguf(false, false);
}
static void test_gguf_tied_f16(void **state) {
    (void)state;
    check_gguf(true, true);
}

static void test_tokenizer_mismatch(void **state) {
    (void)state;
    dr_tokenizer *tok = train_tokenizer(), *other = NULL;
    dr_llama m;
    make_director(&m, tok, false, 5);
    dr_err err = {0};
    dr_tokenizer_train_opts o = {.vocab_size = 270, .min_frequency = 2};
    assert_int_equal(dr_tokenizer_train(&other, corpus, 6, &o, &err), DR_OK);
    char dir[1024], path[1200];
    tu_tmpdir(dir, sizeof dir, "mismatch");
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    assert_int_equal(dr_llama_export_gguf(&m, other, NULL, path, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "text tokens"));
    assert_false(dr_file_exists(path));
    dr_tokenizer_free(other);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
}

/* ---- Hugging Face round trip ---- */

static int greedy_codes(const dr_llama *m, int *codes) {
    int prompt[3] = {5, 17, 40};
    dr_llama_sampling sp = {.temperature = 0.0f, .top_k = 0, .top_p = 1.0f};
    dr_err err = {0};
    return dr_llama_generate_pose(m, prompt, 3, 2, &sp, 7, codes, &err);
}

static void test_hf_round_trip(void **state) {
    (void)state;
    for (int tied = 0; tied < 2; tied++) {
        char dir[1024], out[1200];
        tu_tmpdir(dir, sizeof dir, "hf");
        snprintf(out, sizeof out, "%s/export", dir);
        dr_tokenizer *tok = train_tokenizer(), *tok2 = NULL;
        dr_llama m, m2;
        make_director(&m, tok, tied, 9 + tied);
        dr_err err = {0};
        assert_int_equal(dr_llama_export_hf(&m, tok, out, &err), DR_OK);
        assert_int_equal(dr_llama_from_hf(out, NULL, &m2, &tok2, &err), DR_OK);
        const dr_llama_config *a = &m.cfg, *b = &m2.cfg;
        assert_true(a->vocab_size == b->vocab_size && a->dim == b->dim && a->n_layers == b->n_layers &&
                    a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim &&
                    a->ffn_hidden == b->ffn_hidden && a->rope_theta == b->rope_theta && a->norm_eps == b->norm_eps &&
                    a->max_seq_len == b->max_seq_len && a->tied_embeddings == b->tied_embeddings &&
                    a->n_text == b->n_text && a->pose_levels == b->pose_levels &&
                    a->pose_codebook == b->pose_codebook && a->pose_keyframes == b->pose_keyframes);
        assert_int_equal(m2.params.total, m.params.total);
        assert_memory_equal(m2.params.data, m.params.data, sizeof(float) * m.params.total);
        assert_int_equal(dr_tokenizer_vocab_size(tok2), dr_tokenizer_vocab_size(tok));
        for (int id = 0; id < dr_tokenizer_vocab_size(tok); id++) {
            size_t l1, l2;
            const char *a = dr_tokenizer_token(tok, id, &l1), *b = dr_tokenizer_token(tok2, id, &l2);
            assert_int_equal(l1, l2);
            assert_memory_equal(a, b, l1);
        }
        int c1[2 * 8], c2[2 * 8];
        assert_int_equal(greedy_codes(&m, c1), DR_OK);
        assert_int_equal(greedy_codes(&m2, c2), DR_OK);
        assert_memory_equal(c1, c2, sizeof c1);

        /* config.json as transformers reads it */
        char *text = NULL;
        size_t len;
        snprintf(out, sizeof out, "%s/export/config.json", dir);
        assert_int_equal(dr_read_file(out, 1 << 20, &text, &len, &err), DR_OK);
        cJSON *cfg = cJSON_Parse(text);
        assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0)->valuestring,
                            "LlamaForCausalLM");
        assert_int_equal(cJSON_GetObjectItem(cfg, "vocab_size")->valueint, m.cfg.vocab_size);
        assert_int_equal(cJSON_GetObjectItem(cfg, "bos_token_id")->valueint, dr_llama_special(&m.cfg, DR_LLAMA_BOS));
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings")), tied);
        assert_string_equal(cJSON_GetObjectItem(cfg, "torch_dtype")->valuestring, "float32");
        assert_non_null(strstr(text, "\"rms_norm_eps\":\t1e-05"));
        cJSON_Delete(cfg);
        free(text);
        snprintf(out, sizeof out, "%s/export/tokenizer_config.json", dir);
        assert_true(dr_file_exists(out));
        dr_tokenizer_free(tok);
        dr_tokenizer_free(tok2);
        dr_llama_free(&m);
        dr_llama_free(&m2);
    }
}

/* The exported folder run by an independent float64 torch forward in the Hugging Face
 * convention gives director's greedy tokens. */
static void test_hf_torch_reference(void **state) {
    (void)state;
    if (tu_system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skipped: /usr/bin/python3 has no torch/numpy (Debian python3-torch)\n");
        skip();
    }
    char dir[1024], out[1200], res[1200];
    tu_tmpdir(dir, sizeof dir, "hf-torch");
    snprintf(out, sizeof out, "%s/export", dir);
    dr_tokenizer *tok = train_tokenizer();
    dr_llama m;
    make_director(&m, tok, false, 31);
    dr_err err = {0};
    assert_int_equal(dr_llama_export_hf(&m, tok, out, &err), DR_OK);
    enum { N = 12 };
    int prompt[6] = {dr_llama_special(&m.cfg, DR_LLAMA_BOS), 5, 17, 40, 101, dr_llama_special(&m.cfg, DR_LLAMA_POSE_BEGIN)};
    int ours[N];
    dr_llama_session s;
    assert_int_equal(dr_llama_session_init(&s, &m, 1, 6 + N, &err), DR_OK);
    const float *logits;
    assert_int_equal(dr_llama_session_step(&s, prompt, 6, &logits, &err), DR_OK);
    dr_llama_sampling greedy = {.temperature = 0.0f, .top_k = 0, .top_p = 1.0f};
    for (int i = 0; i < N; i++) {
        ours[i] = dr_llama_sample(logits, 0, m.cfg.vocab_size, &greedy, NULL, NULL);
        if (i + 1 < N) assert_int_equal(dr_llama_session_step(&s, &ours[i], 1, &logits, &err), DR_OK);
    }
    dr_llama_session_free(&s);
    snprintf(res, sizeof res, "%s/torch.txt", dir);
    assert_int_equal(tu_system("/usr/bin/python3 '%s/tests/interop/hf_reference.py' '%s' %d,%d,%d,%d,%d,%d %d > '%s'",
                               DIRECTOR_SOURCE_DIR, out, prompt[0], prompt[1], prompt[2], prompt[3], prompt[4],
                               prompt[5], N, res),
                     0);
    char *text = NULL;
    size_t len;
    assert_int_equal(dr_read_file(res, 1 << 16, &text, &len, &err), DR_OK);
    char *p = text;
    for (int i = 0; i < N; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        assert_true(end != p);
        assert_int_equal(v, ours[i]);
        p = *end == ',' ? end + 1 : end;
    }
    fprintf(stderr, "torch reference: %d of %d greedy tokens equal\n", N, N);
    free(text);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
}

/* ---- a foreign Hugging Face checkpoint ---- */

enum { FOREIGN_ADDED = 3 };

/* Write a Llama-3-like checkpoint under dir: tokenizer.json with the BPE vocabulary and
 * added tokens <|begin_of_text|>, <|end_of_text|>, <|reserved_special_token_0|>;
 * config.json without director's layout; weights in two shards (the second BF16) with
 * an index. *ref gets the plain model with these weights (vocab n_text + 3). */
static void write_foreign(const char *dir, dr_llama *ref, int *n_text_out, const char *config_extra) {
    dr_tokenizer *tok = train_tokenizer();
    const int n_text = dr_tokenizer_text_vocab_size(tok);
    *n_text_out = n_text;
    dr_err err = {0};
    char path[1200];
    char *json = NULL;
    size_t len;
    assert_int_equal(dr_tokenizer_to_json(tok, &json, &len, &err), DR_OK);
    cJSON *root = cJSON_Parse(json);
    free(json);
    cJSON *added = cJSON_CreateArray();
    const char *names[FOREIGN_ADDED] = {"<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>"};
    for (int i = 0; i < FOREIGN_ADDED; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", n_text + i);
        cJSON_AddStringToObject(t, "content", names[i]);
        cJSON_AddBoolToObject(t, "special", true);
        cJSON_AddItemToArray(added, t);
    }
    cJSON_ReplaceItemInObject(root, "added_tokens", added);
    cJSON_DeleteItemFromObject(root, "director");
    json = cJSON_Print(root);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(dr_write_file_atomic(path, json, strlen(json), &err), DR_OK);
    free(json);
    cJSON_Delete(root);

    dr_llama_config c = {.vocab_size = n_text + FOREIGN_ADDED, .dim = 32, .n_layers = 2, .n_heads = 4,
                         .n_kv_heads = 2, .head_dim = 8, .ffn_hidden = 48, .rope_theta = 500000.0f,
                         .norm_eps = 1e-5f, .max_seq_len = 256, .tied_embeddings = false};
    assert_int_equal(dr_llama_init(ref, &c, &err), DR_OK);
    randomize(ref, 77);
    /* the BF16 shard's values are what the loader will see: round them here too */
    dr_st_writer w1, w2;
    dr_st_writer_init(&w1);
    dr_st_writer_init(&w2);
    cJSON *index = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(index, "weight_map");
    for (int i = 0; i < ref->params.count; i++) {
        dr_param *p = &ref->params.items[i];
        bool second = strstr(p->name, "layers.1.") || !strcmp(p->name, "lm_head.weight");
        float *v = ref->params.data + p->offset;
        if (second)
            for (size_t j = 0; j < p->numel; j++) { /* round to bfloat16 (nearest even) */
                uint32_t u;
                memcpy(&u, &v[j], 4);
                u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
                memcpy(&v[j], &u, 4);
            }
        assert_int_equal(dr_st_writer_add(second ? &w2 : &w1, p->name, second ? DR_ST_BF16 : DR_ST_F32, p->ndim,
                                          p->shape, v, &err),
                         DR_OK);
        cJSON_AddStringToObject(map, p->name, second ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors");
    }
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    assert_int_equal(dr_st_writer_write(&w1, path, &err), DR_OK);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    assert_int_equal(dr_st_writer_write(&w2, path, &err), DR_OK);
    dr_st_writer_free(&w1);
    dr_st_writer_free(&w2);
    json = cJSON_Print(index);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    assert_int_equal(dr_write_file_atomic(path, json, strlen(json), &err), DR_OK);
    free(json);
    cJSON_Delete(index);

    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": %d, "
             "\"hidden_size\": 32, \"intermediate_size\": 48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
             "\"num_key_value_heads\": 2, \"hidden_act\": \"silu\", \"max_position_embeddings\": 8192, "
             "\"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, \"tie_word_embeddings\": false, "
             "\"bos_token_id\": %d, \"eos_token_id\": %d, \"torch_dtype\": \"bfloat16\"%s}",
             n_text + FOREIGN_ADDED, n_text, n_text + 1, config_extra ? config_extra : "");
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(dr_write_file_atomic(path, cfg, strlen(cfg), &err), DR_OK);
    dr_tokenizer_free(tok);
}

static void test_from_foreign_hf(void **state) {
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "foreign");
    dr_llama ref, m;
    dr_tokenizer *tok = NULL;
    int n_text;
    write_foreign(dir, &ref, &n_text, NULL);
    dr_llama_hf_opts o = dr_llama_hf_default_opts();
    o.pose_levels = 2, o.pose_codebook = 16, o.pose_keyframes = 4;
    dr_err err = {0};
    int rc = dr_llama_from_hf(dir, &o, &m, &tok, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, DR_OK);
    const dr_llama_config *c = &m.cfg;
    assert_int_equal(c->n_text, n_text);
    assert_int_equal(c->vocab_size, n_text + 5 + 32);
    assert_int_equal(c->max_seq_len, 4096); /* 8192 capped */
    assert_true(c->rope_theta == 500000.0f);
    assert_int_equal(c->head_dim, 8);
    assert_int_equal(dr_tokenizer_vocab_size(tok), c->vocab_size);
    assert_int_equal(dr_tokenizer_special_id(tok, "<|pose_begin|>"), dr_llama_special(c, DR_LLAMA_POSE_BEGIN));
    assert_int_equal(dr_tokenizer_special_id(tok, "<|reserved_special_token_0|>"), -1); /* dropped */
    /* text rows and blocks identical; BOS/EOS rows from the checkpoint's tokens */
    const size_t C = (size_t)c->dim;
    for (int t = 0; t < 2; t++) {
        const float *a = t ? m.lm_head : m.embed, *b = t ? ref.lm_head : ref.embed;
        assert_memory_equal(a, b, sizeof(float) * (size_t)n_text * C);
        assert_memory_equal(a + (size_t)dr_llama_special(c, DR_LLAMA_BOS) * C, b + (size_t)n_text * C, sizeof(float) * C);
        assert_memory_equal(a + (size_t)dr_llama_special(c, DR_LLAMA_EOS) * C, b + (size_t)(n_text + 1) * C,
                            sizeof(float) * C);
        /* new rows: near the mean of the text rows, all different */
        double mean0 = 0;
        for (int r = 0; r < n_text; r++) mean0 += b[(size_t)r * C];
        mean0 /= n_text;
        const int r1 = dr_llama_pose_token(c, 0, 0), r2 = dr_llama_pose_token(c, 1, 5);
        assert_true(fabs(a[(size_t)r1 * C] - mean0) < 0.05);
        assert_true(a[(size_t)r1 * C] != a[(size_t)r2 * C]);
    }
    assert_memory_equal(m.layers[1].wq, ref.layers[1].wq, sizeof(float) * 32 * C);
    assert_memory_equal(m.layers[0].w_down, ref.layers[0].w_down, sizeof(float) * 48 * C);
    assert_memory_equal(m.final_norm, ref.final_norm, sizeof(float) * C);
    /* the logits of the text tokens are the checkpoint's */
    int ids[5] = {3, 77, 150, 9, 200};
    assert_int_equal(dr_llama_forward(&m, ids, NULL, 1, 5, NULL, &err), DR_OK);
    assert_int_equal(dr_llama_forward(&ref, ids, NULL, 1, 5, NULL, &err), DR_OK);
    for (int t = 0; t < 5; t++)
        assert_true(tu_max_abs_diff(dr_llama_logits(&m) + (size_t)t * c->vocab_size,
                                    dr_llama_logits(&ref) + (size_t)t * ref.cfg.vocab_size, n_text) < 1e-5);
    /* and it encodes text like the original, and generates decodable pose tokens */
    int32_t enc[64];
    int n = 0;
    assert_int_equal(dr_tokenizer_encode(tok, corpus[0], strlen(corpus[0]), DR_TOKENIZE_ADD_BEGIN, enc, 64, &n, &err),
                     DR_OK);
    assert_int_equal(enc[0], dr_llama_special(c, DR_LLAMA_BOS));
    int codes[8];
    dr_llama_sampling sp = {.temperature = 1.0f, .top_k = 0, .top_p = 1.0f};
    assert_int_equal(dr_llama_generate_pose(&m, enc + 1, n - 1, 1, &sp, 3, codes, &err), DR_OK);
    for (int i = 0; i < 8; i++) assert_true(codes[i] >= 0 && codes[i] < 16);
    /* deterministic in the seed */
    dr_llama m2;
    dr_tokenizer *tok2 = NULL;
    assert_int_equal(dr_llama_from_hf(dir, &o, &m2, &tok2, &err), DR_OK);
    assert_memory_equal(m2.params.data, m.params.data, sizeof(float) * m.params.total);
    dr_tokenizer_free(tok2);
    dr_llama_free(&m2);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
    dr_llama_free(&ref);
}

static void expect_hf_error(const char *dir, int code, const char *needle) {
    dr_llama m;
    dr_tokenizer *tok = NULL;
    dr_err err = {0};
    dr_llama_hf_opts o = dr_llama_hf_default_opts();
    o.pose_levels = 2, o.pose_codebook = 16, o.pose_keyframes = 4;
    int rc = dr_llama_from_hf(dir, &o, &m, &tok, &err);
    if (rc != code || !strstr(err.msg, needle)) fprintf(stderr, "got %d '%s', want %d '%s'\n", rc, err.msg, code, needle);
    assert_int_equal(rc, code);
    assert_non_null(strstr(err.msg, needle));
    assert_null(tok);
}

static void test_foreign_hostile(void **state) {
    (void)state;
    char dir[1024], path[1200];
    dr_llama ref;
    int n_text;
    dr_err err = {0};
    tu_tmpdir(dir, sizeof dir, "hostile");
    expect_hf_error(dir, DR_ENOTFOUND, "config.json");

    tu_tmpdir(dir, sizeof dir, "hostile-scaling");
    write_foreign(dir, &ref, &n_text, ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}");
    dr_llama_free(&ref);
    expect_hf_error(dir, DR_EUNSUPPORTED, "rope_scaling");

    tu_tmpdir(dir, sizeof dir, "hostile-bias");
    write_foreign(dir, &ref, &n_text, ", \"attention_bias\": true");
    dr_llama_free(&ref);
    expect_hf_error(dir, DR_EUNSUPPORTED, "bias");

    /* a shard name escaping the folder */
    tu_tmpdir(dir, sizeof dir, "hostile-shard");
    write_foreign(dir, &ref, &n_text, NULL);
    dr_llama_free(&ref);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    char *index = NULL;
    size_t index_len;
    assert_int_equal(dr_read_file(path, 1 << 20, &index, &index_len, &err), DR_OK);
    const char *bad = "{\"weight_map\": {\"model.norm.weight\": \"../model-00001-of-00002.safetensors\"}}";
    assert_int_equal(dr_write_file_atomic(path, bad, strlen(bad), &err), DR_OK);
    expect_hf_error(dir, DR_EFORMAT, "bad file name");

    /* a missing tensor */
    const char *missing = "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\"}}";
    assert_int_equal(dr_write_file_atomic(path, missing, strlen(missing), &err), DR_OK);
    expect_hf_error(dir, DR_ENOTFOUND, "model.layers.");
    assert_int_equal(dr_write_file_atomic(path, index, index_len, &err), DR_OK);
    free(index);

    /* a tensor whose shape disagrees with config.json */
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cfg = NULL;
    size_t len;
    assert_int_equal(dr_read_file(path, 1 << 16, &cfg, &len, &err), DR_OK);
    char *p = strstr(cfg, "\"intermediate_size\": 48");
    assert_non_null(p);
    memcpy(p, "\"intermediate_size\": 40", 23);
    assert_int_equal(dr_write_file_atomic(path, cfg, len, &err), DR_OK);
    free(cfg);
    expect_hf_error(dir, DR_EFORMAT, "mlp.gate_proj.weight has shape [48, 32]");

    /* no weights at all */
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    assert_int_equal(dr_rm_rf(path), 0);
    expect_hf_error(dir, DR_ENOTFOUND, "model.safetensors");
}

/* ---- the command line ---- */

static void test_cli(void **state) {
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "cli");
    dr_tokenizer *tok = train_tokenizer();
    dr_llama m;
    make_director(&m, tok, false, 41);
    dr_err err = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(dr_llama_save(&m, path, &err), DR_OK);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(dr_tokenizer_save(tok, path, &err), DR_OK);
    const char *bin = tu_director_bin();
    assert_int_equal(tu_system("'%s' export hf --model '%s/model.safetensors' --tokenizer '%s/tokenizer.json' --out "
                               "'%s/hf' --quiet",
                               bin, dir, dir, dir),
                     0);
    snprintf(path, sizeof path, "%s/hf/model.safetensors", dir);
    assert_true(dr_file_exists(path));
    assert_int_equal(tu_system("'%s' export gguf --model '%s/model.safetensors' --tokenizer '%s/tokenizer.json' --out "
                               "'%s/m.gguf' --f16 > '%s/out.txt'",
                               bin, dir, dir, dir, dir),
                     0);
    assert_int_equal(tu_system("grep -q 'wrote .*m.gguf' '%s/out.txt'", dir), 0);
    assert_int_equal(tu_system("'%s' export --help > /dev/null", bin), 0);
    assert_int_equal(tu_system("'%s' export onnx --out x 2> /dev/null", bin), 2);
    assert_int_equal(tu_system("'%s' export gguf --model '%s/model.safetensors' 2> /dev/null", bin, dir), 2);
    assert_int_equal(tu_system("'%s' export hf --out '%s/x' --f16 2> /dev/null", bin, dir), 2);
    /* a missing model: a clear error, no output */
    assert_int_equal(tu_system("'%s' export gguf --model '%s/none.safetensors' --tokenizer '%s/tokenizer.json' --out "
                               "'%s/n.gguf' 2> '%s/err.txt'",
                               bin, dir, dir, dir, dir),
                     1);
    assert_int_equal(tu_system("grep -q 'none.safetensors' '%s/err.txt'", dir), 0);
    snprintf(path, sizeof path, "%s/n.gguf", dir);
    assert_false(dr_file_exists(path));
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
}

/* `director train llm --init-hf`: a foreign checkpoint extended, trained a few steps,
 * saved with its extended tokenizer, and used by `director llm generate`. */
static void test_cli_train_init_hf(void **state) {
    (void)state;
    char dir[1024], path[1200], hf[1200];
    tu_tmpdir(dir, sizeof dir, "init-hf");
    const char *bin = tu_director_bin();
    assert_int_equal(tu_system("'%s' data synth --clips 24 --seed 3 --out '%s/data' --quiet", bin, dir), 0);
    /* a small RVQ (6 x 16 codes), a few steps so that its codebooks are seeded */
    dr_err err = {0};
    snprintf(hf, sizeof hf, "%s/data", dir);
    snprintf(path, sizeof path, "%s/rvq.safetensors", dir);
    tu_make_rvq(hf, 6, 16, 2, path);

    snprintf(hf, sizeof hf, "%s/hf", dir);
    assert_int_equal(dr_mkdir_p(hf, &err), DR_OK);
    dr_llama ref;
    int n_text;
    write_foreign(hf, &ref, &n_text, NULL);
    dr_llama_free(&ref);
    assert_int_equal(tu_system("'%s' train llm --data '%s/data' --rvq '%s/rvq.safetensors' --init-hf '%s' "
                               "--tokenizer-out '%s/tok.json' --out '%s/m.safetensors' --steps 3 --batch 4 --warmup 1 "
                               "--eval-batches 1 --quiet",
                               bin, dir, dir, hf, dir, dir),
                     0);
    dr_llama m, init;
    dr_tokenizer *tok = NULL, *init_tok = NULL;
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    assert_int_equal(dr_llama_load(&m, path, &err), DR_OK);
    assert_int_equal(m.cfg.n_text, n_text);
    assert_int_equal(m.cfg.pose_levels, 6);
    assert_int_equal(m.cfg.pose_codebook, 16);
    assert_int_equal(m.cfg.dim, 32);
    assert_int_equal(m.cfg.max_seq_len, 256);
    snprintf(path, sizeof path, "%s/tok.json", dir);
    assert_int_equal(dr_tokenizer_load(&tok, path, &err), DR_OK);
    assert_int_equal(dr_llama_match_tokenizer(&m.cfg, tok, &err), DR_OK);
    /* it started from the checkpoint and trained: close to the extended init, not equal */
    dr_llama_hf_opts o = dr_llama_hf_default_opts();
    o.pose_levels = 6, o.pose_codebook = 16, o.pose_keyframes = 20, o.max_seq_len = 256, o.seed = 1;
    assert_int_equal(dr_llama_from_hf(hf, &o, &init, &init_tok, &err), DR_OK);
    double d = tu_max_abs_diff(m.layers[1].wq, init.layers[1].wq, 32L * 32);
    assert_true(d > 0.0 && d < 0.05);
    assert_int_equal(tu_system("'%s' llm generate \"A man walks slowly.\" --model '%s/m.safetensors' --tokenizer "
                               "'%s/tok.json' --seed 7 > '%s/gen.txt'",
                               bin, dir, dir, dir),
                     0);
    /* the same with LoRA adapters: q/k/v/o move, the MLP and norms stay the checkpoint's,
     * the embedding and head train in full */
    assert_int_equal(tu_system("'%s' train llm --data '%s/data' --rvq '%s/rvq.safetensors' --init-hf '%s' "
                               "--tokenizer-out '%s/tok2.json' --out '%s/l.safetensors' --steps 3 --batch 4 "
                               "--warmup 1 --eval-batches 1 --lora 4 --quiet",
                               bin, dir, dir, hf, dir, dir),
                     0);
    dr_llama lm;
    snprintf(path, sizeof path, "%s/l.safetensors", dir);
    assert_int_equal(dr_llama_load(&lm, path, &err), DR_OK);
    assert_int_equal(lm.params.total, init.params.total);
    for (int i = 0; i < lm.params.count; i++) {
        const dr_param *p = &lm.params.items[i];
        bool moved = memcmp(lm.params.data + p->offset, init.params.data + p->offset, sizeof(float) * p->numel) != 0;
        bool should = strstr(p->name, "self_attn.") || strstr(p->name, "embed_tokens") || strstr(p->name, "lm_head");
        if (moved != should) fprintf(stderr, "%s: moved %d\n", p->name, moved);
        assert_int_equal(moved, should);
    }
    dr_llama_free(&lm);
    /* the run left a LoRA checkpoint with its base; resuming the finished run (with the
     * extended tokenizer, no --init-hf) trains no further and writes the same model */
    snprintf(path, sizeof path, "%s/l.safetensors.ckpt.base", dir);
    assert_true(dr_file_exists(path));
    assert_int_equal(tu_system("'%s' train llm --data '%s/data' --rvq '%s/rvq.safetensors' --tokenizer '%s/tok2.json' "
                               "--checkpoint '%s/l.safetensors.ckpt' --out '%s/l2.safetensors' --steps 3 --batch 4 "
                               "--warmup 1 --eval-batches 1 --lora 4 --resume --quiet",
                               bin, dir, dir, dir, dir, dir),
                     0);
    assert_int_equal(tu_system("cmp -s '%s/l.safetensors' '%s/l2.safetensors'", dir, dir), 0);
    assert_int_equal(tu_system("'%s' train llm --data '%s/data' --lora-mlp 2> /dev/null", bin, dir), 2);
    /* options that do not go together */
    assert_int_equal(tu_system("'%s' train llm --data '%s/data' --init-hf '%s' 2> /dev/null", bin, dir, hf), 2);
    assert_int_equal(tu_system("'%s' train llm --data '%s/data' --init-hf '%s' --tokenizer-out x --resume 2> /dev/null",
                               bin, dir, hf),
                     2);
    dr_tokenizer_free(tok);
    dr_tokenizer_free(init_tok);
    dr_llama_free(&m);
    dr_llama_free(&init);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permutation),     cmocka_unit_test(test_gguf_untied_f32),
        cmocka_unit_test(test_gguf_tied_f16),   cmocka_unit_test(test_tokenizer_mismatch),
        cmocka_unit_test(test_hf_round_trip),   cmocka_unit_test(test_hf_torch_reference),
        cmocka_unit_test(test_from_foreign_hf), cmocka_unit_test(test_foreign_hostile),
        cmocka_unit_test(test_cli),             cmocka_unit_test(test_cli_train_init_hf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
