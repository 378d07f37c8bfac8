/* rvq.h - the residual VQ-VAE pose tokenizer: 20 key-frame poses <-> 20 x depth tokens.
 *
 * The language model never sees coordinates: it reads and writes pose tokens. This module
 * turns the 20 key frames of a clip (frames 0, 10, ..., 190) into one latent vector per
 * key frame with a stack of dilated 1D convolutions (kernel 2, dilations 1, 2, 4:
 * receptive field 8 key frames, causal or centred; pointwise blocks may sit between them,
 * adding depth but not reach), quantizes each latent with a cascade of `depth` codebooks
 * (each one quantizing the residual left by the ones before), and decodes the summed codes
 * with a mirror stack into 36 normalized coordinates plus 18 presence logits, so a decoded
 * pose says which keypoints are absent. Decoding with the first `levels` codebooks only
 * gives a coarser pose (the model is trained with quantizer dropout so that it does).
 *
 * Training (EMA codebooks, dead-code reset, straight-through gradients, AdamW) and the
 * pipeline share one forward path. A dr_rvq holds its own work buffers, grown on demand:
 * one model must not be used from two threads at once. Design and measured figures:
 * docs/MODELS.md, "Residual VQ-VAE". */
#ifndef DIRECTOR_MODELS_RVQ_H
#define DIRECTOR_MODELS_RVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "pose/skeleton.h"

#define DR_RVQ_MAX_DEPTH 16
#define DR_RVQ_MAX_BLOCKS 16 /* residual blocks per stack */
#define DR_RVQ_MAX_DILATION 64

typedef struct dr_rvq dr_rvq; /* opaque */
struct dr_params;

/* ---- the pipeline API ---- */

/* Load a model saved by dr_rvq_save (or a training checkpoint). */
int dr_rvq_load(dr_rvq **out, const char *path, dr_err *err);
void dr_rvq_free(dr_rvq *m);
int dr_rvq_depth(const dr_rvq *m);
int dr_rvq_codebook_size(const dr_rvq *m);
int dr_rvq_num_keyframes(const dr_rvq *m); /* 20 */

/* B clips x 20 key-frame poses (pixels on a width x height canvas) -> tokens[B][20][depth]. */
int dr_rvq_encode(dr_rvq *m, const dr_pose *keyframes, int B, int width, int height, int *tokens, dr_err *err);
/* tokens[B][20][depth]; only the first `levels` levels are used (1 <= levels <= depth) ->
 * poses on a width x height canvas, missing keypoints (0, 0, 0), present ones confidence 1.
 * A token outside [0, codebook_size) is refused with DR_ERANGE naming its position. */
int dr_rvq_decode(dr_rvq *m, const int *tokens, int B, int levels, int width, int height, dr_pose *keyframes,
                  dr_err *err);
/* Search width of encoding (dr_rvq_encode, dr_rvq_eval_batch): 1 (the default, and what
 * training uses) picks the nearest code level by level; a wider beam keeps that many
 * partial code sums per level and returns the one nearest to the encoder's latent, which
 * decodes closer to the input (docs/MODELS.md measures it). Decoding is unchanged. */
int dr_rvq_set_beam(dr_rvq *m, int beam, dr_err *err);
int dr_rvq_beam(const dr_rvq *m);
/* The quantizer alone: N latent vectors z [N, dim] -> tokens [N, depth] by a beam search
 * `beam` wide (1 = level by level), each row's code sum the nearest found to it. */
int dr_rvq_quantize_latents(const dr_rvq *m, const float *z, long N, int beam, int *tokens, dr_err *err);

/* ---- building and training ---- */

typedef struct dr_rvq_config {
    int depth;          /* codebooks (6) */
    int codebook_size;  /* codes per codebook (512) */
    int dim;            /* latent / code vector size */
    int channels;       /* width of the convolution stacks */
    int num_keyframes;  /* 20 */
    bool causal;        /* convolutions see only earlier key frames (true) or both sides */
    int num_blocks;     /* residual blocks per stack (3) */
    int dilation[DR_RVQ_MAX_BLOCKS]; /* per block: kernel-2 convolution of this dilation over
                                      * key frames, or 0 for a pointwise (kernel 1) block; the
                                      * receptive field is 1 + the sum (default 1, 2, 4: 8) */
} dr_rvq_config;

/* Key frames one latent draws on: 1 + the sum of the blocks' dilations. */
int dr_rvq_receptive_field(const dr_rvq_config *c);

dr_rvq_config dr_rvq_default_config(void);
/* A freshly initialised model (weights from `seed`; codebooks are initialised from the
 * data at the first training step). */
int dr_rvq_create(dr_rvq **out, const dr_rvq_config *cfg, uint64_t seed, dr_err *err);
const dr_rvq_config *dr_rvq_get_config(const dr_rvq *m);
/* Number of trainable weights (encoder + decoder) and of codebook entries. */
long dr_rvq_num_weights(const dr_rvq *m);
/* The parameter table (weights, then per level codebook / EMA count / EMA sum), for
 * gradient checks and tooling; gradients exist after the first dr_rvq_loss/train_step. */
struct dr_params *dr_rvq_params(dr_rvq *m);
/* Save the model (weights, codebooks and their EMA statistics) as safetensors. */
int dr_rvq_save(const dr_rvq *m, const char *path, dr_err *err);

