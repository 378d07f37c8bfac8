/* Tests of src/models/prompt: validation errors, white-space normalization, the first-sentence
 * split (abbreviations, initials, decimals, ellipses, quotes, line breaks) and unknown words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/prompt.h"
#include "models/tokenizer.h"
#include "pose/dataset.h"
#include "testutil.h"

static void expect_error(const char *raw, size_t len, int code, const char *needle) {
    dr_prompt p;
    dr_err err = {0};
    int rc = dr_prompt_parse(&p, raw, len, &err);
    if (rc != code) fail_msg("prompt of %zu bytes: code %d, expected %d (%s)", len, rc, code, err.msg);
    if (!strstr(err.msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    assert_null(p.full);
    assert_null(p.subject);
}

static void test_prompt_errors(void **state) {
    (void)state;
    expect_error("", 0, DR_EINVAL, "empty");
    expect_error(NULL, 0, DR_EINVAL, "empty");
    expect_error("   \n\t  \r\n", 9, DR_EINVAL, "white space");
    expect_error("\xC2\xA0\xE3\x80\x80", 5, DR_EINVAL, "white space"); /* NBSP, ideographic space */
    expect_error(" ... !!! ", 9, DR_EINVAL, "no words");
    expect_error("A man \xFF runs.", 13, DR_EFORMAT, "byte offset 6");
    expect_error("A man \xC0\xAF runs.", 14, DR_EFORMAT, "UTF-8");
    expect_error("A man\x1B[31m runs.", 15, DR_EFORMAT, "U+001B at byte offset 5");
    expect_error("A man\0 runs.", 12, DR_EFORMAT, "U+0000");
    /* 100 KB: refused with the limit named, not truncated. */
    size_t big = 100 * 1024;
    char *text = malloc(big);
    for (size_t i = 0; i < big; i++) text[i] = "a man runs. "[i % 12];
    expect_error(text, big, DR_ERANGE, "limit is 65536 bytes");
    /* Exactly at the limit is fine. */
    dr_prompt p;
    assert_int_equal(dr_prompt_parse(&p, text, DR_PROMPT_MAX_BYTES, NULL), DR_OK);
    dr_prompt_free(&p);
    free(text);
}

static void check_parse(const char *raw, const char *full, const char *subject) {
    dr_prompt p;
    dr_err err = {0};
    if (dr_prompt_parse(&p, raw, strlen(raw), &err)) fail_msg("\"%s\": %s", raw, err.msg);
    if (strcmp(p.full, full)) fail_msg("\"%s\": full \"%s\", expected \"%s\"", raw, p.full, full);
    if (strcmp(p.subject, subject)) fail_msg("\"%s\": subject \"%s\", expected \"%s\"", raw, p.subject, subject);
    assert_int_equal(p.subject_whole, !strcmp(full, subject));
    dr_prompt_free(&p);
}

static void test_prompt_normalize_and_split(void **state) {
    (void)state;
    check_parse("The video shows a woman running through a grassy field. She wears a yellow tank top and black shorts.",
                "The video shows a woman running through a grassy field. She wears a yellow tank top and black shorts.",
                "The video shows a woman running through a grassy field.");
    check_parse("  A  man\t walks.\xC2\xA0 He  waves.  ", "A man walks. He waves.", "A man walks.");
    check_parse("Mr. Smith walks 2.5 meters. Then he sits.", "Mr. Smith walks 2.5 meters. Then he sits.",
                "Mr. Smith walks 2.5 meters.");
    check_parse("Dr. J. R. Smith runs! He is fast.", "Dr. J. R. Smith runs! He is fast.", "Dr. J. R. Smith runs!");
    check_parse("A man waits... then he runs. He wears red.", "A man waits... then he runs. He wears red.",
                "A man waits... then he runs.");
    check_parse("A man waits... Then he runs.", "A man waits... Then he runs.", "A man waits...");
    check_parse("A man waits\xE2\x80\xA6 Then he runs.", "A man waits\xE2\x80\xA6 Then he runs.", "A man waits\xE2\x80\xA6");
    check_parse("She says \"go!\" Then she runs.", "She says \"go!\" Then she runs.", "She says \"go!\"");
    check_parse("A person dances, e.g. salsa. Next, a bow.", "A person dances, e.g. salsa. Next, a bow.",
                "A person dances, e.g. salsa.");
    check_parse("He walks in the U.S. Army parade. Fine.", "He walks in the U.S. Army parade. Fine.",
                "He walks in the U.S. Army parade.");
    check_parse("Is he running?! Yes.", "Is he running?! Yes.", "Is he running?!");
    check_parse("He holds sign No. 5 high. Then drops it.", "He holds sign No. 5 high. Then drops it.",
                "He holds sign No. 5 high.");
    check_parse("He says no. Then he leaves.", "He says no. Then he leaves.", "He says no.");
    check_parse("(She jumps.) He claps.", "(She jumps.) He claps.", "(She jumps.)");
    check_parse("A man runs\nHe wears a hat.", "A man runs He wears a hat.", "A man runs");
    check_parse("A man runs.\n\nHe wears a hat.", "A man runs. He wears a hat.", "A man runs.");
    check_parse("No terminator here", "No terminator here", "No terminator here");
    check_parse("Ends with a period.", "Ends with a period.", "Ends with a period.");
    check_parse("\xE4\xB8\x80\xE4\xB8\xAA\xE4\xBA\xBA\xE5\x9C\xA8\xE8\xB7\x91\xE3\x80\x82\xE4\xBB\x96\xE7\xA9\xBF",
                "\xE4\xB8\x80\xE4\xB8\xAA\xE4\xBA\xBA\xE5\x9C\xA8\xE8\xB7\x91\xE3\x80\x82\xE4\xBB\x96\xE7\xA9\xBF",
                "\xE4\xB8\x80\xE4\xB8\xAA\xE4\xBA\xBA\xE5\x9C\xA8\xE8\xB7\x91\xE3\x80\x82");
    check_parse("v2.0 is out. Ok.", "v2.0 is out. Ok.", "v2.0 is out.");
}

