/* protocol.h - one row of the evaluation table: the text-to-motion metrics over replications.
 *
 * `director eval` embeds, for each of n test prompts, its subject text and S generated motions
 * (or the real motion, S = 1, for the ground-truth row), and a reference set of real motion
 * embeddings. dr_eval_measure then runs R replications of the protocol of Guo et al. 2022:
 * replication r takes generated sample r mod S of every prompt (so with S >= R each
 * replication scores different generations, as the reference protocol's re-generation does),
 * deals the prompts into batches of 32 in an order drawn from the seed, and computes
 * R-precision top-1/2/3, MM-Dist, FID against the reference set and Diversity; MultiModality
 * uses all S samples of every prompt. Each figure is reported as mean and 95% interval.
 * Sizes below the reference protocol's are clamped and recorded in the row, never hidden: a
 * batch is min(32, n), Diversity pairs min(300, n), MultiModality pairs min(10, S). */
#ifndef DIRECTOR_EVAL_PROTOCOL_H
#define DIRECTOR_EVAL_PROTOCOL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "eval/metrics.h"

typedef struct dr_eval_stat {
    double mean, ci95;
} dr_eval_stat;

typedef struct dr_eval_protocol {
    int replications;    /* R (the reference protocol uses 20) */
    int batch;           /* R-precision batch (32) */
    int diversity_pairs; /* 300 */
    int mm_pairs;        /* 10 */
    uint64_t seed;
} dr_eval_protocol;

dr_eval_protocol dr_eval_protocol_default(void);

typedef struct dr_eval_row {
    int prompts, samples, replications;
    int batch, diversity_pairs, mm_pairs; /* as used, after clamping (0 = metric not computed) */
    bool has_rprec, has_fid, has_mm;
    dr_eval_stat top[DR_EVAL_TOP_K], mm_dist, fid, diversity, multimodality;
} dr_eval_row;

/* text [n, P]; motion [n, S, P]; ref [nr, P]. R-precision needs n >= 2, FID n >= 2 and
 * nr >= 2, MultiModality S >= 2; what cannot be computed is flagged off in the row, and only
 * n < 1 or bad sizes are errors. */
int dr_eval_measure(const float *text, const float *motion, int n, int S, int P, const float *ref, int nr,
                    const dr_eval_protocol *proto, dr_eval_row *row, dr_err *err);

#endif
