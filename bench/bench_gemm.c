/* bench_gemm - GFLOP/s of the GEMM backend on the products director's models run, the
 * machine's fp32 FMA ceiling, and the conv1d / element-wise kernels at model shapes.
 *
 *   build/bench_gemm            (about 30 s; 2 threads unless DR_BENCH_THREADS is set)
 *
 * Every figure is the median of repeated timed runs after a warm-up, each run long
 * enough (>= 20 ms) for the clock to be exact. The CPU model is printed first because
 * machines of this kind differ (Zen 4 executes AVX-512 as two 256-bit halves). */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "nn/nn.h"

#include "util.h"

enum { SAMPLES = 9 };

typedef void (*work_fn)(void *ctx);

/* CPU seconds of the calling thread: unlike wall time it does not count the slices that
 * other jobs on a shared machine take, so single-thread figures measured with it are the
 * hardware's even under load. */
static double thread_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median seconds per call of fn: calibrate a repeat count so one sample lasts >= 20 ms.
 * *best gets the fastest sample: on a shared machine the median includes other jobs'
 * time slices, the best sample is the nearest to what the hardware does alone. */
static double time_median(work_fn fn, void *ctx, double *best, double (*clock)(void)) {
    fn(ctx); /* warm-up: first touch, oneDNN's kernel selection */
    double t0 = clock();
    fn(ctx);
    double once = clock() - t0;
    int reps = once > 0.02 ? 1 : (int)(0.02 / (once > 1e-7 ? once : 1e-7)) + 1;
    double s[SAMPLES];
    for (int i = 0; i < SAMPLES; i++) {
        double a = clock();
        for (int r = 0; r < reps; r++) fn(ctx);
        s[i] = (clock() - a) / reps;
    }
    qsort(s, SAMPLES, sizeof s[0], bench_cmp_double);
    if (best) *best = s[0];
    return s[SAMPLES / 2];
}

typedef struct {
    double median, best; /* wall seconds per call on the configured threads */
    double cpu1;         /* CPU seconds per call on 1 thread (median) */
} timing;

static timing measure(work_fn fn, void *ctx) {
    timing t;
    t.median = time_median(fn, ctx, &t.best, dr_now);
    int threads = dr_get_threads();
    dr_set_threads(1);
    t.cpu1 = time_median(fn, ctx, NULL, thread_cpu_now);
    dr_set_threads(threads);
    return t;
}

/* The 1-minute load average: on a shared machine, numbers taken under load are not the
 * machine's, so the output says what else was running. */
static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

static void print_cpu(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], model[256] = "unknown", family[32] = "?", modelno[32] = "?";
    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon) continue;
            char *val = colon + 2;
            val[strcspn(val, "\n")] = 0;
            if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown")) snprintf(model, sizeof model, "%s", val);
            else if (!strncmp(line, "cpu family", 10) && family[0] == '?') snprintf(family, sizeof family, "%s", val);
            else if (!strncmp(line, "model\t", 6) && modelno[0] == '?') snprintf(modelno, sizeof modelno, "%s", val);
        }
        fclose(f);
    }
    printf("CPU: %s (family %s, model %s), %d threads used\n", model, family, modelno, dr_get_threads());
}

/* ---- fp32 FMA peak: independent accumulator chains, enough to cover latency x ports ---- */

static volatile float fma_sink;

static double fma_peak(int threads) {
    const long iters = 20000000;
    double best = 0;
    /* one thread: its own CPU time; two: wall time, best of three */
    double (*clock)(void) = threads == 1 ? thread_cpu_now : dr_now;
    for (int trial = 0; trial < 3; trial++) {
        double t0 = clock();
#pragma omp parallel num_threads(threads)
        {
#if defined(__AVX512F__)
            __m512 acc[16], a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
            for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps((float)i);
            for (long it = 0; it < iters / 16; it++)
                for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
            __m512 s = acc[0];
            for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);
            fma_sink = _mm512_reduce_add_ps(s);
#else
            __m256 acc[16], a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
            for (int i = 0; i < 16; i++) acc[i] = _mm256_set1_ps((float)i);
            for (long it = 0; it < iters / 16; it++)
                for (int i = 0; i < 16; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
            __m256 s = acc[0];
            for (int i = 1; i < 16; i++) s = _mm256_add_ps(s, acc[i]);
            float v[8];
            _mm256_storeu_ps(v, s);
            fma_sink = v[0];
#endif
        }
        double dt = clock() - t0;
#if defined(__AVX512F__)
        double flops = (double)threads * (iters / 16) * 16 * 16 * 2;
#else
        double flops = (double)threads * (iters / 16) * 16 * 8 * 2;
#endif
        if (flops / dt > best) best = flops / dt;
    }
    return best / 1e9;
}

