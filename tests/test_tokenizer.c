/* Tests of src/models/tokenizer: the Llama 3 pre-tokenizer on hand-split cases (and against
 * python3's `regex` module when it is installed), BPE against a naive reference, exact round
 * trips on random UTF-8, training determinism, tokenizer.json round trips, special tokens,
 * and hostile tokenizer.json files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/fsutil.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "models/tokenizer.h"
#include "models/unicode.h"
#include "testutil.h"

/* ---- helpers ---- */

/* A caption-like corpus, generated (deterministically) so the test needs no files. */
static char **make_corpus(int n, uint64_t seed) {
    static const char *subj[] = {"A woman", "A man", "The girl", "An old man", "A young boy", "The dancer"};
    static const char *act[] = {"is running", "walks slowly", "jumps high", "dances happily", "waves both hands",
                                "kicks a ball", "does jumping jacks", "stretches"};
    static const char *place[] = {"through a grassy field", "on the beach", "in a small room", "along the street",
                                  "in the gym", "in the snow"};
    static const char *wear[] = {"She wears a yellow tank top and black shorts.", "He wears a blue shirt and jeans.",
                                 "Long brown hair, fair skin.", "He's wearing a red hoodie!"};
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    char **texts = malloc(sizeof *texts * (size_t)n);
    for (int i = 0; i < n; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s %s %s. %s It's %u o'clock\n", subj[dr_rng_below(&rng, 6)],
                 act[dr_rng_below(&rng, 8)], place[dr_rng_below(&rng, 6)], wear[dr_rng_below(&rng, 4)],
                 dr_rng_below(&rng, 100000));
        texts[i] = strdup(buf);
    }
    return texts;
}

static dr_tokenizer *train_small(int n_texts, int vocab) {
    char **texts = make_corpus(n_texts, 7);
    dr_tokenizer *tok = NULL;
    dr_err err = {0};
    dr_tokenizer_train_opts opts = {.vocab_size = vocab, .min_frequency = 2};
    int rc = dr_tokenizer_train(&tok, (const char *const *)texts, n_texts, &opts, &err);
    if (rc) fail_msg("train: %s", err.msg);
    dr_corpus_free(texts, n_texts);
    return tok;
}

/* Random valid UTF-8 drawn from interesting ranges: ASCII (letters, digits, punctuation,
 * spaces, newlines, apostrophes), Latin-1, combining marks, Cyrillic, CJK, emoji (with ZWJ and
 * skin-tone modifiers), Unicode spaces. */
static size_t random_utf8(dr_rng *rng, char *out, int n_chars) {
    static const uint32_t pool[] = {'a', 'Z', 'q', '0', '7', '9', ' ', ' ', ' ', '\n', '\r', '\t', '\'', '!', '.', ',',
                                    '"', '\\', '<', '|', '>', 0xE9, 0xDF, 0xA0, 0x301, 0x308, 0x416, 0x44F,
                                    0x4E2D, 0x6587, 0x3042, 0x1F600, 0x1F44D, 0x1F3FD, 0x200D, 0x2764, 0xFE0F,
                                    0x3000, 0x2028, 0x0663, 0x2167, 0xBD, 0x17F, 0x1D11E, 0x10FFFF, 0x7F, 0x1};
    size_t at = 0;
    for (int i = 0; i < n_chars; i++) {
        uint32_t c;
        uint32_t r = dr_rng_below(rng, 10);
        if (r < 6) c = pool[dr_rng_below(rng, sizeof pool / sizeof pool[0])];
        else if (r < 8) c = 'a' + dr_rng_below(rng, 26);
        else if (r < 9) c = '0' + dr_rng_below(rng, 10);
        else { /* any scalar value */
            do c = dr_rng_below(rng, 0x110000);
            while (c >= 0xD800 && c <= 0xDFFF);
        }
        at += (size_t)dr_utf8_encode(c, (uint8_t *)out + at);
    }
    out[at] = 0;
    return at;
}

/* Replace code points outside random_utf8's fixed pool (those from its any-scalar branch) by
 * 'x', for cross-checks against python, whose Unicode tables may be newer than ours. */
static void keep_stable_chars(char *s) {
    static const uint32_t stable[] = {0xE9, 0xDF, 0xA0, 0x301, 0x308, 0x416, 0x44F, 0x4E2D, 0x6587, 0x3042, 0x1F600,
                                      0x1F44D, 0x1F3FD, 0x200D, 0x2764, 0xFE0F, 0x3000, 0x2028, 0x0663, 0x2167, 0xBD,
                                      0x17F, 0x1D11E};
    size_t len = strlen(s), k = 0;
    for (size_t j = 0; j < len;) {
        uint32_t c;
        int l = dr_utf8_decode((const uint8_t *)s + j, len - j, &c);
        bool ok = c <= 0x7F;
        for (size_t t = 0; t < sizeof stable / sizeof stable[0] && !ok; t++) ok = c == stable[t];
        if (ok) memmove(s + k, s + j, (size_t)l), k += (size_t)l;
        else s[k++] = 'x';
        j += (size_t)l;
    }
    s[k] = 0;
}

/* Naive BPE reference: repeatedly merge the lowest-ranked adjacent pair, leftmost first. */
typedef struct ref_merges {
    int n;
    int *left, *right, *merged;
} ref_merges;

static ref_merges get_merges(const dr_tokenizer *tok) {
    ref_merges m = {dr_tokenizer_num_merges(tok), NULL, NULL, NULL};
    m.left = malloc(sizeof(int) * (size_t)(m.n + 1));
    m.right = malloc(sizeof(int) * (size_t)(m.n + 1));
    m.merged = malloc(sizeof(int) * (size_t)(m.n + 1));
    for (int r = 0; r < m.n; r++) m.merged[r] = dr_tokenizer_merge(tok, r, &m.left[r], &m.right[r]);
    return m;
}

static int ref_rank(const ref_merges *m, int a, int b) {
    for (int r = 0; r < m->n; r++)
        if (m->left[r] == a && m->right[r] == b) return r;
    return -1;
}

