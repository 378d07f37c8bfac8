/* bench_llama.c - DirectorLLM speed on the reference configuration of issue 6
 * (vocab 4096, dim 256, 6 layers, 8 heads / 4 KV heads, SwiGLU 704, untied head:
 * 6.5M parameters): training tokens/s at batch 8 x 320 (forward + backward + AdamW),
 * one transformer block forward + backward at the same shape, and greedy decoding
 * tokens/s with the KV cache at batch 1.
 *
 *   bench_llama [--steps N] [--decode N]     (median of N timed steps; defaults 5, 256)
 *
 * Every figure is given in wall-clock time and, because the build machines are shared
 * and a descheduled thread stalls every OpenMP region, also in process CPU time: with
 * DIRECTOR_THREADS=1 the CPU-time figure is what the code costs on one core whatever the
 * load (see docs/PERFORMANCE.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "models/llama.h"
#include "nn/optim.h"

#include "util.h"

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

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
    char cpu_name[256], gemm[128];
    cpu_model(cpu_name, sizeof cpu_name);
    dr_gemm_backend_name(gemm, sizeof gemm);
    double load[3] = {0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(lf);
    }
    printf("cpu: %s, %d threads, GEMM %s, load average %.2f\n", cpu_name, dr_get_threads(), gemm, load[0]);

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
    double *times = malloc(sizeof(double) * (size_t)(steps + 1)), *cpu = malloc(sizeof(double) * (size_t)(steps + 1));
    float loss = 0.0f;
    for (int s = -1; s < steps; s++) { /* one untimed warm-up step */
        double t0 = dr_now(), c0 = cpu_now();
        dr_params_zero_grad(&m.params);
        if (dr_llama_forward(&m, inputs, targets, B, T, &loss, &err) || dr_llama_backward(&m, 1.0f, &err))
            return fail(&err);
        dr_clip_grad_norm(m.params.grad, m.params.total, 1.0f);
        dr_adamw_step(&m.params, 1e-3f, s + 2, &opt);
        if (s >= 0) times[s] = dr_now() - t0, cpu[s] = cpu_now() - c0;
    }
    double step = bench_median(times, steps), step_cpu = bench_median(cpu, steps);
    printf("train step (B %d x T %d, forward + backward + AdamW): %.3f s wall -> %.0f tokens/s; %.3f s CPU -> %.0f "
           "tokens/s per CPU-second (medians of %d, loss %.3f)\n",
           B, T, step, B * T / step, step_cpu, B * T / step_cpu, steps, loss);

    /* ---- one block ---- */
    for (int s = -1; s < steps; s++) {
        double t0 = dr_now(), c0 = cpu_now();
        dr_llama_block_forward(&m, 2);
        dr_llama_block_backward(&m, 2);
        if (s >= 0) times[s] = dr_now() - t0, cpu[s] = cpu_now() - c0;
    }
    printf("one block forward + backward (B %d x T %d, dim %d): %.1f ms wall, %.1f ms CPU (medians of %d)\n", B, T,
           c.dim, 1e3 * bench_median(times, steps), 1e3 * bench_median(cpu, steps), steps);

    /* ---- greedy decoding: batch 1 (the peer's figure), then 8 sequences in lockstep
     * (n samples of one prompt), which read every weight once for 8 tokens ---- */
    dr_llama_sampling greedy = {0.0f, 0, 1.0f, false};
    float *work = malloc(sizeof(float) * 2 * c.vocab_size);
    const int batches[2] = {1, 8};
    for (int bi = 0; bi < 2; bi++) {
        const int nb = batches[bi];
        dr_llama_session sess;
        if (dr_llama_session_init(&sess, &m, nb, decode, &err)) return fail(&err);
        int toks[8];
        for (int rep = 0; rep < steps; rep++) {
            dr_llama_session_reset(&sess);
            const float *logits;
            for (int j = 0; j < nb; j++) toks[j] = 1 + j;
            double t0 = dr_now(), c0 = cpu_now();
            for (int i = 0; i < decode; i++) {
                if (dr_llama_session_step(&sess, toks, 1, &logits, &err)) return fail(&err);
                for (int j = 0; j < nb; j++)
                    toks[j] = dr_llama_sample(logits + (long)j * c.vocab_size, 0, c.vocab_size, &greedy, &rng, work);
            }
            times[rep] = dr_now() - t0, cpu[rep] = cpu_now() - c0;
        }
        double dt = bench_median(times, steps), dt_cpu = bench_median(cpu, steps);
        printf("greedy decode (batch %d, KV cache, %d steps): %.1f us/step wall -> %.0f tokens/s; %.1f us/step CPU "
               "-> %.0f tokens/s per CPU-second\n",
               nb, decode, 1e6 * dt / decode, nb * decode / dt, 1e6 * dt_cpu / decode, nb * decode / dt_cpu);
        dr_llama_session_free(&sess);
    }
    /* ---- director's real decoding: constrained pose tokens, same model size with the
     * director vocabulary (1019 text + 5 specials + 6 x 512 pose codes = 4096), so each
     * step computes one codebook's 512 logits instead of 4096 ---- */
    dr_llama_config dc = dr_llama_config_director(4096 - DR_LLAMA_NUM_SPECIALS - 6 * 512);
    dr_llama dm;
    if (dr_llama_init(&dm, &dc, &err)) return fail(&err);
    dr_llama_init_weights(&dm, 2);
    int prompt[16], *codes = malloc(sizeof(int) * 8 * (size_t)dr_llama_pose_slots(&dc));
    for (int i = 0; i < 16; i++) prompt[i] = (int)dr_rng_below(&rng, (uint32_t)dc.n_text);
    for (int bi = 0; bi < 2; bi++) {
        const int nb = batches[bi];
        for (int rep = 0; rep < steps; rep++) {
            double t0 = dr_now(), c0 = cpu_now();
            if (dr_llama_generate_pose(&dm, prompt, 16, nb, &greedy, 1, codes, &err)) return fail(&err);
            times[rep] = dr_now() - t0, cpu[rep] = cpu_now() - c0;
        }
        double dt = bench_median(times, steps), dt_cpu = bench_median(cpu, steps);
        const int n_tok = nb * dr_llama_pose_slots(&dc);
        printf("constrained pose generation (%d sample%s x %d tokens, 18-token prefill included): %.1f ms wall -> "
               "%.0f tokens/s; %.1f ms CPU -> %.0f tokens/s per CPU-second\n",
               nb, nb > 1 ? "s" : "", dr_llama_pose_slots(&dc), 1e3 * dt, n_tok / dt, 1e3 * dt_cpu, n_tok / dt_cpu);
    }
    free(codes);
    dr_llama_free(&dm);

    printf("peak RSS: %.0f MiB\n", dr_peak_rss_bytes() / 1048576.0);

    free(work);
    free(times), free(cpu);
    free(tokens), free(inputs), free(targets);
    dr_llama_free(&m);
    return 0;
}
