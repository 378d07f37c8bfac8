/* Tests of src/models/llama.c: whole-model finite-difference gradients (tied and
 * untied), KV-cached inference against full recomputation, the sampler, constrained
 * pose decoding (always decodable, greedy = constrained argmax of a full forward,
 * determinism per seed), the sequence layout, config JSON and save/load. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "models/llama.h"
#include "testutil.h"

static dr_llama_config tiny_config(bool tied) {
    dr_llama_config c = {.vocab_size = 23, .dim = 16, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 4,
                         .ffn_hidden = 24, .rope_theta = 10000.0f, .norm_eps = 1e-5f, .max_seq_len = 160,
                         .tied_embeddings = tied};
    return c;
}

/* A tiny model with the real pose layout (6 x 512 codes, 20 key frames). */
static dr_llama_config tiny_director_config(void) {
    dr_llama_config c = dr_llama_config_director(40);
    c.dim = 16, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 4, c.ffn_hidden = 24;
    c.max_seq_len = 160;
    return c;
}

/* Weights with enough spread that every path carries a visible gradient. */
static void randomize(dr_llama *m, uint64_t seed, float std) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    for (size_t i = 0; i < m->params.total; i++) m->params.data[i] = std * dr_rng_normal(&rng);
    for (int i = 0; i < m->params.count; i++)
        if (strstr(m->params.items[i].name, "norm.weight")) {
            float *w = m->params.data + m->params.items[i].offset;
            for (size_t j = 0; j < m->params.items[i].numel; j++) w[j] = 1.0f + 0.2f * dr_rng_normal(&rng);
        }
}

static bool config_equal(const dr_llama_config *a, const dr_llama_config *b) {
    return a->vocab_size == b->vocab_size && a->dim == b->dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim &&
           a->ffn_hidden == b->ffn_hidden && a->rope_theta == b->rope_theta && a->norm_eps == b->norm_eps &&
           a->max_seq_len == b->max_seq_len && a->tied_embeddings == b->tied_embeddings && a->n_text == b->n_text &&
           a->pose_levels == b->pose_levels && a->pose_codebook == b->pose_codebook &&
           a->pose_keyframes == b->pose_keyframes;
}

/* ---- gradients ---- */

typedef struct grad_ctx {
    dr_llama *m;
    int *tokens, *targets, B, T;
} grad_ctx;

static double model_loss(void *ctx) {
    grad_ctx *g = ctx;
    float loss = 0.0f;
    assert_int_equal(dr_llama_forward(g->m, g->tokens, g->targets, g->B, g->T, &loss, NULL), DR_OK);
    return loss;
}

static void check_model_gradients(bool tied) {
    dr_llama m;
    dr_err err;
    dr_llama_config c = tiny_config(tied);
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    randomize(&m, tied ? 11 : 12, 0.4f);
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    enum { B = 2, T = 6 };
    int tokens[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (int)dr_rng_below(&rng, (uint32_t)c.vocab_size);
        targets[i] = i % 5 == 3 ? -1 : (int)dr_rng_below(&rng, (uint32_t)c.vocab_size);
    }
    grad_ctx g = {&m, tokens, targets, B, T};
    float loss;
    assert_int_equal(dr_llama_forward(&m, tokens, targets, B, T, &loss, &err), DR_OK);
    assert_true(isfinite(loss) && loss > 0.0f);
    assert_int_equal(dr_llama_backward(&m, 1.0f, &err), DR_OK);
    float *analytic = malloc(sizeof(float) * m.params.total);
    memcpy(analytic, m.params.grad, sizeof(float) * m.params.total);
    for (int i = 0; i < m.params.count; i++) {
        const dr_param *p = &m.params.items[i];
        double e = tu_gradcheck(model_loss, &g, m.params.data + p->offset, analytic + p->offset, (long)p->numel, 1e-2f,
                                12, 2e-3);
        if (getenv("TU_VERBOSE")) printf("%-50s %.2e\n", p->name, e);
        if (e > 3e-2) fail_msg("%s model: gradient of %s off by %g", tied ? "tied" : "untied", p->name, e);
    }
    /* backward accumulates, scaled: a second pass with scale 0.5 adds half again */
    assert_int_equal(dr_llama_forward(&m, tokens, targets, B, T, &loss, &err), DR_OK);
    assert_int_equal(dr_llama_backward(&m, 0.5f, &err), DR_OK);
    for (size_t i = 0; i < m.params.total; i++)
        assert_true(fabsf(m.params.grad[i] - 1.5f * analytic[i]) <= 1e-5f + 1e-4f * fabsf(analytic[i]));
    free(analytic);
    dr_llama_free(&m);
}

