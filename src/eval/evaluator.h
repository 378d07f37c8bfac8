/* evaluator.h - the learned text-motion evaluator that `director eval` measures with.
 *
 * The text-to-motion metrics (eval/metrics.h) compare texts and motions in the embedding space
 * of an evaluator: a text encoder and a motion encoder trained contrastively on the TRAIN split
 * only, with their own seed, and sharing no weight with any model the generator uses (an
 * evaluator that shared weights with the generator would grade its own homework). The text side
 * is the CLIP text transformer of models/text_encoder.h, called with the evaluator's own config
 * and weights. The motion side lives here: per-frame features of a 200-frame clip (normalized
 * pose 36, presence 18, velocity 36), every 2nd frame -> linear + GELU -> strided conv1d + GELU
 * layers (100 -> 50 -> 25 -> 13 frames) -> mean over time -> linear projection. Both embeddings are
 * L2-normalized, the space the symmetric InfoNCE loss (dr_clip_loss_*) shapes, so distances lie
 * in [0, 2]. The evaluator reads the generator's subject prompts.
 *
 * One safetensors file holds both towers (text tensors under their Hugging Face names,
 * motion tensors under "motion.*", the temperature as "logit_scale") and, in its metadata, the
 * two configs and a copy of the tokenizer (tokenizer.json text), so the evaluator stays fixed
 * even when models/tokenizer.json is retrained. An evaluator is used from one thread at a time
 * (it owns its activation buffers). */
#ifndef DIRECTOR_EVAL_EVALUATOR_H
#define DIRECTOR_EVAL_EVALUATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "pose/skeleton.h"

#define DR_EVAL_MOTION_FEAT 90 /* pose 36 + presence 18 + velocity 36 per frame */

typedef struct dr_motionenc_config {
    int frames;     /* clip length the encoder reads (200) */
    int stride;     /* the layers see every stride-th frame's features (velocities use every frame) */
    int dim;        /* channels of every layer */
    int layers;     /* strided conv1d layers (stride 2) */
    int kernel;     /* conv kernel width */
    int proj_dim;   /* embedding size; equals the text side's */
} dr_motionenc_config;

typedef struct dr_evaluator dr_evaluator; /* opaque */

/* Load an evaluator file written by dr_evaluator_train. */
int dr_evaluator_load(dr_evaluator **out, const char *path, dr_err *err);
void dr_evaluator_free(dr_evaluator *ev);
/* Embedding size. */
int dr_evaluator_dim(const dr_evaluator *ev);
/* An untrained evaluator from a file's metadata (kind and config JSON, as dr_model_file_info
 * returns them; `path` names the file in messages): validated and size-limited, the tokenizer
 * copy loaded. dr_evaluator_load is this plus the weights. */
int dr_evaluator_from_config(dr_evaluator **out, const char *kind, const char *cfg, const char *path, dr_err *err);
/* Clip length the motion encoder expects. */
int dr_evaluator_frames(const dr_evaluator *ev);
/* How the file was trained, as a JSON object (data, steps, batch, lr, seed, val_top1, ...),
 * or "" when the file does not say. */
const char *dr_evaluator_training_info(const dr_evaluator *ev);

/* n texts -> out [n, dim], L2-normalized. Over-long texts are truncated to the encoder's
 * max_len tokens; invalid UTF-8 is an error naming the text's index. */
int dr_evaluator_embed_texts(dr_evaluator *ev, const char *const *texts, int n, float *out, dr_err *err);
/* n clips of `frames` poses each (pixels of a width x height canvas; frames must equal
 * dr_evaluator_frames) -> out [n, dim], L2-normalized. */
int dr_evaluator_embed_motions(dr_evaluator *ev, const dr_pose *clips, int n, int frames, int width, int height,
                               float *out, dr_err *err);

/* Per-frame input features of one clip: feat [frames, DR_EVAL_MOTION_FEAT] (exposed for
 * tests). Velocity is 10 x the frame-to-frame change of the normalized coordinates, 0 at
 * frame 0 and where the keypoint is missing in either frame. */
void dr_evaluator_motion_features(const dr_pose *clip, int frames, int width, int height, float *feat);

/* ---- training (`director train eval`) ---- */
typedef struct dr_evaluator_train_opts {
    const char *data_dir;       /* dataset folder (pose/dataset.h); train split for training, val for checks */
    const char *tokenizer_path; /* tokenizer.json, copied into the evaluator file */
    const char *out_path;       /* evaluator .safetensors; checkpoints at <out>.ckpt */
    long steps;
    int batch;
    float lr;
    uint64_t seed;              /* the evaluator's own seed (default differs from every generator seed) */
    bool resume, quiet;
    int text_dim, text_layers, text_heads, text_len;
    int motion_dim, motion_layers, frame_stride;
    int proj_dim;
    int val_every, ckpt_every;
    int val_clips;              /* val clips for the R-precision check (multiple of 32) */
    double max_seconds;         /* stop (saving the model) after this much wall time; 0 = no limit */
} dr_evaluator_train_opts;

void dr_evaluator_train_defaults(dr_evaluator_train_opts *o);
/* Train and write out_path atomically. Progress on stderr through dr_progress (label
 * "train eval": loss, temperature, val top-1/top-3). */
int dr_evaluator_train(const dr_evaluator_train_opts *o, dr_err *err);

/* ---- gradient checks ----
 * Contrastive loss of B (text ids, clip) pairs under the evaluator's current weights, with the
 * parameter gradients accumulated into the evaluator's gradient buffers when backward is set
 * (they are zeroed first). The test perturbs the buffers behind dr_evaluator_tensor. */
int dr_evaluator_create(dr_evaluator **out, int vocab_size, int bos_id, int eos_id, int pad_id, int text_len,
                        int text_dim, int text_layers, int text_heads, const dr_motionenc_config *mcfg, uint64_t seed,
                        dr_err *err);
int dr_evaluator_loss(dr_evaluator *ev, const int *ids, const int *group, const dr_pose *clips, int B, int width,
                      int height, bool backward, float *loss, dr_err *err);
/* Value and gradient buffers of a named tensor (text names as in text_encoder.h, motion
 * names "motion.*", "logit_scale"); NULL when absent. */
float *dr_evaluator_tensor(dr_evaluator *ev, const char *name, float **grad, long *numel);

#endif
