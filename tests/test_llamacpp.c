/* A real llama.cpp runs director's GGUF export: a tiny random-weight DirectorLLM (its
 * own trained byte-level BPE, the 5 specials, pose tokens) is exported with
 * `director export gguf`, loaded by npm's node-llama-cpp (prebuilt CPU llama.cpp,
 * installed once into the build tree by tests/interop/setup.sh), and llama.cpp's greedy
 * continuation of a prompt's token ids must equal director's own greedy continuation
 * (KV-cached session, argmax over the whole vocabulary), token for token. Untied and
 * tied heads, several prompts. When node/npm or the npm registry are unavailable the
 * test FAILS with the reason: it never passes without running llama.cpp. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/rng.h"
#include "models/llama.h"
#include "models/llama_export.h"
#include "models/tokenizer.h"
#include "testutil.h"

enum { N_GEN = 32 };

static const char *const corpus[] = {
    "a person walks forward slowly", "a man jumps up and down twice", "someone waves with the right hand",
    "a woman runs in a circle", "the person sits down on a chair", "a child kicks a ball with the left foot",
    "a dancer spins around and raises both arms", "a man crouches and then stands up",
};

static char node_dir[4096];

static int setup(void **state) {
    (void)state;
    snprintf(node_dir, sizeof node_dir, "%s/interop", DIRECTOR_BINARY_DIR);
    int st = tu_system("sh '%s/tests/interop/setup.sh' '%s'", DIRECTOR_SOURCE_DIR, node_dir);
    if (st != 0) {
        fprintf(stderr, "test_llamacpp: cannot set up llama.cpp (node-llama-cpp), see the message above: FAIL\n");
        return -1; /* cmocka reports the group set-up as failed */
    }
    return tu_system("cp '%s/tests/interop/llamacpp_greedy.mjs' '%s/'", DIRECTOR_SOURCE_DIR, node_dir) == 0 ? 0 : -1;
}

/* A tiny DirectorLLM and its tokenizer, saved under dir as model.safetensors and
 * tokenizer.json. Weights are drawn wider than training's init so the logits of
 * different tokens are well apart and greedy choices are not decided by rounding. */
static void make_model_from(const char *dir, const char *tokenizer, bool tied, uint64_t seed, dr_llama *m,
                            dr_tokenizer **tok) {
    dr_err err = {0};
    dr_tokenizer_train_opts topts = {.vocab_size = 300, .min_frequency = 2};
    if (tokenizer)
        assert_int_equal(dr_tokenizer_load(tok, tokenizer, &err), DR_OK);
    else
        assert_int_equal(dr_tokenizer_train(tok, corpus, (int)(sizeof corpus / sizeof corpus[0]), &topts, &err), DR_OK);
    dr_llama_config c = dr_llama_config_director(dr_tokenizer_text_vocab_size(*tok));
    c.dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 16, c.ffn_hidden = 96;
    if (!tokenizer) c.pose_levels = 2, c.pose_codebook = 16, c.pose_keyframes = 4, c.max_seq_len = 96;
    c.rope_theta = 500000.0f, c.norm_eps = 1e-5f, c.tied_embeddings = tied;
    c.vocab_size = c.n_text + DR_LLAMA_NUM_SPECIALS + c.pose_levels * c.pose_codebook;
    assert_int_equal(dr_llama_init(m, &c, &err), DR_OK);
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    for (size_t i = 0; i < m->params.total; i++) m->params.data[i] = 0.15f * dr_rng_normal(&rng);
    for (int i = 0; i < m->params.count; i++)
        if (strstr(m->params.items[i].name, "norm.weight")) {
            float *w = m->params.data + m->params.items[i].offset;
            for (size_t j = 0; j < m->params.items[i].numel; j++) w[j] = 1.0f + 0.2f * dr_rng_normal(&rng);
        }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(dr_llama_save(m, path, &err), DR_OK);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(dr_tokenizer_save(*tok, path, &err), DR_OK);
}

static void make_model(const char *dir, bool tied, uint64_t seed, dr_llama *m, dr_tokenizer **tok) {
    make_model_from(dir, NULL, tied, seed, m, tok);
}