static void test_gradients_untied(void **state) {
    (void)state;
    check_model_gradients(false);
}

static void test_gradients_tied(void **state) {
    (void)state;
    check_model_gradients(true);
}

static void test_tied_vs_untied(void **state) {
    (void)state;
    dr_llama tied, untied;
    dr_err err;
    dr_llama_config ct = tiny_config(true), cu = tiny_config(false);
    assert_int_equal(dr_llama_init(&tied, &ct, &err), DR_OK);
    assert_int_equal(dr_llama_init(&untied, &cu, &err), DR_OK);
    assert_int_equal(dr_llama_num_params(&untied) - dr_llama_num_params(&tied), (size_t)cu.vocab_size * cu.dim);
    assert_true(tied.lm_head == tied.embed);
    assert_int_equal(dr_params_find(&tied.params, "lm_head.weight"), -1);
    assert_true(dr_params_find(&untied.params, "lm_head.weight") >= 0);
    /* an untied model whose head equals its embedding computes what the tied one does */
    randomize(&tied, 3, 0.3f);
    for (int i = 0; i < tied.params.count; i++) {
        const dr_param *p = &tied.params.items[i];
        memcpy(dr_params_get(&untied.params, p->name), tied.params.data + p->offset, sizeof(float) * p->numel);
    }
    memcpy(untied.lm_head, untied.embed, sizeof(float) * (size_t)cu.vocab_size * cu.dim);
    int tokens[9] = {1, 5, 7, 22, 0, 3, 3, 9, 12};
    assert_int_equal(dr_llama_forward(&tied, tokens, NULL, 1, 9, NULL, &err), DR_OK);
    assert_int_equal(dr_llama_forward(&untied, tokens, NULL, 1, 9, NULL, &err), DR_OK);
    assert_true(tu_max_abs_diff(dr_llama_logits(&tied), dr_llama_logits(&untied), 9L * cu.vocab_size) < 1e-6);
    dr_llama_free(&tied);
    dr_llama_free(&untied);
}

/* ---- KV cache ---- */

static void test_kv_cache_matches_full_forward(void **state) {
    (void)state;
    dr_llama m;
    dr_err err;
    dr_llama_config c = tiny_config(false);
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    randomize(&m, 21, 0.3f);
    const int B = 2, T = 150, V = c.vocab_size;
    int *tokens = malloc(sizeof(int) * B * T);
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    for (int i = 0; i < B * T; i++) tokens[i] = (int)dr_rng_below(&rng, (uint32_t)V);
    assert_int_equal(dr_llama_forward(&m, tokens, NULL, B, T, NULL, &err), DR_OK);
    const float *full = dr_llama_logits(&m);
    assert_non_null(full);

    /* prefill 5, then one token at a time */
    dr_llama_session s;
    assert_int_equal(dr_llama_session_init(&s, &m, B, 20, &err), DR_OK);
    int feed[2 * 5];
    const float *logits;
    for (int r = 0; r < B; r++) memcpy(feed + r * 5, tokens + r * T, sizeof(int) * 5);
    assert_int_equal(dr_llama_session_step(&s, feed, 5, &logits, &err), DR_OK);
    for (int t = 4; t < 20; t++) {
        if (t > 4) {
            for (int r = 0; r < B; r++) feed[r] = tokens[r * T + t];
            assert_int_equal(dr_llama_session_step(&s, feed, 1, &logits, &err), DR_OK);
        }
        for (int r = 0; r < B; r++) {
            double e = tu_max_abs_diff(logits + (long)r * V, full + ((long)r * T + t) * V, V);
            if (e > 1e-4) fail_msg("cached logits at row %d position %d differ by %g", r, t, e);
        }
    }
    /* a range of the logits equals that slice of the full ones */
    dr_llama_session_reset(&s);
    const float *part;
    float full_last[2 * 23];
    assert_int_equal(dr_llama_session_step(&s, feed, 1, &logits, &err), DR_OK);
    memcpy(full_last, logits, sizeof(float) * (size_t)B * V);
    dr_llama_session_reset(&s);
    assert_int_equal(dr_llama_session_step_range(&s, feed, 1, 5, 12, &part, &err), DR_OK);
    for (int r = 0; r < B; r++)
        for (int j = 5; j < 12; j++) assert_true(fabsf(part[r * 7 + (j - 5)] - full_last[r * V + j]) < 1e-5f);
    assert_int_equal(dr_llama_session_step_range(&s, feed, 1, 12, 12, &part, &err), DR_ERANGE);
    for (int t = 1; t < 20; t++) assert_int_equal(dr_llama_session_step(&s, feed, 1, &logits, &err), DR_OK);
    /* the session is full: one more token is refused */
    assert_int_equal(dr_llama_session_step(&s, feed, 1, &logits, &err), DR_ERANGE);
    dr_llama_session_free(&s);

    /* a prefill longer than one chunk (128) */
    assert_int_equal(dr_llama_session_init(&s, &m, B, T, &err), DR_OK);
    assert_int_equal(dr_llama_session_step(&s, tokens, T, &logits, &err), DR_OK);
    for (int r = 0; r < B; r++)
        assert_true(tu_max_abs_diff(logits + (long)r * V, full + ((long)r * T + T - 1) * V, V) < 1e-4);
    dr_llama_session_free(&s);
    free(tokens);
    dr_llama_free(&m);
}

