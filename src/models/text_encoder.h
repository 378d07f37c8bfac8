/* text_encoder.h - the CLIP text transformer that conditions the pose interpolator on the prompt.
 *
 * Architecture exactly as OpenAI CLIP's text tower (Hugging Face CLIPTextModelWithProjection):
 * token + learned position embeddings, causal pre-LayerNorm transformer blocks (multi-head
 * attention with biased q/k/v/out projections, MLP fc1 -> activation -> fc2), a final
 * LayerNorm whose per-token output is the "last hidden state", the state at the end-of-text
 * token as the pooled vector, and a bias-free linear text projection. Tensor names are the
 * Hugging Face names, so a director file and an HF checkpoint load through the same table.
 * No CLIP weights can be downloaded here, so director trains its own small encoder
 * contrastively (CLIP's symmetric InfoNCE with a learnable temperature) against a motion
 * encoder over pose clips (dr_textenc_train); users who have OpenAI weights in the HF layout
 * can load them with dr_textenc_load() on the model folder (config.json + model.safetensors).
 * The model owns its activation buffers (sized once by dr_textenc_alloc_acts) so that
 * forward/backward never allocate. */
#ifndef DIRECTOR_MODELS_TEXT_ENCODER_H
#define DIRECTOR_MODELS_TEXT_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "nn/params.h"

typedef enum {
    DR_ACT_GELU_TANH = 0, /* nn.h dr_gelu_* (GPT-2 style tanh approximation); director's own models */
    DR_ACT_QUICK_GELU = 1, /* x * sigmoid(1.702 x): OpenAI CLIP ("quick_gelu") */
    DR_ACT_GELU_ERF = 2,   /* exact 0.5 x (1 + erf(x / sqrt 2)): HF "gelu" */
} dr_act_kind;

typedef struct dr_textenc_config {
    int vocab_size;
    int max_len;     /* learned positions (HF max_position_embeddings) */
    int dim;         /* hidden_size */
    int num_layers;
    int num_heads;
    int mlp_dim;     /* intermediate_size */
    int proj_dim;    /* text_projection rows; 0 = no projection (pooled = final state) */
    int bos_id, eos_id, pad_id;
    bool pool_argmax; /* HF legacy (eos_token_id == 2): pool at the largest token id, not the first eos */
    dr_act_kind act;
    float ln_eps;
} dr_textenc_config;

/* Saved activations of one forward pass, for backward (allocated for max_batch x max_len). */
typedef struct dr_textenc_acts {
    int max_batch;
    float *res;          /* [L + 1][N, C] residual stream entering each layer (last = after all) */
    float *ln1, *ln1_mean, *ln1_rstd;  /* [L][N, C], [L][N] */
    float *q, *k, *v, *att, *attn_out;  /* [L][N, C] x 4, att [L][B, H, T, T] */
    float *mid;          /* [L][N, C] residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fc1, *fc1_act; /* [L][N, I] */
    float *lnf, *lnf_mean, *lnf_rstd;  /* final LayerNorm = last hidden state */
    float *pooled;       /* [B, C] */
    int *pool_pos;       /* [B] */
    int *ids;            /* [N] copy of the last input */
    /* backward scratch */
    float *d_res, *d_a, *d_b, *d_big, *d_q, *d_k, *d_v, *attn_scratch;
    int B, T;            /* shape of the last forward */
} dr_textenc_acts;

typedef struct dr_textenc {
    dr_textenc_config cfg;
    dr_params params;
    dr_textenc_acts acts;
} dr_textenc;

/* Defaults for director's own encoder (vocab from the tokenizer). */
dr_textenc_config dr_textenc_default_config(int vocab_size);
/* Output size of the pooled vector: proj_dim, or dim when there is no projection. */
int dr_textenc_out_dim(const dr_textenc_config *cfg);

