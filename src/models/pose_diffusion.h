/* pose_diffusion.h - the pose interpolator: a DDPM that densifies 20 key-frame poses into 200.
 *
 * The paper's third model (after Audio2Photoreal's guide-pose diffusion). A transformer over
 * the 200 frames denoises normalized poses (dr_pose_normalize, 36 numbers a frame):
 *   input   per frame: the noisy pose x_t (36) and the key-frame guide (55: the key frames
 *           interpolated (36, spline or linear, see below), their linearly interpolated
 *           presence (18), a key-frame flag),
 *           a linear layer plus a learned frame-position embedding;
 *   blocks  LayerNorm -> FiLM(timestep) -> self-attention over time; LayerNorm ->
 *           cross-attention to the context; LayerNorm -> FiLM(timestep) -> GELU MLP; all residual;
 *   context the 20 key frames as tokens (pose + presence, plus the position embedding of their
 *           frame index) and the text encoder's per-token states (linear to the model width),
 *           one LayerNorm shared by all blocks;
 *   output  LayerNorm -> linear to 36, low-passed over time by a fixed Gaussian (out_smooth),
 *           added to a skip path: guide + the least-squares estimate of x0 - guide from x_t
 *           under a Gaussian prior. The guide is the key frames' Catmull-Rom spline (or, in
 *           older files, their linear interpolation); the prior is stationary over time with a
 *           per-DCT-frequency variance measured on the training data ("prior_spec"), so the
 *           skip path passes x_t's low frequencies at small t and none of its high-frequency
 *           noise (the spectral skip; a scalar white prior, EDM's c_skip, in older files and
 *           for dropped key frames). The model predicts the clean pose x0 (x0 prediction:
 *           motion diffusion (MDM, Audio2Photoreal) prefers it, and it lets the loss add a
 *           velocity term) as a correction of that estimate: an untrained model is the spline
 *           plus a Wiener filter of x_t, and training time goes into the motion.
 * Noise schedule: cosine (Nichol & Dhariwal 2021), 1000 steps. Loss: masked MSE on x0 over the
 * present keypoints plus a weighted MSE on frame-to-frame velocity (clips whose key frames
 * were dropped weigh cfg.uncond_weight). Classifier-free guidance:
 * during training the key-frame condition (guide + tokens) and the text condition are each
 * replaced by zeros at random; sampling combines three predictions with separate scales
 *   x0 = x0(-,-) + s_kf (x0(kf,-) - x0(-,-)) + s_text (x0(kf,text) - x0(kf,-)),
 * so s_kf = s_text = 1 is the plain conditional model and 0, 0 the unconditional one.
 * Samplers: full ancestral DDPM (1000 steps) and deterministic DDIM (eta = 0, any step count).
 * Optionally (on by default in dr_interp_run) every x0 estimate is pinned to the key frames:
 * the residuals at the key frames, linearly interpolated between them, are added to all frames,
 * so the output passes through the present key-frame coordinates exactly without kinks.
 * Missing keypoints: the model sees the presence of the key frames; the output keypoint is
 * present when it is present in the nearest key frame (ties go to the earlier one), and gets
 * that key frame's confidence. */
#ifndef DIRECTOR_MODELS_POSE_DIFFUSION_H
#define DIRECTOR_MODELS_POSE_DIFFUSION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "models/text_encoder.h"
#include "nn/params.h"
#include "pose/skeleton.h"

#define DR_INTERP_FRAME_COND 55 /* lerp pose 36 + lerp presence 18 + key-frame flag 1 */
#define DR_INTERP_KF_FEAT 54    /* key-frame token input: pose 36 + presence 18 */

typedef struct dr_interp_config {
    int frames;         /* 200 */
    int num_keyframes;  /* 20 */
    int dim, num_layers, num_heads, mlp_dim;
    int text_dim;       /* text encoder state width; 0 = no text condition (the ablation) */
    int text_len;       /* text tokens seen (the text encoder's max_len) */
    int diffusion_steps; /* T of the schedule (1000) */
    float vel_weight;   /* weight of the velocity term of the loss */
    /* Skip path (EDM's c_skip, in DDPM terms): the network adds to the linear least-squares
     * estimate of x0 from x_t, whose prior is the guide with per-coordinate std sigma_guided
     * (key frames given) or 0 with std sigma_free (dropped). 0 = off (files from before it). */
    float sigma_guided, sigma_free;
    float p_drop_kf, p_drop_text; /* classifier-free guidance drop probabilities */
    /* Loss weight of the clips trained without their key frames. Their error is ~100x the
     * guided one's; at 0.1 (files before this field) they still made two thirds of the loss
     * and its gradient, and the guided validation loss did not fall for 500 steps. */
    float uncond_weight;
    /* The guide the network corrects: DR_INTERP_GUIDE_LINEAR (files from before the choice) or
     * DR_INTERP_GUIDE_SPLINE (Catmull-Rom through the key frames, which alone beats linear
     * interpolation on dynamics; an untrained network then degrades to the spline). */
    int guide;
    /* Spectral skip path: with key frames given, the skip path is the least-squares estimate
     * of x0 under a Gaussian prior on x0 - guide that is stationary over time, diagonal in the
     * orthonormal DCT-II basis with the per-frequency variance of the tensor "prior_spec" [F]
     * (measured on the training data before training, never trained). A white prior (the
     * scalar sigma_guided) lets the skip path pass the high-frequency noise of x_t straight
     * into the x0 estimate, which the network must then learn to cancel; the measured
     * spectrum falls by orders of magnitude above the key-frame rate, so the spectral skip
     * low-passes x_t as much as the data warrant. 0 = scalar skip (older files). */
    int spectral_skip;
    /* > 0: the network's per-frame output is low-passed over time by a fixed Gaussian of this
     * sigma (frames; zero-padded, symmetric) before the skip path is added, so the learned
     * correction cannot carry frame-to-frame noise. 0 = off (older files). */
    float out_smooth;
} dr_interp_config;