/* Token-by-token decoding from an empty cache against the full forward, at every
 * position, through the matrix-vector decoding path (core/gemv.h): batch 1, 3 and 9 (two
 * full tiles of 4 rows and one of 1). Widths that are not multiples of the 16-wide vectors (ffn 40, head
 * 12) exercise the kernels' tails. The opt-in bf16 weights stay within bf16 rounding of
 * the fp32 logits, and differ from them (the copy is really used). */
static void test_decode_matches_full_forward(void **state) {
    (void)state;
    dr_llama m;
    dr_err err;
    dr_llama_config c = {.vocab_size = 37, .dim = 48, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .head_dim = 12,
                         .ffn_hidden = 40, .rope_theta = 10000.0f, .norm_eps = 1e-5f, .max_seq_len = 64,
                         .tied_embeddings = false};
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    randomize(&m, 33, 0.3f);
    const int T = 40, V = c.vocab_size, batches[] = {1, 3, 9};
    int *tokens = malloc(sizeof(int) * 9 * T), feed[9];
    dr_rng rng;
    dr_rng_seed(&rng, 4);
    for (int i = 0; i < 9 * T; i++) tokens[i] = (int)dr_rng_below(&rng, (uint32_t)V);
    for (int bi = 0; bi < 3; bi++)
        for (int bf16 = 0; bf16 <= (batches[bi] == 3); bf16++) {
            const int B = batches[bi];
            assert_int_equal(dr_llama_forward(&m, tokens, NULL, B, T, NULL, &err), DR_OK);
            const float *full = dr_llama_logits(&m);
            dr_llama_session s;
            assert_int_equal(dr_llama_session_init(&s, &m, B, T, &err), DR_OK);
            if (bf16) assert_int_equal(dr_llama_session_use_bf16(&s, &err), DR_OK);
            double worst = 0.0, scale = 1.0;
            for (int t = 0; t < T; t++) {
                const float *logits;
                for (int r = 0; r < B; r++) feed[r] = tokens[r * T + t];
                assert_int_equal(dr_llama_session_step(&s, feed, 1, &logits, &err), DR_OK);
                for (int r = 0; r < B; r++) {
                    const float *want = full + ((long)r * T + t) * V;
                    double e = tu_max_abs_diff(logits + (long)r * V, want, V);
                    worst = e > worst ? e : worst;
                    for (int j = 0; j < V; j++) scale = fabs(want[j]) > scale ? fabs(want[j]) : scale;
                }
            }
            if (!bf16 && worst > 1e-4) fail_msg("batch %d: decoded logits differ by %g", B, worst);
            if (bf16 && !(worst > 0.0 && worst < 0.03 * scale))
                fail_msg("batch %d, bf16: decoded logits differ by %g (scale %g)", B, worst, scale);
            dr_llama_session_free(&s);
        }
    free(tokens);
    dr_llama_free(&m);
}