/* Declare and allocate the parameters (values zeroed; dr_textenc_init_weights for training). */
int dr_textenc_create(dr_textenc *te, const dr_textenc_config *cfg, dr_err *err);
void dr_textenc_init_weights(dr_textenc *te, uint64_t seed);
void dr_textenc_free(dr_textenc *te);
/* Size the activation buffers for batches up to max_batch sequences of up to max_len tokens. */
int dr_textenc_alloc_acts(dr_textenc *te, int max_batch, dr_err *err);

/* Config <-> JSON (director's metadata format: the HF config keys plus bos/pad/pool). */
char *dr_textenc_config_json(const dr_textenc_config *cfg); /* malloc'd */
/* Parse either director's config or an HF CLIPTextConfig / CLIPConfig ("text_config") JSON. */
int dr_textenc_config_parse(dr_textenc_config *cfg, const char *json, const char *what, dr_err *err);

/* Load a model: a director .safetensors file (config in its metadata), or a Hugging Face
 * CLIP folder (config.json + model.safetensors), or an HF .safetensors file with a
 * config.json beside it. Extra tensors of a full CLIPModel (vision tower) are ignored. */
int dr_textenc_load(dr_textenc *te, const char *path, dr_err *err);
int dr_textenc_save(const dr_textenc *te, const char *path, dr_err *err);

/* Forward over ids [B, T] (T <= max_len; sequences padded after their end token).
 * states [B, T, dim] (may be NULL) receives the last hidden state, pooled [B, out_dim]
 * (may be NULL) the projected end-token vector, valid [B, T] (may be NULL) 1 for tokens up
 * to and including the end token (the keys a cross-attention should see). Activations are
 * saved for dr_textenc_backward when B <= max_batch of the acts; returns DR_EINVAL on bad
 * shapes or token ids. */
int dr_textenc_forward(dr_textenc *te, const int *ids, int B, int T, float *states, float *pooled,
                       uint8_t *valid, dr_err *err);
/* Backward of the last forward: accumulates parameter gradients (params.grad must be
 * allocated) from dpooled [B, out_dim] and/or dstates [B, T, dim] (either may be NULL). */
void dr_textenc_backward(dr_textenc *te, const float *dpooled, const float *dstates);

/* Token ids for a model input from tokenizer ids: [bos] + ids (truncated) + [eos], padded to
 * `len` with pad_id; returns the number of real tokens (<= len). bos is omitted when < 0. */
int dr_textenc_frame_ids(const dr_textenc_config *cfg, const int *ids, int n, int *out, int len);

/* ---- element-wise activations not in nn.h (forward/backward, accumulate into dinp) ---- */
void dr_quick_gelu_forward(float *out, const float *inp, long n);
void dr_quick_gelu_backward(float *dinp, const float *dout, const float *inp, long n);
void dr_gelu_erf_forward(float *out, const float *inp, long n);
void dr_gelu_erf_backward(float *dinp, const float *dout, const float *inp, long n);
void dr_act_forward(dr_act_kind kind, float *out, const float *inp, long n);
void dr_act_backward(dr_act_kind kind, float *dinp, const float *dout, const float *inp, long n);

/* ---- CLIP symmetric InfoNCE ----
 * a, b [B, P] unnormalized embeddings of B matched pairs; both are L2-normalized, logits =
 * exp(log_scale) * a_n b_n^T, loss = (CE over rows + CE over columns) / 2. group [B] (NULL =
 * all distinct) marks pairs with identical text: pairs of one group are all positives of each
 * other (soft targets spread evenly), so duplicated prompts are not pushed apart.
 * The cache holds 2 B P + 3 B B + 2 B floats (dr_clip_loss_cache_floats). */
long dr_clip_loss_cache_floats(int B, int P);
float dr_clip_loss_forward(const float *a, const float *b, const int *group, float log_scale, int B, int P,
                           float *cache);
/* Gradients (accumulated) of the mean loss times dloss into da, db [B, P] and *dlog_scale. */
void dr_clip_loss_backward(float *da, float *db, float *dlog_scale, const float *a, const float *b,
                           const int *group, float log_scale, int B, int P, const float *cache, float dloss);

#endif
