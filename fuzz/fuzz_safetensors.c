/* libFuzzer target for the safetensors reader: any byte string must parse cleanly or
 * fail with an error, and an accepted file's tensors must lie inside the input and
 * convert without faults. Build with `make fuzz`; run build-fuzz/fuzz_safetensors. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr_st_file f;
    dr_err err;
    if (dr_st_parse(&f, data, size, "fuzz", &err) == 0) {
        for (int i = 0; i < f.count; i++) {
            const dr_st_tensor *t = &f.tensors[i];
            if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + t->nbytes > data + size) abort();
            if (t->numel <= 4096) {
                float *out = malloc(sizeof(float) * (t->numel ? t->numel : 1));
                if (out) dr_st_read_f32(&f, t, out, t->numel, &err);
                free(out);
            }
            if (dr_st_find(&f, t->name) == NULL) abort();
        }
        for (int i = 0; i < f.meta_count; i++)
            if (dr_st_meta(&f, f.meta_keys[i]) == NULL) abort();
    }
    dr_st_close(&f);
    return 0;
}
