/* libFuzzer target: the DirectorLLM config JSON (read from every model file's metadata)
 * on arbitrary bytes. Must never crash, hang or leak; an accepted config must be valid,
 * round-trip through JSON unchanged, and have a finite parameter count. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/llama.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *json = malloc(size + 1);
    if (!json) return 0;
    memcpy(json, data, size);
    json[size] = 0;
    dr_llama_config c, d;
    dr_err err;
    if (dr_llama_config_from_json(&c, json, &err) == DR_OK) {
        if (dr_llama_config_validate(&c, &err) != DR_OK) abort();
        if (!(dr_llama_config_num_params(&c) > 0)) abort();
        char *again = dr_llama_config_to_json(&c);
        if (again) {
            if (dr_llama_config_from_json(&d, again, &err) != DR_OK || d.vocab_size != c.vocab_size ||
                d.dim != c.dim || d.n_layers != c.n_layers || d.tied_embeddings != c.tied_embeddings)
                abort();
            free(again);
        }
    }
    free(json);
    return 0;
}
