/* testutil.h - helpers shared by the cmocka test programs. */
#ifndef DIRECTOR_TESTS_TESTUTIL_H
#define DIRECTOR_TESTS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"

/* A fresh empty folder under the build tree, unique per call; removed by nothing
 * (ctest runs in a scratch tree), so failures can be inspected. */
void tu_tmpdir(char *buf, size_t size, const char *tag);
/* Max |a - b| over n values, and relative error max|a-b| / max(1e-6, max|b|). */
double tu_max_abs_diff(const float *a, const float *b, long n);
double tu_rel_err(const float *a, const float *b, long n);
/* Fails the test unless max |got - want| / max(1, max |want|) <= tol (want in double
 * precision, from a naive reference); names `what` and the worst element. */
void tu_expect_close(const char *what, const float *got, const double *want, long n, double tol);
/* Naive reference products in double precision, row-major, for kernel tests. */
void tu_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
/* malloc'd array of n floats drawn from N(0, std). */
float *tu_randn(dr_rng *rng, long n, float std);
/* Run a shell command (for CLI tests); returns the exit status. */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A small RVQ (latent 16, 32 channels, depth x codebook codes) trained `steps` steps on the
 * first 16 train clips of the dataset at data_dir, so that its codebooks are seeded; saved
 * to path. For tests that need pose tokens without training a real tokenizer. */
void tu_make_rvq(const char *data_dir, int depth, int codebook, int steps, const char *path);
/* Path of the director binary under test (from the DIRECTOR_BIN environment variable). */
const char *tu_director_bin(void);


/* ---- finite-difference gradient checks ----
 * The loss callback runs the forward pass with the current values and returns a scalar
 * loss in double precision (conventionally sum(out .* probe) for a fixed random probe,
 * so that dL/dout = probe is what the backward pass is fed). tu_gradcheck perturbs up
 * to max_checks entries of x (spread evenly; all when n <= max_checks) by +-eps,
 * compares the central difference with analytic[i] and returns the worst error
 *   |a - f| / max(|a| + |f|, abs_floor)
 * so that tiny gradients are judged absolutely. Tolerance: with float32 forward passes
 * and eps = 1e-2..1e-3, correct layers give errors below 1e-2; a wrong backward gives O(1). */
typedef double (*tu_loss_fn)(void *ctx);
double tu_gradcheck(tu_loss_fn loss, void *ctx, float *x, const float *analytic, long n, float eps, int max_checks,
                    double abs_floor);
/* sum(out[i] * probe[i]) in double. */
double tu_dot(const float *out, const float *probe, long n);
#endif
