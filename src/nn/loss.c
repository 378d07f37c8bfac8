/* loss.c - softmax cross-entropy over [N, V] logits with ignored rows.
 *
 * Each row is normalised as exp(l - max) / sum exp(l - max), so no exponent overflows,
 * and its loss is taken in log-sum-exp form, log(sum) - (l[target] - max), so that a
 * confidently wrong prediction gives a large finite loss rather than -log(0). probs may
 * alias logits: the target's logit is read before the row is overwritten. The mean over
 * rows is summed in double from per-thread partials combined in thread order, so the
 * result does not depend on scheduling. */
#include <math.h>

#include <omp.h>

#include "nn/fastmath.h"
#include "nn/nn.h"

enum { MAX_PARTIALS = 256 };

float dr_softmax_xent_forward(float *probs, const float *logits, const int *targets, int N, int V, int *num_valid) {
    double part_loss[MAX_PARTIALS] = {0};
    int part_valid[MAX_PARTIALS] = {0};
    int nthreads = 1, cap = omp_get_max_threads() < MAX_PARTIALS ? omp_get_max_threads() : MAX_PARTIALS;
#pragma omp parallel num_threads(cap) if ((long)N * V > 16384)
    {
        int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp single
        nthreads = nt;
        double loss = 0.0;
        int valid = 0;
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *l = logits + (size_t)n * V;
            float *p = probs + (size_t)n * V;
            float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
            for (int i = 0; i < V; i++) mx = l[i] > mx ? l[i] : mx;
            int tgt = targets ? targets[n] : -1;
            float target_logit = tgt >= 0 ? l[tgt] : 0.0f;
            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
            for (int i = 0; i < V; i++) {
                float e = dr_expf(l[i] - mx);
                p[i] = e;
                sum += e;
            }
            float inv = 1.0f / sum;
#pragma omp simd
            for (int i = 0; i < V; i++) p[i] *= inv;
            if (tgt >= 0) {
                loss += log((double)sum) - ((double)target_logit - (double)mx);
                valid++;
            }
        }
        part_loss[tid] = loss, part_valid[tid] = valid;
    }
    double total = 0.0;
    int valid = 0;
    for (int i = 0; i < nthreads; i++) total += part_loss[i], valid += part_valid[i];
    if (num_valid) *num_valid = valid;
    return valid ? (float)(total / valid) : 0.0f;
}

void dr_softmax_xent_backward(float *dlogits, const float *probs, const int *targets, int N, int V, float scale) {
#pragma omp parallel for schedule(static) if ((long)N * V > 32768)
    for (int n = 0; n < N; n++) {
        int tgt = targets[n];
        if (tgt < 0) continue;
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] += scale * p[i];
        d[tgt] -= scale;
    }
}
