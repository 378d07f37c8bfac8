/* llama.h - DirectorLLM: a Llama 3 decoder that writes pose tokens for a text prompt.
 *
 * The architecture is Llama 3's (token embedding; N blocks of RMSNorm, attention with
 * RoPE and grouped-query heads, RMSNorm, SwiGLU MLP, each with a residual; final
 * RMSNorm; output head tied to the embedding or not), trained from scratch at a small
 * size on this CPU. Parameters live in one dr_params under the Hugging Face
 * LlamaForCausalLM names and [out, in] layouts, so exporting to Hugging Face or GGUF
 * is a renaming; the config travels as JSON in the safetensors metadata (kind "llm").
 * Training runs a whole batch [B, T] forward and backward over activations allocated
 * once (llm.c style); inference runs a KV-cached session (batched prefill, then one
 * token at a time) and samples under a grammar that makes every output decodable.
 *
 * Vocabulary layout (when pose_levels > 0):
 *   [0, n_text)                 text tokens of the byte-level BPE tokenizer
 *   n_text + 0..4               <|begin_of_text|> <|end_of_text|> <|pose_begin|>
 *                               <|pose_end|> <|pad|>
 *   pose_base + k * codebook + c, pose_base = n_text + 5:
 *                               code c of residual-VQ codebook (level) k
 *   vocab_size = n_text + 5 + pose_levels * pose_codebook.
 * A training sequence is
 *   <|begin_of_text|> prompt... <|pose_begin|> p_0 ... p_{L*F-1} <|pose_end|> <|end_of_text|>
 * with F = pose_keyframes key frames of L = pose_levels tokens each, frame-major: pose
 * slot i holds level i mod L of key frame i / L. Shorter sequences of a batch are padded
 * with <|pad|> (target -1). With pose_levels = 0 the model is a plain language model
 * over vocab_size tokens (benchmarks, tests). */
#ifndef DIRECTOR_MODELS_LLAMA_H
#define DIRECTOR_MODELS_LLAMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/nn.h"
#include "nn/params.h"

typedef struct dr_llama_config {
    int vocab_size;
    int dim;          /* model width */
    int n_layers;
    int n_heads;      /* query heads */
    int n_kv_heads;   /* key/value heads; n_heads % n_kv_heads == 0 */
    int head_dim;     /* usually dim / n_heads */
    int ffn_hidden;   /* SwiGLU hidden width */
    float rope_theta; /* RoPE base */
    float norm_eps;   /* RMSNorm epsilon */
    int max_seq_len;  /* longest sequence (positions) the model serves */
    bool tied_embeddings;
    /* director's vocabulary layout (see above); pose_levels = 0 for a plain LM */
    int n_text;         /* text tokens */
    int pose_levels;    /* RVQ depth: tokens per key frame (6) */
    int pose_codebook;  /* codes per level (512) */
    int pose_keyframes; /* key frames per clip (20) */
} dr_llama_config;

/* The special tokens, in this order after the text tokens. */
enum {
    DR_LLAMA_BOS = 0, /* <|begin_of_text|> */
    DR_LLAMA_EOS,     /* <|end_of_text|> */
    DR_LLAMA_POSE_BEGIN,
    DR_LLAMA_POSE_END,
    DR_LLAMA_PAD,
    DR_LLAMA_NUM_SPECIALS
};
extern const char *const dr_llama_special_names[DR_LLAMA_NUM_SPECIALS];

/* DirectorLLM's default size for a text vocabulary of n_text tokens: dim 256, 6 layers,
 * 8 heads / 4 KV heads of 32, SwiGLU 704, RoPE 10000, 6 x 512 pose codes, 20 key frames,
 * untied head, max_seq_len 256. */
dr_llama_config dr_llama_config_director(int n_text);
/* Check every field (positive sizes, divisibility, the vocabulary layout adds up). */
int dr_llama_config_validate(const dr_llama_config *c, dr_err *err);
/* Config <-> JSON object (Hugging Face-like keys plus director's layout). The string
 * is malloc'd; NULL on out of memory. */
char *dr_llama_config_to_json(const dr_llama_config *c);
int dr_llama_config_from_json(dr_llama_config *c, const char *json, dr_err *err);