/* director's greedy continuation (argmax over the whole vocabulary, ties to the lowest
 * id) and the smallest gap between the best and second-best logit on the way. */
static void director_greedy(const dr_llama *m, const int *prompt, int n_prompt, int *out, double *min_gap) {
    dr_err err = {0};
    dr_llama_session s;
    assert_int_equal(dr_llama_session_init(&s, m, 1, n_prompt + N_GEN, &err), DR_OK);
    const float *logits;
    assert_int_equal(dr_llama_session_step(&s, prompt, n_prompt, &logits, &err), DR_OK);
    dr_llama_sampling greedy = {.temperature = 0.0f, .top_k = 0, .top_p = 1.0f};
    *min_gap = INFINITY;
    for (int i = 0; i < N_GEN; i++) {
        const int V = m->cfg.vocab_size;
        int best = dr_llama_sample(logits, 0, V, &greedy, NULL, NULL);
        double second = -INFINITY;
        for (int j = 0; j < V; j++)
            if (j != best && logits[j] > second) second = logits[j];
        if (logits[best] - second < *min_gap) *min_gap = logits[best] - second;
        out[i] = best;
        if (i + 1 < N_GEN) assert_int_equal(dr_llama_session_step(&s, &best, 1, &logits, &err), DR_OK);
    }
    dr_llama_session_free(&s);
}

