/* bench/util.c - see util.h. */
#include "util.h"

#include <stdlib.h>

#include "core/rng.h"

int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_keyframes(dr_pose *p, int clips, uint64_t seed) {
    static const float base[DR_NUM_KEYPOINTS][2] = {
        {0, -0.35f},    {0, 0},       {-0.35f, 0}, {-0.4f, 0.45f}, {-0.4f, 0.85f},   {0.35f, 0},
        {0.4f, 0.45f},  {0.4f, 0.85f}, {-0.2f, 1}, {-0.2f, 1.5f},  {-0.2f, 2},       {0.2f, 1},
        {0.2f, 1.5f},   {0.2f, 2},    {-0.08f, -0.42f}, {0.08f, -0.42f}, {-0.16f, -0.38f}, {0.16f, -0.38f}};
    for (int c = 0; c < clips; c++) {
        dr_rng rng = dr_rng_fork(seed, (uint64_t)c);
        float cx = dr_rng_range(&rng, 150, 360), cy = dr_rng_range(&rng, 90, 150), s = dr_rng_range(&rng, 40, 75);
        for (int t = 0; t < DR_NUM_KEYFRAMES; t++)
            for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
                dr_keypoint *k = &p[(size_t)c * DR_NUM_KEYFRAMES + t].kp[j];
                k->x = cx + s * base[j][0] + 4.0f * dr_rng_normal(&rng) + 2.0f * (float)t;
                k->y = cy + s * base[j][1] + 4.0f * dr_rng_normal(&rng);
                k->c = j >= 16 && dr_rng_uniform(&rng) < 0.3f ? 0.0f : 0.9f;
                if (k->c == 0.0f) k->x = k->y = 0.0f;
            }
    }
}
