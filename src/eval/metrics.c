/* metrics.c - text-to-motion embedding metrics (Guo et al. 2022 protocol) and pose-quality figures.
 *
 * Plain double-precision loops rather than dr_sgemm: the matrices are small (dim x dim with dim
 * around 128) and FID subtracts nearly equal traces, which single precision would swamp. */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double dr_eval_dist(const float *a, const float *b, int dim) {
    double s = 0.0;
    for (int i = 0; i < dim; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return sqrt(s);
}

int dr_eval_r_precision(const float *text, const float *motion, int n, int dim, int batch, const int *order,
                        double top[DR_EVAL_TOP_K], double *mm_dist, int *used, dr_err *err) {
    if (dim < 1 || batch < 2)
        return dr_err_set(err, DR_EINVAL, "R-precision: needs dim >= 1 and batch >= 2 (got %d, %d)", dim, batch);
    if (n < batch)
        return dr_err_set(err, DR_EINVAL, "R-precision: %d pairs are fewer than one batch of %d", n, batch);
    int batches = n / batch;
    long hits[DR_EVAL_TOP_K] = {0};
    double mm_sum = 0.0;
    for (int b = 0; b < batches; b++) {
        const int *idx = order ? order + (long)b * batch : NULL;
        for (int i = 0; i < batch; i++) {
            int ti = idx ? idx[i] : b * batch + i;
            const float *t = text + (long)ti * dim;
            double own = dr_eval_dist(t, motion + (long)ti * dim, dim);
            mm_sum += own;
            int rank = 0; /* motions of the batch strictly ahead of the text's own motion */
            for (int j = 0; j < batch; j++) {
                if (j == i) continue;
                int mj = idx ? idx[j] : b * batch + j;
                double d = dr_eval_dist(t, motion + (long)mj * dim, dim);
                if (d < own || (d == own && j < i)) rank++;
            }
            for (int k = 0; k < DR_EVAL_TOP_K; k++)
                if (rank <= k) hits[k]++;
        }
    }
    long count = (long)batches * batch;
    for (int k = 0; k < DR_EVAL_TOP_K; k++) top[k] = (double)hits[k] / (double)count;
    if (mm_dist) *mm_dist = mm_sum / (double)count;
    if (used) *used = (int)count;
    return DR_OK;
}

/* ---------------------------------------------------------------- symmetric eigen-decomposition */

int dr_eval_jacobi_eigen(double *a, int n, double *w, double *v) {
    if (v) {
        memset(v, 0, sizeof(double) * (size_t)n * (size_t)n);
        for (int i = 0; i < n; i++) v[(long)i * n + i] = 1.0;
    }
    double norm2 = 0.0;
    for (long i = 0; i < (long)n * n; i++) norm2 += a[i] * a[i];
    int sweep = 0;
    for (; sweep < 100 && norm2 > 0.0; sweep++) {
        double off = 0.0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[(long)p * n + q] * a[(long)p * n + q];
        if (off <= 1e-30 * norm2) break;
        for (int p = 0; p < n; p++) {
            for (int q = p + 1; q < n; q++) {
                double apq = a[(long)p * n + q];
                if (apq == 0.0) continue;
                /* The rotation J (J_pp = J_qq = c, J_pq = s, J_qp = -s) that zeroes a_pq in
                 * J^T A J; t = s / c is the smaller root of t^2 + 2 theta t - 1 = 0. */
                double theta = (a[(long)q * n + q] - a[(long)p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; k++) { /* A J */
                    double akp = a[(long)k * n + p], akq = a[(long)k * n + q];
                    a[(long)k * n + p] = c * akp - s * akq;
                    a[(long)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* J^T (A J) */
                    double apk = a[(long)p * n + k], aqk = a[(long)q * n + k];
                    a[(long)p * n + k] = c * apk - s * aqk;
                    a[(long)q * n + k] = s * apk + c * aqk;
                }
                a[(long)p * n + q] = a[(long)q * n + p] = 0.0; /* exact by construction */
                if (v)
                    for (int k = 0; k < n; k++) {
                        double vkp = v[(long)k * n + p], vkq = v[(long)k * n + q];
                        v[(long)k * n + p] = c * vkp - s * vkq;
                        v[(long)k * n + q] = s * vkp + c * vkq;
                    }
            }
        }
    }
    for (int i = 0; i < n; i++) w[i] = a[(long)i * n + i];
    /* Selection sort, ascending, carrying the eigenvector columns along (n is small). */
    for (int i = 0; i < n; i++) {
        int m = i;
        for (int j = i + 1; j < n; j++)
            if (w[j] < w[m]) m = j;
        if (m == i) continue;
        double tw = w[i];
        w[i] = w[m];
        w[m] = tw;
        if (v)
            for (int k = 0; k < n; k++) {
                double tv = v[(long)k * n + i];
                v[(long)k * n + i] = v[(long)k * n + m];
                v[(long)k * n + m] = tv;
            }
    }
    return sweep;
}

/* ---------------------------------------------------------------- FID */

static void mean_cov(const float *x, int n, int dim, double *mu, double *cov) {
    memset(mu, 0, sizeof(double) * (size_t)dim);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) mu[d] += x[(long)i * dim + d];
    for (int d = 0; d < dim; d++) mu[d] /= n;
#pragma omp parallel for schedule(dynamic, 4)
    for (int a = 0; a < dim; a++) {
        for (int b = a; b < dim; b++) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += ((double)x[(long)i * dim + a] - mu[a]) * ((double)x[(long)i * dim + b] - mu[b]);
            cov[(long)a * dim + b] = cov[(long)b * dim + a] = s / (n - 1);
        }
    }
}

int dr_eval_fid(const float *x, int nx, const float *y, int ny, int dim, double *fid, dr_err *err) {
    if (dim < 1 || nx < 2 || ny < 2)
        return dr_err_set(err, DR_EINVAL, "FID: needs at least 2 embeddings per set and dim >= 1 (got %d, %d, dim %d)",
                          nx, ny, dim);
    size_t dd = (size_t)dim * (size_t)dim;
    double *buf = malloc(sizeof(double) * (5 * dd + 3 * (size_t)dim));
    if (!buf) return dr_err_set(err, DR_ENOMEM, "FID: out of memory for dim %d", dim);
    double *s1 = buf, *s2 = s1 + dd, *vec = s2 + dd, *half = vec + dd, *tmp = half + dd;
    double *mu1 = tmp + dd, *mu2 = mu1 + dim, *w = mu2 + dim;
    mean_cov(x, nx, dim, mu1, s1);
    mean_cov(y, ny, dim, mu2, s2);
    for (size_t i = 0; i < dd; i++)
        if (!isfinite(s1[i]) || !isfinite(s2[i])) {
            free(buf);
            return dr_err_set(err, DR_ERANGE, "FID: embeddings hold NaN or Inf");
        }
    double mean_term = 0.0, trace = 0.0;
    for (int d = 0; d < dim; d++) {
        mean_term += (mu1[d] - mu2[d]) * (mu1[d] - mu2[d]);
        trace += s1[(long)d * dim + d] + s2[(long)d * dim + d];
    }
    /* half = S1^(1/2) = V diag(sqrt(max(w, 0))) V^T (s1 is destroyed by the decomposition). */
    dr_eval_jacobi_eigen(s1, dim, w, vec);
    for (int d = 0; d < dim; d++) w[d] = w[d] > 0.0 ? sqrt(w[d]) : 0.0;
    for (int a = 0; a < dim; a++)
        for (int b = 0; b < dim; b++) {
            double s = 0.0;
            for (int k = 0; k < dim; k++) s += vec[(long)a * dim + k] * w[k] * vec[(long)b * dim + k];
            half[(long)a * dim + b] = s;
        }
    /* tmp = half * S2, then s1 = tmp * half (symmetric up to rounding; symmetrized). */
#pragma omp parallel for
    for (int a = 0; a < dim; a++)
        for (int b = 0; b < dim; b++) {
            double s = 0.0;
            for (int k = 0; k < dim; k++) s += half[(long)a * dim + k] * s2[(long)k * dim + b];
            tmp[(long)a * dim + b] = s;
        }
#pragma omp parallel for
    for (int a = 0; a < dim; a++)
        for (int b = 0; b < dim; b++) {
            double s = 0.0;
            for (int k = 0; k < dim; k++) s += tmp[(long)a * dim + k] * half[(long)k * dim + b];
            s1[(long)a * dim + b] = s;
        }
    for (int a = 0; a < dim; a++)
        for (int b = a + 1; b < dim; b++) {
            double m = 0.5 * (s1[(long)a * dim + b] + s1[(long)b * dim + a]);
            s1[(long)a * dim + b] = s1[(long)b * dim + a] = m;
        }
    dr_eval_jacobi_eigen(s1, dim, w, NULL);
    double tr_sqrt = 0.0;
    for (int d = 0; d < dim; d++) tr_sqrt += w[d] > 0.0 ? sqrt(w[d]) : 0.0;
    free(buf);
    double f = mean_term + trace - 2.0 * tr_sqrt;
    *fid = f > 0.0 ? f : 0.0; /* rounding can leave -1e-12 for identical sets */
    if (!isfinite(*fid)) return dr_err_set(err, DR_ERANGE, "FID: not finite (embeddings hold NaN or Inf)");
    return DR_OK;
}

/* ---------------------------------------------------------------- diversity, multimodality */

/* k distinct indices of 0..n-1 (partial Fisher-Yates over a scratch permutation). */
static void draw_distinct(dr_rng *rng, int *perm, int n, int k, int *out) {
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = 0; i < k; i++) {
        int j = i + (int)dr_rng_below(rng, (uint32_t)(n - i));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        out[i] = perm[i];
    }
}