/* ---- sampling ---- */

static void test_sampler(void **state) {
    (void)state;
    float logits[8] = {0.1f, 2.0f, -1.0f, 1.9f, 0.5f, 2.0f, -3.0f, 1.0f}, work[16];
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    dr_llama_sampling greedy = {0.0f, 0, 1.0f, false};
    assert_int_equal(dr_llama_sample(logits, 0, 8, &greedy, &rng, work), 1); /* ties go to the lowest id */
    assert_int_equal(dr_llama_sample(logits, 2, 5, &greedy, &rng, work), 3); /* within the range only */
    dr_llama_sampling top1 = {5.0f, 1, 1.0f, false}, top3 = {1.0f, 3, 1.0f, false}, nucleus = {1.0f, 0, 0.3f, false}, plain = {1.0f, 0, 1.0f, false};
    int counts[8] = {0};
    for (int i = 0; i < 4000; i++) {
        int a = dr_llama_sample(logits, 0, 8, &top1, &rng, work);
        assert_true(a == 1 || a == 5); /* the two tied maxima */
        int b = dr_llama_sample(logits, 0, 8, &top3, &rng, work);
        assert_true(b == 1 || b == 3 || b == 5);
        int n = dr_llama_sample(logits, 0, 8, &nucleus, &rng, work);
        assert_true(n == 1 || n == 5); /* 0.3 of the mass lies within the top two */
        counts[dr_llama_sample(logits, 0, 8, &plain, &rng, work)]++;
    }
    /* plain sampling follows softmax(logits) */
    double z = 0;
    for (int i = 0; i < 8; i++) z += exp(logits[i]);
    for (int i = 0; i < 8; i++) {
        double expect = 4000 * exp(logits[i]) / z;
        assert_true(fabs(counts[i] - expect) < 5 * sqrt(expect + 1) + 2);
    }
}

/* ---- constrained pose decoding ---- */

static void test_sequence_layout(void **state) {
    (void)state;
    dr_llama_config c = tiny_director_config();
    assert_int_equal(c.vocab_size, 40 + 5 + 6 * 512);
    int prompt[3] = {7, 0, 39}, codes[120], tokens[200];
    for (int i = 0; i < 120; i++) codes[i] = (i * 37) % 512;
    int n = dr_llama_build_sequence(&c, prompt, 3, codes, tokens, 200);
    assert_int_equal(n, 3 + 120 + 4);
    assert_int_equal(tokens[0], 40);          /* <|begin_of_text|> */
    assert_int_equal(tokens[1], 7);
    assert_int_equal(tokens[4], 42);          /* <|pose_begin|> */
    assert_int_equal(tokens[5], 45 + codes[0]); /* frame 0, level 0 */
    assert_int_equal(tokens[5 + 7], 45 + 1 * 512 + codes[7]); /* frame 1, level 1 */
    assert_int_equal(tokens[n - 2], 43);      /* <|pose_end|> */
    assert_int_equal(tokens[n - 1], 41);      /* <|end_of_text|> */
    assert_int_equal(dr_llama_build_sequence(&c, prompt, 3, codes, tokens, 100), DR_ERANGE);
    prompt[0] = 40; /* a special is not a text token */
    assert_int_equal(dr_llama_build_sequence(&c, prompt, 3, codes, tokens, 200), DR_ERANGE);
}

