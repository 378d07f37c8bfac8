/* cmd_train_tokenizer.c - `director train tokenizer`: byte-level BPE on the captions. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/parallel.h"
#include "models/tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: director train tokenizer (--data DIR | --text FILE) [options]\n\n"
            "Train a byte-level BPE tokenizer (Llama 3 pre-tokenizer regex) and write it as a\n"
            "Hugging Face tokenizer.json. The corpus is the \"subject\" and \"prompt\" captions of\n"
            "a dataset split (DIR/SPLIT.jsonl) or the lines of a text file.\n\n"
            "options:\n"
            "  --data DIR            dataset folder (see docs/DATASET.md)\n"
            "  --split NAME          split to read from DIR (default: train)\n"
            "  --text FILE           plain-text corpus instead, one text per line\n"
            "  --vocab N             text tokens including the 256 bytes (default: 4096)\n"
            "  --min-frequency N     merge only pairs seen at least N times (default: 2)\n"
            "  --out PATH            output file (default: models/tokenizer.json)\n"
            "  --quiet               print nothing on success\n");
}

int dr_cmd_train_tokenizer(int argc, char **argv) {
    const char *cmd = "train tokenizer", *data = NULL, *text = NULL, *split = "train";
    const char *out = "models/tokenizer.json";
    long vocab = 4096, min_freq = 2;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) return cli_usage_error(cmd, "option '%s' needs a value (or is unknown)", a);
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--text")) text = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--vocab")) {
            if (!cli_parse_long(cmd, a, v, 256, DR_TOKENIZER_MAX_TOKENS - 16, &vocab)) return CLI_EXIT_USAGE;
        } else if (!strcmp(a, "--min-frequency")) {
            if (!cli_parse_long(cmd, a, v, 1, 1000000000L, &min_freq)) return CLI_EXIT_USAGE;
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
        i++;
    }
    if (!data == !text) return cli_usage_error(cmd, "give exactly one of --data DIR or --text FILE");
    dr_err err = {0};
    char **texts = NULL;
    int n_texts = 0;
    double t0 = dr_now();
    int rc = data ? dr_corpus_load_captions(data, split, &texts, &n_texts, &err)
                  : dr_corpus_load_text(text, &texts, &n_texts, &err);
    if (rc) return cli_fail_err(cmd, &err);
    double t1 = dr_now();
    dr_tokenizer *tok = NULL;
    dr_tokenizer_train_opts opts = {.vocab_size = (int)vocab, .min_frequency = (int)min_freq};
    rc = dr_tokenizer_train(&tok, (const char *const *)texts, n_texts, &opts, &err);
    double t2 = dr_now();
    if (!rc) rc = dr_tokenizer_save(tok, out, &err);
    if (rc) {
        dr_corpus_free(texts, n_texts);
        dr_tokenizer_free(tok);
        return cli_fail_err(cmd, &err);
    }
    if (!quiet) {
        /* Compression figure: tokens per text on the training corpus. */
        long total_tokens = 0, total_bytes = 0;
        for (int i = 0; i < n_texts; i++) {
            int n = 0;
            size_t len = strlen(texts[i]);
            if (dr_tokenizer_encode(tok, texts[i], len, 0, NULL, 0, &n, &err) == DR_OK) total_tokens += n;
            total_bytes += (long)len;
        }
        fprintf(stderr,
                "train tokenizer  %d texts  %d text tokens (%d merges) + %d added  %d words  "
                "%.2f bytes/token  read %.2fs  train %.2fs\n",
                n_texts, dr_tokenizer_text_vocab_size(tok), dr_tokenizer_num_merges(tok),
                dr_tokenizer_vocab_size(tok) - dr_tokenizer_text_vocab_size(tok), dr_tokenizer_num_words(tok),
                total_tokens ? (double)total_bytes / (double)total_tokens : 0.0, t1 - t0, t2 - t1);
        printf("%s\n", out);
    }
    dr_corpus_free(texts, n_texts);
    dr_tokenizer_free(tok);
    return CLI_EXIT_OK;
}
