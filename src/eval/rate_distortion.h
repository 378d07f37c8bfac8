/* rate_distortion.h - what a pose coder with a given number of bits can be expected to reach.
 *
 * The pose tokenizer spends a fixed budget on each key frame (6 codebooks of 512 codes:
 * 54 bits). Whether a reconstruction error is good or bad for that budget is a question about
 * the data, not the model, so this module answers it from the data alone: it accumulates the
 * covariance of pose vectors (one key frame, or a window of W consecutive key frames coded
 * together), takes its eigenvalues (cyclic Jacobi, exact to rounding for the sizes used here),
 * and evaluates the rate-distortion function of a Gaussian source with that covariance by
 * reverse water-filling: D(R) = sum_i min(theta, lambda_i) with R = sum_i max(0, 1/2 log2
 * (lambda_i / theta)). That is the mean squared error of optimal transform coding of such a
 * source (decorrelate, then give each component its share of the bits); among all sources
 * with this covariance the Gaussian is the hardest to code, so a real coder can in principle
 * beat it on non-Gaussian poses, but a coder that lands far from it has room to improve, and
 * one far below it must be exploiting structure beyond second-order statistics. Used by
 * `director rvq bound` (docs/MODELS.md, "Residual VQ-VAE"). */
#ifndef DIRECTOR_EVAL_RATE_DISTORTION_H
#define DIRECTOR_EVAL_RATE_DISTORTION_H

#include "core/error.h"

/* Running mean and covariance of vectors of `dim` numbers (double precision). */
typedef struct dr_rd_source {
    int dim;
    long count;
    double *sum;   /* [dim] */
    double *outer; /* [dim * dim], sum of x x^T */
} dr_rd_source;

int dr_rd_init(dr_rd_source *s, int dim, dr_err *err);
void dr_rd_free(dr_rd_source *s);
void dr_rd_add(dr_rd_source *s, const double *x);

/* Eigenvalues of the sample covariance, largest first, into eig[dim] (negatives from
 * rounding are clamped to 0). Needs at least 2 vectors. */
int dr_rd_spectrum(const dr_rd_source *s, double *eig, dr_err *err);

/* Eigenvalues of the symmetric n x n matrix a (row-major; destroyed) into eig[n], largest
 * first, by cyclic Jacobi rotations. */
void dr_symmetric_eigenvalues(double *a, int n, double *eig);

/* Gaussian rate-distortion for the spectrum eig[n]: the total squared error (summed over
 * the n components) at `bits` bits per vector, and the bits needed for a total squared
 * error `distortion`. */
double dr_rd_distortion(const double *eig, int n, double bits);
double dr_rd_rate(const double *eig, int n, double distortion);

#endif