static void test_constrained_decoding(void **state) {
    (void)state;
    dr_llama m;
    dr_err err;
    dr_llama_config c = tiny_director_config();
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    const int slots = dr_llama_pose_slots(&c), S = 3;
    int prompt[4] = {3, 14, 15, 9};
    int *codes = malloc(sizeof(int) * S * slots), *again = malloc(sizeof(int) * S * slots);
    dr_llama_sampling settings[3] = {{1.0f, 0, 1.0f, false}, {0.8f, 40, 0.95f, false}, {1.5f, 0, 0.5f, false}};
    /* random weights and seeds: every sample is exactly `slots` codes of the codebook */
    for (int seed = 0; seed < 12; seed++) {
        randomize(&m, 100 + (uint64_t)seed, 0.5f);
        const dr_llama_sampling *sp = &settings[seed % 3];
        for (int i = 0; i < S * slots; i++) codes[i] = -1;
        assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, S, sp, (uint64_t)seed, codes, &err), DR_OK);
        for (int i = 0; i < S * slots; i++) assert_true(codes[i] >= 0 && codes[i] < c.pose_codebook);
        /* deterministic for a seed */
        assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, S, sp, (uint64_t)seed, again, &err), DR_OK);
        assert_memory_equal(codes, again, sizeof(int) * S * slots);
        /* another seed gives another sequence */
        assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, S, sp, (uint64_t)seed + 1000, again, &err), DR_OK);
        assert_true(memcmp(codes, again, sizeof(int) * S * slots) != 0);
    }
    /* greedy: every slot is the argmax, within its level's codes, of a full forward
     * over the generated sequence */
    randomize(&m, 7, 0.5f);
    dr_llama_sampling greedy = {0.0f, 0, 1.0f, false};
    assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, 2, &greedy, 1, codes, &err), DR_OK);
    assert_memory_equal(codes, codes + slots, sizeof(int) * slots); /* greedy ignores the seed */
    int tokens[200];
    int n = dr_llama_build_sequence(&c, prompt, 4, codes, tokens, 200);
    assert_int_equal(n, 4 + slots + 4);
    assert_int_equal(dr_llama_forward(&m, tokens, NULL, 1, n, NULL, &err), DR_OK);
    const float *logits = dr_llama_logits(&m);
    float work[1024];
    dr_rng rng;
    dr_rng_seed(&rng, 0);
    for (int i = 0; i < slots; i++) {
        int lo, hi, pos = 4 + 1 + i; /* the position holding <|pose_begin|> or the previous slot */
        dr_llama_pose_slot_range(&c, i, &lo, &hi);
        assert_int_equal(dr_llama_sample(logits + (long)pos * c.vocab_size, lo, hi, &greedy, &rng, work) - lo,
                         codes[i]);
    }
    /* bf16 weights (their logits are checked against fp32 above): still
     * exactly `slots` valid codes, and greedy is deterministic */
    dr_llama_sampling greedy16 = {0.0f, 0, 1.0f, true};
    assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, 1, &greedy16, 1, again, &err), DR_OK);
    for (int i = 0; i < slots; i++) assert_true(again[i] >= 0 && again[i] < c.pose_codebook);
    int *again16 = malloc(sizeof(int) * slots);
    assert_non_null(again16);
    assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, 1, &greedy16, 5, again16, &err), DR_OK);
    assert_memory_equal(again, again16, sizeof(int) * slots);
    free(again16);
    /* bad requests fail cleanly */
    dr_llama_sampling bad = {-1.0f, 0, 1.0f, false};
    assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, 1, &bad, 1, codes, &err), DR_EINVAL);
    int long_prompt[100] = {0};
    assert_int_equal(dr_llama_generate_pose(&m, long_prompt, 100, 1, &greedy, 1, codes, &err), DR_ERANGE);
    prompt[0] = 41;
    assert_int_equal(dr_llama_generate_pose(&m, prompt, 4, 1, &greedy, 1, codes, &err), DR_ERANGE);
    free(codes);
    free(again);
    dr_llama_free(&m);
}

/* ---- config and files ---- */