static int ref_encode_piece(const dr_tokenizer *tok, const ref_merges *m, const char *s, size_t n, int *out) {
    int whole = dr_tokenizer_token_id(tok, s, n);
    if (n > 1 && whole >= 0 && whole < dr_tokenizer_text_vocab_size(tok)) { /* ignore_merges */
        out[0] = whole;
        return 1;
    }
    int k = 0;
    for (size_t i = 0; i < n; i++) out[k++] = dr_tokenizer_token_id(tok, s + i, 1);
    for (;;) {
        int best = -1, best_rank = m->n;
        for (int i = 0; i + 1 < k; i++) {
            int r = ref_rank(m, out[i], out[i + 1]);
            if (r >= 0 && r < best_rank) best = i, best_rank = r;
        }
        if (best < 0) return k;
        out[best] = m->merged[best_rank];
        memmove(out + best + 1, out + best + 2, sizeof(int) * (size_t)(k - best - 2));
        k--;
    }
}

/* ---- UTF-8 ---- */

static void test_utf8_validation(void **state) {
    (void)state;
    struct {
        const char *s;
        size_t len, bad;
    } cases[] = {
        {"plain ascii", 11, 11},
        {"caf\xC3\xA9", 5, 5},
        {"\xF0\x9F\x98\x80", 4, 4},            /* U+1F600 */
        {"\xF4\x8F\xBF\xBF", 4, 4},            /* U+10FFFF */
        {"ab\xC0\x80", 4, 2},                  /* over-long NUL */
        {"ab\xE0\x80\xAF", 5, 2},              /* over-long '/' */
        {"x\xED\xA0\x80", 4, 1},               /* UTF-16 surrogate */
        {"\xF4\x90\x80\x80", 4, 0},            /* past U+10FFFF */
        {"abc\x80", 4, 3},                     /* lone continuation */
        {"abc\xE2\x82", 5, 3},                 /* truncated */
        {"\xFF", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = dr_utf8_validate((const uint8_t *)cases[i].s, cases[i].len);
        if (got != cases[i].bad) fail_msg("case %zu: invalid at %zu, expected %zu", i, got, cases[i].bad);
    }
    assert_int_equal(dr_unicode_class('a'), DR_UC_LETTER);
    assert_int_equal(dr_unicode_class(0x4E2D), DR_UC_LETTER); /* CJK */
    assert_int_equal(dr_unicode_class(0x0663), DR_UC_NUMBER); /* Arabic-Indic three */
    assert_int_equal(dr_unicode_class(0xBD), DR_UC_NUMBER);   /* one half (No) */
    assert_int_equal(dr_unicode_class(0x301), 0);             /* combining acute (Mn) */
    assert_int_equal(dr_unicode_class(0x3000), DR_UC_SPACE);
    assert_int_equal(dr_unicode_class('\n'), DR_UC_SPACE | DR_UC_NEWLINE);
    assert_int_equal(dr_unicode_class(0x1F600), 0);
}

/* ---- pre-tokenizer ---- */

static void check_split(const char *text, const char *const *expect, int n_expect) {
    size_t ends[64];
    size_t len = strlen(text);
    int n = dr_pretokenize(text, len, ends, 64);
    size_t start = 0;
    char got[2048] = "";
    for (int i = 0; i < n && i < 64; i++) {
        strcat(got, "[");
        strncat(got, text + start, ends[i] - start);
        strcat(got, "]");
        start = ends[i];
    }
    char want[2048] = "";
    for (int i = 0; i < n_expect; i++) strcat(want, "["), strcat(want, expect[i]), strcat(want, "]");
    if (strcmp(got, want)) fail_msg("split of \"%s\":\n got  %s\n want %s", text, got, want);
}

#define SPLIT(text, ...)                                                                       \
    do {                                                                                       \
        const char *const e_[] = {__VA_ARGS__};                                                \
        check_split(text, e_, (int)(sizeof e_ / sizeof e_[0]));                                \
    } while (0)

static void test_pretokenize_known_splits(void **state) {
    (void)state;
    /* Hand-derived from the regex, alternative by alternative. */
    SPLIT("Hello world's 12345 ok!!\n\n x", "Hello", " world", "'s", " ", "123", "45", " ok", "!!\n\n", " x");
    SPLIT("I'M HERE, you'Re 'll", "I", "'M", " HERE", ",", " you", "'Re", " '", "ll");
    SPLIT("  x", " ", " x");
    SPLIT("a  \n  b", "a", "  \n", " ", " b");
    SPLIT("a\r\n\r\nb", "a", "\r\n\r\n", "b");
    SPLIT("end   ", "end", "   ");
    SPLIT("x = 1.5;", "x", " =", " ", "1", ".", "5", ";");
    SPLIT("\xE4\xB8\xAD\xE6\x96\x87 123 caf\xC3\xA9", "\xE4\xB8\xAD\xE6\x96\x87", " ", "123", " caf\xC3\xA9");
    /* A combining mark is not a letter: it splits off like punctuation. */
    SPLIT("e\xCC\x81t\xC3\xA9 x", "e", "\xCC\x81t\xC3\xA9", " x");
    /* Emoji are symbols; a leading space attaches to them. */
    SPLIT("hi \xF0\x9F\x98\x80\xF0\x9F\x98\x80!", "hi", " \xF0\x9F\x98\x80\xF0\x9F\x98\x80!");
    SPLIT("don\xE2\x80\x99t", "don", "\xE2\x80\x99t"); /* U+2019 is not an ASCII apostrophe */
    SPLIT("'s", "'s");
    SPLIT("\n", "\n");
    SPLIT("?\n\nfoo", "?\n\n", "foo");
    size_t ends[4];
    assert_int_equal(dr_pretokenize("ab\xC3", 3, ends, 4), DR_EFORMAT);
    assert_int_equal(dr_pretokenize("", 0, ends, 4), 0);
}

/* Optional cross-check against python3's `regex` module (which supports \p{L}); skipped when
 * python3 or the module is missing. Characters come from ranges that are stable across
 * Unicode versions, so a table-version difference cannot cause a false failure. */
static void test_pretokenize_matches_python_regex(void **state) {
    (void)state;
    if (tu_system("python3 -c 'import regex' >/dev/null 2>&1") != 0) {
        print_message("python3 regex module not available: cross-check skipped\n");
        return;
    }
    char dir[1024], in_path[1100], out_path[1100], py_path[1100];
    tu_tmpdir(dir, sizeof dir, "tok_regex");
    snprintf(in_path, sizeof in_path, "%s/in.txt", dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(py_path, sizeof py_path, "%s/split.py", dir);
    FILE *py = fopen(py_path, "w");
    fputs("import regex, sys\n"
          "pat = regex.compile(r\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
          " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+\")\n"
          "data = open(sys.argv[1], 'rb').read().decode('utf-8').split('\\x00')\n"
          "with open(sys.argv[2], 'w') as f:\n"
          "    for text in data:\n"
          "        ends, at = [], 0\n"
          "        for m in pat.finditer(text):\n"
          "            at += len(m.group(0).encode('utf-8'))\n"
          "            ends.append(str(at))\n"
          "        f.write(' '.join(ends) + '\\n')\n",
          py);
    fclose(py);
    enum { N = 300 };
    static char texts[N][400];
    dr_rng rng;
    dr_rng_seed(&rng, 11);
    FILE *in = fopen(in_path, "wb");
    for (int i = 0; i < N; i++) {
        /* a C string (cut at any NUL), characters from the stable pool only */
        random_utf8(&rng, texts[i], 1 + (int)dr_rng_below(&rng, 40));
        keep_stable_chars(texts[i]);
        fwrite(texts[i], 1, strlen(texts[i]), in);
        if (i + 1 < N) fputc(0, in);
    }
    fclose(in);
    assert_int_equal(tu_system("python3 '%s' '%s' '%s'", py_path, in_path, out_path), 0);
    FILE *out = fopen(out_path, "r");
    assert_non_null(out);
    char line[8192];
    for (int i = 0; i < N; i++) {
        assert_non_null(fgets(line, sizeof line, out));
        size_t ends[512];
        int n = dr_pretokenize(texts[i], strlen(texts[i]), ends, 512);
        char mine[8192] = "";
        for (int k = 0; k < n; k++) {
            char num[32];
            snprintf(num, sizeof num, "%s%zu", k ? " " : "", ends[k]);
            strcat(mine, num);
        }
        strcat(mine, "\n");
        if (strcmp(mine, line)) fail_msg("text %d \"%s\": director %s python %s", i, texts[i], mine, line);
    }
    fclose(out);
}

/* ---- encoding ---- */

/* Optional cross-check of the written tokenizer.json against an independent reader: a short
 * python3 BPE (HF semantics: byte-level alphabet, merge ranks, ignore_merges, the split regex
 * read from the file itself via the `regex` module) must give the same ids as director for
 * the same texts. Skipped without python3 + regex. */
static void test_json_matches_python_bpe(void **state) {
    (void)state;
    if (tu_system("python3 -c 'import regex' >/dev/null 2>&1") != 0) {
        print_message("python3 regex module not available: cross-check skipped\n");
        return;
    }
    char dir[1024], tok_path[1100], in_path[1100], out_path[1100], py_path[1100];
    tu_tmpdir(dir, sizeof dir, "tok_pybpe");
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", dir);
    snprintf(in_path, sizeof in_path, "%s/in.txt", dir);
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir);
    snprintf(py_path, sizeof py_path, "%s/bpe.py", dir);
    dr_tokenizer *tok = train_small(3000, 900);
    assert_int_equal(dr_tokenizer_save(tok, tok_path, NULL), DR_OK);
    FILE *py = fopen(py_path, "w");
    fputs("import json, sys, regex\n"
          "tok = json.load(open(sys.argv[1], encoding='utf-8'))\n"
          "m = tok['model']; vocab = m['vocab']\n"
          "ranks = {tuple(mg if isinstance(mg, list) else mg.split(' ')): i for i, mg in enumerate(m['merges'])}\n"
          "bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))\n"
          "cs = bs[:]\n"
          "for b in range(256):\n"
          "    if b not in bs: bs.append(b); cs.append(256 + len(cs) - 188)\n"
          "b2c = {b: chr(c) for b, c in zip(bs, cs)}\n"
          "pat = regex.compile(tok['pre_tokenizer']['pretokenizers'][0]['pattern']['Regex'])\n"
          "def bpe(word):\n"
          "    if m.get('ignore_merges') and word in vocab: return [vocab[word]]\n"
          "    parts = list(word)\n"
          "    while len(parts) > 1:\n"
          "        cand = [(ranks[(parts[i], parts[i + 1])], i) for i in range(len(parts) - 1) if (parts[i], parts[i + 1]) in ranks]\n"
          "        if not cand: break\n"
          "        r, i = min(cand)\n"
          "        parts[i:i + 2] = [parts[i] + parts[i + 1]]\n"
          "    return [vocab[p] for p in parts]\n"
          "texts = open(sys.argv[2], 'rb').read().decode('utf-8').split('\\x00')\n"
          "with open(sys.argv[3], 'w') as f:\n"
          "    for text in texts:\n"
          "        ids = []\n"
          "        for piece in pat.findall(text): ids += bpe(''.join(b2c[b] for b in piece.encode('utf-8')))\n"
          "        f.write(' '.join(map(str, ids)) + '\\n')\n",
          py);
    fclose(py);
    enum { N = 120 };
    static char texts[N][2048];
    char **corpus = make_corpus(60, 77);
    dr_rng rng;
    dr_rng_seed(&rng, 13);
    FILE *in = fopen(in_path, "wb");
    for (int i = 0; i < N; i++) {
        if (i < 60) snprintf(texts[i], sizeof texts[i], "%s", corpus[i]);
        else random_utf8(&rng, texts[i], 300), keep_stable_chars(texts[i]);
        /* NUL separates the texts in the file (a text is a C string, so it holds none) */
        fwrite(texts[i], 1, strlen(texts[i]), in);
        if (i + 1 < N) fputc(0, in);
    }
    fclose(in);
    dr_corpus_free(corpus, 60);
    assert_int_equal(tu_system("python3 '%s' '%s' '%s' '%s'", py_path, tok_path, in_path, out_path), 0);
    FILE *out = fopen(out_path, "r");
    assert_non_null(out);
    static char line[65536], mine[65536];
    int32_t ids[4096];
    for (int i = 0; i < N; i++) {
        assert_non_null(fgets(line, sizeof line, out));
        int n;
        assert_int_equal(dr_tokenizer_encode(tok, texts[i], strlen(texts[i]), 0, ids, 4096, &n, NULL), DR_OK);
        size_t k = 0;
        for (int j = 0; j < n; j++) k += (size_t)snprintf(mine + k, sizeof mine - k, "%s%d", j ? " " : "", (int)ids[j]);
        snprintf(mine + k, sizeof mine - k, "\n");
        if (strcmp(mine, line)) fail_msg("text %d \"%s\":\n director %s python   %s", i, texts[i], mine, line);
    }
    fclose(out);
    dr_tokenizer_free(tok);
}



static void test_roundtrip_random_utf8(void **state) {
    (void)state;
    dr_tokenizer *tok = train_small(3000, 700);
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    char text[8192];
    int32_t ids[8192];
    for (int iter = 0; iter < 400; iter++) {
        size_t len = random_utf8(&rng, text, 1 + (int)dr_rng_below(&rng, 500));
        int n;
        dr_err err = {0};
        /* NUL bytes inside are fine too: the length is explicit. */
        int rc = dr_tokenizer_encode(tok, text, len, 0, ids, 8192, &n, &err);
        if (rc) fail_msg("encode: %s", err.msg);
        char *back;
        size_t back_len;
        assert_int_equal(dr_tokenizer_decode(tok, ids, n, 0, &back, &back_len, &err), DR_OK);
        if (back_len != len || memcmp(back, text, len)) fail_msg("round trip %d differs", iter);
        free(back);
        int n_count;
        assert_int_equal(dr_tokenizer_encode(tok, text, len, 0, NULL, 0, &n_count, &err), DR_OK);
        assert_int_equal(n_count, n);
    }
    dr_tokenizer_free(tok);
}

static void test_bpe_matches_naive_reference(void **state) {
    (void)state;
    dr_tokenizer *tok = train_small(2000, 600);
    ref_merges m = get_merges(tok);
    char **texts = make_corpus(200, 99); /* different seed: also unseen numbers */
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    int32_t ids[4096];
    int ref[4096];
    for (int t = 0; t < 260; t++) {
        char buf[2048];
        const char *text = t < 200 ? texts[t] : buf;
        if (t >= 200) random_utf8(&rng, buf, 200);
        size_t len = strlen(text);
        int n;
        assert_int_equal(dr_tokenizer_encode(tok, text, len, 0, ids, 4096, &n, NULL), DR_OK);
        size_t ends[1024];
        int pieces = dr_pretokenize(text, len, ends, 1024);
        int k = 0;
        size_t start = 0;
        for (int p = 0; p < pieces; p++) {
            k += ref_encode_piece(tok, &m, text + start, ends[p] - start, ref + k);
            start = ends[p];
        }
        assert_int_equal(n, k);
        for (int i = 0; i < n; i++)
            if (ids[i] != ref[i]) fail_msg("text %d token %d: %d vs reference %d", t, i, ids[i], ref[i]);
    }
    /* The corpus compresses: far fewer tokens than bytes. */
    int n;
    assert_int_equal(dr_tokenizer_encode(tok, texts[0], strlen(texts[0]), 0, ids, 4096, &n, NULL), DR_OK);
    assert_true(n * 3 < (int)strlen(texts[0]));
    dr_corpus_free(texts, 200);
    free(m.left), free(m.right), free(m.merged);
    dr_tokenizer_free(tok);
}

static void test_encode_errors(void **state) {
    (void)state;
    dr_tokenizer *tok = train_small(500, 400);
    int32_t ids[16];
    int n = 123;
    dr_err err = {0};
    assert_int_equal(dr_tokenizer_encode(tok, "good \xE2\x28\xA1 bad", 12, 0, ids, 16, &n, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, "byte offset 5"));
    assert_int_equal(n, 0);
    const char *long_text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
    assert_int_equal(dr_tokenizer_encode(tok, long_text, strlen(long_text), 0, ids, 16, &n, &err), DR_ERANGE);
    assert_non_null(strstr(err.msg, "16 tokens"));
    assert_int_equal(dr_tokenizer_encode(tok, "", 0, 0, ids, 16, &n, &err), DR_OK);
    assert_int_equal(n, 0);
    int32_t bad = 1 << 20;
    char *text;
    size_t len;
    assert_int_equal(dr_tokenizer_decode(tok, &bad, 1, 0, &text, &len, &err), DR_ERANGE);
    dr_tokenizer_free(tok);
}

static void test_special_tokens(void **state) {
    (void)state;
    dr_tokenizer *tok = train_small(500, 400);
    int T = dr_tokenizer_text_vocab_size(tok);
    assert_int_equal(T, 400);
    assert_int_equal(dr_tokenizer_vocab_size(tok), T + 5);
    assert_int_equal(dr_tokenizer_special_id(tok, DR_TOKEN_BEGIN), T);
    assert_int_equal(dr_tokenizer_special_id(tok, DR_TOKEN_END), T + 1);
    assert_int_equal(dr_tokenizer_special_id(tok, DR_TOKEN_POSE_BEGIN), T + 2);
    assert_int_equal(dr_tokenizer_special_id(tok, DR_TOKEN_POSE_END), T + 3);
    assert_int_equal(dr_tokenizer_special_id(tok, DR_TOKEN_PAD), T + 4);
    assert_int_equal(dr_tokenizer_special_id(tok, "<|nope|>"), -1);
    const char *text = "run<|pose_begin|><|pad|>";
    int32_t ids[64];
    int n, n_plain;
    assert_int_equal(dr_tokenizer_encode(tok, text, strlen(text), DR_TOKENIZE_ADD_BEGIN | DR_TOKENIZE_ALLOW_SPECIAL,
                                         ids, 64, &n, NULL),
                     DR_OK);
    assert_int_equal(ids[0], T);
    assert_int_equal(ids[n - 2], T + 2);
    assert_int_equal(ids[n - 1], T + 4);
    /* Without ALLOW_SPECIAL the markers are plain text: more tokens, no special ids. */
    assert_int_equal(dr_tokenizer_encode(tok, text, strlen(text), 0, ids, 64, &n_plain, NULL), DR_OK);
    assert_true(n_plain > n - 1);
    for (int i = 0; i < n_plain; i++) assert_true(ids[i] < T);
    char *out;
    size_t len;
    assert_int_equal(dr_tokenizer_decode(tok, ids, n_plain, 0, &out, &len, NULL), DR_OK);
    assert_string_equal(out, text);
    free(out);
    /* Pose tokens for export. */
    int first;
    assert_int_equal(dr_tokenizer_add_pose_tokens(tok, 6, 512, &first, NULL), DR_OK);
    assert_int_equal(first, T + 5);
    assert_int_equal(dr_tokenizer_vocab_size(tok), T + 5 + 6 * 512);
    assert_int_equal(dr_tokenizer_special_id(tok, "<|pose_3_17|>"), first + 3 * 512 + 17);
    assert_true(dr_tokenizer_is_special(tok, first));
    assert_false(dr_tokenizer_is_special(tok, 5));
    const char *poses = "<|pose_begin|><|pose_0_1|><|pose_5_511|><|pose_end|>";
    assert_int_equal(dr_tokenizer_encode(tok, poses, strlen(poses), DR_TOKENIZE_ALLOW_SPECIAL, ids, 64, &n, NULL), DR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[1], first + 1);
    assert_int_equal(ids[2], first + 5 * 512 + 511);
    int32_t mixed[3] = {ids[1], dr_tokenizer_token_id(tok, "a", 1), ids[3]};
    assert_int_equal(dr_tokenizer_decode(tok, mixed, 3, DR_DETOKENIZE_SKIP_SPECIAL, &out, &len, NULL), DR_OK);
    assert_string_equal(out, "a");
    free(out);
    dr_err err = {0};
    assert_int_equal(dr_tokenizer_add_token(tok, DR_TOKEN_PAD, true, NULL, &err), DR_EINVAL);
    /* Non-special added tokens match always, leftmost-longest, whatever their lengths. */
    int id_ab, id_abc, id_long = -1;
    assert_int_equal(dr_tokenizer_add_token(tok, "[ab]", false, &id_ab, NULL), DR_OK);
    assert_int_equal(dr_tokenizer_add_token(tok, "[ab][ab]", false, &id_abc, NULL), DR_OK);
    char name[160];
    for (int len = 2; len <= 101; len++) { /* "#" alone is a byte token already */
        memset(name, '#', (size_t)len);
        name[len] = 0;
        int id;
        assert_int_equal(dr_tokenizer_add_token(tok, name, false, &id, NULL), DR_OK);
        if (len == 77) id_long = id;
    }
    const char *t2 = "x[ab][ab][ab]y";
    assert_int_equal(dr_tokenizer_encode(tok, t2, strlen(t2), 0, ids, 64, &n, NULL), DR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[1], id_abc);
    assert_int_equal(ids[2], id_ab);
    memset(name, '#', 77);
    strcpy(name + 77, " ok");
    assert_int_equal(dr_tokenizer_encode(tok, name, strlen(name), 0, ids, 64, &n, NULL), DR_OK);
    assert_int_equal(ids[0], id_long);
    dr_tokenizer_free(tok);
}

/* ---- training and files ---- */

static void test_training_deterministic(void **state) {
    (void)state;
    double t0 = dr_now();
    dr_tokenizer *a = train_small(25000, 2000);
    double t1 = dr_now();
    dr_tokenizer *b = train_small(25000, 2000);
    print_message("training on 25000 captions: %.3f s, %d merges\n", t1 - t0, dr_tokenizer_num_merges(a));
    char *ja, *jb;
    size_t la, lb;
    assert_int_equal(dr_tokenizer_to_json(a, &ja, &la, NULL), DR_OK);
    assert_int_equal(dr_tokenizer_to_json(b, &jb, &lb, NULL), DR_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ja, jb, la);
    /* The corpus words are kept, sorted and lower-cased. */
    assert_true(dr_tokenizer_num_words(a) > 20);
    bool found = false;
    for (int i = 0; i < dr_tokenizer_num_words(a); i++) {
        if (i) assert_true(strcmp(dr_tokenizer_word(a, i - 1), dr_tokenizer_word(a, i)) < 0);
        found |= !strcmp(dr_tokenizer_word(a, i), "hoodie");
    }
    assert_true(found);
    free(ja), free(jb);
    dr_tokenizer_free(a), dr_tokenizer_free(b);
}

/* Naive BPE training reference: recount every pair of every word after each merge. */
typedef struct ref_tok {
    char b[64];
    int n;
} ref_tok;

static void test_training_matches_naive_reference(void **state) {
    (void)state;
    enum { N_TEXTS = 300, VOCAB = 420, MAXW = 2048, MAXT = 1024 };
    char **texts = make_corpus(N_TEXTS, 21);
    dr_tokenizer *tok = NULL;
    dr_tokenizer_train_opts opts = {.vocab_size = VOCAB, .min_frequency = 2};
    assert_int_equal(dr_tokenizer_train(&tok, (const char *const *)texts, N_TEXTS, &opts, NULL), DR_OK);
    /* Distinct pieces with counts. */
    static char piece[MAXW][64];
    static int plen[MAXW], sym[MAXW][64], nsym[MAXW];
    static long count[MAXW];
    int np = 0;
    for (int t = 0; t < N_TEXTS; t++) {
        size_t ends[256], start = 0;
        int n = dr_pretokenize(texts[t], strlen(texts[t]), ends, 256);
        for (int k = 0; k < n; k++) {
            int len = (int)(ends[k] - start), found = -1;
            for (int i = 0; i < np && found < 0; i++)
                if (plen[i] == len && !memcmp(piece[i], texts[t] + start, (size_t)len)) found = i;
            if (found < 0) {
                assert_true(np < MAXW && len < 64);
                memcpy(piece[np], texts[t] + start, (size_t)len);
                plen[np] = len;
                count[np] = 0;
                found = np++;
            }
            count[found]++;
            start = ends[k];
        }
    }
    /* Byte tokens: ids 0..255 in GPT-2 byte-level order ('!' first). */
    static ref_tok toks[MAXT];
    int ntok = 256;
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        int id = dr_tokenizer_token_id(tok, (const char *)&c, 1);
        assert_true(id >= 0 && id < 256);
        toks[id].b[0] = (char)c;
        toks[id].n = 1;
    }
    assert_int_equal(dr_tokenizer_token_id(tok, "!", 1), 0);
    for (int i = 0; i < np; i++) {
        nsym[i] = plen[i];
        for (int k = 0; k < plen[i]; k++) sym[i][k] = dr_tokenizer_token_id(tok, piece[i] + k, 1);
    }
    int rank = 0;
    while (ntok < VOCAB) {
        /* Count all pairs; pick the most frequent, ties to the lower left then right id. */
        long best = 0;
        int ba = -1, bb = -1;
        for (int a = 0; a < ntok; a++)
            for (int i = 0; i < np; i++)
                for (int k = 0; k + 1 < nsym[i]; k++) {
                    if (sym[i][k] != a) continue;
                    int b = sym[i][k + 1];
                    long c = 0;
                    for (int j = 0; j < np; j++)
                        for (int m = 0; m + 1 < nsym[j]; m++)
                            if (sym[j][m] == a && sym[j][m + 1] == b) c += count[j]; /* every adjacent occurrence */
                    if (c > best || (c == best && (a < ba || (a == ba && b < bb)))) best = c, ba = a, bb = b;
                }
        if (best < 2) break;
        ref_tok merged;
        merged.n = toks[ba].n + toks[bb].n;
        assert_true(merged.n <= 64);
        memcpy(merged.b, toks[ba].b, (size_t)toks[ba].n);
        memcpy(merged.b + toks[ba].n, toks[bb].b, (size_t)toks[bb].n);
        int m = -1;
        for (int i = 0; i < ntok && m < 0; i++)
            if (toks[i].n == merged.n && !memcmp(toks[i].b, merged.b, (size_t)merged.n)) m = i;
        if (m < 0) toks[m = ntok++] = merged;
        int l, r;
        int got = dr_tokenizer_merge(tok, rank, &l, &r);
        if (got != m || l != ba || r != bb)
            fail_msg("merge %d: director (%d %d -> %d), reference (%d %d -> %d, count %ld)", rank, l, r, got, ba, bb, m,
                     best);
        rank++;
        for (int i = 0; i < np; i++) { /* apply left to right, non-overlapping */
            int k2 = 0;
            for (int k = 0; k < nsym[i]; k++) {
                if (k + 1 < nsym[i] && sym[i][k] == ba && sym[i][k + 1] == bb) sym[i][k2++] = m, k++;
                else sym[i][k2++] = sym[i][k];
            }
            nsym[i] = k2;
        }
    }
    assert_int_equal(rank, dr_tokenizer_num_merges(tok));
    assert_int_equal(ntok, dr_tokenizer_text_vocab_size(tok));
    dr_tokenizer_free(tok);
    dr_corpus_free(texts, N_TEXTS);
}

