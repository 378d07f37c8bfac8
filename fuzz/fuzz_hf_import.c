/* libFuzzer target: dr_llama_from_hf on a hostile Hugging Face folder. The input is
 * split at NUL bytes into config.json, tokenizer.json and model.safetensors.index.json
 * (missing parts are absent files), written into a scratch folder made once per
 * process. Must never crash, hang or leak; model sizes are kept small by refusing
 * configs that would allocate more than a few MB before any weight is read. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fsutil.h"
#include "models/llama_export.h"

static void put(const char *dir, const char *name, const uint8_t *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!data) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_hf_import-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    const uint8_t *part[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i < 3 && p <= end; i++) {
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        part[i] = p;
        len[i] = nul ? (size_t)(nul - p) : (size_t)(end - p);
        if (!nul) break;
        p = nul + 1;
    }
    /* a config announcing a huge model would only test malloc: keep the model small */
    if (part[0] && len[0] > 0) {
        cJSON *cfg = cJSON_ParseWithLength((const char *)part[0], len[0]);
        const char *keys[] = {"hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size", "head_dim",
                              "num_attention_heads", "num_key_value_heads"};
        double v[7];
        for (int i = 0; i < 7; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(cfg, keys[i]);
            v[i] = cJSON_IsNumber(x) ? x->valuedouble : 1.0;
        }
        cJSON_Delete(cfg);
        double heads = v[5] * v[4] > v[0] ? v[5] * v[4] : v[0];
        double floats = v[3] * v[0] * 2 + v[2] * (v[0] * (heads * 4 + v[1] * 3));
        if (!(floats < 4e6)) return 0;
    }
    put(dir, "config.json", part[0], len[0]);
    put(dir, "tokenizer.json", part[1], len[1]);
    put(dir, "model.safetensors.index.json", part[2], len[2]);
    dr_llama m;
    dr_tokenizer *tok = NULL;
    dr_err err;
    dr_llama_hf_opts o = dr_llama_hf_default_opts();
    o.pose_levels = 2, o.pose_codebook = 4, o.pose_keyframes = 2, o.max_seq_len = 16;
    if (dr_llama_from_hf(dir, &o, &m, &tok, &err) == DR_OK) {
        dr_tokenizer_free(tok);
        dr_llama_free(&m);
    }
    return 0;
}
