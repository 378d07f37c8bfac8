/* rate_distortion.c - Gaussian rate-distortion reference for pose coders (see the header). */
#include "eval/rate_distortion.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int dr_rd_init(dr_rd_source *s, int dim, dr_err *err) {
    memset(s, 0, sizeof *s);
    if (dim < 1 || dim > 4096) return dr_err_set(err, DR_EINVAL, "rate-distortion: dimension %d is outside [1, 4096]", dim);
    s->dim = dim;
    s->sum = calloc((size_t)dim, sizeof(double));
    s->outer = calloc((size_t)dim * (size_t)dim, sizeof(double));
    if (!s->sum || !s->outer) {
        dr_rd_free(s);
        return dr_err_set(err, DR_ENOMEM, "rate-distortion: out of memory for dimension %d", dim);
    }
    return DR_OK;
}

void dr_rd_free(dr_rd_source *s) {
    free(s->sum);
    free(s->outer);
    memset(s, 0, sizeof *s);
}

void dr_rd_add(dr_rd_source *s, const double *x) {
    const int n = s->dim;
    for (int i = 0; i < n; i++) {
        s->sum[i] += x[i];
        double *row = s->outer + (size_t)i * n;
        for (int j = 0; j <= i; j++) row[j] += x[i] * x[j]; /* lower triangle; mirrored later */
    }
    s->count++;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

void dr_symmetric_eigenvalues(double *a, int n, double *eig) {
    /* Cyclic Jacobi: rotate away each off-diagonal entry in turn until the off-diagonal mass
     * is negligible next to the diagonal. Quadratic convergence: ~10 sweeps for n <= 300. */
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < n; i++) {
            diag += a[(size_t)i * n + i] * a[(size_t)i * n + i];
            for (int j = i + 1; j < n; j++) off += a[(size_t)i * n + j] * a[(size_t)i * n + j];
        }
        if (off <= 1e-30 * diag || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                const double apq = a[(size_t)p * n + q];
                if (apq == 0) continue;
                const double app = a[(size_t)p * n + p], aqq = a[(size_t)q * n + q];
                const double theta = (aqq - app) / (2 * apq);
                const double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                const double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    const double akp = a[(size_t)k * n + p], akq = a[(size_t)k * n + q];
                    a[(size_t)k * n + p] = c * akp - s * akq;
                    a[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    const double apk = a[(size_t)p * n + k], aqk = a[(size_t)q * n + k];
                    a[(size_t)p * n + k] = c * apk - s * aqk;
                    a[(size_t)q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int i = 0; i < n; i++) eig[i] = a[(size_t)i * n + i];
    qsort(eig, (size_t)n, sizeof(double), cmp_desc);
}

int dr_rd_spectrum(const dr_rd_source *s, double *eig, dr_err *err) {
    const int n = s->dim;
    if (s->count < 2) return dr_err_set(err, DR_EINVAL, "rate-distortion: %ld vectors are too few for a covariance", s->count);
    double *c = malloc(sizeof(double) * (size_t)n * (size_t)n);
    if (!c) return dr_err_set(err, DR_ENOMEM, "rate-distortion: out of memory");
    const double N = (double)s->count;
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double v = (s->outer[(size_t)i * n + j] - s->sum[i] * s->sum[j] / N) / (N - 1);
            c[(size_t)i * n + j] = c[(size_t)j * n + i] = v;
        }
    dr_symmetric_eigenvalues(c, n, eig);
    for (int i = 0; i < n; i++)
        if (eig[i] < 0) eig[i] = 0;
    free(c);
    return DR_OK;
}

/* Reverse water-filling at water level theta. */
static double rate_at(const double *eig, int n, double theta) {
    double r = 0;
    for (int i = 0; i < n; i++)
        if (eig[i] > theta) r += 0.5 * log2(eig[i] / theta);
    return r;
}

static double distortion_at(const double *eig, int n, double theta) {
    double d = 0;
    for (int i = 0; i < n; i++) d += eig[i] < theta ? eig[i] : theta;
    return d;
}

/* The water level at which f (rate_at, falling in theta, or distortion_at, rising) equals
 * target, by bisection on log(theta) between a negligible level and the top eigenvalue. The
 * returned level is on the side where f has not yet passed the target. */
static double water_level(const double *eig, int n, double top, double (*f)(const double *, int, double),
                          double target, bool rising) {
    double lo = log(top) - 200, hi = log(top);
    for (int it = 0; it < 200; it++) {
        const double mid = 0.5 * (lo + hi);
        if ((f(eig, n, exp(mid)) > target) == rising) hi = mid;
        else lo = mid;
    }
    return exp(rising ? lo : hi);
}

static double top_of(const double *eig, int n) {
    double top = 0;
    for (int i = 0; i < n; i++)
        if (eig[i] > top) top = eig[i];
    return top;
}

double dr_rd_distortion(const double *eig, int n, double bits) {
    const double top = top_of(eig, n);
    if (top <= 0) return 0;
    if (bits <= 0) return distortion_at(eig, n, top);
    return distortion_at(eig, n, water_level(eig, n, top, rate_at, bits, false));
}

double dr_rd_rate(const double *eig, int n, double distortion) {
    const double top = top_of(eig, n);
    if (distortion >= distortion_at(eig, n, top) || top <= 0) return 0;
    if (distortion <= 0) return INFINITY;
    return rate_at(eig, n, water_level(eig, n, top, distortion_at, distortion, true));
}
