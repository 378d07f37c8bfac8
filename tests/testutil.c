#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "models/rvq.h"
#include "pose/dataset.h"

void tu_tmpdir(char *buf, size_t size, const char *tag) {
    char base[1024];
    snprintf(base, sizeof base, "%s/test-tmp", DIRECTOR_BINARY_DIR);
    mkdir(base, 0777);
    snprintf(buf, size, "%s/%s-%ld-XXXXXX", base, tag, (long)getpid());
    if (!mkdtemp(buf)) {
        fprintf(stderr, "cannot create %s\n", buf);
        abort();
    }
}

double tu_max_abs_diff(const float *a, const float *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

double tu_rel_err(const float *a, const float *b, long n) {
    double scale = 1e-6;
    for (long i = 0; i < n; i++)
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    return tu_max_abs_diff(a, b, n) / scale;
}

void tu_gemm_ref(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = trans_a ? A[(long)k * lda + i] : A[(long)i * lda + k];
                double b = trans_b ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += a * b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * C[(long)i * ldc + j];
            C[(long)i * ldc + j] = (float)(alpha * s + c);
        }
}

float *tu_randn(dr_rng *rng, long n, float std) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    dr_rng_fill_normal(rng, p, n, 0.0f, std);
    return p;
}

int tu_system(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *tu_director_bin(void) {
    const char *b = getenv("DIRECTOR_BIN");
    return b ? b : DIRECTOR_BINARY_DIR "/director";
}

double tu_dot(const float *out, const float *probe, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)out[i] * (double)probe[i];
    return s;
}

double tu_gradcheck(tu_loss_fn loss, void *ctx, float *x, const float *analytic, long n, float eps, int max_checks,
                    double abs_floor) {
    double worst = 0;
    long step = n <= max_checks ? 1 : n / max_checks;
    for (long i = 0; i < n; i += step) {
        float saved = x[i];
        x[i] = saved + eps;
        double lp = loss(ctx);
        x[i] = saved - eps;
        double lm = loss(ctx);
        x[i] = saved;
        double fd = (lp - lm) / (2.0 * (double)eps);
        double a = analytic[i];
        double denom = fabs(a) + fabs(fd);
        if (denom < abs_floor) denom = abs_floor;
        double e = fabs(a - fd) / denom;
        if (e > worst || isnan(e)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

void tu_expect_close(const char *what, const float *got, const double *want, long n, double tol) {
    double scale = 1.0, worst = 0.0;
    long at = 0;
    for (long i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (long i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= worst)) worst = d, at = i;
    }
    if (!(worst / scale <= tol))
        fail_msg("%s: error %g at [%ld] (got %g, want %g) > tol %g", what, worst / scale, at, got[at], want[at], tol);
}

void tu_make_rvq(const char *data_dir, int depth, int codebook, int steps, const char *path) {
    dr_err err = {0};
    dr_dataset ds;
    if (dr_dataset_open(&ds, data_dir, "train", &err)) fail_msg("%s", err.msg);
    dr_rvq_config cfg = dr_rvq_default_config();
    cfg.codebook_size = codebook, cfg.depth = depth, cfg.dim = 16, cfg.channels = 32;
    dr_rvq *m;
    assert_int_equal(dr_rvq_create(&m, &cfg, 1, &err), DR_OK);
    const int B = ds.num_clips < 16 ? ds.num_clips : 16, F = cfg.num_keyframes;
    dr_pose *kf = malloc(sizeof(dr_pose) * (size_t)B * F);
    assert_non_null(kf);
    for (int i = 0; i < B; i++) dr_rvq_keyframes_of_clip(dr_dataset_clip(&ds, i), kf + (long)i * F);
    dr_rvq_train_opts o = dr_rvq_default_train_opts();
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    dr_rvq_stats st;
    for (long s = 1; s <= steps; s++)
        assert_int_equal(dr_rvq_train_step(m, kf, B, ds.width, ds.height, &o, s, &rng, &st, &err), DR_OK);
    assert_int_equal(dr_rvq_save(m, path, &err), DR_OK);
    free(kf);
    dr_rvq_free(m);
    dr_dataset_close(&ds);
}