static void test_json_roundtrip(void **state) {
    (void)state;
    dr_tokenizer *tok = train_small(3000, 800);
    assert_int_equal(dr_tokenizer_add_pose_tokens(tok, 2, 4, NULL, NULL), DR_OK);
    char dir[1024], path[1100];
    tu_tmpdir(dir, sizeof dir, "tok_json");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    dr_err err = {0};
    assert_int_equal(dr_tokenizer_save(tok, path, &err), DR_OK);
    dr_tokenizer *back = NULL;
    if (dr_tokenizer_load(&back, path, &err)) fail_msg("load: %s", err.msg);
    assert_int_equal(dr_tokenizer_vocab_size(back), dr_tokenizer_vocab_size(tok));
    assert_int_equal(dr_tokenizer_text_vocab_size(back), dr_tokenizer_text_vocab_size(tok));
    assert_int_equal(dr_tokenizer_num_merges(back), dr_tokenizer_num_merges(tok));
    assert_int_equal(dr_tokenizer_num_words(back), dr_tokenizer_num_words(tok));
    char *j1, *j2;
    size_t l1, l2;
    assert_int_equal(dr_tokenizer_to_json(tok, &j1, &l1, NULL), DR_OK);
    assert_int_equal(dr_tokenizer_to_json(back, &j2, &l2, NULL), DR_OK);
    assert_int_equal(l1, l2);
    assert_memory_equal(j1, j2, l1);
    /* Same encodings. */
    dr_rng rng;
    dr_rng_seed(&rng, 8);
    char text[4096];
    int32_t x[4096], y[4096];
    for (int i = 0; i < 50; i++) {
        size_t len = random_utf8(&rng, text, 300);
        int nx, ny;
        assert_int_equal(dr_tokenizer_encode(tok, text, len, DR_TOKENIZE_ALLOW_SPECIAL, x, 4096, &nx, NULL), DR_OK);
        assert_int_equal(dr_tokenizer_encode(back, text, len, DR_TOKENIZE_ALLOW_SPECIAL, y, 4096, &ny, NULL), DR_OK);
        assert_int_equal(nx, ny);
        assert_memory_equal(x, y, sizeof x[0] * (size_t)nx);
    }
    /* Token strings as tokenizer.json spells them (what a GGUF exporter needs). */
    cJSON *root = cJSON_Parse(j1);
    const cJSON *vocab = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "vocab"), *v;
    int seen = 0;
    cJSON_ArrayForEach(v, vocab) {
        char buf[1024];
        int id = (int)v->valuedouble;
        assert_int_equal(dr_tokenizer_token_string(tok, id, buf, sizeof buf), (int)strlen(v->string));
        assert_string_equal(buf, v->string);
        assert_false(dr_tokenizer_is_added(tok, id));
        seen++;
    }
    assert_int_equal(seen, dr_tokenizer_text_vocab_size(tok));
    cJSON_Delete(root);
    char small[8];
    int pad = dr_tokenizer_special_id(tok, DR_TOKEN_PAD), sp = dr_tokenizer_token_id(tok, " ", 1);
    assert_int_equal(dr_tokenizer_token_string(tok, pad, text, sizeof text), 7);
    assert_string_equal(text, DR_TOKEN_PAD);
    assert_true(dr_tokenizer_is_added(tok, pad));
    assert_int_equal(dr_tokenizer_token_string(tok, pad, small, 7), -1); /* no room for the NUL */
    assert_int_equal(dr_tokenizer_token_string(tok, sp, small, sizeof small), 2);
    assert_string_equal(small, "\xC4\xA0"); /* U+0120, GPT-2's stand-in for the space byte */
    assert_int_equal(dr_tokenizer_token_string(tok, -1, small, sizeof small), -1);
    /* The older merges layout ("a b" strings) reads to the same tokenizer. */
    char *old = malloc(l1 * 2);
    size_t k = 0;
    const char *m = strstr(j1, "\"merges\": [");
    assert_non_null(m);
    size_t head = (size_t)(m - j1) + strlen("\"merges\": [");
    memcpy(old, j1, head);
    k = head;
    for (size_t i = head; i < l1; i++) {
        /* turn ["a", "b"] into "a b" inside the merges list */
        if (j1[i] == '[' && j1[i + 1] == '"') continue;
        if (j1[i] == '"' && j1[i + 1] == ',' && j1[i + 2] == ' ' && j1[i + 3] == '"') {
            old[k++] = ' ';
            i += 3;
            continue;
        }
        if (j1[i] == '"' && j1[i + 1] == ']') {
            old[k++] = '"';
            i++;
            continue;
        }
        if (j1[i] == ']') { /* end of merges */
            memcpy(old + k, j1 + i, l1 - i);
            k += l1 - i;
            break;
        }
        old[k++] = j1[i];
    }
    dr_tokenizer *legacy = NULL;
    if (dr_tokenizer_load_json(&legacy, old, k, "legacy.json", &err)) fail_msg("legacy load: %s", err.msg);
    char *j3;
    size_t l3;
    assert_int_equal(dr_tokenizer_to_json(legacy, &j3, &l3, NULL), DR_OK);
    assert_int_equal(l3, l1);
    assert_memory_equal(j3, j1, l1);
    free(old), free(j1), free(j2), free(j3);
    dr_tokenizer_free(legacy);
    dr_tokenizer_free(back);
    dr_tokenizer_free(tok);
}

