/* Tests of src/core: GEMM against a double-precision naive loop, RNG determinism and
 * distribution, atomic files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "testutil.h"

static void check_gemm(int ta, int tb, int M, int N, int K, float alpha, float beta) {
    dr_rng rng;
    dr_rng_seed(&rng, (uint64_t)(M * 131 + N * 7 + K + ta * 3 + tb));
    int lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    float *A = tu_randn(&rng, (long)M * K, 1.0f), *B = tu_randn(&rng, (long)K * N, 1.0f);
    float *C = tu_randn(&rng, (long)M * N, 1.0f), *R = malloc(sizeof(float) * (size_t)M * N);
    memcpy(R, C, sizeof(float) * (size_t)M * N);
    dr_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    tu_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    /* float32 accumulation over K terms of unit variance: error ~ sqrt(K) * 2^-24 * |terms|. */
    double tol = 1e-5 * sqrt((double)K) * 4.0;
    double err = tu_max_abs_diff(C, R, (long)M * N);
    if (err > tol) fail_msg("gemm %dx%dx%d ta=%d tb=%d: max error %g > %g", M, N, K, ta, tb, err, tol);
    free(A), free(B), free(C), free(R);
}

static void test_gemm_matches_reference(void **state) {
    (void)state;
    int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {64, 48, 32}, {1, 256, 256}, {33, 129, 65}, {200, 36, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f);
                check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], 0.5f, 1.0f);
            }
}

static void test_gemm_batched_matches_single(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    int M = 20, N = 24, K = 16, batch = 9;
    float *A = tu_randn(&rng, (long)batch * M * K, 1), *B = tu_randn(&rng, (long)batch * K * N, 1);
    float *C = calloc((size_t)batch * M * N, sizeof(float)), *R = calloc((size_t)batch * M * N, sizeof(float));
    dr_sgemm_strided_batched(false, true, M, N, K, 1.0f, A, K, (long)M * K, B, K, (long)K * N, 0.0f, C, N,
                             (long)M * N, batch);
    for (int b = 0; b < batch; b++)
        tu_gemm_ref(0, 1, M, N, K, 1.0f, A + (long)b * M * K, K, B + (long)b * K * N, K, 0.0f, R + (long)b * M * N, N);
    assert_true(tu_max_abs_diff(C, R, (long)batch * M * N) < 1e-4);
    free(A), free(B), free(C), free(R);
}

static void test_rng_deterministic_and_distributed(void **state) {
    (void)state;
    dr_rng a, b;
    dr_rng_seed(&a, 42);
    dr_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) assert_true(dr_rng_u64(&a) == dr_rng_u64(&b));
    dr_rng_seed(&b, 43);
    assert_true(dr_rng_u64(&a) != dr_rng_u64(&b));
    /* Moments of 200k normals and uniforms. */
    double s = 0, s2 = 0, u = 0;
    int n = 200000, hist[10] = {0};
    for (int i = 0; i < n; i++) {
        double x = dr_rng_normal(&a);
        s += x, s2 += x * x;
        float f = dr_rng_uniform(&a);
        assert_true(f >= 0.0f && f < 1.0f);
        u += f;
        hist[dr_rng_below(&a, 10)]++;
    }
    assert_true(fabs(s / n) < 0.01);
    assert_true(fabs(s2 / n - 1.0) < 0.02);
    assert_true(fabs(u / n - 0.5) < 0.005);
    for (int i = 0; i < 10; i++) assert_true(abs(hist[i] - n / 10) < n / 100);
    /* Forked streams differ from each other and are reproducible. */
    dr_rng f1 = dr_rng_fork(7, 1), f2 = dr_rng_fork(7, 2), f1b = dr_rng_fork(7, 1);
    assert_true(dr_rng_u64(&f1) != dr_rng_u64(&f2));
    dr_rng_u64(&f1b);
    assert_true(dr_rng_u64(&f1) == dr_rng_u64(&f1b));
}

static void test_atomic_file_and_tmpdir(void **state) {
    (void)state;
    char dir[1024], path[1200], tmp[1400], final[1200];
    tu_tmpdir(dir, sizeof dir, "core");
    snprintf(path, sizeof path, "%s/a.txt", dir);
    dr_err err;
    assert_int_equal(dr_write_file_atomic(path, "hello", 5, &err), DR_OK);
    char *data;
    size_t size;
    assert_int_equal(dr_read_file(path, 100, &data, &size, &err), DR_OK);
    assert_int_equal(size, 5);
    assert_string_equal(data, "hello");
    free(data);
    /* Size limit and missing files give errors that name the file. */
    assert_int_equal(dr_read_file(path, 2, &data, &size, &err), DR_ERANGE);
    assert_non_null(strstr(err.msg, "a.txt"));
    snprintf(final, sizeof final, "%s/missing", dir);
    assert_int_equal(dr_read_file(final, 100, &data, &size, &err), DR_ENOTFOUND);
    /* An aborted atomic file leaves nothing behind. */
    dr_atomic_file af;
    snprintf(final, sizeof final, "%s/b.txt", dir);
    assert_int_equal(dr_atomic_open(&af, final, &err), DR_OK);
    fputs("partial", af.fp);
    dr_atomic_abort(&af);
    assert_false(dr_file_exists(final));
    assert_false(dr_file_exists(af.tmp_path));
    /* A temporary folder replaces an existing output folder in one rename. */
    snprintf(final, sizeof final, "%s/out", dir);
    assert_int_equal(dr_mkdir_p(final, &err), DR_OK);
    assert_int_equal(dr_tmpdir_create(final, tmp, sizeof tmp, &err), DR_OK);
    char inner[1500];
    snprintf(inner, sizeof inner, "%s/x", tmp);
    assert_int_equal(dr_write_file_atomic(inner, "1", 1, &err), DR_OK);
    assert_int_equal(dr_tmpdir_commit(tmp, final, &err), DR_OK);
    snprintf(inner, sizeof inner, "%s/x", final);
    assert_true(dr_file_exists(inner));
    assert_false(dr_is_dir(tmp));
    /* Writing into a folder that does not exist fails with the path in the message. */
    snprintf(final, sizeof final, "%s/no/such/dir/f", dir);
    assert_int_not_equal(dr_write_file_atomic(final, "1", 1, &err), DR_OK);
    assert_non_null(strstr(err.msg, "no/such/dir"));
}

int main(void) {
    dr_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_matches_reference),
        cmocka_unit_test(test_gemm_batched_matches_single),
        cmocka_unit_test(test_rng_deterministic_and_distributed),
        cmocka_unit_test(test_atomic_file_and_tmpdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
