/* libFuzzer target for the GGUF reader: any byte string must parse cleanly or fail with
 * an error; an accepted file's tensors lie inside the input, its arrays can be read to
 * the last element, its tensors convert without faults. Build with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dr_gguf_file f;
    dr_err err;
    if (dr_gguf_parse(&f, data, size, "fuzz", &err) == 0) {
        for (int64_t i = 0; i < f.tensor_count; i++) {
            const dr_gguf_tensor *t = &f.tensors[i];
            if ((const uint8_t *)t->data < data || (const uint8_t *)t->data + t->nbytes > data + size) abort();
            if (t->numel <= 4096) {
                float *out = malloc(sizeof(float) * (t->numel ? t->numel : 1));
                if (out) dr_gguf_read_f32(&f, t, out, t->numel, &err);
                free(out);
            }
        }
        volatile int64_t sink = 0;
        for (int64_t i = 0; i < f.kv_count; i++) {
            const dr_gguf_kv *kv = &f.kvs[i];
            if (kv->type != DR_GGUF_ARRAY || kv->count == 0) continue;
            if (kv->elem_type == DR_GGUF_STRING) {
                const dr_gguf_str *s = &kv->strings[kv->count - 1];
                if (s->len) sink += s->data[s->len - 1];
            } else {
                sink += dr_gguf_array_int(kv, kv->count - 1);
            }
        }
        (void)sink;
    }
    dr_gguf_close(&f);
    return 0;
}
