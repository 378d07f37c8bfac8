/* llama_export.h - DirectorLLM to and from the formats other Llama tools run.
 *
 * Three doors between director and the Llama ecosystem (docs/INTEROP.md):
 *  - GGUF v3 with architecture "llama", which llama.cpp loads and runs: the tokenizer
 *    as a byte-level BPE ("gpt2", pre "llama-bpe") with director's specials and pose
 *    tokens as control tokens, and the rows of every q/k projection permuted within
 *    each head, because llama.cpp rotates adjacent pairs (2i, 2i+1) where Hugging Face
 *    (and director) rotate halves (i, i + d/2);
 *  - the Hugging Face LlamaForCausalLM folder (config.json, model.safetensors,
 *    tokenizer.json, tokenizer_config.json), readable by transformers: director's
 *    parameter names already are Hugging Face's, so this is a straight copy;
 *  - the reverse: a pretrained Hugging Face Llama (single or sharded safetensors) as the
 *    start of training, its embedding and output head extended by director's 5 special
 *    rows and the pose rows, as the paper does with Llama 3 8B.
 * The tokenizer must match the model's vocabulary layout (llama.h): n_text text tokens
 * first, then the 5 specials in order; the exporters append the pose tokens
 * "<|pose_k_c|>" to it when they are missing. */
#ifndef DIRECTOR_MODELS_LLAMA_EXPORT_H
#define DIRECTOR_MODELS_LLAMA_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "models/llama.h"
#include "models/tokenizer.h"

/* Check that tok fits m's vocabulary: for a director model (pose_levels > 0) the text
 * vocabulary has n_text tokens, the specials sit at n_text + 0..4, and the pose tokens
 * follow (appended here if tok has none yet); for a plain language model tok may have
 * fewer tokens than the model (the rest is padding) but not more. */
int dr_llama_match_tokenizer(const dr_llama_config *c, dr_tokenizer *tok, dr_err *err);

/* Rows of a q or k projection [n_heads * head_dim, in_dim] from the Hugging Face order
 * (rotate-half RoPE) to llama.cpp's (adjacent pairs): within each head,
 *   dst row 2i + j = src row j * head_dim / 2 + i   (i < head_dim / 2, j in {0, 1}).
 * The inverse undoes it. dst and src must not overlap. */
void dr_llama_permute_rope_rows(float *dst, const float *src, int n_heads, int head_dim, int in_dim);
void dr_llama_unpermute_rope_rows(float *dst, const float *src, int n_heads, int head_dim, int in_dim);

typedef struct dr_llama_gguf_opts {
    bool f16;         /* 2-D weights as F16 (norms stay F32) */
    const char *name; /* general.name; NULL = "DirectorLLM" */
} dr_llama_gguf_opts;

/* Write m with tokenizer tok (which may get the pose tokens appended) as a GGUF file,
 * atomically. Keys and tensor names: docs/INTEROP.md. */
int dr_llama_export_gguf(const dr_llama *m, dr_tokenizer *tok, const dr_llama_gguf_opts *opts, const char *path,
                         dr_err *err);

/* Write m and tok as a Hugging Face LlamaForCausalLM folder (replaced atomically if it
 * exists): config.json (with director's vocabulary layout under "director"),
 * model.safetensors (F32), tokenizer.json, tokenizer_config.json,
 * generation_config.json. */
int dr_llama_export_hf(const dr_llama *m, dr_tokenizer *tok, const char *dir, dr_err *err);

/* How to extend a pretrained Hugging Face Llama into a DirectorLLM. */
typedef struct dr_llama_hf_opts {
    int pose_levels, pose_codebook, pose_keyframes; /* director defaults: 6, 512, 20 */
    int max_seq_len; /* 0 = the checkpoint's max_position_embeddings (capped at 4096) */
    uint64_t seed;   /* noise of the new embedding rows */
} dr_llama_hf_opts;

dr_llama_hf_opts dr_llama_hf_default_opts(void);

/* Build a DirectorLLM from a Hugging Face Llama folder: config.json, model.safetensors
 * or model.safetensors.index.json with its shards (F32/F16/BF16), tokenizer.json of the
 * Llama 3 kind.
 *  - A folder written by dr_llama_export_hf (config.json has a "director" object) loads
 *    exactly as exported: same layout, same values (opts is ignored).
 *  - Any other checkpoint is extended: its tokenizer keeps the BPE vocabulary and merges
 *    (n_text tokens; its own added tokens are dropped) and gets the 5 specials and the
 *    pose_levels x pose_codebook pose tokens; the embedding (and the untied lm_head) keep
 *    the rows of the text tokens, <|begin_of_text|> / <|end_of_text|> take the rows of the
 *    checkpoint's tokens of that name when it has them, and every other new row is the
 *    mean of the text rows plus N(0, (0.02 * per-dimension std)^2) noise (seeded).
 * Unsupported architectures (rope_scaling, attention or MLP biases, another activation)
 * are DR_EUNSUPPORTED errors naming config.json. On success *out and *tok belong to the
 * caller (dr_llama_free, dr_tokenizer_free). */
int dr_llama_from_hf(const char *dir, const dr_llama_hf_opts *opts, dr_llama *out, dr_tokenizer **tok, dr_err *err);

#endif