/* Replace the first occurrence of `from` by `to` in a malloc'd copy of json. */
static char *mutate(const char *json, const char *from, const char *to) {
    const char *at = strstr(json, from);
    if (!at) fail_msg("mutation anchor '%s' not found", from);
    size_t n = strlen(json), lf = strlen(from), lt = strlen(to);
    char *out = malloc(n - lf + lt + 1);
    memcpy(out, json, (size_t)(at - json));
    memcpy(out + (at - json), to, lt);
    strcpy(out + (at - json) + lt, at + lf);
    return out;
}

static void test_hostile_json(void **state) {
    (void)state;
    dr_tokenizer *tok = train_small(500, 300);
    char *good;
    size_t good_len;
    assert_int_equal(dr_tokenizer_to_json(tok, &good, &good_len, NULL), DR_OK);
    dr_tokenizer_free(tok);
    dr_tokenizer *t = NULL;
    assert_int_equal(dr_tokenizer_load_json(&t, good, good_len, "good.json", NULL), DR_OK);
    dr_tokenizer_free(t);
    struct {
        const char *from, *to;
        int code;
        const char *needle; /* part of the expected message */
    } cases[] = {
        {"\"model\": {", "\"modelx\": {", DR_EFORMAT, "no \"model\""},
        {"\"type\": \"BPE\"", "\"type\": \"WordPiece\"", DR_EUNSUPPORTED, "BPE"},
        {"\"byte_fallback\": false", "\"byte_fallback\": true", DR_EUNSUPPORTED, "byte_fallback"},
        {"\"unk_token\": null", "\"unk_token\": \"<unk>\"", DR_EUNSUPPORTED, "unk_token"},
        {"\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}", DR_EUNSUPPORTED, "normalizer"},
        {"|\\\\s+(?!\\\\S)", "", DR_EUNSUPPORTED, "regex"},
        {"\"use_regex\": false", "\"use_regex\": true", DR_EUNSUPPORTED, "ByteLevel"},
        {"\"vocab\": {", "\"vocab\": [", DR_EFORMAT, "JSON"},
        {"\"!\": 0,", "\"!\": 1,", DR_EFORMAT, "twice"},
        {"\"!\": 0,", "\"!\": 1e12,", DR_EFORMAT, "bad id"},
        {"\"!\": 0,", "\"!\": -1,", DR_EFORMAT, "bad id"},
        {"\"!\": 0,", "\"!\": 0.5,", DR_EFORMAT, "bad id"},
        {"\"!\": 0,", "\"!\": \"zero\",", DR_EFORMAT, "bad id"},
        {"\"!\": 0,", "\"!\": 99999,", DR_EFORMAT, "only"},
        {"\"!\": 0,", "", DR_EFORMAT, "only"},
        {"\"!\": 0,", "\" \": 0,", DR_EFORMAT, "byte-level"},
        {"\"!\": 0,", "\"\": 0,", DR_EFORMAT, "byte-level"},
        {"\"!\": 0,", "\"!\": 0, \"\\\"\": 0,", DR_EFORMAT, "twice"},
        {"\"merges\": [", "\"merges\": [[\"zzq\", \"q\"], ", DR_EFORMAT, "not in the vocab"},
        {"\"merges\": [", "\"merges\": [\"a b c\", ", DR_EFORMAT, "one space"},
        {"\"merges\": [", "\"merges\": [\"ab\", ", DR_EFORMAT, "one space"},
        {"\"merges\": [", "\"merges\": [[\"a\"], ", DR_EFORMAT, "neither"},
        {"\"merges\": [", "\"merges\": [42, ", DR_EFORMAT, "neither"},
        {"\"merges\": [", "\"merges\": [[\"q\", \"z\"], ", DR_EFORMAT, "not in the vocab"},
        {"\"id\": 300,", "\"id\": 99999999,", DR_EFORMAT, "valid \"id\""},
        {"\"id\": 300,", "\"id\": 999999,", DR_EFORMAT, "only"},
        {"\"id\": 300,", "\"id\": 301,", DR_EFORMAT, "two added tokens"},
        {"\"id\": 300,", "\"id\": 5,", DR_EFORMAT, "both vocab token"},
        {"\"lstrip\": false", "\"lstrip\": true", DR_EUNSUPPORTED, "lstrip"},
        {"\"added_tokens\": [", "\"added_tokens\": 7, \"x\": [", DR_EFORMAT, "not an array"},
        {"\"training_words\": [", "\"training_words\": [\"zzz\", ", DR_EFORMAT, "sorted"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = mutate(good, cases[i].from, cases[i].to);
        dr_err err = {0};
        t = NULL;
        int rc = dr_tokenizer_load_json(&t, bad, strlen(bad), "bad.json", &err);
        if (rc == DR_OK) fail_msg("case %zu (%s -> %s) was accepted", i, cases[i].from, cases[i].to);
        assert_null(t);
        if (!strstr(err.msg, "bad.json") || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].needle);
        if (rc != cases[i].code)
            fail_msg("case %zu: code %d, expected %d (%s)", i, rc, cases[i].code, err.msg);
        free(bad);
    }
    /* GPT-2 style: a vocab token listed again as an added token with the same id is fine,
     * but then the ids must still have no gap. */
    char *dup = mutate(good, "\"added_tokens\": [", "\"added_tokens\": [{\"id\": 0, \"content\": \"!\"}, ");
    assert_int_equal(dr_tokenizer_load_json(&t, dup, strlen(dup), "dup.json", NULL), DR_OK);
    dr_tokenizer_free(t);
    char *gap = mutate(dup, "\"id\": 304,", "\"id\": 305,");
    dr_err gap_err = {0};
    assert_int_equal(dr_tokenizer_load_json(&t, gap, strlen(gap), "gap.json", &gap_err), DR_EFORMAT);
    assert_non_null(strstr(gap_err.msg, "no token has id 304"));
    free(dup), free(gap);
    /* Truncations at many points and deep nesting: errors, never crashes. */
    for (size_t cut = 0; cut < good_len; cut += good_len / 97 + 1) {
        dr_err err = {0};
        t = NULL;
        assert_int_not_equal(dr_tokenizer_load_json(&t, good, cut, "cut.json", &err), DR_OK);
        assert_null(t);
    }
    char deep[5000];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    assert_int_equal(dr_tokenizer_load_json(&t, deep, strlen(deep), "deep.json", NULL), DR_EFORMAT);
    assert_int_equal(dr_tokenizer_load_json(&t, "[]", 2, "arr.json", NULL), DR_EFORMAT);
    dr_err err = {0};
    assert_int_not_equal(dr_tokenizer_load(&t, "/nonexistent/tokenizer.json", &err), DR_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/tokenizer.json"));
    free(good);
}

static void test_cli_train(void **state) {
    (void)state;
    char dir[1024], path[1100];
    tu_tmpdir(dir, sizeof dir, "tok_cli");
    snprintf(path, sizeof path, "%s/split.jsonl", dir);
    FILE *f = fopen(path, "w");
    char **texts = make_corpus(300, 1);
    for (int i = 0; i < 300; i++) {
        texts[i][strlen(texts[i]) - 1] = 0; /* drop the newline */
        fprintf(f, "{\"id\": %d, \"subject\": \"A person moves.\", \"prompt\": \"%s\", \"action\": \"walk\"}\n", i,
                texts[i]);
    }
    fclose(f);
    dr_corpus_free(texts, 300);
    const char *bin = tu_director_bin();
    assert_int_equal(tu_system("'%s' train tokenizer --data '%s' --split split --vocab 400 --out '%s/t.json' --quiet",
                               bin, dir, dir),
                     0);
    snprintf(path, sizeof path, "%s/t.json", dir);
    dr_tokenizer *tok = NULL;
    dr_err err = {0};
    if (dr_tokenizer_load(&tok, path, &err)) fail_msg("%s", err.msg);
    assert_int_equal(dr_tokenizer_text_vocab_size(tok), 400);
    dr_tokenizer_free(tok);
    /* usage errors and a bad corpus */
    assert_int_equal(tu_system("'%s' train tokenizer --vocab 10 --data '%s' 2>/dev/null", bin, dir), 2);
    assert_int_equal(tu_system("'%s' train tokenizer 2>/dev/null", bin), 2);
    assert_int_equal(tu_system("'%s' train tokenizer --data '%s' --split nope --out '%s/x.json' 2>/dev/null", bin,
                               dir, dir),
                     1);
    snprintf(path, sizeof path, "%s/x.json", dir);
    assert_false(dr_file_exists(path));
    assert_int_equal(tu_system("'%s' train tokenizer --help >/dev/null", bin), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test(test_pretokenize_known_splits),
        cmocka_unit_test(test_pretokenize_matches_python_regex),
        cmocka_unit_test(test_roundtrip_random_utf8),
        cmocka_unit_test(test_bpe_matches_naive_reference),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_training_deterministic),
        cmocka_unit_test(test_training_matches_naive_reference),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_json_matches_python_bpe),
        cmocka_unit_test(test_hostile_json),
        cmocka_unit_test(test_cli_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
