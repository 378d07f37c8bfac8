/* bench/util.h - pieces every benchmark program of bench/ shares: order statistics of
 * repeated timings and the synthetic key frames the RVQ benchmarks feed. Benchmarks only;
 * nothing here is part of the library. */
#ifndef DIRECTOR_BENCH_UTIL_H
#define DIRECTOR_BENCH_UTIL_H

#include <stdint.h>

#include "pose/skeleton.h"

/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/* Median of v[0..n) (n >= 1); sorts v in place. */
double bench_median(double *v, int n);
/* Random but body-like key frames, clips x DR_NUM_KEYFRAMES poses: a skeleton at a random
 * place and size per clip, jittered joints, drifting right, some face points missing. */
void bench_keyframes(dr_pose *p, int clips, uint64_t seed);

#endif
