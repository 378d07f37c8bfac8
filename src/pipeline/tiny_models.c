#include "pipeline/tiny_models.h"

#include <stdio.h>

#include "core/fsutil.h"
#include "models/llama.h"
#include "models/pose_diffusion.h"
#include "models/rvq.h"
#include "models/text_encoder.h"
#include "models/tokenizer.h"

/* A few captions in the synthesizer's style, enough for a byte-level BPE with merges. */
static const char *const corpus[] = {
    "The video shows a young woman running through a grassy field.",
    "The video shows a man walking along a city street.",
    "In the video, a girl is jumping on a beach.",
    "The video shows an old man doing yoga in a studio.",
    "A boy is cycling in a park.",
    "The video shows a woman dancing in a living room.",
    "The video shows a man jogging on a trail in the forest.",
};

int dr_make_tiny_models(const char *dir, uint64_t seed, dr_err *err) {
    char path[4200];
    int rc = dr_mkdir_p(dir, err);
    if (rc) return rc;

    dr_tokenizer *tok = NULL;
    dr_tokenizer_train_opts topts = {.vocab_size = 300, .min_frequency = 2};
    if ((rc = dr_tokenizer_train(&tok, corpus, (int)(sizeof corpus / sizeof corpus[0]), &topts, err))) return rc;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    rc = dr_tokenizer_save(tok, path, err);
    int n_text = dr_tokenizer_text_vocab_size(tok);
    int bos = dr_tokenizer_special_id(tok, "<|begin_of_text|>"), eos = dr_tokenizer_special_id(tok, "<|end_of_text|>");
    int pad = dr_tokenizer_special_id(tok, "<|pad|>"), vocab = dr_tokenizer_vocab_size(tok);
    dr_tokenizer_free(tok);
    if (rc) return rc;

    /* LLM: the shipped layout (6 levels x 512 codes, 20 key frames), one narrow block. */
    dr_llama llm;
    dr_llama_config lc = dr_llama_config_director(n_text);
    lc.dim = 32, lc.n_layers = 1, lc.n_heads = 2, lc.n_kv_heads = 1, lc.head_dim = 16, lc.ffn_hidden = 64;
    if ((rc = dr_llama_init(&llm, &lc, err))) return rc;
    dr_llama_init_weights(&llm, seed);
    snprintf(path, sizeof path, "%s/director.safetensors", dir);
    rc = dr_llama_save(&llm, path, err);
    dr_llama_free(&llm);
    if (rc) return rc;

    dr_rvq *rvq = NULL;
    dr_rvq_config rc_cfg = dr_rvq_default_config();
    rc_cfg.dim = 16, rc_cfg.channels = 32;
    if ((rc = dr_rvq_create(&rvq, &rc_cfg, seed + 1, err))) return rc;
    snprintf(path, sizeof path, "%s/rvq.safetensors", dir);
    rc = dr_rvq_save(rvq, path, err);
    dr_rvq_free(rvq);
    if (rc) return rc;

    dr_textenc te;
    dr_textenc_config tc = dr_textenc_default_config(vocab);
    tc.max_len = 24, tc.dim = 32, tc.num_layers = 1, tc.num_heads = 2, tc.mlp_dim = 64, tc.proj_dim = 32;
    tc.bos_id = bos, tc.eos_id = eos, tc.pad_id = pad;
    if ((rc = dr_textenc_create(&te, &tc, err))) return rc;
    dr_textenc_init_weights(&te, seed + 2);
    snprintf(path, sizeof path, "%s/text_encoder.safetensors", dir);
    rc = dr_textenc_save(&te, path, err);
    dr_textenc_free(&te);
    if (rc) return rc;

    dr_interp interp;
    dr_interp_config ic = dr_interp_default_config(tc.dim, tc.max_len);
    ic.dim = 32, ic.num_layers = 1, ic.num_heads = 2, ic.mlp_dim = 64;
    if ((rc = dr_interp_create(&interp, &ic, err))) return rc;
    dr_interp_init_weights(&interp, seed + 3);
    snprintf(path, sizeof path, "%s/interp.safetensors", dir);
    rc = dr_interp_save(&interp, path, err);
    dr_interp_free(&interp);
    return rc;
}