/* llama.cpp's greedy continuation via node-llama-cpp. */
static void llamacpp_greedy(const char *gguf, const int *prompt, int n_prompt, const char *outfile, int *out) {
    char ids[2048] = "";
    for (int i = 0; i < n_prompt; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", prompt[i]);
    int st = tu_system("cd '%s' && node llamacpp_greedy.mjs '%s' %s %d > '%s'", node_dir, gguf, ids, N_GEN, outfile);
    if (st != 0) fprintf(stderr, "llama.cpp run failed (exit %d) on %s\n", st, gguf);
    assert_int_equal(st, 0);
    char *text = NULL;
    size_t len = 0;
    dr_err err = {0};
    assert_int_equal(dr_read_file(outfile, 1 << 20, &text, &len, &err), DR_OK);
    char *p = text;
    for (int i = 0; i < N_GEN; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        assert_true(end != p);
        out[i] = (int)v;
        p = *end == ',' ? end + 1 : end;
    }
    free(text);
}

static void compare_with_llamacpp(bool tied) {
    char dir[1024], gguf[1200], outfile[1200];
    tu_tmpdir(dir, sizeof dir, tied ? "llamacpp-tied" : "llamacpp");
    dr_llama m;
    dr_tokenizer *tok = NULL;
    make_model(dir, tied, tied ? 21 : 22, &m, &tok);
    snprintf(gguf, sizeof gguf, "%s/director.gguf", dir);
    assert_int_equal(tu_system("'%s' export gguf --model '%s/model.safetensors' --tokenizer '%s/tokenizer.json' "
                               "--out '%s' --quiet",
                               tu_director_bin(), dir, dir, gguf),
                     0);
    const char *prompts[] = {"a person walks forward slowly", "someone spins", "x"};
    int total = 0;
    for (size_t p = 0; p < sizeof prompts / sizeof prompts[0]; p++) {
        int text[64], n_text = 0, prompt[70];
        dr_err err = {0};
        assert_int_equal(dr_tokenizer_encode(tok, prompts[p], strlen(prompts[p]), 0, text, 64, &n_text, &err), DR_OK);
        prompt[0] = dr_llama_special(&m.cfg, DR_LLAMA_BOS);
        memcpy(prompt + 1, text, sizeof(int) * (size_t)n_text);
        prompt[n_text + 1] = dr_llama_special(&m.cfg, DR_LLAMA_POSE_BEGIN);
        const int n_prompt = n_text + 2;
        int ours[N_GEN], theirs[N_GEN];
        double gap;
        director_greedy(&m, prompt, n_prompt, ours, &gap);
        snprintf(outfile, sizeof outfile, "%s/llamacpp-%zu.txt", dir, p);
        llamacpp_greedy(gguf, prompt, n_prompt, outfile, theirs);
        int same = 0;
        while (same < N_GEN && ours[same] == theirs[same]) same++;
        fprintf(stderr, "%s head, prompt \"%s\" (%d tokens): %d of %d greedy tokens equal (smallest logit gap %.4f)\n",
                tied ? "tied" : "untied", prompts[p], n_prompt, same, N_GEN, gap);
        if (same < N_GEN) {
            fprintf(stderr, "  director:  ");
            for (int i = 0; i < N_GEN; i++) fprintf(stderr, "%d ", ours[i]);
            fprintf(stderr, "\n  llama.cpp: ");
            for (int i = 0; i < N_GEN; i++) fprintf(stderr, "%d ", theirs[i]);
            fprintf(stderr, "\n");
        }
        assert_int_equal(same, N_GEN);
        total += same;
    }
    assert_int_equal(total, N_GEN * 3);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
}

/* llama.cpp's tokenizer, built from the GGUF vocabulary and merges with the "llama-bpe"
 * split, cuts text into the same ids as director's tokenizer. */
static void check_tokenizer(const char *tokenizer) {
    char dir[1024], gguf[1200], texts[1200], outfile[1200];
    tu_tmpdir(dir, sizeof dir, "llamacpp-tok");
    dr_llama m;
    dr_tokenizer *tok = NULL;
    make_model_from(dir, tokenizer, false, 5, &m, &tok);
    snprintf(gguf, sizeof gguf, "%s/director.gguf", dir);
    dr_err err = {0};
    assert_int_equal(dr_llama_export_gguf(&m, tok, NULL, gguf, &err), DR_OK);
    const char *samples[] = {
        "a person walks forward slowly",
        "A MAN jumps; then   waves twice!!",
        "someone's kicking 12345 balls, they'll run",
        "caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 ok",
        "  leading spaces and tabs\there",
    };
    const int n_samples = (int)(sizeof samples / sizeof samples[0]);
    snprintf(texts, sizeof texts, "%s/texts.txt", dir);
    FILE *f = fopen(texts, "w");
    assert_non_null(f);
    for (int i = 0; i < n_samples; i++) fprintf(f, "%s\n", samples[i]);
    fclose(f);
    snprintf(outfile, sizeof outfile, "%s/tokens.txt", dir);
    assert_int_equal(tu_system("cd '%s' && node llamacpp_greedy.mjs '%s' --tokenize '%s' > '%s'", node_dir, gguf, texts,
                               outfile),
                     0);
    char *text = NULL;
    size_t len;
    assert_int_equal(dr_read_file(outfile, 1 << 20, &text, &len, &err), DR_OK);
    char *line = text;
    for (int i = 0; i < n_samples; i++) {
        int32_t ids[256];
        int n = 0;
        assert_int_equal(dr_tokenizer_encode(tok, samples[i], strlen(samples[i]), 0, ids, 256, &n, &err), DR_OK);
        char ours[4096] = "";
        for (int k = 0; k < n; k++) snprintf(ours + strlen(ours), sizeof ours - strlen(ours), "%s%d", k ? "," : "", ids[k]);
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        if (strcmp(ours, line)) fprintf(stderr, "text %d: director %s\n        llama.cpp %s\n", i, ours, line);
        assert_string_equal(ours, line);
        line = nl + 1;
    }
    fprintf(stderr, "tokenizer %s (%d text tokens, vocabulary %d): llama.cpp and director cut %d texts into the same ids\n",
            tokenizer ? tokenizer : "trained here", m.cfg.n_text, m.cfg.vocab_size, n_samples);
    free(text);
    dr_tokenizer_free(tok);
    dr_llama_free(&m);
}

static void test_llamacpp_tokenizer(void **state) {
    (void)state;
    check_tokenizer(NULL);
    /* the shipped tokenizer with the real pose layout (6 x 512) */
    check_tokenizer(DIRECTOR_SOURCE_DIR "/models/tokenizer.json");
}

static void test_llamacpp_untied(void **state) {
    (void)state;
    compare_with_llamacpp(false);
}

static void test_llamacpp_tied(void **state) {
    (void)state;
    compare_with_llamacpp(true);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llamacpp_untied),
        cmocka_unit_test(test_llamacpp_tied),
        cmocka_unit_test(test_llamacpp_tokenizer),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