/* Vocabulary layout helpers. */
static inline int dr_llama_special(const dr_llama_config *c, int which) { return c->n_text + which; }
static inline int dr_llama_pose_base(const dr_llama_config *c) { return c->n_text + DR_LLAMA_NUM_SPECIALS; }
static inline int dr_llama_pose_token(const dr_llama_config *c, int level, int code) {
    return dr_llama_pose_base(c) + level * c->pose_codebook + code;
}
static inline int dr_llama_pose_slots(const dr_llama_config *c) { return c->pose_levels * c->pose_keyframes; }

/* Pointers into the parameter buffer, one set per block. */
typedef struct dr_llama_layer {
    float *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w_gate, *w_up, *w_down;
} dr_llama_layer;

/* Training activations for a batch [B, T], N = B * T rows (llm.c style). */
typedef struct dr_llama_acts {
    float *resid;    /* [L + 1][N, dim]: input of each block, then of the final norm */
    float *ln1, *ln1_rstd, *q, *k, *v, *att, *atty, *resid_mid, *ln2, *ln2_rstd; /* per block */
    float *mlp_gate, *mlp_up, *mlp_h;                                           /* per block */
    float *lnf, *lnf_rstd, *logits; /* logits [N, V]; hold probabilities after a loss forward */
    /* backward buffers, shared by the blocks */
    float *dresid, *dln, *dq, *dk, *dv, *datty, *dlogits, *scratch;
    float *tmp; /* [N, dim] */
    int *tokens, *targets;
    int B, T;
    int num_valid;
    bool have_targets;
    size_t capacity; /* floats in base */
    float *base;
} dr_llama_acts;

typedef struct dr_llama {
    dr_llama_config cfg;
    dr_params params;
    float *embed, *lm_head, *final_norm; /* lm_head == embed when tied */
    dr_llama_layer *layers;              /* cfg.n_layers */
    dr_llama_acts acts;
} dr_llama;

/* Declare and allocate the parameters (zeroed) for a validated config. */
int dr_llama_init(dr_llama *m, const dr_llama_config *cfg, dr_err *err);
/* Random initialisation: N(0, 0.02) for embeddings and projections, residual output
 * projections (o_proj, down_proj) scaled by 1/sqrt(2 L) (GPT-2), norms 1. */
void dr_llama_init_weights(dr_llama *m, uint64_t seed);
void dr_llama_free(dr_llama *m);
size_t dr_llama_num_params(const dr_llama *m);
/* The same from a config alone (double: a hostile config may overflow size_t). */
double dr_llama_config_num_params(const dr_llama_config *c);

/* Save values (kind "llm", config JSON in the metadata) / build a model from a file. */
int dr_llama_save(const dr_llama *m, const char *path, dr_err *err);
int dr_llama_load(dr_llama *m, const char *path, dr_err *err);
/* Read and validate the config of a model or checkpoint file without loading it; refuses
 * a file too small to hold the parameters its config declares. */
int dr_llama_read_config(const char *path, dr_llama_config *cfg, dr_err *err);

/* ---- training ----
 * Forward over tokens [B, T] (ids in [0, vocab)); positions are 0..T-1 in every row.
 * targets [B, T] (-1 = ignored) gives the mean cross-entropy over the valid targets in
 * *loss; targets NULL computes logits only (dr_llama_logits). Activations are
 * (re)allocated only when B * T grows. T must not exceed max_seq_len. */
int dr_llama_forward(dr_llama *m, const int *tokens, const int *targets, int B, int T, float *loss, dr_err *err);
/* Backward of the last forward (which had targets): ACCUMULATES d(loss_scale * loss)
 * into m->params.grad (allocated on first use; zero it with dr_params_zero_grad).
 * loss_scale = 1 / accumulation_steps for gradient accumulation. */
int dr_llama_backward(dr_llama *m, float loss_scale, dr_err *err);
/* Logits [B, T, V] of the last forward without targets. */
const float *dr_llama_logits(const dr_llama *m);
/* Of the last forward with targets: the predicted (argmax) token at every position
 * (preds [B, T]), for accuracy metrics. */
void dr_llama_argmax(const dr_llama *m, int *preds);

/* One block's forward / backward on the activations of the last dr_llama_forward (the
 * backward after the blocks above it and the head have run): exposed so benchmarks can
 * time a single transformer block; dr_llama_forward/backward call them in turn. */
void dr_llama_block_forward(dr_llama *m, int layer);
void dr_llama_block_backward(dr_llama *m, int layer);