/* ---- GEMM shapes ---- */

typedef struct {
    const char *name, *use;
    bool ta, tb;
    int M, N, K, batch;
    float *A, *B, *C;
} gemm_case;

static void run_gemm(void *p) {
    gemm_case *g = p;
    int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    if (g->batch == 1)
        dr_sgemm(g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, lda, g->B, ldb, 0.0f, g->C, g->N);
    else
        dr_sgemm_strided_batched(g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, lda, (long)g->M * g->K, g->B, ldb,
                                 (long)g->K * g->N, 0.0f, g->C, g->N, (long)g->M * g->N, g->batch);
}

/* ---- conv1d at the RVQ-VAE shape ---- */

typedef struct {
    dr_conv1d_shape s;
    float *x, *w, *b, *out, *dout, *dx, *dw, *db, *scratch;
} conv_case;

static void run_conv_fwd(void *p) {
    conv_case *c = p;
    dr_conv1d_forward(c->out, c->x, c->w, c->b, &c->s, c->scratch);
}
static void run_conv_bwd(void *p) {
    conv_case *c = p;
    dr_conv1d_backward(c->dx, c->dw, c->db, c->dout, c->x, c->w, &c->s, c->scratch);
}

/* ---- element-wise and normalisation kernels ---- */

typedef struct {
    int N, C;
    float *x, *y, *w, *stat, *stat2;
    int *targets;
} ew_case;

static void run_silu(void *p) {
    ew_case *e = p;
    dr_silu_forward(e->y, e->x, (long)e->N * e->C);
}
static void run_rmsnorm(void *p) {
    ew_case *e = p;
    dr_rmsnorm_forward(e->y, e->stat, e->x, e->w, e->N, e->C, 1e-5f);
}
static void run_rmsnorm_bwd(void *p) {
    ew_case *e = p;
    dr_rmsnorm_backward(e->y, e->w + e->C, e->x, e->x, e->w, e->stat, e->N, e->C);
}
static void run_xent(void *p) {
    ew_case *e = p;
    int nv;
    dr_softmax_xent_forward(e->y, e->x, e->targets, e->N, e->C, &nv);
}

static void print_ew(const char *name, const char *shape, timing t, double bytes) {
    printf("| %s | %s | %.3f | %.1f | %.1f | %.1f |\n", name, shape, t.median * 1e3, bytes / t.median / 1e9,
           bytes / t.best / 1e9, bytes / t.cpu1 / 1e9);
    fflush(stdout);
}

static float *filled(dr_rng *rng, size_t n) {
    float *p = dr_alloc(sizeof(float) * (n ? n : 1));
    dr_rng_fill_normal(rng, p, (long)n, 0.0f, 1.0f);
    return p;
}

