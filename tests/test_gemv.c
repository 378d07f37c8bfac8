/* The decoding kernels of core/gemv.h against naive double-precision loops: dr_gemv and
 * dr_gemv_bf16 (every row count 1..9 so each AVX-512 tile shape and the remainders run;
 * widths that are and are not multiples of 16; accumulate on and off; strided x and y),
 * the attention products dr_dot_rows / dr_axpy_rows over strided rows, the portable
 * reference paths (the build's other branch) and the bf16 rounding.
 *
 * Tolerance: max |got - want| / max(1, max |want|) <= 4e-6 * sqrt(K) (float32 sums of K
 * products in another order than the double reference). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemv.h"
#include "testutil.h"


/* want = (acc ? y0 : 0) + x W^T in double, W given as floats (the bf16 values widened). */
static void gemv_want(double *want, const float *y0, int ldy, const float *x, int ldx, const float *W, int M, int O,
                      int K, bool acc) {
    for (int m = 0; m < M; m++)
        for (int o = 0; o < O; o++) {
            double s = acc ? y0[(long)m * ldy + o] : 0.0;
            for (int k = 0; k < K; k++) s += (double)x[(long)m * ldx + k] * W[(long)o * K + k];
            want[(long)m * O + o] = s;
        }
}

typedef void (*gemv_f32)(float *, int, const float *, int, const float *, int, int, int, bool);
typedef void (*gemv_b16)(float *, int, const float *, int, const uint16_t *, int, int, int, bool);

/* One shape through an fp32 kernel (f) or a bf16 one (h). */
static void check_shape(dr_rng *rng, gemv_f32 f, gemv_b16 h, int M, int O, int K, bool acc) {
    const int ldx = K + 3, ldy = O + 5; /* strided rows: the kernels must honour ld */
    float *x = tu_randn(rng, (long)M * ldx, 1.0f), *W = tu_randn(rng, (long)O * K, 0.1f);
    float *y = tu_randn(rng, (long)M * ldy, 1.0f), *y0 = malloc(sizeof(float) * (size_t)M * ldy);
    uint16_t *W16 = malloc(sizeof(uint16_t) * (size_t)O * K);
    double *want = malloc(sizeof(double) * (size_t)M * O);
    float *got = malloc(sizeof(float) * (size_t)M * O);
    memcpy(y0, y, sizeof(float) * (size_t)M * ldy);
    if (h) { /* the reference multiplies by the weights as rounded to bf16 */
        dr_bf16_from_f32(W16, W, (long)O * K);
        for (long i = 0; i < (long)O * K; i++) W[i] = dr_bf16_to_f32(W16[i]);
        h(y, ldy, x, ldx, W16, M, O, K, acc);
    } else {
        f(y, ldy, x, ldx, W, M, O, K, acc);
    }
    gemv_want(want, y0, ldy, x, ldx, W, M, O, K, acc);
    for (int m = 0; m < M; m++) {
        memcpy(got + (long)m * O, y + (long)m * ldy, sizeof(float) * (size_t)O);
        /* the padding between rows of y is left alone */
        for (int o = O; o < ldy; o++) assert_true(y[(long)m * ldy + o] == y0[(long)m * ldy + o]);
    }
    char what[96];
    snprintf(what, sizeof what, "%s M %d O %d K %d acc %d", h ? "gemv_bf16" : "gemv", M, O, K, acc);
    tu_expect_close(what, got, want, (long)M * O, 4e-6 * sqrt((double)K));
    free(x), free(W), free(y), free(y0), free(W16), free(want), free(got);
}

static void run_shapes(gemv_f32 f, gemv_b16 h) {
    dr_rng rng;
    dr_rng_seed(&rng, 11);
    const int Os[] = {1, 3, 4, 7, 64, 130}, Ks[] = {1, 5, 16, 17, 32, 256, 259};
    for (int M = 1; M <= 9; M++)
        for (size_t i = 0; i < sizeof Os / sizeof *Os; i++)
            for (size_t j = 0; j < sizeof Ks / sizeof *Ks; j++)
                check_shape(&rng, f, h, M, Os[i], Ks[j], (M + (int)i + (int)j) % 2 == 0);
}

static void test_gemv(void **state) {
    (void)state;
    run_shapes(dr_gemv, NULL);
}

static void test_gemv_ref(void **state) {
    (void)state;
    run_shapes(dr_gemv_ref, NULL);
}

static void test_gemv_bf16(void **state) {
    (void)state;
    run_shapes(NULL, dr_gemv_bf16);
}

static void test_gemv_bf16_ref(void **state) {
    (void)state;
    run_shapes(NULL, dr_gemv_bf16_ref);
}

