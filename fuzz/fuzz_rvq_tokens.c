/* libFuzzer target: the pose-tokens JSON reader (director rvq decode's input) on arbitrary
 * bytes. Must never crash, hang or leak; every accepted token must be in range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "models/rvq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int *tokens, n, depth, K;
    dr_err err;
    if (dr_rvq_tokens_parse((const char *)data, size, "fuzz.json", &tokens, &n, &depth, &K, &err) != DR_OK) return 0;
    for (long i = 0; i < (long)n * depth; i++)
        if (tokens[i] < 0 || tokens[i] >= K) abort();
    free(tokens);
    return 0;
}