typedef struct dr_rvq_train_opts {
    float lr;                /* learning rate of this step (the caller runs the schedule) */
    float weight_decay;      /* AdamW decoupled decay on weights */
    float grad_clip;         /* max global gradient norm; 0 = off */
    float commit_beta;       /* commitment loss weight (0.02) */
    float presence_weight;   /* presence BCE weight (0.1) */
    float ema_decay;         /* codebook EMA decay (0.99) */
    float ema_eps;           /* Laplace smoothing of EMA counts (1e-5) */
    float dead_threshold;    /* EMA count below which a code is dead and re-seeded (0.5) */
    float quantizer_dropout; /* probability that a clip trains with a random 1..depth levels (0.5) */
} dr_rvq_train_opts;

dr_rvq_train_opts dr_rvq_default_train_opts(void);

typedef struct dr_rvq_stats {
    double loss;         /* total objective */
    double rec;          /* masked coordinate MSE (normalized units) */
    double presence;     /* presence BCE */
    double commit;       /* commitment term before the beta weight */
    double recon_px;     /* mean per-joint error over present keypoints, pixels of the canvas */
    double presence_acc; /* fraction of keypoints whose presence is predicted right */
    double perplexity[DR_RVQ_MAX_DEPTH]; /* exp(entropy of code usage) per level in the batch */
    int dead[DR_RVQ_MAX_DEPTH];          /* codes re-seeded at this step per level */
} dr_rvq_stats;

/* One training step on B clips of 20 key frames each: forward with quantizer dropout,
 * masked MSE + presence BCE + commitment, backward with the straight-through estimator,
 * AdamW on the weights (`step` is 1-based, for bias correction), EMA codebook update and
 * dead-code reset. `rng` drives every random choice (dropout levels, re-seeded codes). */
int dr_rvq_train_step(dr_rvq *m, const dr_pose *keyframes, int B, int width, int height,
                      const dr_rvq_train_opts *opts, long step, dr_rng *rng, dr_rvq_stats *stats, dr_err *err);

/* Loss of the full model and its gradient without updating anything (for gradient checks
 * and validation): forward through `levels` levels for every clip, backward into the
 * weight gradients (zeroed first) when `backward` is set. Codebooks are not changed. */
int dr_rvq_loss(dr_rvq *m, const dr_pose *keyframes, int B, int width, int height, int levels,
                const dr_rvq_train_opts *opts, bool backward, dr_rvq_stats *stats, dr_err *err);

/* Accumulated evaluation figures over many batches, for 1..depth levels at once. */
typedef struct dr_rvq_eval {
    int depth, codebook_size;
    double err_px_sum[DR_RVQ_MAX_DEPTH];   /* sum of per-joint pixel errors, decoding with l+1 levels */
    double presence_ok[DR_RVQ_MAX_DEPTH];  /* keypoints whose presence was predicted right */
    long joints;                           /* present keypoints seen */
    long keypoints;                        /* keypoints seen (frames x 18) */
    /* with a reference (the clean twin of noisy input): the same errors measured against the
     * reference, and the input's own distance to it (the noise level), over the keypoints
     * present in both */
    double ref_err_px_sum[DR_RVQ_MAX_DEPTH];
    double input_ref_px_sum;
    long ref_joints;
    long *code_counts;                     /* [depth][codebook_size] usage, malloc'd */
} dr_rvq_eval;

int dr_rvq_eval_init(dr_rvq_eval *ev, const dr_rvq *m);
void dr_rvq_eval_free(dr_rvq_eval *ev);
/* Encode B clips, decode them with 1..depth levels and accumulate the errors, measured in
 * pixels of the given canvas. reference (may be NULL) holds the same key frames without
 * detector noise; the decoded poses are then also measured against it. */
int dr_rvq_eval_batch(dr_rvq *m, const dr_pose *keyframes, const dr_pose *reference, int B, int width, int height,
                      dr_rvq_eval *ev, dr_err *err);
double dr_rvq_eval_error_px(const dr_rvq_eval *ev, int levels);
double dr_rvq_eval_ref_error_px(const dr_rvq_eval *ev, int levels); /* 0 levels: the input itself */
double dr_rvq_eval_presence_acc(const dr_rvq_eval *ev, int levels);
double dr_rvq_eval_perplexity(const dr_rvq_eval *ev, int level); /* level 0-based */
int dr_rvq_eval_used_codes(const dr_rvq_eval *ev, int level);

/* Training checkpoints: the model plus AdamW moments, the step and a caller state string. */
int dr_rvq_save_checkpoint(const dr_rvq *m, const char *path, long step, const char *train_state_json,
                           dr_err *err);
/* Rebuild a model from a checkpoint (or a plain model file, which gives step 0). */
int dr_rvq_load_checkpoint(dr_rvq **out, const char *path, long *step, char **train_state_json, dr_err *err);

/* Key frames of a 200-frame clip: frames 0, 10, ..., 190 copied into out[20]. */
void dr_rvq_keyframes_of_clip(const dr_pose *clip, dr_pose *out);

/* Tokens files: {"format": "director-pose-tokens", "version": 1, "depth", "codebook_size",
 * "keyframes": [[t0, ..., t_{depth-1}], ...]} for one clip of `num_keyframes` key frames. */
int dr_rvq_tokens_write(const char *path, const int *tokens, int num_keyframes, int depth, int codebook_size,
                        dr_err *err);
/* Reads a tokens file; *tokens is malloc'd [num_keyframes][depth]. Every token is checked
 * against the file's codebook_size. */
int dr_rvq_tokens_read(const char *path, int **tokens, int *num_keyframes, int *depth, int *codebook_size,
                       dr_err *err);
/* The same from memory; `name` names the input in errors. */
int dr_rvq_tokens_parse(const char *text, size_t len, const char *name, int **tokens, int *num_keyframes, int *depth,
                        int *codebook_size, dr_err *err);

#endif
