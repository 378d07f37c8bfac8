/* bench_rvq - speed of the residual VQ-VAE pose tokenizer: encode (greedy and with a beam of
 * 8) and decode throughput (key frames per second) and the time of one training step at batch 256 clips.
 *
 *   build/bench_rvq [MODEL.safetensors]   (default: a fresh model of the default size,
 *                                          codebooks seeded by one training step)
 *
 * Threads: DR_BENCH_THREADS (default 2). Medians of repeated runs after a warm-up; the
 * CPU model is printed first because machines of this kind differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "models/rvq.h"

#include "util.h"

enum { SAMPLES = 7, BATCH = 256 };

/* Process CPU seconds: with one thread, the time the benchmark really ran, which does not
 * count time spent descheduled on a shared machine. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_cpu(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], model[256] = "unknown";
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *c = strchr(line, ':');
                if (c) snprintf(model, sizeof model, "%s", c + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    printf("CPU: %s, %d threads\n", model, dr_get_threads());
}

int main(int argc, char **argv) {
    const char *env = getenv("DR_BENCH_THREADS");
    dr_set_threads(env ? atoi(env) : 2);
    print_cpu();
    dr_err err = {0};
    dr_rvq *m;
    const int T = DR_NUM_KEYFRAMES;
    dr_pose *poses = malloc(sizeof(dr_pose) * BATCH * T), *out = malloc(sizeof(dr_pose) * BATCH * T);
    bench_keyframes(poses, BATCH, 1);
    dr_rvq_train_opts o = dr_rvq_default_train_opts();
    dr_rvq_stats st;
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    if (argc > 1) {
        if (dr_rvq_load(&m, argv[1], &err)) {
            fprintf(stderr, "bench_rvq: %s\n", err.msg);
            return 1;
        }
    } else {
        dr_rvq_config cfg = dr_rvq_default_config();
        if (dr_rvq_create(&m, &cfg, 1, &err) || dr_rvq_train_step(m, poses, BATCH, 512, 320, &o, 1, &rng, &st, &err)) {
            fprintf(stderr, "bench_rvq: %s\n", err.msg);
            return 1;
        }
    }
    const dr_rvq_config *cfg = dr_rvq_get_config(m);
    printf("model: depth %d x %d codes, dim %d, channels %d, %ld weights\n", cfg->depth, cfg->codebook_size, cfg->dim,
           cfg->channels, dr_rvq_num_weights(m));
    int *tokens = malloc(sizeof(int) * BATCH * T * (size_t)cfg->depth);
    double enc[SAMPLES], dec[SAMPLES], beam[SAMPLES], step[SAMPLES], cenc[SAMPLES], cdec[SAMPLES], cbeam[SAMPLES],
        cstep[SAMPLES];
    dr_rvq_encode(m, poses, BATCH, 512, 320, tokens, &err); /* warm-up */
    for (int i = 0; i < SAMPLES; i++) {
        double t0 = dr_now(), c0 = cpu_now();
        if (dr_rvq_encode(m, poses, BATCH, 512, 320, tokens, &err)) return 1;
        double t1 = dr_now(), c1 = cpu_now();
        if (dr_rvq_decode(m, tokens, BATCH, cfg->depth, 512, 320, out, &err)) return 1;
        double t2 = dr_now(), c2 = cpu_now();
        enc[i] = t1 - t0;
        dec[i] = t2 - t1;
        cenc[i] = c1 - c0;
        cdec[i] = c2 - c1;
    }
    if (dr_rvq_set_beam(m, 8, &err)) return 1;
    for (int i = 0; i < SAMPLES; i++) {
        double t0 = dr_now(), c0 = cpu_now();
        if (dr_rvq_encode(m, poses, BATCH, 512, 320, tokens, &err)) return 1;
        beam[i] = dr_now() - t0;
        cbeam[i] = cpu_now() - c0;
    }
    if (dr_rvq_set_beam(m, 1, &err)) return 1;
    /* training steps at a tiny learning rate so the model stays as it is */
    o.lr = 1e-9f;
    for (int i = 0; i < SAMPLES; i++) {
        double t0 = dr_now(), c0 = cpu_now();
        if (dr_rvq_train_step(m, poses, BATCH, 512, 320, &o, 2 + i, &rng, &st, &err)) {
            fprintf(stderr, "bench_rvq: %s\n", err.msg);
            return 1;
        }
        step[i] = dr_now() - t0;
        cstep[i] = cpu_now() - c0;
    }
    double *all[8] = {enc, dec, beam, step, cenc, cdec, cbeam, cstep};
    for (int i = 0; i < 8; i++) qsort(all[i], SAMPLES, sizeof(double), bench_cmp_double);
    const double frames = (double)BATCH * T;
    double load[3] = {0, 0, 0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(lf);
    }
    printf("load average %.2f %.2f %.2f; medians of %d; CPU time = process CPU seconds (all threads)\n", load[0],
           load[1], load[2], SAMPLES);
    const char *what[4] = {"encode", "decode (all levels)", "encode, beam 8", "train step"};
    for (int i = 0; i < 4; i++)
        printf("%-20s batch %d clips: wall %8.1f ms (%8.0f key frames/s)  CPU %8.1f ms (%8.0f key frames/CPU-s)\n",
               what[i], BATCH, 1e3 * all[i][SAMPLES / 2], frames / all[i][SAMPLES / 2], 1e3 * all[i + 4][SAMPLES / 2],
               frames / all[i + 4][SAMPLES / 2]);
    free(tokens);
    free(poses);
    free(out);
    dr_rvq_free(m);
    return 0;
}