/* ---- inference: a KV-cached session over `batch` sequences decoded in lockstep ---- */
typedef struct dr_llama_session {
    const dr_llama *m;
    int batch, max_len, len; /* len = positions already in the cache (same for every row) */
    int chunk;               /* most tokens per row handled by one forward call */
    float *k_cache, *v_cache; /* [L][batch][max_len][Hkv * head_dim] */
    float *x, *xn, *q, *k, *v, *atty, *tmp, *gate, *up, *h, *att, *last, *logits, *rstd;
    float *rope; /* [max_len][head_dim]: cos (first half) and sin (second) of each position */
    int *ids; /* one chunk's token ids */
    float *base;
    uint16_t *w16; /* bf16 copy of the parameters for decoding, or NULL (fp32) */
} dr_llama_session;

/* max_len <= cfg.max_seq_len.
 * Decoding steps (T = 1) run the matrix-vector kernels of core/gemv.h on the calling
 * thread; prefill (T > 1) runs GEMMs on the thread pool. */
int dr_llama_session_init(dr_llama_session *s, const dr_llama *m, int batch, int max_len, dr_err *err);
void dr_llama_session_free(dr_llama_session *s);
/* Opt-in: decoding steps read a bfloat16 copy of the weights (made here, owned by the
 * session: half the bytes per token) and still compute in fp32. Logits then differ from
 * the fp32 model's by the weights' rounding (~3 significant digits), so greedy tokens may
 * differ; prefill stays fp32. The default (fp32) is what the interop tests compare. */
int dr_llama_session_use_bf16(dr_llama_session *s, dr_err *err);
void dr_llama_session_reset(dr_llama_session *s);
/* Append T tokens to every row (tokens [batch, T], row-major) at positions len..len+T-1
 * and return the logits of the last one, [batch, V] (owned by the session, valid until
 * the next call). T = 1 is a decoding step; T > 1 a prefill (processed in chunks). */
int dr_llama_session_step(dr_llama_session *s, const int *tokens, int T, const float **logits, dr_err *err);
/* The same, computing only the logits of ids [lo, hi): *logits is [batch, hi - lo]. */
int dr_llama_session_step_range(dr_llama_session *s, const int *tokens, int T, int lo, int hi, const float **logits,
                                dr_err *err);

/* ---- sampling ----
 * temperature 0 = greedy (argmax; ties to the lowest id); top_k 0 = off; top_p 1 = off. */
typedef struct dr_llama_sampling {
    float temperature;
    int top_k;
    float top_p;
    bool bf16_weights; /* generation decodes from a bfloat16 copy of the weights
                          (dr_llama_session_use_bf16): faster, greedy tokens may differ */
} dr_llama_sampling;

/* Sample one token among ids [lo, hi) of logits. `work` holds 2 * (hi - lo) floats. */
int dr_llama_sample(const float *logits, int lo, int hi, const dr_llama_sampling *sp, dr_rng *rng, float *work);

/* The ids a pose-token slot may take under constrained decoding: slot i (0-based,
 * counted after <|pose_begin|>) holds codes of level i mod pose_levels. */
static inline void dr_llama_pose_slot_range(const dr_llama_config *c, int slot, int *lo, int *hi) {
    *lo = dr_llama_pose_token(c, slot % c->pose_levels, 0);
    *hi = *lo + c->pose_codebook;
}

/* Generate n_samples pose-token sequences for one prompt (text token ids, without the
 * specials; at most max_seq_len - pose_slots - 4 of them). The model reads
 * <|begin_of_text|> prompt <|pose_begin|> and then samples exactly pose_slots tokens,
 * each restricted to its level's codes, so the output always decodes. codes receives
 * [n_samples][pose_keyframes][pose_levels] code indices in [0, pose_codebook). Sample j
 * draws from dr_rng_fork(seed, j): the same seed, prompt and n_samples give the same
 * codes. */
int dr_llama_generate_pose(const dr_llama *m, const int *prompt, int n_prompt, int n_samples,
                           const dr_llama_sampling *sp, uint64_t seed, int *codes, dr_err *err);

/* Build the training sequence for one clip: tokens (length pose_slots + n_prompt + 4)
 * as in the layout above from prompt text ids and codes [pose_keyframes][pose_levels].
 * Returns its length, or a negative error if it would exceed max_len. */
int dr_llama_build_sequence(const dr_llama_config *c, const int *prompt, int n_prompt, const int *codes,
                            int *tokens, int max_len);

#endif