/* The model-sized product gives the same numbers as the reference kernel to float
 * rounding, and fast and reference paths agree whatever the build. */
static void test_gemv_matches_ref(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    const int M = 1, O = 704, K = 256;
    float *x = tu_randn(&rng, K, 1.0f), *W = tu_randn(&rng, (long)O * K, 0.05f);
    float *a = calloc(O, sizeof(float)), *b = calloc(O, sizeof(float));
    dr_gemv(a, O, x, K, W, M, O, K, false);
    dr_gemv_ref(b, O, x, K, W, M, O, K, false);
    assert_true(tu_max_abs_diff(a, b, O) < 1e-5);
    free(x), free(W), free(a), free(b);
}

static void attn_shapes(void (*dot)(float *, const float *, const float *, long, int, int),
                        void (*axpy)(float *, const float *, const float *, long, int, int)) {
    dr_rng rng;
    dr_rng_seed(&rng, 5);
    const int ns[] = {1, 3, 4, 5, 37, 256}, Ds[] = {1, 8, 16, 32, 48, 64, 80, 130};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
        for (size_t j = 0; j < sizeof Ds / sizeof *Ds; j++) {
            const int n = ns[i], D = Ds[j];
            const long ld = 2 * D + 7; /* rows of a KV cache are several heads wide */
            float *rows = tu_randn(&rng, n * ld, 1.0f), *q = tu_randn(&rng, D, 1.0f), *p = tu_randn(&rng, n, 1.0f);
            float *s = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)(D + 1));
            double *want = malloc(sizeof(double) * (size_t)(n > D ? n : D));
            y[D] = 42.0f; /* must not be written */
            dot(s, q, rows, ld, n, D);
            for (int t = 0; t < n; t++) {
                double acc = 0;
                for (int k = 0; k < D; k++) acc += (double)q[k] * rows[t * ld + k];
                want[t] = acc;
            }
            tu_expect_close("dot_rows", s, want, n, 4e-6 * sqrt((double)D));
            axpy(y, p, rows, ld, n, D);
            for (int k = 0; k < D; k++) {
                double acc = 0;
                for (int t = 0; t < n; t++) acc += (double)p[t] * rows[t * ld + k];
                want[k] = acc;
            }
            tu_expect_close("axpy_rows", y, want, D, 4e-6 * sqrt((double)n));
            assert_true(y[D] == 42.0f);
            free(rows), free(q), free(p), free(s), free(y), free(want);
        }
}

static void test_attention_products(void **state) {
    (void)state;
    attn_shapes(dr_dot_rows, dr_axpy_rows);
    attn_shapes(dr_dot_rows_ref, dr_axpy_rows_ref);
}

static void test_bf16_rounding(void **state) {
    (void)state;
    const float in[] = {1.0f, -2.5f, 0.0f, 1.00390625f /* 1 + 2^-8: a tie, to even = 1 */,
                        1.01171875f /* 1 + 3 * 2^-8: a tie, to even = 1 + 2^-6 */, 3.14159265f, INFINITY, NAN};
    uint16_t out[8];
    dr_bf16_from_f32(out, in, 8);
    assert_true(dr_bf16_to_f32(out[0]) == 1.0f);
    assert_true(dr_bf16_to_f32(out[1]) == -2.5f);
    assert_true(dr_bf16_to_f32(out[2]) == 0.0f);
    assert_true(dr_bf16_to_f32(out[3]) == 1.0f);
    assert_true(dr_bf16_to_f32(out[4]) == 1.015625f);
    assert_true(fabsf(dr_bf16_to_f32(out[5]) - 3.14159265f) <= 3.14159265f / 256);
    assert_true(isinf(dr_bf16_to_f32(out[6])));
    assert_true(isnan(dr_bf16_to_f32(out[7])));
    /* every value is within half a bf16 ulp (2^-8 relative) */
    dr_rng rng;
    dr_rng_seed(&rng, 9);
    float *v = tu_randn(&rng, 10000, 3.0f);
    uint16_t *h = malloc(sizeof(uint16_t) * 10000);
    dr_bf16_from_f32(h, v, 10000);
    for (int i = 0; i < 10000; i++) assert_true(fabsf(dr_bf16_to_f32(h[i]) - v[i]) <= fabsf(v[i]) / 256.0f);
    free(v), free(h);
}

int main(void) {
    fprintf(stderr, "gemv kernels: %s\n", dr_gemv_kernel_name());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemv),           cmocka_unit_test(test_gemv_ref),
        cmocka_unit_test(test_gemv_bf16),      cmocka_unit_test(test_gemv_bf16_ref),
        cmocka_unit_test(test_gemv_matches_ref), cmocka_unit_test(test_attention_products),
        cmocka_unit_test(test_bf16_rounding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
