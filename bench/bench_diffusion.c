/* bench_diffusion.c - pose diffusion interpolator: one training step at batch 32 (forward,
 * loss, backward, AdamW) and sampling one 200-frame clip with 25 DDIM steps at guidance
 * (1, 1) (one denoiser pass a step) and (1, 2) (two passes a step), on random data with the
 * shipped model's default sizes (or the sizes of a model file given as argv[1]).
 * Prints the median of repeated runs; run with DIRECTOR_THREADS / OMP_WAIT_POLICY as wanted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "models/pose_diffusion.h"
#include "nn/optim.h"

#include "util.h"

/* CPU time of the calling thread: on a shared machine, with DIRECTOR_THREADS=1, this is what
 * the step costs unloaded (wall time also counts the other processes' turns). */
static double thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *threads = getenv("DIRECTOR_THREADS");
    dr_set_threads(threads ? atoi(threads) : 0);
    dr_err err;
    dr_interp m;
    if (argc > 1) {
        if (dr_interp_load(&m, argv[1], &err)) {
            fprintf(stderr, "bench_diffusion: %s\n", err.msg);
            return 1;
        }
    } else {
        dr_interp_config cfg = dr_interp_default_config(128, 40);
        if (dr_interp_create(&m, &cfg, &err)) {
            fprintf(stderr, "bench_diffusion: %s\n", err.msg);
            return 1;
        }
        dr_interp_init_weights(&m, 1);
    }
    const dr_interp_config *c = &m.cfg;
    const int B = 32, F = c->frames, K = c->num_keyframes, Lt = c->text_len, Td = c->text_dim;
    char backend[96];
    dr_gemm_backend_name(backend, sizeof backend);
    printf("pose diffusion: dim %d, %d blocks, %d heads, mlp %d, text %d x %d, %zu parameters; %s, %d threads\n",
           c->dim, c->num_layers, c->num_heads, c->mlp_dim, Lt, Td, m.params.total, backend, dr_get_threads());
    if (dr_interp_alloc_acts(&m, B, &err) || dr_params_alloc_grad(&m.params) || dr_params_alloc_optim(&m.params)) {
        fprintf(stderr, "bench_diffusion: out of memory\n");
        return 1;
    }
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    float *x0 = malloc(sizeof(float) * (size_t)B * F * DR_POSE_DIM), *mask = malloc(sizeof(float) * (size_t)B * F * DR_POSE_DIM);
    float *kf = malloc(sizeof(float) * (size_t)B * K * DR_INTERP_KF_FEAT);
    float *fc = malloc(sizeof(float) * (size_t)B * F * DR_INTERP_FRAME_COND);
    float *text = malloc(sizeof(float) * ((size_t)B * Lt * Td + 1));
    int *kfi = malloc(sizeof(int) * (size_t)B * K);
    uint8_t *valid = malloc((size_t)B * Lt + 1);
    float *scratch = malloc(sizeof(float) * (size_t)dr_interp_loss_scratch_floats(&m, B));
    dr_rng_fill_normal(&rng, x0, (long)B * F * DR_POSE_DIM, 0, 0.5f);
    for (long i = 0; i < (long)B * F * DR_POSE_DIM; i++) mask[i] = 1;
    dr_rng_fill_normal(&rng, text, (long)B * Lt * Td, 0, 1);
    memset(valid, 1, (size_t)B * Lt + 1);
    for (int b = 0; b < B; b++) {
        float kp[64 * DR_POSE_DIM], km[64 * DR_NUM_KEYPOINTS];
        for (int k = 0; k < K && k < 64; k++) {
            kfi[b * K + k] = k * F / K;
            memcpy(kp + k * DR_POSE_DIM, x0 + ((size_t)b * F + kfi[b * K + k]) * DR_POSE_DIM, sizeof(float) * DR_POSE_DIM);
            for (int j = 0; j < DR_NUM_KEYPOINTS; j++) km[k * DR_NUM_KEYPOINTS + j] = 1;
        }
        dr_interp_guide(kp, km, kfi + b * K, K, F, fc + (size_t)b * F * DR_INTERP_FRAME_COND,
                        kf + (size_t)b * K * DR_INTERP_KF_FEAT, NULL, NULL);
    }
    dr_adamw_config ac = dr_adamw_default();
    enum { REPS = 7 };
    double t_train[REPS], t_s1[REPS], t_s2[REPS], c_train[REPS], c_s1[REPS], c_s2[REPS];
    for (int r = 0; r < REPS + 1; r++) { /* the first run warms up and is not counted */
        dr_interp_cond cond = {kf, kfi, fc, Td ? text : NULL, Td ? valid : NULL, NULL, NULL};
        double t0 = dr_now(), c0 = thread_cpu();
        dr_params_zero_grad(&m.params);
        dr_interp_loss(&m, x0, mask, &cond, B, &rng, true, scratch, NULL);
        dr_clip_grad_norm(m.params.grad, m.params.total, 1.0f);
        dr_adamw_step(&m.params, 1e-4f, r + 1, &ac);
        if (r) t_train[r - 1] = dr_now() - t0, c_train[r - 1] = thread_cpu() - c0;
    }
    float *out = malloc(sizeof(float) * (size_t)F * DR_POSE_DIM);
    float one = 1.0f;
    dr_interp_cond c1 = {kf, kfi, fc, Td ? text : NULL, Td ? valid : NULL, &one, &one};
    dr_interp_opts o = dr_interp_default_opts();
    if (getenv("BENCH_DIFF_STEPS")) o.steps = atoi(getenv("BENCH_DIFF_STEPS"));
    if (getenv("BENCH_DIFF_TMIN")) o.t_min = atoi(getenv("BENCH_DIFF_TMIN"));
    for (int r = 0; r < REPS + 1; r++) {
        o.seed = (uint64_t)r;
        o.guidance_text = 1.0f;
        double t0 = dr_now(), c0 = thread_cpu();
        if (dr_interp_sample(&m, &c1, &o, out, &err)) {
            fprintf(stderr, "bench_diffusion: %s\n", err.msg);
            return 1;
        }
        double t1 = dr_now(), c1t = thread_cpu();
        o.guidance_text = 2.0f;
        if (dr_interp_sample(&m, &c1, &o, out, &err)) {
            fprintf(stderr, "bench_diffusion: %s\n", err.msg);
            return 1;
        }
        if (r) {
            t_s1[r - 1] = t1 - t0;
            t_s2[r - 1] = dr_now() - t1;
            c_s1[r - 1] = c1t - c0;
            c_s2[r - 1] = thread_cpu() - c1t;
        }
    }
    printf("medians of %d runs           wall ms   main-thread CPU ms\n", REPS);
    printf("train step, batch %d:         %8.1f   %8.1f\n", B, 1e3 * bench_median(t_train, REPS), 1e3 * bench_median(c_train, REPS));
    printf("sample (DDIM %d steps to t %d), guidance 1/1: %8.1f   %8.1f\n", o.steps, o.t_min, 1e3 * bench_median(t_s1, REPS),
           1e3 * bench_median(c_s1, REPS));
    printf("sample (DDIM %d steps to t %d), guidance 1/2: %8.1f   %8.1f\n", o.steps, o.t_min, 1e3 * bench_median(t_s2, REPS),
           1e3 * bench_median(c_s2, REPS));
    free(x0);
    free(mask);
    free(kf);
    free(fc);
    free(text);
    free(kfi);
    free(valid);
    free(scratch);
    free(out);
    dr_interp_free(&m);
    return 0;
}
