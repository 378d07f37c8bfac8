/* metrics.h - the figures a text-to-motion system is judged by, and pose-quality figures.
 *
 * Two families. The embedding metrics follow the text-to-motion protocol of Guo et al. 2022
 * (HumanML3D `final_evaluations.py`, also used by T2M-GPT, MoMask, MotionGPT): texts and
 * motions are mapped by a learned evaluator (eval/evaluator.h) to vectors, and
 *   R-precision  for each text of a batch of 32 (text, motion) pairs, the 32 motions are
 *                ranked by Euclidean distance; top-k = share whose own motion is among the
 *                first k;
 *   FID          Frechet distance between Gaussians fitted to two embedding sets,
 *                |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2));
 *   MM-Dist      mean distance between a text and its motion;
 *   Diversity    mean distance between two random subsets of `pairs` motions;
 *   MultiModality for each prompt, mean distance between two random subsets of `pairs` of its
 *                generated motions, averaged over prompts.
 * Each is repeated over replications and reported as mean +- 1.96 std / sqrt(R) (numpy's
 * population std, as the reference code). The pose-level figures need no evaluator: limb-length
 * variation over time, jitter, foot sliding and the share of keypoints inside the frame,
 * accumulated clip by clip. Everything here is computed in double precision; none of it
 * allocates more than O(dim^2) and nothing prints. */
#ifndef DIRECTOR_EVAL_METRICS_H
#define DIRECTOR_EVAL_METRICS_H

#include "core/error.h"
#include "core/rng.h"
#include "pose/skeleton.h"

#define DR_EVAL_TOP_K 3

/* ---- embedding metrics; embeddings are row-major [n, dim] float arrays ---- */

/* Euclidean distance between two dim-vectors, in double. */
double dr_eval_dist(const float *a, const float *b, int dim);

/* R-precision and MM-Dist over n (text, motion) pairs, item i of text matching item i of
 * motion. order (may be NULL = identity) is a permutation of 0..n-1 that deals the items into
 * consecutive batches of `batch`; a last partial batch is dropped (as the reference data
 * loader does), so at least `batch` items are needed. top[k] receives the share of texts whose
 * own motion ranks within the first k+1 (k < DR_EVAL_TOP_K); ties between equal distances go
 * to the item earlier in the batch. *mm_dist (may be NULL) the mean text-motion distance over
 * the same items. *used (may be NULL) the items counted. */
int dr_eval_r_precision(const float *text, const float *motion, int n, int dim, int batch, const int *order,
                        double top[DR_EVAL_TOP_K], double *mm_dist, int *used, dr_err *err);

/* Frechet distance between the Gaussians of x [nx, dim] and y [ny, dim] (nx, ny >= 2; the
 * covariances use n - 1, as numpy.cov). The matrix square root comes from symmetric
 * eigen-decompositions (cyclic Jacobi): with A = S1^(1/2), tr (S1 S2)^(1/2) = tr (A S2 A)^(1/2),
 * and A S2 A is symmetric positive semi-definite. Tiny negative eigenvalues from rounding are
 * clamped to zero. */
int dr_eval_fid(const float *x, int nx, const float *y, int ny, int dim, double *fid, dr_err *err);

/* Diversity: two independent draws of `pairs` distinct indices of x [n, dim] (without
 * replacement each), mean distance between x[a_i] and x[b_i]. Needs n >= pairs >= 1. */
int dr_eval_diversity(const float *x, int n, int dim, int pairs, dr_rng *rng, double *out, dr_err *err);

/* MultiModality over x [n_prompts, samples, dim]: per prompt two independent draws of `pairs`
 * distinct sample indices, mean distance; then the mean over prompts. Needs
 * samples >= pairs >= 1 and n_prompts >= 1. */
int dr_eval_multimodality(const float *x, int n_prompts, int samples, int dim, int pairs, dr_rng *rng,
                          double *out, dr_err *err);

/* Mean and 95% confidence half-width of R values: 1.96 * std / sqrt(R), std with divisor R. */
void dr_eval_mean_ci(const double *values, int R, double *mean, double *ci95);

/* ---- symmetric eigen-decomposition (exposed for tests) ----
 * a [n, n] symmetric, row-major, destroyed. Eigenvalues to w [n] (ascending); eigenvectors to
 * the columns of v [n, n] (may be NULL). Cyclic Jacobi rotations until the off-diagonal mass is
 * below 1e-15 of the matrix norm (or 100 sweeps); returns the sweeps used, or DR_ENOMEM. */
int dr_eval_jacobi_eigen(double *a, int n, double *w, double *v);

/* ---- pose-level figures, accumulated over clips ---- */
typedef struct dr_pose_quality {
    double bone_cv_sum; long bone_cv_n;   /* coefficient of variation of each limb's 2D length */
    double jitter_sum; long jitter_n;     /* |p(t+1) - 2 p(t) + p(t-1)| per keypoint, px/frame^2 */
    double slide_sum; long slide_n;       /* ankle speed near the clip's lowest ankle height, px/frame */
    long inside, present;                 /* present keypoints, and those inside the canvas */
    int clips;
} dr_pose_quality;

typedef struct dr_pose_quality_summary {
    double bone_cv;      /* mean over limbs and clips (0 = rigid limbs) */
    double jitter;       /* px / frame^2 */
    double foot_slide;   /* px / frame */
    double inside_frame; /* share of present keypoints with 0 <= x < W and 0 <= y < H */
} dr_pose_quality_summary;

void dr_pose_quality_init(dr_pose_quality *q);
/* Add one clip of F poses on a width x height canvas. A limb counts when both of its ends are
 * present in at least 2 frames; a jitter term when the keypoint is present in 3 consecutive
 * frames. An ankle is in contact when its y (image y grows downwards) is within
 * contact_px of the lowest ankle position of the clip (either ankle); its speed is
 * |p(t+1) - p(t)| over frames where it is present at t and t+1 and in contact at t. */
void dr_pose_quality_add(dr_pose_quality *q, const dr_pose *frames, int F, int width, int height, float contact_px);
void dr_pose_quality_summarize(const dr_pose_quality *q, dr_pose_quality_summary *out);

/* Contact threshold used by director eval: 2% of the canvas height (6.4 px at 320). */
#define DR_EVAL_CONTACT_FRACTION 0.02f

#endif