#define DR_INTERP_GUIDE_LINEAR 0
#define DR_INTERP_GUIDE_SPLINE 1

/* Condition of a batch. Every pointer is per batch item. */
typedef struct dr_interp_cond {
    const float *kf;            /* [B, K, 54] key-frame pose (normalized) + presence */
    const int *kf_index;        /* [B, K] frame index of each key frame (increasing) */
    const float *frame_cond;    /* [B, F, 55] from dr_interp_guide() */
    const float *text;          /* [B, text_len, text_dim], or NULL when text_dim == 0 */
    const uint8_t *text_valid;  /* [B, text_len] */
    const float *keep_kf;       /* [B] 1 = key frames given, 0 = dropped (zeros) */
    const float *keep_text;     /* [B] same for the text */
} dr_interp_cond;

typedef struct dr_interp_acts {
    int max_batch, B;
    float *in_feat;             /* [N, 36 + 55] */
    float *res;                 /* [L + 1][N, D] */
    float *h1, *f1, *q, *k, *v, *att, *sa, *x2;  /* self-attention part, [L][...] */
    float *h2, *cq, *ck, *cv, *catt, *ca, *x3;   /* cross-attention part */
    float *h3, *f3, *m1, *g;                     /* MLP part */
    float *ln_mean, *ln_rstd;   /* [L][3][N] */
    float *ho, *ho_mean, *ho_rstd; /* output LayerNorm */
    float *ctx_raw, *ctx, *ctx_mean, *ctx_rstd; /* [B, Kc, D] */
    float *kf_lin, *txt_lin;    /* [B, K, D], [B, Lt, D] before keep/position */
    float *kf_in, *txt_in;      /* copies of the key-frame features and text states */
    uint8_t *ctx_valid;         /* [B, Kc] */
    float *temb_in, *t1, *t1a, *temb, *st; /* timestep MLP, [B, D] */
    float *ss;                  /* [L][2][B, 2D] FiLM scale/shift */
    /* keep flags and indices of the last forward */
    float *keep_kf, *keep_text;
    int *kf_index;
    /* backward scratch */
    float *d_res, *d_a, *d_b, *d_q, *d_k, *d_v, *d_big, *d_ctx, *d_ca, *d_ck, *d_cv, *d_ss, *d_st, *d_t;
    float *attn_scratch;
    float *out_raw, *d_out;     /* [N, 36] network output before the output low-pass, its gradient */
    float *skip_tmp;            /* [B, 2, F, 36] spectral skip scratch */
} dr_interp_acts;

typedef struct dr_interp {
    dr_interp_config cfg;
    dr_params params;
    dr_interp_acts acts;
    float *alpha_bar;            /* [T] cumulative products of the cosine schedule */
    float *dct;                  /* [F, F] orthonormal DCT-II (row k = frequency k), spectral skip only */
} dr_interp;

dr_interp_config dr_interp_default_config(int text_dim, int text_len);
int dr_interp_create(dr_interp *m, const dr_interp_config *cfg, dr_err *err);
void dr_interp_init_weights(dr_interp *m, uint64_t seed);
void dr_interp_free(dr_interp *m);
int dr_interp_alloc_acts(dr_interp *m, int max_batch, dr_err *err);
char *dr_interp_config_json(const dr_interp_config *cfg); /* malloc'd */
int dr_interp_config_parse(dr_interp_config *cfg, const char *json, const char *what, dr_err *err);
int dr_interp_save(const dr_interp *m, const char *path, dr_err *err);
int dr_interp_load(dr_interp *m, const char *path, dr_err *err);

/* The key-frame guide of one clip: from K key frames (normalized pose [K, 36], presence
 * [K, 18], increasing frame indices) the per-frame condition [F, 55] (may be NULL), the token
 * features [K, 54] (may be NULL), the linear interpolation [F, 36] (may be NULL: the baseline)
 * and the output presence rule [F, 18] (may be NULL). A keypoint missing on one side of a gap
 * holds the other side's value; frames before the first / after the last key frame hold it. */