static void test_unknown_words(void **state) {
    (void)state;
    char dir[1024], path[1100];
    tu_tmpdir(dir, sizeof dir, "prompt_words");
    snprintf(path, sizeof path, "%s/words.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("man\nA\n  grassy \r\nfield\nruns\nthrough\n\nman\n", f);
    fclose(f);
    dr_wordlist wl;
    dr_err err = {0};
    assert_int_equal(dr_wordlist_load(&wl, path, &err), DR_OK);
    assert_int_equal(wl.n, 6);
    assert_true(dr_wordlist_contains(&wl, "grassy", 6));
    assert_true(dr_wordlist_contains(&wl, "a", 1));
    assert_false(dr_wordlist_contains(&wl, "gras", 4));
    char **unk;
    int n;
    assert_int_equal(dr_prompt_unknown_words(&wl, "A man runs through a grassy fieldd, and a Zebra; AND 42 zebra.", &unk, &n,
                                             &err),
                     DR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(unk[0], "fieldd");
    assert_string_equal(unk[1], "and");
    assert_string_equal(unk[2], "zebra");
    dr_words_free(unk, n);
    assert_int_equal(dr_prompt_unknown_words(&wl, "A man runs.", &unk, &n, &err), DR_OK);
    assert_int_equal(n, 0);
    dr_words_free(unk, n);
    dr_wordlist_free(&wl);
    /* No word list (e.g. a Hugging Face tokenizer without director's training words): no warnings. */
    dr_wordlist none = {NULL, 0};
    assert_int_equal(dr_prompt_unknown_words(&none, "Zebras juggle.", &unk, &n, &err), DR_OK);
    assert_int_equal(n, 0);
    dr_words_free(unk, n);
    /* Hostile word files. */
    f = fopen(path, "wb");
    fputs("ok\nbad\xFF\n", f);
    fclose(f);
    assert_int_equal(dr_wordlist_load(&wl, path, &err), DR_EFORMAT);
    assert_non_null(strstr(err.msg, path));
    assert_int_not_equal(dr_wordlist_load(&wl, "/nonexistent/words.txt", &err), DR_OK);
    /* From a trained tokenizer: its corpus words are known, others are not. */
    const char *texts[] = {"A woman runs through a grassy field.", "A man walks on the beach."};
    dr_tokenizer *tok;
    dr_tokenizer_train_opts opts = {.vocab_size = 300, .min_frequency = 1};
    assert_int_equal(dr_tokenizer_train(&tok, texts, 2, &opts, NULL), DR_OK);
    assert_int_equal(dr_wordlist_from_tokenizer(&wl, tok, &err), DR_OK);
    assert_int_equal(dr_prompt_unknown_words(&wl, "The woman swims on the beach.", &unk, &n, &err), DR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(unk[0], "swims");
    dr_words_free(unk, n);
    dr_wordlist_free(&wl);
    dr_tokenizer_free(tok);
}

/* The synthetic dataset writes the first sentence of each caption as its "subject": our split
 * must agree on every caption (this uses `director data synth`, the real caption generator). */
static void test_first_sentence_matches_dataset_subjects(void **state) {
    (void)state;
    char dir[1024];
    tu_tmpdir(dir, sizeof dir, "prompt_ds");
    assert_int_equal(tu_system("'%s' data synth --clips 120 --seed 9 --out '%s/ds' --quiet", tu_director_bin(), dir), 0);
    char path[1100];
    snprintf(path, sizeof path, "%s/ds", dir);
    const char *splits[] = {"train", "val", "test"};
    int checked = 0;
    for (int s = 0; s < 3; s++) {
        dr_dataset ds;
        dr_err err = {0};
        if (dr_dataset_open(&ds, path, splits[s], &err)) fail_msg("%s", err.msg);
        for (int i = 0; i < ds.num_clips; i++, checked++) {
            dr_prompt p;
            if (dr_prompt_parse(&p, ds.prompt[i], strlen(ds.prompt[i]), &err)) fail_msg("%s", err.msg);
            if (strcmp(p.subject, ds.subject[i]))
                fail_msg("caption %d of %s:\n first sentence \"%s\"\n subject        \"%s\"", i, splits[s], p.subject,
                         ds.subject[i]);
            dr_prompt_free(&p);
        }
        dr_dataset_close(&ds);
    }
    assert_int_equal(checked, 120);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_errors),
        cmocka_unit_test(test_prompt_normalize_and_split),
        cmocka_unit_test(test_unknown_words),
        cmocka_unit_test(test_first_sentence_matches_dataset_subjects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
