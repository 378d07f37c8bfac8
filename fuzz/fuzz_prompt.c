/* fuzz_prompt.c - libFuzzer target for prompt handling: parse arbitrary bytes as a prompt,
 * list unknown words against a small word list, and read a preview style from it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/prompt.h"
#include "render/preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr_prompt p;
    if (dr_prompt_parse(&p, (const char *)data, size, NULL) == DR_OK) {
        /* The subject is a prefix of the normalized prompt. */
        if (strncmp(p.full, p.subject, strlen(p.subject))) abort();
        char *known[] = {"a", "man", "runs", "woman"};
        dr_wordlist wl = {known, 4};
        char **unknown;
        int n;
        if (dr_prompt_unknown_words(&wl, p.full, &unknown, &n, NULL) == DR_OK) dr_words_free(unknown, n);
        dr_preview_style style;
        dr_preview_style_from_prompt(&style, p.full);
        dr_prompt_free(&p);
    }
    return 0;
}