int main(void) {
    const char *env = getenv("DR_BENCH_THREADS");
    dr_set_threads(env ? atoi(env) : 2);
    double t_start = dr_now();
    print_cpu();
    printf("load average (1 min) at start: %.2f\n", loadavg());
    char backend[128];
    dr_gemm_backend_name(backend, sizeof backend);
    printf("GEMM backend: %s\n", backend);
#if defined(__AVX512F__)
    const char *isa = "AVX-512";
#else
    const char *isa = "AVX2";
#endif
    printf("fp32 FMA peak (%s, 16 chains): 1 thread %.0f GFLOP/s, 2 threads %.0f GFLOP/s\n\n", isa, fma_peak(1),
           fma_peak(2));

    dr_rng rng;
    dr_rng_seed(&rng, 1);
    gemm_case cases[] = {
        {"2560x256x256", "linear, W transposed", false, true, 2560, 256, 256, 1, 0, 0, 0},
        {"2560x4096x256", "LM head, W transposed", false, true, 2560, 4096, 256, 1, 0, 0, 0},
        {"320x320x32 x16", "attention scores Q K^T", false, true, 320, 320, 32, 16, 0, 0, 0},
        {"320x32x320 x16", "attention probs x V", false, false, 320, 32, 320, 16, 0, 0, 0},
        {"1x256x256", "decode, batch 1", false, true, 1, 256, 256, 1, 0, 0, 0},
        {"1x4096x256", "decode LM head", false, true, 1, 4096, 256, 1, 0, 0, 0},
        {"1024x1024x1024", "square", false, false, 1024, 1024, 1024, 1, 0, 0, 0},
    };
    printf("| shape (MxNxK) | use | median ms | median GFLOP/s | best GFLOP/s | 1 thread, CPU time |\n"
           "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gemm_case *g = &cases[i];
        g->A = filled(&rng, (size_t)g->batch * g->M * g->K);
        g->B = filled(&rng, (size_t)g->batch * g->K * g->N);
        g->C = filled(&rng, (size_t)g->batch * g->M * g->N);
        timing t = measure(run_gemm, g);
        double flops = 2.0 * g->M * g->N * g->K * g->batch;
        printf("| %s | %s | %.3f | %.1f | %.1f | %.1f |\n", g->name, g->use, t.median * 1e3, flops / t.median / 1e9,
               flops / t.best / 1e9, flops / t.cpu1 / 1e9);
        fflush(stdout);
        dr_free(g->A), dr_free(g->B), dr_free(g->C);
    }

    printf("\nconv1d, RVQ-VAE shape [B=256, T=20, 256 -> 256 channels], kernel 2, with bias:\n");
    printf("| dilation, padding | forward median ms | median GFLOP/s | best GFLOP/s | 1 thread, CPU time "
           "| backward (dinp, dW, db) median ms | median GFLOP/s | best GFLOP/s | 1 thread, CPU time |\n"
           "|---|---|---|---|---|---|---|---|---|\n");
    const int dil[] = {1, 2, 4};
    const dr_pad_mode pads[] = {DR_PAD_CAUSAL, DR_PAD_CAUSAL, DR_PAD_SAME};
    for (int i = 0; i < 3; i++) {
        conv_case c = {.s = {.B = 256, .T_in = 20, .IC = 256, .OC = 256, .kernel = 2, .stride = 1,
                             .dilation = dil[i], .pad = pads[i]}};
        int To = dr_conv1d_out_len(&c.s);
        size_t nin = (size_t)256 * 20 * 256, nout = (size_t)256 * To * 256, nw = 256 * 256 * 2;
        c.x = filled(&rng, nin), c.w = filled(&rng, nw), c.b = filled(&rng, 256), c.out = filled(&rng, nout);
        c.dout = filled(&rng, nout), c.dx = filled(&rng, nin), c.dw = filled(&rng, nw), c.db = filled(&rng, 256);
        c.scratch = dr_alloc(sizeof(float) * dr_conv1d_scratch_floats(&c.s));
        timing f = measure(run_conv_fwd, &c), b = measure(run_conv_bwd, &c);
        double flops = 2.0 * 256 * To * 256 * 512;
        printf("| %d, %s | %.2f | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f |\n", dil[i],
               pads[i] == DR_PAD_SAME ? "same" : "causal", f.median * 1e3, flops / f.median / 1e9, flops / f.best / 1e9,
               flops / f.cpu1 / 1e9, b.median * 1e3, 2 * flops / b.median / 1e9, 2 * flops / b.best / 1e9,
               2 * flops / b.cpu1 / 1e9);
        fflush(stdout);
        dr_free(c.x), dr_free(c.w), dr_free(c.b), dr_free(c.out), dr_free(c.dout), dr_free(c.dx), dr_free(c.dw);
        dr_free(c.db), dr_free(c.scratch);
    }

    printf("\nelement-wise kernels (GB/s counts the bytes each must read and write once):\n");
    printf("| kernel | shape | median ms | median GB/s | best GB/s | 1 thread, CPU time |\n|---|---|---|---|---|---|\n");
    {
        ew_case e = {.N = 2560, .C = 704};
        size_t n = (size_t)e.N * e.C;
        e.x = filled(&rng, n), e.y = filled(&rng, n), e.w = filled(&rng, 2 * 704), e.stat = filled(&rng, e.N);
        print_ew("silu forward", "2560x704", measure(run_silu, &e), 8.0 * n);
        e.C = 256, n = (size_t)e.N * e.C;
        print_ew("rmsnorm forward", "2560x256", measure(run_rmsnorm, &e), 8.0 * n);
        print_ew("rmsnorm backward", "2560x256", measure(run_rmsnorm_bwd, &e), 12.0 * n);
        dr_free(e.x), dr_free(e.y), dr_free(e.w), dr_free(e.stat);
        ew_case x = {.N = 2560, .C = 4096};
        n = (size_t)x.N * x.C;
        x.x = filled(&rng, n), x.y = filled(&rng, n);
        x.targets = malloc(sizeof(int) * (size_t)x.N);
        for (int i = 0; i < x.N; i++) x.targets[i] = (int)dr_rng_below(&rng, (uint32_t)x.C);
        print_ew("softmax xent forward", "2560x4096", measure(run_xent, &x), 8.0 * n);
        dr_free(x.x), dr_free(x.y), free(x.targets);
    }
    printf("\ntotal bench time %.1f s, load average (1 min) at end: %.2f\n", dr_now() - t_start, loadavg());
    return 0;
}
