/* fastmath.h - branch-free exp/tanh/sigmoid that vectorize inside `omp simd` loops.
 *
 * libm's expf is a scalar call unless the whole program is built with -ffast-math, which
 * director avoids (it changes NaN and reduction semantics everywhere). These inline
 * versions compile to straight-line SIMD code, so activations and softmax run at memory
 * speed. dr_expf uses Cody-Waite range reduction and the Cephes degree-6 polynomial:
 * relative error below 2e-7 (about 2 ulp) on [-87, 88]; inputs are clamped to that range,
 * so exp of a very negative number is ~1e-38 rather than 0 and nothing overflows. */
#ifndef DIRECTOR_NN_FASTMATH_H
#define DIRECTOR_NN_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma omp declare simd notinbranch
static inline float dr_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick: exact under the default rounding mode
     * and free of the libm call that rintf may become. */
    const float shifter = 12582912.0f;
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = fmaf(n, -0.693359375f, x); /* ln2 split in two: n * hi is exact */
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    float y = fmaf(p, r * r, r) + 1.0f;
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);      /* low mantissa bits of t hold n */
    int32_t e = (bits - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return y * scale;
}

#pragma omp declare simd notinbranch
static inline float dr_sigmoidf(float x) { return 1.0f / (1.0f + dr_expf(-x)); }

/* tanh(x) = 1 - 2 / (exp(2x) + 1): exact limits +-1 at the clamped ends. For |x| < 1e-3
 * the subtraction cancels; a first-order term keeps the relative error small there. */
#pragma omp declare simd notinbranch
static inline float dr_tanhf(float x) {
    float t = 1.0f - 2.0f / (dr_expf(2.0f * x) + 1.0f);
    float ax = x < 0 ? -x : x;
    return ax < 1e-3f ? x * (1.0f - x * x * (1.0f / 3.0f)) : t;
}

#endif
