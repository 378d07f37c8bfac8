/* cmd_tokenize.c - `director tokenize`: show how a text (or a prompt) becomes token ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "models/prompt.h"
#include "models/tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: director tokenize [options] TEXT\n"
            "       director tokenize [options] --file FILE\n\n"
            "Print the token ids of a text, one per line as \"id<TAB>token\" (tokens spelled as in\n"
            "tokenizer.json: a leading space shows as \xC4\xA0), preceded by a \"# N tokens\" line.\n\n"
            "options:\n"
            "  --tokenizer PATH   tokenizer.json (default: models/tokenizer.json)\n"
            "  --file FILE        read the text from a file instead\n"
            "  --prompt           treat the text as a generation prompt: check and normalize it,\n"
            "                     tokenize its first sentence (what DirectorLLM reads) and list\n"
            "                     the words the tokenizer's training captions never contained\n"
            "  --special          match special tokens written in the text (<|pad|>, ...)\n"
            "  --begin            start with <|begin_of_text|>\n"
            "  --max N            refuse texts of more than N tokens (default: 1000000)\n");
}

int dr_cmd_tokenize(int argc, char **argv) {
    const char *cmd = "tokenize", *tok_path = "models/tokenizer.json", *file = NULL, *text_arg = NULL;
    bool as_prompt = false;
    unsigned flags = 0;
    long max_ids = 1000000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--prompt")) {
            as_prompt = true;
        } else if (!strcmp(a, "--special")) {
            flags |= DR_TOKENIZE_ALLOW_SPECIAL;
        } else if (!strcmp(a, "--begin")) {
            flags |= DR_TOKENIZE_ADD_BEGIN;
        } else if (!strcmp(a, "--tokenizer") || !strcmp(a, "--file") || !strcmp(a, "--max")) {
            if (i + 1 >= argc) return cli_usage_error(cmd, "option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--tokenizer")) tok_path = v;
            else if (!strcmp(a, "--file")) file = v;
            else if (!cli_parse_long(cmd, a, v, 1, 100000000L, &max_ids)) return CLI_EXIT_USAGE;
        } else if (a[0] == '-' && a[1] == '-') {
            return cli_usage_error(cmd, "unknown option '%s'", a);
        } else {
            if (text_arg) return cli_usage_error(cmd, "give one TEXT (quote it)");
            text_arg = a;
        }
    }
    if (!text_arg && !file) return cli_usage_error(cmd, "give a TEXT or --file FILE");
    if (text_arg && file) return cli_usage_error(cmd, "give a TEXT or --file FILE, not both");
    dr_err err = {0};
    char *data = NULL;
    size_t len;
    if (file) {
        if (dr_read_file(file, (size_t)64 << 20, &data, &len, &err)) return cli_fail_err(cmd, &err);
    } else {
        len = strlen(text_arg);
    }
    const char *text = file ? data : text_arg;
    dr_tokenizer *tok = NULL;
    dr_prompt prompt = {0};
    dr_wordlist words = {0};
    char **unknown = NULL;
    int n_unknown = 0, rc = CLI_EXIT_OK;
    int32_t *ids = malloc(sizeof *ids * (size_t)max_ids);
    if (!ids) {
        free(data);
        return cli_fail(cmd, "out of memory");
    }
    if (dr_tokenizer_load(&tok, tok_path, &err)) {
        rc = cli_fail_err(cmd, &err);
        goto done;
    }
    if (as_prompt) {
        if (dr_prompt_parse(&prompt, text, len, &err) || dr_wordlist_from_tokenizer(&words, tok, &err) ||
            dr_prompt_unknown_words(&words, prompt.full, &unknown, &n_unknown, &err)) {
            rc = cli_fail_err(cmd, &err);
            goto done;
        }
        printf("# subject: %s\n", prompt.subject);
        printf("# unknown words:");
        for (int i = 0; i < n_unknown; i++) printf("%s %s", i ? "," : "", unknown[i]);
        printf("%s\n", n_unknown ? "" : (words.n ? " none" : " (the tokenizer has no training word list)"));
        text = prompt.subject;
        len = strlen(prompt.subject);
    }
    int n;
    if (dr_tokenizer_encode(tok, text, len, flags, ids, (int)max_ids, &n, &err)) {
        rc = cli_fail(cmd, "%s: %s", file ? file : "text", err.msg);
        goto done;
    }
    printf("# %d tokens\n", n);
    char buf[4096];
    for (int i = 0; i < n; i++) {
        int l = dr_tokenizer_token_string(tok, ids[i], buf, sizeof buf);
        printf("%d\t%s\n", (int)ids[i], l >= 0 ? buf : "(long token)");
    }
done:
    dr_words_free(unknown, n_unknown);
    dr_wordlist_free(&words);
    dr_prompt_free(&prompt);
    dr_tokenizer_free(tok);
    free(ids);
    free(data);
    return rc;
}
