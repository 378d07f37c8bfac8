/* Tests of src/eval/metrics.c: the Jacobi eigen-decomposition against its defining equations,
 * FID on cases with known answers (identical sets, shifted and scaled sets, the 2 x 2 closed form,
 * symmetry) and against numpy/scipy when python3 has them, R-precision on a hand-ranked case and
 * against a sort-based reference, Diversity and MultiModality on regular simplices, the 95%
 * interval, and the pose-quality figures on constructed clips whose values follow by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/metrics.h"
#include "eval/protocol.h"
#include "testutil.h"

/* ---------------------------------------------------------------- eigen */

static void test_jacobi_eigen(void **state) {
    (void)state;
    enum { n = 7 };
    dr_rng rng;
    dr_rng_seed(&rng, 11);
    double a[n * n], orig[n * n], w[n], v[n * n];
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = dr_rng_normal(&rng);
    memcpy(orig, a, sizeof a);
    int sweeps = dr_eval_jacobi_eigen(a, n, w, v);
    assert_true(sweeps > 0 && sweeps < 100);
    for (int i = 0; i + 1 < n; i++) assert_true(w[i] <= w[i + 1]);
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < n; i++) { /* A v_k = w_k v_k */
            double s = 0;
            for (int j = 0; j < n; j++) s += orig[i * n + j] * v[j * n + k];
            assert_true(fabs(s - w[k] * v[i * n + k]) < 1e-10);
        }
        for (int l = 0; l < n; l++) { /* orthonormal */
            double s = 0;
            for (int i = 0; i < n; i++) s += v[i * n + k] * v[i * n + l];
            assert_true(fabs(s - (k == l)) < 1e-12);
        }
    }
    /* 2 x 2 closed form: [[2, 1], [1, 2]] has eigenvalues 1 and 3. */
    double b[4] = {2, 1, 1, 2}, wb[2];
    dr_eval_jacobi_eigen(b, 2, wb, NULL);
    assert_true(fabs(wb[0] - 1.0) < 1e-14 && fabs(wb[1] - 3.0) < 1e-14);
    /* already diagonal: no sweep needed beyond the check */
    double c[4] = {5, 0, 0, -1}, wc[2];
    dr_eval_jacobi_eigen(c, 2, wc, NULL);
    assert_true(wc[0] == -1.0 && wc[1] == 5.0);
}

/* ---------------------------------------------------------------- FID */

static float *gaussian_set(dr_rng *rng, int n, int dim, const double *mix, const double *shift) {
    /* x = mix * z + shift, z ~ N(0, I): a correlated Gaussian sample */
    float *x = malloc(sizeof(float) * (size_t)n * dim);
    double *z = malloc(sizeof(double) * dim);
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < dim; d++) z[d] = dr_rng_normal(rng);
        for (int d = 0; d < dim; d++) {
            double s = shift ? shift[d] : 0.0;
            for (int e = 0; e < dim; e++) s += mix[d * dim + e] * z[e];
            x[(long)i * dim + d] = (float)s;
        }
    }
    free(z);
    return x;
}

static void ref_mean_cov(const float *x, int n, int dim, double *mu, double *cov) {
    for (int d = 0; d < dim; d++) {
        mu[d] = 0;
        for (int i = 0; i < n; i++) mu[d] += x[i * dim + d];
        mu[d] /= n;
    }
    for (int a = 0; a < dim; a++)
        for (int b = 0; b < dim; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (x[i * dim + a] - mu[a]) * (x[i * dim + b] - mu[b]);
            cov[a * dim + b] = s / (n - 1);
        }
}

