/* protocol.c - replications of the text-to-motion protocol for one row of the table. */
#include "eval/protocol.h"

#include <stdlib.h>
#include <string.h>

dr_eval_protocol dr_eval_protocol_default(void) {
    dr_eval_protocol p = {.replications = 20, .batch = 32, .diversity_pairs = 300, .mm_pairs = 10, .seed = 1};
    return p;
}

int dr_eval_measure(const float *text, const float *motion, int n, int S, int P, const float *ref, int nr,
                    const dr_eval_protocol *proto, dr_eval_row *row, dr_err *err) {
    memset(row, 0, sizeof *row);
    const int R = proto->replications;
    if (n < 1 || S < 1 || P < 1 || R < 1 || proto->batch < 2 || proto->diversity_pairs < 1 || proto->mm_pairs < 1)
        return dr_err_set(err, DR_EINVAL, "eval: bad protocol sizes (%d prompts, %d samples, dim %d, %d replications)", n,
                          S, P, R);
    row->prompts = n;
    row->samples = S;
    row->replications = R;
    row->batch = n >= 2 ? (n < proto->batch ? n : proto->batch) : 0;
    row->diversity_pairs = n >= 2 ? (n < proto->diversity_pairs ? n : proto->diversity_pairs) : 0;
    row->mm_pairs = S >= 2 ? (S < proto->mm_pairs ? S : proto->mm_pairs) : 0;
    row->has_rprec = row->batch >= 2;
    row->has_fid = n >= 2 && nr >= 2;
    row->has_mm = row->mm_pairs >= 1;
    double *v = calloc((size_t)R * 8, sizeof(double));
    float *gen = malloc(sizeof(float) * (size_t)n * P);
    int *order = malloc(sizeof(int) * (size_t)n);
    if (!v || !gen || !order) {
        free(v), free(gen), free(order);
        return dr_err_set(err, DR_ENOMEM, "eval: out of memory");
    }
    /* v[k * R + r]: k = top1, top2, top3, mm_dist, fid, diversity, multimodality */
    int rc = DR_OK;
    for (int r = 0; r < R && !rc; r++) {
        dr_rng rng = dr_rng_fork(proto->seed, (uint64_t)r);
        int s = r % S;
        for (int i = 0; i < n; i++) memcpy(gen + (size_t)i * P, motion + ((size_t)i * S + s) * P, sizeof(float) * P);
        if (row->has_rprec) {
            for (int i = 0; i < n; i++) order[i] = i;
            dr_rng_shuffle(&rng, order, n);
            double top[DR_EVAL_TOP_K], mm;
            rc = dr_eval_r_precision(text, gen, n, P, row->batch, order, top, &mm, NULL, err);
            for (int k = 0; k < DR_EVAL_TOP_K; k++) v[k * R + r] = top[k];
            v[3 * R + r] = mm;
        } else {
            v[3 * R + r] = dr_eval_dist(text, gen, P); /* n == 1: the one text-motion distance */
        }
        if (!rc && row->has_fid) rc = dr_eval_fid(ref, nr, gen, n, P, &v[4 * R + r], err);
        if (!rc && row->diversity_pairs) rc = dr_eval_diversity(gen, n, P, row->diversity_pairs, &rng, &v[5 * R + r], err);
        if (!rc && row->has_mm) rc = dr_eval_multimodality(motion, n, S, P, row->mm_pairs, &rng, &v[6 * R + r], err);
    }
    if (!rc) {
        dr_eval_stat *out[7] = {&row->top[0], &row->top[1], &row->top[2], &row->mm_dist, &row->fid, &row->diversity,
                                &row->multimodality};
        for (int k = 0; k < 7; k++) dr_eval_mean_ci(v + (size_t)k * R, R, &out[k]->mean, &out[k]->ci95);
    }
    free(v);
    free(gen);
    free(order);
    return rc;
}
