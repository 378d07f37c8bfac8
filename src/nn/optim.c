/* optim.c - AdamW (decoupled weight decay, bias-corrected moments), global-norm gradient
 * clipping and the warm-up + cosine learning-rate schedule.
 *
 * The update is the one of PyTorch's torch.optim.AdamW and llm.c:
 *   m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
 *   p -= lr * ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd * p )
 * where the decay term uses the parameter before this step's update. */
#include <math.h>

#include <omp.h>

#include "nn/optim.h"
#include "nn/params.h"

dr_adamw_config dr_adamw_default(void) {
    dr_adamw_config c = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
    return c;
}

void dr_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, int step,
                     float weight_decay, const dr_adamw_config *cfg) {
    const float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    const float c1 = 1.0f / (1.0f - powf(b1, (float)step)), c2 = 1.0f / (1.0f - powf(b2, (float)step));
    const long count = (long)n;
#pragma omp parallel for simd schedule(static) if (count > 65536)
    for (long i = 0; i < count; i++) {
        float g = grad[i];
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi, v[i] = vi;
        param[i] -= lr * ((mi * c1) / (sqrtf(vi * c2) + eps) + weight_decay * param[i]);
    }
}

void dr_adamw_step(struct dr_params *p, float lr, int step, const dr_adamw_config *cfg) {
    for (int i = 0; i < p->count; i++) {
        const dr_param *t = &p->items[i];
        float wd = t->no_decay ? 0.0f : cfg->weight_decay;
        dr_adamw_update(p->data + t->offset, p->grad + t->offset, p->m + t->offset, p->v + t->offset, t->numel, lr,
                        step, wd, cfg);
    }
}

enum { MAX_PARTIALS = 256 };

float dr_clip_grad_norm(float *grad, size_t n, float max_norm) {
    /* Squares summed in double, per thread, then combined in thread order: the norm is
     * reproducible for a given thread count and exact enough for millions of values. */
    double part[MAX_PARTIALS] = {0};
    const long count = (long)n;
    int nthreads = 1, cap = omp_get_max_threads() < MAX_PARTIALS ? omp_get_max_threads() : MAX_PARTIALS;
#pragma omp parallel num_threads(cap) if (count > 65536)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        if (tid == 0) nthreads = nt;
        long lo = count * tid / nt, hi = count * (tid + 1) / nt;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (long i = lo; i < hi; i++) s += (double)grad[i] * (double)grad[i];
        part[tid] = s;
    }
    double ss = 0.0;
    for (int i = 0; i < nthreads; i++) ss += part[i];
    float norm = (float)sqrt(ss);
    if (max_norm > 0.0f && norm > max_norm) {
        float k = max_norm / (norm + 1e-6f);
#pragma omp parallel for simd schedule(static) if (count > 65536)
        for (long i = 0; i < count; i++) grad[i] *= k;
    }
    return norm;
}

/* `step` is 0-based: steps 0..warmup-1 ramp linearly up to lr_max (reached at step
 * warmup-1, never starting from 0); from warmup to total the rate follows half a cosine
 * down to lr_min, and stays at lr_min after total. */
float dr_lr_schedule(long step, long warmup, long total, float lr_max, float lr_min) {
    if (step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    if (step >= total || total <= warmup) return lr_min;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    return (float)(lr_min + 0.5 * (lr_max - lr_min) * (1.0 + cos(M_PI * progress)));
}