static void test_fid_known_answers(void **state) {
    (void)state;
    enum { n = 400, dim = 5 };
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    double mix[dim * dim];
    for (int i = 0; i < dim * dim; i++) mix[i] = dr_rng_normal(&rng) * 0.5 + (i % (dim + 1) == 0 ? 1.0 : 0.0);
    float *x = gaussian_set(&rng, n, dim, mix, NULL);
    double fid;
    /* identical sets */
    assert_int_equal(dr_eval_fid(x, n, x, n, dim, &fid, NULL), DR_OK);
    assert_true(fid < 1e-9);
    /* shifted copy: same covariance, so FID = |delta|^2 exactly */
    const double delta[dim] = {0.5, -1.0, 0.25, 0.0, 2.0};
    float *y = malloc(sizeof(float) * n * dim);
    for (int i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) y[i * dim + d] = x[i * dim + d] + (float)delta[d];
    assert_int_equal(dr_eval_fid(x, n, y, n, dim, &fid, NULL), DR_OK);
    assert_true(fabs(fid - (0.25 + 1.0 + 0.0625 + 0.0 + 4.0)) < 1e-4);
    /* y = 2 x: S2 = 4 S1, (S1 S2)^(1/2) = 2 S1, so FID = |mu1 - mu2|^2 + tr S1 (mu2 = 2 mu1) */
    double mu[dim], cov[dim * dim];
    ref_mean_cov(x, n, dim, mu, cov);
    double expect = 0;
    for (int d = 0; d < dim; d++) expect += mu[d] * mu[d] + cov[d * dim + d];
    for (int i = 0; i < n * dim; i++) y[i] = 2.0f * x[i];
    assert_int_equal(dr_eval_fid(x, n, y, n, dim, &fid, NULL), DR_OK);
    assert_true(fabs(fid - expect) < 1e-5 * expect);
    /* symmetric in its arguments, for non-commuting covariances of different set sizes */
    double mix2[dim * dim];
    for (int i = 0; i < dim * dim; i++) mix2[i] = dr_rng_normal(&rng);
    const double shift2[dim] = {1, 0, -1, 0.5, 0};
    float *z = gaussian_set(&rng, 300, dim, mix2, shift2);
    double f_xz, f_zx;
    assert_int_equal(dr_eval_fid(x, n, z, 300, dim, &f_xz, NULL), DR_OK);
    assert_int_equal(dr_eval_fid(z, 300, x, n, dim, &f_zx, NULL), DR_OK);
    assert_true(f_xz > 1.0 && fabs(f_xz - f_zx) < 1e-9 * f_xz);
    free(x);
    free(y);
    free(z);
}

static void test_fid_2d_closed_form(void **state) {
    (void)state;
    /* In 2-D, the eigenvalues of S1 S2 are real and non-negative, and for a 2 x 2 matrix M with
     * such eigenvalues tr M^(1/2) = sqrt(tr M + 2 sqrt(det M)). */
    enum { n = 200, dim = 2 };
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    const double m1[4] = {1.0, 0.3, 0.0, 0.5}, m2[4] = {0.2, -0.9, 1.1, 0.4}, sh[2] = {0.3, -0.7};
    float *x = gaussian_set(&rng, n, dim, m1, NULL), *y = gaussian_set(&rng, n, dim, m2, sh);
    double mx[2], my[2], sx[4], sy[4];
    ref_mean_cov(x, n, dim, mx, sx);
    ref_mean_cov(y, n, dim, my, sy);
    double p[4] = {sx[0] * sy[0] + sx[1] * sy[2], sx[0] * sy[1] + sx[1] * sy[3], sx[2] * sy[0] + sx[3] * sy[2],
                   sx[2] * sy[1] + sx[3] * sy[3]};
    double det = p[0] * p[3] - p[1] * p[2], tr = p[0] + p[3];
    double expect = (mx[0] - my[0]) * (mx[0] - my[0]) + (mx[1] - my[1]) * (mx[1] - my[1]) + sx[0] + sx[3] + sy[0] +
                    sy[3] - 2.0 * sqrt(tr + 2.0 * sqrt(det));
    double fid;
    assert_int_equal(dr_eval_fid(x, n, y, n, dim, &fid, NULL), DR_OK);
    assert_true(fabs(fid - expect) < 1e-9 * (1.0 + expect));
    free(x);
    free(y);
}

