/* The rate-distortion reference of eval/rate_distortion.h: Jacobi eigenvalues of a matrix
 * built from known ones (Q diag(lambda) Q^T, Q a random orthogonal matrix), reverse
 * water-filling against closed forms (one component: D = s^2 2^(-2R); two components
 * worked by hand, on both sides of the point where the smaller one stops getting bits), the
 * rate as the inverse of the distortion, and the sample covariance of drawn vectors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/rate_distortion.h"
#include "testutil.h"

/* a random orthogonal n x n matrix: Gram-Schmidt on Gaussian columns */
static void random_orthogonal(dr_rng *rng, int n, double *q) {
    for (int i = 0; i < n * n; i++) q[i] = dr_rng_normal(rng);
    for (int j = 0; j < n; j++) {
        for (int k = 0; k < j; k++) {
            double d = 0;
            for (int i = 0; i < n; i++) d += q[i * n + j] * q[i * n + k];
            for (int i = 0; i < n; i++) q[i * n + j] -= d * q[i * n + k];
        }
        double norm = 0;
        for (int i = 0; i < n; i++) norm += q[i * n + j] * q[i * n + j];
        for (int i = 0; i < n; i++) q[i * n + j] /= sqrt(norm);
    }
}

static void test_jacobi_eigenvalues(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    for (int n = 1; n <= 64; n += 21) {
        double *q = malloc(sizeof(double) * n * n), *a = calloc((size_t)n * n, sizeof(double));
        double *want = malloc(sizeof(double) * n), *got = malloc(sizeof(double) * n);
        random_orthogonal(&rng, n, q);
        /* a spread like pose spectra (1e4 .. 1e-2), two equal values, one zero */
        for (int i = 0; i < n; i++) want[i] = 1e4 * pow(1e-6, (double)i / n);
        if (n > 2) want[1] = want[2], want[n - 1] = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < n; k++) a[i * n + j] += q[i * n + k] * want[k] * q[j * n + k];
        dr_symmetric_eigenvalues(a, n, got);
        for (int i = 0; i < n; i++)
            if (fabs(got[i] - want[i]) > 1e-9 * want[0]) fail_msg("n %d: eigenvalue %d is %.12g, want %.12g", n, i, got[i], want[i]);
        free(q), free(a), free(want), free(got);
    }
}

static void test_water_filling(void **state) {
    (void)state;
    const double one[1] = {9.0};
    for (double r = 0; r <= 6; r += 1.5) {
        double d = dr_rd_distortion(one, 1, r);
        if (fabs(d - 9.0 * pow(2, -2 * r)) > 1e-9) fail_msg("one component at %g bits: %g", r, d);
        if (r > 0 && fabs(dr_rd_rate(one, 1, d) - r) > 1e-9) fail_msg("rate of %g: %g, want %g", d, dr_rd_rate(one, 1, d), r);
    }
    /* lambda = (4, 1): below 1 bit only the first component is coded, theta = 4 * 2^(-2R) */
    const double two[2] = {4.0, 1.0};
    if (fabs(dr_rd_distortion(two, 2, 0.5) - 3.0) > 1e-9) fail_msg("(4,1) at 0.5 bits: %g", dr_rd_distortion(two, 2, 0.5));
    /* above 1 bit both are: 1/2 log2(4 / theta^2) = R -> theta = 2^(1 - R), D = 2 theta */
    if (fabs(dr_rd_distortion(two, 2, 2.0) - 1.0) > 1e-9) fail_msg("(4,1) at 2 bits: %g", dr_rd_distortion(two, 2, 2.0));
    assert_true(fabs(dr_rd_rate(two, 2, 1.0) - 2.0) < 1e-9);
    assert_true(dr_rd_distortion(two, 2, 0) == 5.0);
    assert_true(dr_rd_rate(two, 2, 5.0) == 0);
    assert_true(isinf(dr_rd_rate(two, 2, 0)));
    /* more bits never hurt */
    double prev = INFINITY;
    for (double r = 0; r < 30; r += 0.25) {
        double d = dr_rd_distortion(two, 2, r);
        assert_true(d <= prev);
        prev = d;
    }
}

static void test_sample_covariance(void **state) {
    (void)state;
    dr_rd_source s;
    dr_err err = {0};
    assert_int_equal(dr_rd_init(&s, 0, &err), DR_EINVAL);
    assert_int_equal(dr_rd_init(&s, 3, &err), DR_OK);
    double eig[3];
    assert_int_equal(dr_rd_spectrum(&s, eig, &err), DR_EINVAL); /* no vectors yet */
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    /* x = (3 a + 100, b - 7, a) with a, b standard normal: covariance [[9,0,3],[0,1,0],[3,0,1]],
     * eigenvalues 10, 1, 0 */
    for (int i = 0; i < 200000; i++) {
        double a = dr_rng_normal(&rng), b = dr_rng_normal(&rng);
        double x[3] = {3 * a + 100, b - 7, a};
        dr_rd_add(&s, x);
    }
    assert_int_equal(dr_rd_spectrum(&s, eig, &err), DR_OK);
    if (fabs(eig[0] - 10) > 0.1 || fabs(eig[1] - 1) > 0.02 || eig[2] > 1e-9)
        fail_msg("spectrum %g %g %g, want 10 1 0", eig[0], eig[1], eig[2]);
    dr_rd_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobi_eigenvalues),
        cmocka_unit_test(test_water_filling),
        cmocka_unit_test(test_sample_covariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
