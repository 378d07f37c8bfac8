/* llm_train.h - training DirectorLLM on (prompt, pose tokens) pairs.
 *
 * The trainer sees no files: the caller (the `director train llm` command) tokenizes
 * the subject prompts and encodes each clip's key frames with the residual VQ-VAE, and
 * adds one example per clip to a dr_llm_data. Every example becomes the sequence of
 * llama.h (<|begin_of_text|> prompt <|pose_begin|> 120 pose tokens <|pose_end|>
 * <|end_of_text|>), and training is plain next-token cross-entropy as in the paper:
 * over the whole sequence by default, or over the pose part only (the pose tokens,
 * <|pose_end|> and <|end_of_text|>) on request. AdamW with linear warm-up and cosine
 * decay, gradient accumulation and clipping; validation loss and pose-token accuracy
 * (argmax over the whole vocabulary equals the target pose token); checkpoints that
 * resume bit-exactly, because the batch order is a pure function of (seed, step). */
#ifndef DIRECTOR_MODELS_LLM_TRAIN_H
#define DIRECTOR_MODELS_LLM_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "models/llama.h"
#include "models/tokenizer.h"

/* Built sequences, concatenated. */
typedef struct dr_llm_data {
    int count, capacity;
    int max_len;   /* longest sequence */
    long *offset;  /* start of example i in tokens */
    int *length;   /* its length */
    int *tokens;
    long used, room;
} dr_llm_data;

void dr_llm_data_init(dr_llm_data *d);
void dr_llm_data_free(dr_llm_data *d);
/* Append one example: prompt text ids and codes [pose_keyframes][pose_levels]. Fails
 * with DR_ERANGE when a code or token is out of range or the sequence exceeds
 * cfg->max_seq_len (the message gives both lengths). */
int dr_llm_data_add(dr_llm_data *d, const dr_llama_config *cfg, const int *prompt, int n_prompt, const int *codes,
                    dr_err *err);

typedef struct dr_llm_train_opts {
    int batch;              /* sequences per micro-batch */
    int accum;              /* micro-batches per optimizer step */
    long steps;             /* optimizer steps in total (a resumed run continues to this) */
    long stop_step;         /* stop (with a checkpoint) after this step as if interrupted;
                               0 = run to `steps`. The schedule still spans `steps`. */
    long warmup;            /* linear warm-up steps */
    float lr, lr_min;       /* peak and final learning rate (cosine) */
    float weight_decay;     /* AdamW, not on norms */
    float grad_clip;        /* global gradient norm limit; 0 = off */
    bool pose_loss_only;    /* loss on the pose part only (default: the whole sequence) */
    long eval_every;        /* optimizer steps between validations (0 = only at the end) */
    int eval_batches;       /* validation micro-batches (0 = the whole validation set) */
    long checkpoint_every;  /* optimizer steps between checkpoints (0 = only at the end) */
    const char *checkpoint; /* checkpoint path, or NULL for none */
    uint64_t seed;          /* batch order */
    bool quiet;             /* no progress lines */
    struct dr_llama_lora *lora; /* NULL: train every parameter. Else LoRA (models/llama_lora.h):
                                   only the adapters attached to the model (and, per their
                                   options, the embedding and head) train, the base has no
                                   optimizer state; checkpoints are LoRA checkpoints
                                   (dr_llama_lora_save_checkpoint: `checkpoint` and
                                   `checkpoint`.base), resumed with
                                   dr_llama_lora_load_checkpoint */
} dr_llm_train_opts;

dr_llm_train_opts dr_llm_train_default_opts(void);

typedef struct dr_llm_eval {
    double loss;     /* mean cross-entropy over the evaluated targets */
    double pose_acc; /* fraction of pose-token targets predicted exactly (argmax) */
    long tokens;     /* targets evaluated */
} dr_llm_eval;

/* Validation figures over up to max_batches micro-batches of `batch` sequences (0 = all). */
int dr_llm_evaluate(dr_llama *m, const dr_llm_data *data, int batch, int max_batches, bool pose_loss_only,
                    dr_llm_eval *out, dr_err *err);

/* Train m (whose weights are initialised or loaded; for a resumed run also its AdamW
 * moments) from optimizer step start_step to opts->steps. val may be NULL or empty.
 * Progress goes to stderr unless quiet; the final validation figures to *final (may be
 * NULL). Checkpoints (dr_params_save_checkpoint, kind "llm") hold the step; resume by
 * loading one with dr_llm_load_checkpoint and passing its step here. */
int dr_llm_train(dr_llama *m, const dr_llm_data *train, const dr_llm_data *val, const dr_llm_train_opts *opts,
                 long start_step, dr_llm_eval *final, dr_err *err);

/* Rebuild a model and its optimizer state from a (full-training) checkpoint; *step gets
 * its step. */
int dr_llm_load_checkpoint(dr_llama *m, const char *path, long *step, dr_err *err);

/* ---- tokenizer glue (shared by training and generation) ---- */

/* Check that a tokenizer has the model's layout: text vocabulary of cfg->n_text tokens
 * and the 5 specials at n_text + DR_LLAMA_BOS... (error names the first mismatch). */
int dr_llm_check_tokenizer(const dr_llama_config *cfg, const dr_tokenizer *tok, const char *tok_path, dr_err *err);
/* Tokenize a subject prompt as text only (special-token strings in it stay plain text). */
int dr_llm_encode_prompt(const dr_tokenizer *tok, const char *text, int *ids, int max_ids, int *n_ids, dr_err *err);

#endif
