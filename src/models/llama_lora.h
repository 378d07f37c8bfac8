/* llama_lora.h - LoRA adapters for fine-tuning a large pretrained DirectorLLM.
 *
 * Low-rank adaptation (Hu et al. 2021): each chosen projection W [out, in] (q/k/v/o,
 * optionally gate/up/down) becomes W0 + (alpha / r) B A with A [r, in] and B [out, r]
 * trained and W0 frozen; B starts at zero, so training starts exactly at the pretrained
 * model. Only the adapters get AdamW moments (4 bytes x 2 per adapter value instead of
 * per base value), which is what makes an 8B base fit in memory.
 *
 * The adapters work through the model's own training pass rather than beside it: before
 * a forward, dr_llama_lora_apply writes W = W0 + s B A into the model (W0 kept in a
 * frozen copy of the adapted matrices only); after dr_llama_backward has accumulated
 * dL/dW into the model's gradient, dr_llama_lora_backward turns it into the exact
 * adapter gradients dA = s B^T dW and dB = s dW A^T. The forward and the gradients are
 * exactly LoRA's; the cost is the base's weight-gradient products, which a fused
 * adapter would skip. After training the model holds the merged weights, so it saves
 * and exports (GGUF, Hugging Face) as a plain DirectorLLM; the adapters alone save as a
 * small safetensors file (kind "llm-lora").
 *
 * Training:  dr_llama_lora_init(&l, m, &opts, seed, err); dr_llama_lora_apply(&l);
 *   per step: dr_params_zero_grad(&m->params);
 *             dr_llama_forward(m, tokens, targets, ...); dr_llama_backward(m, 1, err);
 *             dr_llama_lora_step(&l, lr, step, &adamw, clip, &norm, err);
 * With train_embeddings the embedding and head change in the model itself: save the
 * merged model (dr_llama_save) rather than the adapters alone. */
#ifndef DIRECTOR_MODELS_LLAMA_LORA_H
#define DIRECTOR_MODELS_LLAMA_LORA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "models/llama.h"
#include "nn/optim.h"
#include "nn/params.h"

typedef struct dr_llama_lora_opts {
    int rank;    /* r >= 1 */
    float alpha; /* scale s = alpha / r */
    bool mlp;    /* also adapt gate/up/down (default: attention q/k/v/o only) */
    bool train_embeddings; /* also train the token embedding and the output head in full (as
                              PEFT's modules_to_save): needed when the vocabulary was extended,
                              since the new pose rows must learn */
} dr_llama_lora_opts;

typedef struct dr_llama_lora_target {
    float *w;    /* the model's matrix [out, in] (holds W0 + s B A after apply) */
    float *w0;   /* frozen copy of the pretrained values */
    float *a, *b; /* adapter values in params.data: A [rank, in], B [out, rank] */
    int out, in;
} dr_llama_lora_target;

typedef struct dr_llama_lora {
    dr_llama *m;
    dr_llama_lora_opts opts;
    float scale;
    dr_params params; /* "<matrix name>.lora_A" / ".lora_B", the trained values */
    dr_llama_lora_target *targets;
    int n_targets;
    float *frozen; /* all w0 copies */
    float *embed_m, *embed_v, *head_m, *head_v; /* AdamW moments with train_embeddings */
} dr_llama_lora;

/* Attach adapters to m (whose weights are the pretrained base): A ~ U(-1/sqrt(in),
 * 1/sqrt(in)) from the seed, B = 0. m's adapted matrices are not changed until apply. */
int dr_llama_lora_init(dr_llama_lora *l, dr_llama *m, const dr_llama_lora_opts *opts, uint64_t seed, dr_err *err);
void dr_llama_lora_free(dr_llama_lora *l);
/* W = W0 + s B A for every adapted matrix. Call after every change of the adapters. */
void dr_llama_lora_apply(dr_llama_lora *l);
/* ACCUMULATE the adapter gradients from the model's gradient of the adapted matrices
 * (m->params.grad, filled by dr_llama_backward after an apply). Allocates
 * l->params.grad on first use. */
int dr_llama_lora_backward(dr_llama_lora *l, dr_err *err);
/* One optimizer step after dr_llama_backward: the adapter gradients
 * (dr_llama_lora_backward, after zeroing them), clipping of their global norm (with the
 * embedding and head gradients when those train) to grad_clip (0 = off), AdamW on the
 * adapters (and the embedding and head), then dr_llama_lora_apply. `step` is 1-based.
 * Returns the gradient norm before clipping in *norm (may be NULL). */
int dr_llama_lora_step(dr_llama_lora *l, float lr, int step, const dr_adamw_config *adam, float grad_clip,
                       float *norm, dr_err *err);
/* Adapter values alone (kind "llm-lora", config {rank, alpha, mlp}) / back into an
 * attached l (same model shape and options). */
int dr_llama_lora_save(const dr_llama_lora *l, const char *path, dr_err *err);
int dr_llama_lora_load(dr_llama_lora *l, const char *path, dr_err *err);

/* Checkpoint of a LoRA run for --resume, bit-exact like full training's: `path` (kind
 * "llm-lora-checkpoint") holds the adapters, the embedding and head when they train, all
 * their AdamW moments, the step and train_state_json; `path`.base holds the frozen base
 * model (kind "llm", the pretrained values in the adapted matrices). */
int dr_llama_lora_save_checkpoint(dr_llama_lora *l, const char *path, long step, const char *state_json,
                                  dr_err *err);
/* Rebuild m from `path`.base and attach l with opts (which must equal the checkpoint's),
 * then restore the trained values and moments and apply them; *step gets the step and
 * *state_json (may be NULL; malloc'd) the train state. On failure both are left empty. */
int dr_llama_lora_load_checkpoint(dr_llama_lora *l, dr_llama *m, const char *path, const dr_llama_lora_opts *opts,
                                  long *step, char **state_json, dr_err *err);

#endif