int dr_eval_diversity(const float *x, int n, int dim, int pairs, dr_rng *rng, double *out, dr_err *err) {
    if (pairs < 1 || n < pairs || dim < 1)
        return dr_err_set(err, DR_EINVAL, "Diversity: needs n >= pairs >= 1 (got n %d, pairs %d)", n, pairs);
    int *buf = malloc(sizeof(int) * ((size_t)n + 2 * (size_t)pairs));
    if (!buf) return dr_err_set(err, DR_ENOMEM, "Diversity: out of memory");
    int *perm = buf, *a = perm + n, *b = a + pairs;
    draw_distinct(rng, perm, n, pairs, a);
    draw_distinct(rng, perm, n, pairs, b);
    double s = 0.0;
    for (int i = 0; i < pairs; i++) s += dr_eval_dist(x + (long)a[i] * dim, x + (long)b[i] * dim, dim);
    free(buf);
    *out = s / pairs;
    return DR_OK;
}

int dr_eval_multimodality(const float *x, int n_prompts, int samples, int dim, int pairs, dr_rng *rng,
                          double *out, dr_err *err) {
    if (n_prompts < 1 || pairs < 1 || samples < pairs || dim < 1)
        return dr_err_set(err, DR_EINVAL,
                          "MultiModality: needs prompts >= 1 and samples >= pairs >= 1 (got %d prompts, %d samples, "
                          "%d pairs)",
                          n_prompts, samples, pairs);
    int *buf = malloc(sizeof(int) * ((size_t)samples + 2 * (size_t)pairs));
    if (!buf) return dr_err_set(err, DR_ENOMEM, "MultiModality: out of memory");
    int *perm = buf, *a = perm + samples, *b = a + pairs;
    double s = 0.0;
    for (int p = 0; p < n_prompts; p++) {
        const float *xp = x + (long)p * samples * dim;
        draw_distinct(rng, perm, samples, pairs, a);
        draw_distinct(rng, perm, samples, pairs, b);
        for (int i = 0; i < pairs; i++) s += dr_eval_dist(xp + (long)a[i] * dim, xp + (long)b[i] * dim, dim);
    }
    free(buf);
    *out = s / ((double)n_prompts * pairs);
    return DR_OK;
}

