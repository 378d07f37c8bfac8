/* fuzz_tokenizer.c - libFuzzer target for the tokenizer: the first input byte picks
 *   even: parse the rest as a tokenizer.json, and if it loads, encode and decode a text;
 *   odd:  encode the rest as text (any bytes, valid UTF-8 or not) with a small trained
 *         tokenizer, with and without special-token matching, and check the round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer.h"

static dr_tokenizer *small_tokenizer(void) {
    static dr_tokenizer *tok; /* fuzz harness only: built once per process */
    if (!tok) {
        const char *texts[] = {"A woman runs through a grassy field.", "A man walks slowly on the beach!",
                               "She wears a yellow tank top and black shorts.", "It's 12345 o'clock\n\n  ok"};
        dr_tokenizer_train_opts opts = {.vocab_size = 320, .min_frequency = 1};
        if (dr_tokenizer_train(&tok, texts, 4, &opts, NULL)) abort();
        if (dr_tokenizer_add_pose_tokens(tok, 2, 3, NULL, NULL)) abort();
    }
    return tok;
}

static void encode_decode(const dr_tokenizer *tok, const char *text, size_t len, unsigned flags) {
    int32_t ids[4096];
    int n;
    if (dr_tokenizer_encode(tok, text, len, flags, ids, 4096, &n, NULL) != DR_OK) return;
    char *back;
    size_t back_len;
    if (dr_tokenizer_decode(tok, ids, n, 0, &back, &back_len, NULL) != DR_OK) abort();
    /* Without ADD_BEGIN, decoding gives back exactly the input. */
    if (!(flags & DR_TOKENIZE_ADD_BEGIN) && (back_len != len || memcmp(back, text, len))) abort();
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] % 2 == 0) {
        dr_tokenizer *tok = NULL;
        if (dr_tokenizer_load_json(&tok, rest, n, "fuzz.json", NULL) == DR_OK) {
            encode_decode(tok, "Hello world's 123 <|pad|>!\n", 27, DR_TOKENIZE_ALLOW_SPECIAL);
            dr_tokenizer_free(tok);
        }
    } else {
        const dr_tokenizer *tok = small_tokenizer();
        encode_decode(tok, rest, n, 0);
        encode_decode(tok, rest, n, DR_TOKENIZE_ALLOW_SPECIAL);
        encode_decode(tok, rest, n, DR_TOKENIZE_ADD_BEGIN);
    }
    return 0;
}
