#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void dr_rng_seed(dr_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

dr_rng dr_rng_fork(uint64_t seed, uint64_t stream) {
    dr_rng r;
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    dr_rng_seed(&r, splitmix64(&x));
    return r;
}

uint64_t dr_rng_u64(dr_rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t dr_rng_u32(dr_rng *rng) { return (uint32_t)(dr_rng_u64(rng) >> 32); }

uint32_t dr_rng_below(dr_rng *rng, uint32_t n) {
    /* Lemire's multiply-shift with rejection: unbiased for every n. */
    uint64_t m = (uint64_t)dr_rng_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)dr_rng_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

float dr_rng_uniform(dr_rng *rng) { return (float)(dr_rng_u64(rng) >> 40) * (1.0f / 16777216.0f); }

float dr_rng_range(dr_rng *rng, float lo, float hi) { return lo + (hi - lo) * dr_rng_uniform(rng); }

float dr_rng_normal(dr_rng *rng) {
    /* 53-bit uniforms in (0, 1] so that log() never sees zero. */
    double u1 = ((double)(dr_rng_u64(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(dr_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void dr_rng_fill_normal(dr_rng *rng, float *out, long n, float mean, float std) {
    for (long i = 0; i < n; i++) out[i] = mean + std * dr_rng_normal(rng);
}

void dr_rng_fill_uniform(dr_rng *rng, float *out, long n, float lo, float hi) {
    for (long i = 0; i < n; i++) out[i] = dr_rng_range(rng, lo, hi);
}

void dr_rng_shuffle(dr_rng *rng, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)dr_rng_below(rng, (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
