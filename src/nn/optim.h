/* optim.h - AdamW, gradient clipping, learning-rate schedule.
 *
 * The optimizer works on the flat parameter/gradient buffers of a dr_params (params.h),
 * one tensor at a time so that norms and biases can be excluded from weight decay. */
#ifndef DIRECTOR_NN_OPTIM_H
#define DIRECTOR_NN_OPTIM_H

#include <stddef.h>

struct dr_params;

typedef struct dr_adamw_config {
    float beta1, beta2, eps, weight_decay;
} dr_adamw_config;

/* Defaults: beta1 0.9, beta2 0.95, eps 1e-8, weight_decay 0.1. */
dr_adamw_config dr_adamw_default(void);

/* One AdamW step (decoupled weight decay, bias correction) on n values; `step` is 1-based. */
void dr_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, int step,
                     float weight_decay, const dr_adamw_config *cfg);

/* AdamW over every tensor of a dr_params (its m and v buffers), applying weight decay
 * only to tensors not flagged no_decay. */
void dr_adamw_step(struct dr_params *p, float lr, int step, const dr_adamw_config *cfg);

/* Scale grads so that their global L2 norm is at most max_norm; returns the norm before. */
float dr_clip_grad_norm(float *grad, size_t n, float max_norm);

/* Linear warm-up for `warmup` steps, then cosine decay from lr_max to lr_min at `total`.
 * `step` is 0-based here (lr_max/warmup at step 0, lr_max at step warmup-1, lr_min from total on). */
float dr_lr_schedule(long step, long warmup, long total, float lr_max, float lr_min);

#endif