static void test_fid_against_scipy(void **state) {
    (void)state;
    if (tu_system("python3 -c 'import numpy, scipy.linalg' >/dev/null 2>&1") != 0) {
        printf("    (numpy/scipy not available: scipy cross-check skipped)\n");
        skip();
    }
    enum { n = 300, dim = 16 };
    dr_rng rng;
    dr_rng_seed(&rng, 21);
    double m1[dim * dim], m2[dim * dim];
    for (int i = 0; i < dim * dim; i++) m1[i] = dr_rng_normal(&rng), m2[i] = dr_rng_normal(&rng) * 0.7;
    float *x = gaussian_set(&rng, n, dim, m1, NULL), *y = gaussian_set(&rng, n, dim, m2, NULL);
    char dir[1024], px[1200], py[1200], out[1200];
    tu_tmpdir(dir, sizeof dir, "fid");
    snprintf(px, sizeof px, "%s/x.f32", dir);
    snprintf(py, sizeof py, "%s/y.f32", dir);
    snprintf(out, sizeof out, "%s/fid.txt", dir);
    FILE *f = fopen(px, "wb");
    fwrite(x, sizeof(float), n * dim, f);
    fclose(f);
    f = fopen(py, "wb");
    fwrite(y, sizeof(float), n * dim, f);
    fclose(f);
    assert_int_equal(tu_system("python3 -c \"import numpy as np, scipy.linalg as L\n"
                               "x=np.fromfile('%s',np.float32).reshape(-1,%d).astype(np.float64)\n"
                               "y=np.fromfile('%s',np.float32).reshape(-1,%d).astype(np.float64)\n"
                               "s1=np.cov(x,rowvar=False); s2=np.cov(y,rowvar=False)\n"
                               "c=L.sqrtm(s1.dot(s2)).real\n"
                               "d=x.mean(0)-y.mean(0)\n"
                               "open('%s','w').write(repr(d.dot(d)+np.trace(s1)+np.trace(s2)-2*np.trace(c)))\"",
                               px, dim, py, dim, out),
                     0);
    f = fopen(out, "r");
    double ref = -1;
    assert_int_equal(fscanf(f, "%lf", &ref), 1);
    fclose(f);
    double fid;
    assert_int_equal(dr_eval_fid(x, n, y, n, dim, &fid, NULL), DR_OK);
    assert_true(fabs(fid - ref) < 1e-6 * (1.0 + ref));
    free(x);
    free(y);
}

static void test_fid_errors(void **state) {
    (void)state;
    float x[4] = {0, 1, 2, 3};
    double fid;
    dr_err err = {0};
    assert_int_equal(dr_eval_fid(x, 1, x, 4, 1, &fid, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "at least 2"));
    float bad[4] = {0, NAN, 2, 3};
    assert_int_equal(dr_eval_fid(bad, 4, x, 4, 1, &fid, &err), DR_ERANGE);
}

/* ---------------------------------------------------------------- R-precision */

