/* rng.h - the one random number generator of director.
 *
 * xoshiro256** seeded through splitmix64. Every random choice in director (data
 * synthesis, initialisation, dropout, sampling, diffusion noise) draws from a dr_rng
 * that the caller seeded, so the same seed and thread count give the same output.
 * There is no global generator. Parallel code derives one stream per work item with
 * dr_rng_fork(), never by sharing a generator across threads. */
#ifndef DIRECTOR_CORE_RNG_H
#define DIRECTOR_CORE_RNG_H

#include <stdint.h>

typedef struct dr_rng {
    uint64_t s[4];
} dr_rng;

void dr_rng_seed(dr_rng *rng, uint64_t seed);
/* An independent stream for work item `stream` (e.g. clip index), derived from a seed. */
dr_rng dr_rng_fork(uint64_t seed, uint64_t stream);
uint64_t dr_rng_u64(dr_rng *rng);
uint32_t dr_rng_u32(dr_rng *rng);
/* Uniform integer in [0, n), unbiased. n must be > 0. */
uint32_t dr_rng_below(dr_rng *rng, uint32_t n);
/* Uniform float in [0, 1). */
float dr_rng_uniform(dr_rng *rng);
/* Uniform float in [lo, hi). */
float dr_rng_range(dr_rng *rng, float lo, float hi);
/* Standard normal (Box-Muller, no cached second value so the state alone defines the stream). */
float dr_rng_normal(dr_rng *rng);
void dr_rng_fill_normal(dr_rng *rng, float *out, long n, float mean, float std);
void dr_rng_fill_uniform(dr_rng *rng, float *out, long n, float lo, float hi);
/* Fisher-Yates shuffle of an int array. */
void dr_rng_shuffle(dr_rng *rng, int *a, int n);

#endif