void dr_interp_guide(const float *kf_pose, const float *kf_mask, const int *kf_index, int K, int F,
                     float *frame_cond, float *kf_feat, float *lerp, float *presence);

/* Catmull-Rom splines through the key frames, written over pose [F, stride] (its first 36
 * numbers a frame): uniform in each gap, end tangents by reflection, a missing neighbour key
 * frame treated like a missing end. Coordinates whose keypoint is missing on either side of
 * their gap are left as they are (the linear guide's hold rule). */
void dr_interp_spline(const float *kf_pose, const float *kf_mask, const int *kf_index, int K, int F, float *pose,
                      int stride);

/* The model's condition of one clip: dr_interp_guide, with the guide's pose replaced by the
 * spline when cfg->guide says so. */
void dr_interp_condition(const dr_interp_config *cfg, const float *kf_pose, const float *kf_mask, const int *kf_index,
                         float *frame_cond, float *kf_feat, float *presence);

/* Denoiser forward: x_t [B, F, 36] at timesteps t [B] -> predicted x0 [B, F, 36]. */
int dr_interp_forward(dr_interp *m, const float *x_t, const float *t, const dr_interp_cond *cond, int B,
                      float *x0_pred, dr_err *err);
/* Backward of the last forward from d x0_pred; accumulates into params.grad. */
void dr_interp_backward(dr_interp *m, const float *d_x0);

/* Diffusion loss of one batch: draws t and the noise from rng, runs forward and returns
 * the loss (x0 MSE + vel_weight * velocity MSE, means over present keypoints); *mse gets the
 * x0 part alone when non-NULL. x0 [B, F, 36] clean normalized poses, mask [B, F, 36] 1 where
 * the keypoint is present. train: also draw the classifier-free-guidance drops and run
 * backward into params.grad (validation passes false: nothing dropped, no backward). The
 * function points cond->keep_kf / keep_text at its scratch. */
float dr_interp_loss(dr_interp *m, const float *x0, const float *mask, dr_interp_cond *cond, int B, dr_rng *rng,
                     bool train, float *scratch, float *mse);
/* Floats of scratch dr_interp_loss needs for batch B. */
long dr_interp_loss_scratch_floats(const dr_interp *m, int B);

typedef struct dr_interp_opts {
    int steps;            /* DDIM steps (1..T); 0 = full ancestral DDPM over all T steps */
    float guidance_kf;    /* key-frame guidance scale (1 = plain conditional) */
    float guidance_text;  /* text guidance scale */
    uint64_t seed;
    bool inpaint;         /* pin every x0 estimate to the key frames (interpolated residuals) */
    int t_min;            /* stop the chain at noise level t_min and return its x0 estimate: the
                             steps below it add only fine detail, which on detector-jittered
                             training data is jitter (0 = the full chain) */
    float smooth;         /* Gaussian sigma (frames) applied to the model's correction of its
                             guide (spline or linear) in every x0 estimate; 0 = off */
} dr_interp_opts;

/* steps 10, guidance 1 / 1, seed 0, inpaint on, t_min 300, smooth 2 (see docs/MODELS.md). */
dr_interp_opts dr_interp_default_opts(void);

/* Sample one clip: cond for batch 1 (keep flags are ignored: guidance decides) -> x0 [F, 36]. */
int dr_interp_sample(dr_interp *m, const dr_interp_cond *cond, const dr_interp_opts *opts, float *out,
                     dr_err *err);

/* The pipeline entry: key frames (pixels of a width x height canvas; exactly cfg.num_keyframes
 * of them at kf_index, or evenly every frames/K frames when kf_index is NULL) and the prompt's
 * tokenizer ids (text ids may be NULL / 0 for an empty prompt; te may be NULL only for a
 * no-text model) -> out[cfg.frames] poses. num_keyframes other than the model's is an error. */
int dr_interp_run(dr_interp *m, dr_textenc *te, const int *text_ids, int n_text_ids, const dr_pose *keyframes,
                  int num_keyframes, const int *kf_index, int width, int height, const dr_interp_opts *opts,
                  dr_pose *out, dr_err *err);

/* The same from prompt text: tokenized with tok (a dr_tokenizer; NULL or an empty prompt =
 * no text; tok may be NULL for a no-text model). */
struct dr_tokenizer;
int dr_interp_run_prompt(dr_interp *m, dr_textenc *te, const struct dr_tokenizer *tok, const char *prompt,
                         const dr_pose *keyframes, int num_keyframes, const int *kf_index, int width, int height,
                         const dr_interp_opts *opts, dr_pose *out, dr_err *err);

/* The ablation: linear interpolation between the key frames (same presence rule). */
int dr_interp_linear(const dr_pose *keyframes, int num_keyframes, const int *kf_index, int frames, int width,
                     int height, dr_pose *out, dr_err *err);
/* The classical baseline: Catmull-Rom splines through the key frames (dr_interp_spline; same
 * presence rule). */
int dr_interp_catmull_rom(const dr_pose *keyframes, int num_keyframes, const int *kf_index, int frames, int width,
                          int height, dr_pose *out, dr_err *err);

#endif
