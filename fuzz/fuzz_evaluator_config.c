/* libFuzzer target for the evaluator's model-file config (the JSON in the metadata of
 * models/eval/evaluator.safetensors: both towers' sizes and a tokenizer copy): any byte string
 * must build a size-limited untrained evaluator or fail with an error, never crash or ask for
 * unbounded memory. Build with `make fuzz`; run build-fuzz/fuzz_evaluator_config. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eval/evaluator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    char *cfg = malloc(size + 1);
    if (!cfg) return 0;
    memcpy(cfg, data, size);
    cfg[size] = '\0';
    dr_evaluator *ev = NULL;
    dr_err err;
    if (dr_evaluator_from_config(&ev, "director-evaluator", cfg, "fuzz", &err) == 0) {
        if (dr_evaluator_dim(ev) < 1 || dr_evaluator_frames(ev) < 2) abort();
        dr_evaluator_free(ev);
    } else if (ev) {
        abort(); /* a failed build hands nothing out */
    }
    free(cfg);
    return 0;
}
