/* bench_llama.c - DirectorLLM speed on the reference configuration of issue 6
 * (vocab 4096, dim 256, 6 layers, 8 heads / 4 KV heads, SwiGLU 704, untied head:
 * 6.5M parameters): training tokens/s at batch 8 x 320 (forward + backward + AdamW),
 * one transformer block forward + backward at the same shape, and greedy decoding
 * tokens/s with the KV cache at batch 1.
 *
 *   bench_llama [--steps N] [--decode N]     (median of N timed steps; defaults 5, 256) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "models/llama.h"
#include "nn/optim.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void cpu_model(char *buf, size_t size) {
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *colon = strchr(line, ':');
            if (colon) {
                snprintf(buf, size, "%s", colon + 2);
                buf[strcspn(buf, "\n")] = 0;
            }
            break;
        }
    fclose(f);
}

static int fail(const dr_err *err) {
    fprintf(stderr, "bench_llama: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    int steps = 5, decode = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--decode")) decode = atoi(argv[i + 1]);
    }
    if (steps < 1 || steps > 1000 || decode < 2 || decode > 320) {
        fprintf(stderr, "usage: bench_llama [--steps 1..1000] [--decode 2..320]\n");
        return 2;
    }
    const char *threads = getenv("DIRECTOR_THREADS");
    dr_set_threads(threads ? atoi(threads) : 0);
    char cpu[256], gemm[128];
    cpu_model(cpu, sizeof cpu);
    dr_gemm_backend_name(gemm, sizeof gemm);
    printf("cpu: %s, %d threads, GEMM %s\n", cpu, dr_get_threads(), gemm);

    dr_llama_config c = {.vocab_size = 4096, .dim = 256, .n_layers = 6, .n_heads = 8, .n_kv_heads = 4,
                         .head_dim = 32, .ffn_hidden = 704, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                         .max_seq_len = 320, .tied_embeddings = false};
    dr_llama m;
    dr_err err;
    if (dr_llama_init(&m, &c, &err)) return fail(&err);
    dr_llama_init_weights(&m, 1);
    if (dr_params_alloc_grad(&m.params) || dr_params_alloc_optim(&m.params)) {
        fprintf(stderr, "bench_llama: out of memory\n");
        return 1;
    }
    printf("model: vocab %d, dim %d, %d layers, %d/%d heads, ffn %d: %.2fM parameters\n", c.vocab_size, c.dim,
           c.n_layers, c.n_heads, c.n_kv_heads, c.ffn_hidden, dr_llama_num_params(&m) / 1e6);

    /* ---- training step ---- */
    enum { B = 8, T = 320 };
    int *tokens = malloc(sizeof(int) * B * (T + 1));
    dr_rng rng;
    dr_rng_seed(&rng, 7);
    for (int i = 0; i < B * (T + 1); i++) tokens[i] = (int)dr_rng_below(&rng, (uint32_t)c.vocab_size);
    int *inputs = malloc(sizeof(int) * B * T), *targets = malloc(sizeof(int) * B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            inputs[b * T + t] = tokens[b * (T + 1) + t];
            targets[b * T + t] = tokens[b * (T + 1) + t + 1];
        }
    dr_adamw_config opt = dr_adamw_default();
    double *times = malloc(sizeof(double) * (size_t)(steps + 1));
    float loss = 0.0f;
    for (int s = -1; s < steps; s++) { /* one untimed warm-up step */
        double t0 = dr_now();
        dr_params_zero_grad(&m.params);
        if (dr_llama_forward(&m, inputs, targets, B, T, &loss, &err) || dr_llama_backward(&m, 1.0f, &err))
            return fail(&err);
        dr_clip_grad_norm(m.params.grad, m.params.total, 1.0f);
        dr_adamw_step(&m.params, 1e-3f, s + 2, &opt);
        if (s >= 0) times[s] = dr_now() - t0;
    }
    double step = median(times, steps);
    printf("train step (B %d x T %d, forward + backward + AdamW): %.3f s median of %d -> %.0f tokens/s (loss %.3f)\n",
           B, T, step, steps, B * T / step, loss);

    /* ---- one block ---- */
    for (int s = -1; s < steps; s++) {
        double t0 = dr_now();
        dr_llama_block_forward(&m, 2);
        dr_llama_block_backward(&m, 2);
        if (s >= 0) times[s] = dr_now() - t0;
    }
    printf("one block forward + backward (B %d x T %d, dim %d): %.1f ms median of %d\n", B, T, c.dim,
           1e3 * median(times, steps), steps);

    /* ---- greedy decoding ---- */
    dr_llama_session sess;
    if (dr_llama_session_init(&sess, &m, 1, decode, &err)) return fail(&err);
    dr_llama_sampling greedy = {0.0f, 0, 1.0f};
    float *work = malloc(sizeof(float) * 2 * c.vocab_size);
    for (int rep = 0; rep < steps; rep++) {
        dr_llama_session_reset(&sess);
        const float *logits;
        int tok = 1;
        double t0 = dr_now();
        for (int i = 0; i < decode; i++) {
            if (dr_llama_session_step(&sess, &tok, 1, &logits, &err)) return fail(&err);
            tok = dr_llama_sample(logits, 0, c.vocab_size, &greedy, &rng, work);
        }
        times[rep] = dr_now() - t0;
    }
    double dt = median(times, steps);
    printf("greedy decode (batch 1, KV cache, %d tokens): %.1f us/token -> %.0f tokens/s\n", decode,
           1e6 * dt / decode, decode / dt);
    printf("peak RSS: %.0f MiB\n", dr_peak_rss_bytes() / 1048576.0);

    free(work);
    free(times);
    free(tokens), free(inputs), free(targets);
    dr_llama_session_free(&sess);
    dr_llama_free(&m);
    return 0;
}