static void test_config_json(void **state) {
    (void)state;
    dr_err err;
    dr_llama_config c = dr_llama_config_director(3000), d;
    c.tied_embeddings = true;
    char *json = dr_llama_config_to_json(&c);
    assert_non_null(json);
    assert_int_equal(dr_llama_config_from_json(&d, json, &err), DR_OK);
    assert_true(config_equal(&c, &d));
    free(json);
    assert_int_equal(dr_llama_config_from_json(&d, "{\"vocab_size\": 5", &err), DR_EFORMAT);
    assert_int_equal(dr_llama_config_from_json(&d, "[1]", &err), DR_EFORMAT);
    c.n_kv_heads = 3;
    assert_int_equal(dr_llama_config_validate(&c, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "n_kv_heads"));
    c = dr_llama_config_director(3000);
    c.vocab_size += 1; /* the layout no longer adds up */
    assert_int_equal(dr_llama_config_validate(&c, &err), DR_EINVAL);
    c = tiny_config(false);
    int tokens[3] = {1, 2, 23};
    dr_llama m;
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    assert_int_equal(dr_llama_forward(&m, tokens, NULL, 1, 3, NULL, &err), DR_ERANGE);
    assert_int_equal(dr_llama_forward(&m, tokens, NULL, 1, 0, NULL, &err), DR_EINVAL);
    assert_int_equal(dr_llama_backward(&m, 1.0f, &err), DR_EINVAL);
    dr_llama_free(&m);
}

static void test_save_load(void **state) {
    (void)state;
    dr_err err;
    dr_llama m, r;
    dr_llama_config c = tiny_director_config();
    c.tied_embeddings = true;
    assert_int_equal(dr_llama_init(&m, &c, &err), DR_OK);
    dr_llama_init_weights(&m, 4);
    char dir[1024], path[1200];
    tu_tmpdir(dir, sizeof dir, "llama");
    snprintf(path, sizeof path, "%s/llm.safetensors", dir);
    assert_int_equal(dr_llama_save(&m, path, &err), DR_OK);
    assert_int_equal(dr_llama_load(&r, path, &err), DR_OK);
    assert_true(config_equal(&m.cfg, &r.cfg));
    assert_int_equal(m.params.total, r.params.total);
    assert_memory_equal(m.params.data, r.params.data, sizeof(float) * m.params.total);
    dr_llama_free(&r);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    assert_int_not_equal(dr_llama_load(&r, path, &err), DR_OK);
    dr_llama_free(&m);

    /* hostile files: a tiny file whose config claims a huge model is refused before any
     * allocation; another kind of model, a broken config and a missing tensor likewise */
    dr_params tiny;
    dr_params_init(&tiny);
    assert_true(dr_params_add1(&tiny, "model.norm.weight", true, 16) >= 0);
    assert_int_equal(dr_params_alloc(&tiny), DR_OK);
    dr_llama_config huge = dr_llama_config_director(1 << 20);
    huge.dim = 8192, huge.n_heads = 64, huge.n_kv_heads = 8, huge.head_dim = 128, huge.ffn_hidden = 1 << 15;
    huge.n_layers = 64;
    char *json = dr_llama_config_to_json(&huge);
    snprintf(path, sizeof path, "%s/huge.safetensors", dir);
    assert_int_equal(dr_params_save(&tiny, path, "llm", json, &err), DR_OK);
    free(json);
    assert_int_equal(dr_llama_load(&r, path, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "declares"));
    snprintf(path, sizeof path, "%s/rvq.safetensors", dir);
    assert_int_equal(dr_params_save(&tiny, path, "rvq", "{}", &err), DR_OK);
    assert_int_equal(dr_llama_load(&r, path, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "not a DirectorLLM"));
    snprintf(path, sizeof path, "%s/broken.safetensors", dir);
    assert_int_equal(dr_params_save(&tiny, path, "llm", "{\"vocab_size\": 7}", &err), DR_OK);
    assert_int_equal(dr_llama_load(&r, path, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "broken.safetensors"));
    c = tiny_config(false); /* a valid config over a file without its tensors */
    json = dr_llama_config_to_json(&c);
    snprintf(path, sizeof path, "%s/partial.safetensors", dir);
    assert_int_equal(dr_params_save(&tiny, path, "llm", json, &err), DR_OK);
    free(json);
    assert_int_not_equal(dr_llama_load(&r, path, &err), DR_OK);
    dr_params_free(&tiny);
}

int main(void) {
    dr_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_gradients_untied),
        cmocka_unit_test(test_gradients_tied),
        cmocka_unit_test(test_tied_vs_untied),
        cmocka_unit_test(test_kv_cache_matches_full_forward),
        cmocka_unit_test(test_decode_matches_full_forward),
        cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_sequence_layout),
        cmocka_unit_test(test_constrained_decoding),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