static void test_r_precision_hand_case(void **state) {
    (void)state;
    /* 1-D: texts 0, 10, 20; motions 1, 21, 9. Text 0: own 1, others 21, 9 -> rank 1. Text 10:
     * own 11, others 9, 1 -> rank 3. Text 20: own 11, others 19, 1 -> rank 2. */
    const float text[3] = {0, 10, 20}, motion[3] = {1, 21, 9};
    double top[3], mm;
    int used;
    assert_int_equal(dr_eval_r_precision(text, motion, 3, 1, 3, NULL, top, &mm, &used, NULL), DR_OK);
    assert_int_equal(used, 3);
    assert_true(fabs(top[0] - 1.0 / 3) < 1e-12 && fabs(top[1] - 2.0 / 3) < 1e-12 && top[2] == 1.0);
    assert_true(fabs(mm - 23.0 / 3) < 1e-12);
    /* perfect embeddings: every text's own motion is at distance 0 */
    enum { n = 70, dim = 8 };
    dr_rng rng;
    dr_rng_seed(&rng, 2);
    float *t = tu_randn(&rng, n * dim, 1.0f);
    assert_int_equal(dr_eval_r_precision(t, t, n, dim, 32, NULL, top, &mm, &used, NULL), DR_OK);
    assert_int_equal(used, 64); /* the last partial batch of 6 is dropped */
    assert_true(top[0] == 1.0 && top[1] == 1.0 && top[2] == 1.0 && mm == 0.0);
    /* too few pairs for one batch */
    dr_err err = {0};
    assert_int_equal(dr_eval_r_precision(t, t, 31, dim, 32, NULL, top, &mm, &used, &err), DR_EINVAL);
    assert_non_null(strstr(err.msg, "fewer than one batch"));
    free(t);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_r_precision_against_sort(void **state) {
    (void)state;
    enum { n = 96, dim = 6, batch = 32 };
    dr_rng rng;
    dr_rng_seed(&rng, 4);
    float *t = tu_randn(&rng, n * dim, 1.0f), *m = tu_randn(&rng, n * dim, 0.8f);
    for (int i = 0; i < n * dim; i++) m[i] += t[i]; /* noisy matches: ranks spread over 1..32 */
    int order[n];
    for (int i = 0; i < n; i++) order[i] = i;
    dr_rng_shuffle(&rng, order, n);
    double top[3], mm;
    int used;
    assert_int_equal(dr_eval_r_precision(t, m, n, dim, batch, order, top, &mm, &used, NULL), DR_OK);
    /* reference: sort the batch's distances and find the own motion's position */
    int hits[3] = {0};
    double mm_ref = 0;
    for (int b = 0; b < n / batch; b++)
        for (int i = 0; i < batch; i++) {
            int ti = order[b * batch + i];
            double d[batch], own = dr_eval_dist(t + ti * dim, m + ti * dim, dim);
            mm_ref += own;
            for (int j = 0; j < batch; j++) d[j] = dr_eval_dist(t + ti * dim, m + order[b * batch + j] * dim, dim);
            qsort(d, batch, sizeof(double), cmp_double);
            int pos = 0;
            while (d[pos] != own) pos++;
            for (int k = 0; k < 3; k++) hits[k] += pos <= k;
        }
    for (int k = 0; k < 3; k++) assert_true(fabs(top[k] - hits[k] / (double)n) < 1e-12);
    assert_true(fabs(mm - mm_ref / n) < 1e-9);
    assert_true(top[0] > 0.1 && top[0] < 0.99 && top[0] <= top[1] && top[1] <= top[2]);
    free(t);
    free(m);
}

/* ---------------------------------------------------------------- diversity, multimodality, CI */

static void test_diversity_simplex(void **state) {
    (void)state;
    /* The n basis vectors are pairwise sqrt(2) apart; only a coincident pair (probability
     * 1/n each) gives 0. */
    enum { n = 600 };
    float *x = calloc((size_t)n * n, sizeof(float));
    for (int i = 0; i < n; i++) x[(long)i * n + i] = 1.0f;
    dr_rng rng;
    dr_rng_seed(&rng, 8);
    double div;
    assert_int_equal(dr_eval_diversity(x, n, n, 300, &rng, &div, NULL), DR_OK);
    assert_true(div <= sqrt(2.0) + 1e-12 && div >= sqrt(2.0) * (1.0 - 5.0 / 300));
    /* linear in the scale of the embeddings for the same draws */
    for (long i = 0; i < (long)n * n; i++) x[i] *= 3.0f;
    double div3;
    dr_rng_seed(&rng, 8);
    assert_int_equal(dr_eval_diversity(x, n, n, 300, &rng, &div3, NULL), DR_OK);
    assert_true(fabs(div3 - 3.0 * div) < 1e-9);
    /* identical embeddings: 0 */
    for (long i = 0; i < (long)n * n; i++) x[i] = 1.0f;
    assert_int_equal(dr_eval_diversity(x, n, n, 300, &rng, &div, NULL), DR_OK);
    assert_true(div == 0.0);
    dr_err err = {0};
    assert_int_equal(dr_eval_diversity(x, 10, n, 300, &rng, &div, &err), DR_EINVAL);
    free(x);
}

static void test_multimodality_simplex(void **state) {
    (void)state;
    /* Prompt p's 10 samples are 10 basis vectors scaled by (p + 1): distinct samples are
     * (p + 1) sqrt(2) apart, and a draw coincides with probability 1/10. */
    enum { P = 200, S = 10 };
    float *x = calloc((size_t)P * S * S, sizeof(float));
    double expect_full = 0;
    for (int p = 0; p < P; p++) {
        for (int s = 0; s < S; s++) x[((long)p * S + s) * S + s] = (float)(p + 1);
        expect_full += (p + 1) * sqrt(2.0);
    }
    expect_full /= P;
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    double mm;
    assert_int_equal(dr_eval_multimodality(x, P, S, S, 10, &rng, &mm, NULL), DR_OK);
    assert_true(mm > 0.85 * expect_full && mm < 0.95 * expect_full);
    dr_err err = {0};
    assert_int_equal(dr_eval_multimodality(x, P, S, S, 11, &rng, &mm, &err), DR_EINVAL);
    /* every prompt's samples identical: 0 */
    memset(x, 0, sizeof(float) * P * S * S);
    assert_int_equal(dr_eval_multimodality(x, P, S, S, 10, &rng, &mm, NULL), DR_OK);
    assert_true(mm == 0.0);
    free(x);
}

static void test_mean_ci(void **state) {
    (void)state;
    const double v[4] = {1, 2, 3, 4};
    double mean, ci;
    dr_eval_mean_ci(v, 4, &mean, &ci);
    assert_true(fabs(mean - 2.5) < 1e-15);
    assert_true(fabs(ci - 1.96 * sqrt(1.25) / 2.0) < 1e-12);
    dr_eval_mean_ci(v, 1, &mean, &ci);
    assert_true(mean == 1.0 && ci == 0.0);
}

/* ---------------------------------------------------------------- pose quality */

static void stand(dr_pose *p, float dx) {
    /* A full standing figure; every keypoint present. */
    static const float xy[DR_NUM_KEYPOINTS][2] = {
        {256, 60}, {256, 90}, {236, 90}, {226, 130}, {221, 170}, {276, 90}, {286, 130}, {291, 170}, {246, 170},
        {246, 230}, {246, 290}, {266, 170}, {266, 230}, {266, 290}, {250, 55}, {262, 55}, {244, 60}, {268, 60}};
    for (int k = 0; k < DR_NUM_KEYPOINTS; k++) p->kp[k] = (dr_keypoint){xy[k][0] + dx, xy[k][1], 1.0f};
}

static void test_pose_quality_hand_cases(void **state) {
    (void)state;
    enum { F = 12 };
    dr_pose frames[F];
    dr_pose_quality q;
    dr_pose_quality_summary s;
    /* static figure: rigid, still, every keypoint inside */
    for (int t = 0; t < F; t++) stand(&frames[t], 0);
    dr_pose_quality_init(&q);
    dr_pose_quality_add(&q, frames, F, 512, 320, 6.4f);
    dr_pose_quality_summarize(&q, &s);
    assert_true(s.bone_cv < 1e-12 && s.jitter == 0.0 && s.foot_slide == 0.0 && s.inside_frame == 1.0);
    assert_int_equal(q.bone_cv_n, DR_NUM_LIMBS);
    /* constant velocity 3 px/frame: no jitter; both ankles on the ground slide at 3 */
    for (int t = 0; t < F; t++) stand(&frames[t], 3.0f * t);
    dr_pose_quality_init(&q);
    dr_pose_quality_add(&q, frames, F, 512, 320, 6.4f);
    dr_pose_quality_summarize(&q, &s);
    assert_true(fabs(s.jitter) < 1e-9 && fabs(s.foot_slide - 3.0) < 1e-9 && fabs(s.bone_cv) < 1e-6);
    /* the right wrist (only in limb 3-4) alternates between forearm length L and 2L along the
     * forearm: that limb's CV is 1/3, the other 16 are rigid; its second difference is 2 L
     * (L = |(221,170) - (226,130)|) at every interior frame. The left ankle circles its knee
     * (radius R, 0.5 rad a frame: shin length kept, second difference R (2 - 2 cos 0.5)) at
     * least 50 px above the ground, out of contact: foot sliding counts the static right
     * ankle only (0). */
    const double L = hypot(5.0, 40.0), R = 10.0;
    for (int t = 0; t < F; t++) {
        stand(&frames[t], 0);
        if (t % 2) {
            frames[t].kp[DR_KP_RWRIST].x = 216;
            frames[t].kp[DR_KP_RWRIST].y = 210;
        }
        frames[t].kp[DR_KP_LANKLE].x = (float)(266 + R * cos(0.5 * t));
        frames[t].kp[DR_KP_LANKLE].y = (float)(230 + R * sin(0.5 * t));
    }
    /* a missing keypoint in one frame: skipped everywhere, not read as (0, 0) */
    frames[5].kp[DR_KP_NOSE] = (dr_keypoint){0, 0, 0};
    dr_pose_quality_init(&q);
    dr_pose_quality_add(&q, frames, F, 512, 320, 6.4f);
    dr_pose_quality_summarize(&q, &s);
    assert_true(fabs(s.bone_cv - (1.0 / 3.0) / DR_NUM_LIMBS) < 1e-6);
    long terms = 18L * (F - 2) - 3; /* the nose misses 3 windows around frame 5 */
    assert_true(fabs(s.jitter - (2.0 * L + R * (2.0 - 2.0 * cos(0.5))) * (F - 2) / terms) < 1e-4);
    assert_true(s.foot_slide == 0.0 && q.slide_n == F - 1);
    /* one keypoint on the right border (x = W is outside) in every frame */
    for (int t = 0; t < F; t++) {
        stand(&frames[t], 0);
        frames[t].kp[DR_KP_LWRIST].x = 512.0f;
    }
    dr_pose_quality_init(&q);
    dr_pose_quality_add(&q, frames, F, 512, 320, 6.4f);
    dr_pose_quality_summarize(&q, &s);
    assert_true(fabs(s.inside_frame - 17.0 / 18.0) < 1e-12);
    assert_int_equal(q.clips, 1);
}

/* ---------------------------------------------------------------- protocol (one table row) */

static void test_protocol_replications(void **state) {
    (void)state;
    enum { n = 64, S = 2, P = 8 };
    dr_rng rng;
    dr_rng_seed(&rng, 12);
    float *text = tu_randn(&rng, n * P, 1.0f), *motion = malloc(sizeof(float) * n * S * P);
    float *noise = tu_randn(&rng, n * P, 3.0f);
    /* sample 0 of every prompt is its text exactly; sample 1 is unrelated noise */
    for (int i = 0; i < n; i++) {
        memcpy(motion + (i * S + 0) * P, text + i * P, sizeof(float) * P);
        memcpy(motion + (i * S + 1) * P, noise + i * P, sizeof(float) * P);
    }
    dr_eval_protocol pr = dr_eval_protocol_default();
    pr.replications = 1; /* replication 0 uses sample 0 only */
    dr_eval_row row;
    assert_int_equal(dr_eval_measure(text, motion, n, S, P, text, n, &pr, &row, NULL), DR_OK);
    assert_true(row.has_rprec && row.has_fid && row.has_mm);
    assert_int_equal(row.batch, 32);
    assert_int_equal(row.diversity_pairs, n); /* clamped from 300 */
    assert_int_equal(row.mm_pairs, 2);        /* clamped from 10 */
    assert_true(row.top[0].mean == 1.0 && row.top[0].ci95 == 0.0 && row.mm_dist.mean == 0.0);
    assert_true(row.fid.mean < 1e-9); /* the generated set is the reference set */
    /* two replications: sample 0 (perfect) and sample 1 (noise): the mean lies between, the
     * interval is 1.96 |a - b| / 2 / sqrt(2) */
    pr.replications = 2;
    assert_int_equal(dr_eval_measure(text, motion, n, S, P, text, n, &pr, &row, NULL), DR_OK);
    pr.replications = 1;
    dr_eval_row noise_row;
    float *only_noise = malloc(sizeof(float) * n * P);
    memcpy(only_noise, noise, sizeof(float) * n * P);
    assert_int_equal(dr_eval_measure(text, only_noise, n, 1, P, text, n, &pr, &noise_row, NULL), DR_OK);
    assert_true(!noise_row.has_mm && noise_row.top[0].mean < 0.3);
    double a = 1.0, b = noise_row.top[0].mean;
    assert_true(fabs(row.top[0].mean - (a + b) / 2) < 0.1); /* batches differ between replications */
    assert_true(row.top[0].ci95 > 0.5 * 1.96 * (a - b) / 2 / sqrt(2.0));
    assert_true(row.fid.mean > 1.0 && row.multimodality.mean > 1.0);
    /* a row of one prompt: no R-precision, no FID, no error */
    assert_int_equal(dr_eval_measure(text, motion, 1, S, P, text, n, &pr, &row, NULL), DR_OK);
    assert_true(!row.has_rprec && !row.has_fid && row.has_mm && row.mm_dist.mean == 0.0);
    dr_err err = {0};
    assert_int_equal(dr_eval_measure(text, motion, 0, S, P, text, n, &pr, &row, &err), DR_EINVAL);
    free(text);
    free(motion);
    free(noise);
    free(only_noise);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobi_eigen),
        cmocka_unit_test(test_fid_known_answers),
        cmocka_unit_test(test_fid_2d_closed_form),
        cmocka_unit_test(test_fid_against_scipy),
        cmocka_unit_test(test_fid_errors),
        cmocka_unit_test(test_r_precision_hand_case),
        cmocka_unit_test(test_r_precision_against_sort),
        cmocka_unit_test(test_diversity_simplex),
        cmocka_unit_test(test_multimodality_simplex),
        cmocka_unit_test(test_mean_ci),
        cmocka_unit_test(test_pose_quality_hand_cases),
        cmocka_unit_test(test_protocol_replications),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
