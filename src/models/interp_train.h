/* interp_train.h - training the text encoder and the pose interpolator, and measuring motion.
 *
 * dr_textenc_train: CLIP-style contrastive training of the text encoder against a small
 * motion encoder (per-frame linear -> two strided conv1d -> mean pool -> projection) over
 * the clips of a dataset's train split, symmetric InfoNCE with a learnable temperature;
 * captions that are identical within a batch count as positives of each other.
 * dr_interp_train: DDPM training of the interpolator on the train split with ground-truth
 * key frames (every 10th frame) and the frozen text encoder's per-token states.
 * Both report through dr_progress, validate on the val split, write checkpoints
 * (<out>.ckpt, and the model file <out> itself, refreshed at every checkpoint) and resume from them; every random draw of step s comes from
 * dr_rng_fork(seed, s), so a resumed run continues exactly as an uninterrupted one.
 * dr_motion_metrics: the figures of `director interp eval` (position, velocity, acceleration
 * error to the truth, jerk, foot sliding, bone-length variation, key-frame error). */
#ifndef DIRECTOR_MODELS_INTERP_TRAIN_H
#define DIRECTOR_MODELS_INTERP_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "nn/nn.h"
#include "nn/params.h"
#include "pose/skeleton.h"

typedef struct dr_textenc_train_opts {
    const char *data_dir, *tokenizer_path, *out_path;
    long steps;
    int batch;
    float lr;
    uint64_t seed;
    bool resume, quiet;
    int dim, layers, heads, max_len, proj_dim, motion_dim;
    int val_every, ckpt_every;
    float subject_prob; /* share of steps' captions drawn from the short "subject" caption */
} dr_textenc_train_opts;

void dr_textenc_train_defaults(dr_textenc_train_opts *o);
int dr_textenc_train(const dr_textenc_train_opts *o, dr_err *err);

typedef struct dr_interp_train_opts {
    const char *data_dir, *tokenizer_path, *textenc_path, *out_path;
    bool no_text;
    long steps;
    int batch;
    float lr;
    uint64_t seed;
    bool resume, quiet;
    int dim, layers, heads, mlp_dim;
    int val_every, ckpt_every;
    float subject_prob;
    float smooth_targets; /* > 0: low-pass the training clips over time with this Gaussian sigma
                             (frames) before they become x0 (the key frames stay the raw frames,
                             as at test time): no jitter to learn */
    int guide, spectral_skip; /* dr_interp_config's choices (defaults: the config's) */
    float out_smooth;

} dr_interp_train_opts;

void dr_interp_train_defaults(dr_interp_train_opts *o);
int dr_interp_train(const dr_interp_train_opts *o, dr_err *err);

/* The motion encoder the text encoder is trained against: per clip, every 5th frame's
 * normalized pose, its velocity to the next sampled frame and the presence mask (90 numbers,
 * 40 steps) -> linear + GELU -> conv1d(k 5, stride 2) + GELU twice -> mean over time ->
 * linear to the text projection size. Also holds CLIP's learnable log temperature. */
#define DR_MOTION_STRIDE 5
#define DR_MOTION_STEPS (DR_CLIP_FRAMES / DR_MOTION_STRIDE)
#define DR_MOTION_FEAT (DR_POSE_DIM * 2 + DR_NUM_KEYPOINTS)
typedef struct dr_motion_encoder {
    int C, P, maxB;
    dr_params params; /* "motion.*" tensors and "logit_scale"; grads and moments allocated */
    float *in;        /* [maxB, DR_MOTION_STEPS, DR_MOTION_FEAT]: fill with _features, then _forward */
    float *h0, *a0, *c1, *a1, *c2, *a2, *pooled, *emb; /* emb [B, P] = the output */
    float *d0, *d1, *d2, *dp, *conv_scratch;
    dr_conv1d_shape s1, s2;
    int B, T1, T2;
} dr_motion_encoder;

struct dr_dataset;
int dr_motion_encoder_create(dr_motion_encoder *me, int C, int P, int max_batch, uint64_t seed, dr_err *err);
void dr_motion_encoder_free(dr_motion_encoder *me);
/* Features of one 200-frame clip of ds into in [DR_MOTION_STEPS, DR_MOTION_FEAT]. */
void dr_motion_encoder_features(const struct dr_dataset *ds, const dr_pose *clip, float *in);
void dr_motion_encoder_forward(dr_motion_encoder *me, int B);
/* Accumulates parameter gradients from demb [B, P]. */
void dr_motion_encoder_backward(dr_motion_encoder *me, const float *demb);

/* Text -> text-encoder input ids ([bos] text [eos], padded to len); shared by training, the
 * CLI and the pipeline. tok is a dr_tokenizer. Over-long text is truncated to fit. */
struct dr_tokenizer;
struct dr_textenc_config;
int dr_textenc_tokenize(const struct dr_tokenizer *tok, const struct dr_textenc_config *cfg, const char *text,
                        int *ids, int len, dr_err *err);

/* ---- motion metrics: accumulate clip by clip, then read the means ---- */
typedef struct dr_motion_metrics {
    double pos_sum, pos_n;      /* px, keypoints present in truth and prediction */
    double vel_sum, vel_n;      /* |v_pred - v_true|, px/frame */
    double acc_sum, acc_n;      /* |a_pred - a_true|, px/frame^2 */
    double jerk_sum, jerk_n;    /* |third difference| of the prediction, px/frame^3 */
    double jerr_sum, jerr_n;    /* |j_pred - j_true|, third differences, px/frame^3: jerk judged
                                   against the truth's own, not "lower is better" */
    double slide_sum, slide_n;  /* ankle horizontal speed while in ground contact, px/frame */
    double bone_sum, bone_n;    /* std / mean of each limb's length over the clip */
    double kf_sum, kf_n;        /* px at the key frames, against the given key frames */
    double pres_ok, pres_n;     /* keypoint presence agreeing with the truth */
    int clips;
} dr_motion_metrics;

/* pred and truth: F poses (pixels). kf_index: the K key frames (their given poses are the
 * truth's). truth may equal pred (the reference row: its own jerk, sliding, bone variation). */
void dr_motion_metrics_add(dr_motion_metrics *m, const dr_pose *pred, const dr_pose *truth, int F,
                           const int *kf_index, int K);

#endif