void dr_eval_mean_ci(const double *values, int R, double *mean, double *ci95) {
    double m = 0.0, v = 0.0;
    for (int i = 0; i < R; i++) m += values[i];
    m = R > 0 ? m / R : 0.0;
    for (int i = 0; i < R; i++) v += (values[i] - m) * (values[i] - m);
    *mean = m;
    *ci95 = R > 0 ? 1.96 * sqrt(v / R) / sqrt((double)R) : 0.0;
}

/* ---------------------------------------------------------------- pose quality */

void dr_pose_quality_init(dr_pose_quality *q) { memset(q, 0, sizeof *q); }

void dr_pose_quality_add(dr_pose_quality *q, const dr_pose *frames, int F, int width, int height, float contact_px) {
    /* Limb lengths: coefficient of variation over the frames where both ends are present
     * (two passes, so that a rigid limb gives exactly 0). */
    for (int l = 0; l < DR_NUM_LIMBS; l++) {
        int a = dr_limbs[l][0], b = dr_limbs[l][1];
        double sum = 0.0, var = 0.0;
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            double mean = n ? sum / n : 0.0;
            for (int t = 0; t < F; t++) {
                const dr_keypoint *ka = &frames[t].kp[a], *kb = &frames[t].kp[b];
                if (!dr_keypoint_present(ka) || !dr_keypoint_present(kb)) continue;
                double len = hypot((double)ka->x - kb->x, (double)ka->y - kb->y);
                if (pass == 0) {
                    sum += len;
                    n++;
                } else {
                    var += (len - mean) * (len - mean);
                }
            }
        }
        if (n < 2 || sum <= 0.0) continue;
        q->bone_cv_sum += sqrt(var / n) / (sum / n);
        q->bone_cv_n++;
    }
    /* Jitter: second difference of every keypoint present in three consecutive frames. */
    for (int t = 1; t + 1 < F; t++)
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            const dr_keypoint *p0 = &frames[t - 1].kp[k], *p1 = &frames[t].kp[k], *p2 = &frames[t + 1].kp[k];
            if (!dr_keypoint_present(p0) || !dr_keypoint_present(p1) || !dr_keypoint_present(p2)) continue;
            q->jitter_sum += hypot((double)p2->x - 2.0 * p1->x + p0->x, (double)p2->y - 2.0 * p1->y + p0->y);
            q->jitter_n++;
        }
    /* Foot sliding: the ground is the lowest ankle position of the clip (largest y). */
    static const int ankles[2] = {DR_KP_RANKLE, DR_KP_LANKLE};
    double ground = -INFINITY;
    for (int t = 0; t < F; t++)
        for (int a = 0; a < 2; a++) {
            const dr_keypoint *k = &frames[t].kp[ankles[a]];
            if (dr_keypoint_present(k) && k->y > ground) ground = k->y;
        }
    if (isfinite(ground))
        for (int t = 0; t + 1 < F; t++)
            for (int a = 0; a < 2; a++) {
                const dr_keypoint *k0 = &frames[t].kp[ankles[a]], *k1 = &frames[t + 1].kp[ankles[a]];
                if (!dr_keypoint_present(k0) || !dr_keypoint_present(k1) || k0->y < ground - contact_px) continue;
                q->slide_sum += hypot((double)k1->x - k0->x, (double)k1->y - k0->y);
                q->slide_n++;
            }
    /* Keypoints inside the canvas. */
    for (int t = 0; t < F; t++)
        for (int k = 0; k < DR_NUM_KEYPOINTS; k++) {
            const dr_keypoint *p = &frames[t].kp[k];
            if (!dr_keypoint_present(p)) continue;
            q->present++;
            if (p->x >= 0.0f && p->x < (float)width && p->y >= 0.0f && p->y < (float)height) q->inside++;
        }
    q->clips++;
}

void dr_pose_quality_summarize(const dr_pose_quality *q, dr_pose_quality_summary *out) {
    out->bone_cv = q->bone_cv_n ? q->bone_cv_sum / q->bone_cv_n : 0.0;
    out->jitter = q->jitter_n ? q->jitter_sum / q->jitter_n : 0.0;
    out->foot_slide = q->slide_n ? q->slide_sum / q->slide_n : 0.0;
    out->inside_frame = q->present ? (double)q->inside / (double)q->present : 0.0;
}
