/* bench_models.c - director's side of `make bench`: the training step of each model, LLM
 * greedy decoding and the GEMM ceiling, timed at exactly the shapes of the PyTorch peers
 * (bench/torch_*.py), printed as `key value` lines that scripts/bench collects.
 *
 *   bench_models ceiling                    dr_sgemm GFLOP/s at 2048^3 and at the LM head
 *   bench_models llm    [--steps N] [--decode N]    (also one block's forward + backward)
 *   bench_models rvq    [--steps N]               (also encode / decode of the batch)
 *   bench_models interp [--steps N]
 *   bench_models e2e MODELS_DIR WORK_DIR "PROMPT" [--samples N]
 *                                           director's pipeline stage by stage through
 *                                           include/director.h and the renderers / encoder
 *   bench_models tiny DIR                   write a folder of tiny random-weight models
 *                                           (end-to-end timing before the real ones exist)
 *
 * Threads: DR_BENCH_THREADS (default 2). Each training step is timed in wall-clock seconds
 * and in the process's CPU seconds (all threads); the median over N steps after one untimed
 * warm-up step is printed. The model's configuration is printed as one JSON line
 * (`<model>.config {...}`) so the PyTorch peer builds the very same shapes, and the matrix
 * FLOPs of one step (`<model>.flops`, forward counted once and backward twice, as issued:
 * attention scores over the full T x T square) so both sides are rated with one count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dnnl.h>

#include "core/fsutil.h"
#include "core/gemm.h"
#include "core/gemv.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "director.h"
#include "io/png.h"
#include "io/video.h"
#include "models/llama.h"
#include "models/pose_diffusion.h"
#include "models/rvq.h"
#include "models/text_encoder.h"
#include "nn/optim.h"
#include "pipeline/tiny_models.h"
#include "pose/skeleton.h"
#include "render/pose_draw.h"
#include "render/preview.h"

#include "util.h"

/* CPU seconds of every thread of the process: unlike wall time it leaves out the slices
 * other jobs take on a shared machine (but counts spinning at barriers). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct timer {
    double wall0, cpu0;
    double wall[256], cpu[256];
    int n;
} timer;

static void timer_start(timer *t) {
    t->wall0 = dr_now();
    t->cpu0 = cpu_now();
}

static void timer_stop(timer *t) {
    if (t->n >= 256) return;
    t->wall[t->n] = dr_now() - t->wall0;
    t->cpu[t->n] = cpu_now() - t->cpu0;
    t->n++;
}

/* Prints the medians; sorts the samples (the last use of a timer). */
static void timer_print(timer *t, const char *key) {
    printf("%s.wall_s %.6f\n%s.cpu_s %.6f\n%s.samples %d\n", key, bench_median(t->wall, t->n), key, bench_median(t->cpu, t->n),
           key, t->n);
}

static int fail(const char *what, const dr_err *err) {
    fprintf(stderr, "bench_models %s: %s\n", what, err->msg);
    return 1;
}

/* ------------------------------------------------------------------ GEMM ceiling */

static int bench_ceiling(void) {
    const struct { int M, N, K; bool tb; const char *key; } shapes[] = {
        {2048, 2048, 2048, false, "gemm.square2048"},
        {2560, 4096, 256, true, "gemm.lmhead"}, /* the LLM's head: [B*T, dim] x [vocab, dim]^T */
    };
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
        float *a = dr_alloc(sizeof(float) * (size_t)M * K), *b = dr_alloc(sizeof(float) * (size_t)K * N);
        float *c = dr_alloc(sizeof(float) * (size_t)M * N);
        if (!a || !b || !c) {
            fprintf(stderr, "bench_models ceiling: out of memory\n");
            return 1;
        }
        dr_rng_fill_normal(&rng, a, (long)M * K, 0, 1);
        dr_rng_fill_normal(&rng, b, (long)K * N, 0, 1);
        const int ldb = shapes[s].tb ? K : N;
        dr_sgemm(false, shapes[s].tb, M, N, K, 1.0f, a, K, b, ldb, 0.0f, c, N); /* warm-up */
        timer t = {0};
        const double flops = 2.0 * M * N * K;
        double best = 1e30;
        for (int r = 0; r < 7; r++) {
            timer_start(&t);
            dr_sgemm(false, shapes[s].tb, M, N, K, 1.0f, a, K, b, ldb, 0.0f, c, N);
            timer_stop(&t);
            if (t.wall[t.n - 1] < best) best = t.wall[t.n - 1];
        }
        printf("%s.flops %.6e\n%s.best_wall_s %.6f\n", shapes[s].key, flops, shapes[s].key, best);
        timer_print(&t, shapes[s].key);
        dr_free(a), dr_free(b), dr_free(c);
    }
    return 0;
}

/* ------------------------------------------------------------------ DirectorLLM */

/* The 6.5M reference configuration of issue 6 and docs/PERFORMANCE.md. */
static dr_llama_config llm_reference_config(void) {
    dr_llama_config c = {.vocab_size = 4096, .dim = 256, .n_layers = 6, .n_heads = 8, .n_kv_heads = 4,
                         .head_dim = 32, .ffn_hidden = 704, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                         .max_seq_len = 320, .tied_embeddings = false};
    return c;
}

static double llm_step_flops(const dr_llama_config *c, int B, int T) {
    const double N = (double)B * T, D = c->dim, hq = (double)c->n_heads * c->head_dim;
    const double hkv = (double)c->n_kv_heads * c->head_dim;
    const double per_layer = 2 * N * D * hq * 2 + 2 * N * D * hkv * 2 + 2 * N * D * c->ffn_hidden * 3 +
                             4.0 * B * c->n_heads * (double)T * T * c->head_dim;
    const double fwd = c->n_layers * per_layer + 2 * N * D * c->vocab_size;
    return 3 * fwd;
}

/* n greedy steps from token 1 on a reset session; timed into d when `record`. */
static int llm_decode(dr_llama_session *sess, int n, int *last, float *work, timer *d, bool record, dr_err *err) {
    const dr_llama_sampling greedy = {0.0f, 0, 1.0f, false};
    const int V = sess->m->cfg.vocab_size;
    dr_llama_session_reset(sess);
    const float *logits;
    int tok = 1;
    timer_start(d);
    for (int i = 0; i < n; i++) {
        if (dr_llama_session_step(sess, &tok, 1, &logits, err)) return 1;
        tok = dr_llama_sample(logits, 0, V, &greedy, NULL, work);
    }
    if (record) timer_stop(d);
    *last = tok;
    return 0;
}

static int bench_llm(int steps, int decode) {
    enum { B = 8, T = 320 };
    dr_llama_config c = llm_reference_config();
    dr_llama m;
    dr_err err;
    if (dr_llama_init(&m, &c, &err)) return fail("llm", &err);
    dr_llama_init_weights(&m, 1);
    if (dr_params_alloc_grad(&m.params) || dr_params_alloc_optim(&m.params)) {
        fprintf(stderr, "bench_models llm: out of memory\n");
        return 1;
    }
    printf("llm.config {\"vocab\": %d, \"dim\": %d, \"layers\": %d, \"heads\": %d, \"kv_heads\": %d, "
           "\"head_dim\": %d, \"ffn\": %d, \"rope_theta\": %g, \"eps\": %g, \"batch\": %d, \"seq\": %d, "
           "\"decode\": %d}\n",
           c.vocab_size, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_hidden, c.rope_theta,
           c.norm_eps, B, T, decode);
    printf("llm.params %zu\nllm.tokens %d\nllm.flops %.6e\n", dr_llama_num_params(&m), B * T,
           llm_step_flops(&c, B, T));

    int *inputs = malloc(sizeof(int) * B * T), *targets = malloc(sizeof(int) * B * T);
    dr_rng rng;
    dr_rng_seed(&rng, 7);
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int)dr_rng_below(&rng, (uint32_t)c.vocab_size);
        targets[i] = (int)dr_rng_below(&rng, (uint32_t)c.vocab_size);
    }
    dr_adamw_config opt = dr_adamw_default();
    timer t = {0};
    float loss = 0;
    for (int s = 0; s <= steps; s++) { /* step 0 warms up and is not counted */
        timer_start(&t);
        dr_params_zero_grad(&m.params);
        if (dr_llama_forward(&m, inputs, targets, B, T, &loss, &err) || dr_llama_backward(&m, 1.0f, &err))
            return fail("llm", &err);
        dr_clip_grad_norm(m.params.grad, m.params.total, 1.0f);
        dr_adamw_step(&m.params, 1e-3f, s + 1, &opt);
        if (s > 0) timer_stop(&t);
    }
    printf("llm.loss %.4f\n", loss);
    timer_print(&t, "llm.train");

    /* one transformer block forward + backward on the activations of the last step */
    timer blk = {0};
    for (int s = 0; s <= steps; s++) {
        timer_start(&blk);
        dr_llama_block_forward(&m, 2);
        dr_llama_block_backward(&m, 2);
        if (s > 0) timer_stop(&blk);
    }
    timer_print(&blk, "llm.block");

    /* greedy decoding with the KV cache, batch 1, from <bos>-like token 1: fp32 weights
     * (the default, as PyTorch's), then the session's opt-in bf16 weight copy */
    dr_llama_session sess;
    if (dr_llama_session_init(&sess, &m, 1, decode, &err)) return fail("llm", &err);
    float *work = malloc(sizeof(float) * 2 * (size_t)c.vocab_size);
    printf("llm.decode.kernels %s matrix-vector kernels (core/gemv.h) on the calling thread\n", dr_gemv_kernel_name());
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        if (bf16 && dr_llama_session_use_bf16(&sess, &err)) return fail("llm", &err);
        timer d = {0};
        int tok = 1;
        for (int rep = 0; rep <= 3; rep++) {
            if (llm_decode(&sess, decode, &tok, work, &d, rep > 0, &err)) return fail("llm", &err);
        }
        printf("llm.decode%s.last_token %d\n", bf16 ? "_bf16" : "", tok);
        timer_print(&d, bf16 ? "llm.decode_bf16" : "llm.decode");
    }
    free(work);
    dr_llama_session_free(&sess);
    free(inputs), free(targets);
    dr_llama_free(&m);
    return 0;
}

/* ------------------------------------------------------------------ RVQ-VAE */

static double rvq_step_flops(const dr_rvq_config *c, int B) {
    const double N = (double)B * c->num_keyframes, C = c->channels, io = DR_POSE_DIM + DR_NUM_KEYPOINTS;
    double blocks = 0; /* each block: its convolution (kernel 1 or 2) and its C x C projection */
    for (int i = 0; i < c->num_blocks; i++) blocks += 2 * N * C * (c->dilation[i] > 0 ? 2 : 1) * C + 2 * N * C * C;
    const double enc_in = 2 * N * io * C, enc = enc_in + blocks + 2 * N * C * c->dim;
    const double dec = 2 * N * c->dim * C + blocks + 2 * N * C * io;
    const double quant = 2 * N * c->codebook_size * (double)c->dim * c->depth; /* distances, no backward */
    /* the encoder's input layer needs no input gradient: twice its forward, not three times */
    return 3 * (enc + dec) - enc_in + quant;
}

static int bench_rvq(int steps) {
    enum { B = 256 };
    const int W = 512, H = 320;
    dr_rvq_config cfg = dr_rvq_default_config();
    dr_err err;
    dr_rvq *m;
    if (dr_rvq_create(&m, &cfg, 1, &err)) return fail("rvq", &err);
    dr_pose *poses = malloc(sizeof(dr_pose) * B * DR_NUM_KEYFRAMES);
    bench_keyframes(poses, B, 1);
    dr_rvq_train_opts o = dr_rvq_default_train_opts();
    printf("rvq.config {\"depth\": %d, \"codebook\": %d, \"dim\": %d, \"channels\": %d, \"keyframes\": %d, "
           "\"batch\": %d, \"io\": %d, \"dilations\": [1, 2, 4], \"quantizer_dropout\": %g, \"ema_decay\": %g, "
           "\"commit_beta\": %g, \"presence_weight\": %g, \"dead_threshold\": %g}\n",
           cfg.depth, cfg.codebook_size, cfg.dim, cfg.channels, cfg.num_keyframes, B, DR_POSE_DIM + DR_NUM_KEYPOINTS,
           o.quantizer_dropout, o.ema_decay, o.commit_beta, o.presence_weight, o.dead_threshold);
    printf("rvq.params %ld\nrvq.flops %.6e\n", dr_rvq_num_weights(m), rvq_step_flops(&cfg, B));
    dr_rng rng;
    dr_rng_seed(&rng, 1);
    dr_rvq_stats st;
    timer t = {0};
    for (int s = 0; s <= steps; s++) { /* step 0 also seeds the codebooks */
        timer_start(&t);
        if (dr_rvq_train_step(m, poses, B, W, H, &o, s + 1, &rng, &st, &err)) return fail("rvq", &err);
        if (s > 0) timer_stop(&t);
    }
    printf("rvq.loss %.4f\n", st.loss);
    timer_print(&t, "rvq.train");

    /* the pipeline's path: encode B clips of key frames to tokens, decode them back */
    int *tokens = malloc(sizeof(int) * B * DR_NUM_KEYFRAMES * (size_t)cfg.depth);
    dr_pose *decoded = malloc(sizeof(dr_pose) * B * DR_NUM_KEYFRAMES);
    timer enc = {0}, dec = {0};
    for (int s = 0; s <= steps; s++) {
        timer_start(&enc);
        if (dr_rvq_encode(m, poses, B, W, H, tokens, &err)) return fail("rvq", &err);
        if (s > 0) timer_stop(&enc);
        timer_start(&dec);
        if (dr_rvq_decode(m, tokens, B, cfg.depth, W, H, decoded, &err)) return fail("rvq", &err);
        if (s > 0) timer_stop(&dec);
    }
    timer_print(&enc, "rvq.encode");
    timer_print(&dec, "rvq.decode");
    free(tokens), free(decoded);
    free(poses);
    dr_rvq_free(m);
    return 0;
}

/* ------------------------------------------------------------------ pose diffusion */

static double interp_step_flops(const dr_interp_config *c, int B) {
    const double F = c->frames, N = B * F, D = c->dim, M = c->mlp_dim;
    const double Kc = c->num_keyframes + c->text_len;
    const double in = 2 * N * (DR_POSE_DIM + DR_INTERP_FRAME_COND) * D;
    double fwd = in + 2.0 * B * c->num_keyframes * DR_INTERP_KF_FEAT * D + 2.0 * B * c->text_len * c->text_dim * D;
    fwd += 2 * (2.0 * B * D * D); /* timestep MLP */
    const double layer = 2 * (2.0 * B * D * 2 * D)         /* FiLM scale/shift */
                         + 4 * 2 * N * D * D + 4.0 * B * F * F * D /* self-attention */
                         + 2 * 2 * N * D * D + 2 * 2.0 * B * Kc * D * D + 4.0 * B * F * Kc * D /* cross */
                         + 2 * 2 * N * D * M;                 /* MLP */
    fwd += c->num_layers * layer + 2 * N * D * DR_POSE_DIM;
    return 3 * fwd - in; /* the input layer needs no input gradient */
}

static int bench_interp(int steps) {
    enum { B = 32 };
    dr_textenc_config tc = dr_textenc_default_config(2048);
    dr_interp_config cfg = dr_interp_default_config(tc.dim, tc.max_len);
    dr_err err;
    dr_interp m;
    if (dr_interp_create(&m, &cfg, &err)) return fail("interp", &err);
    dr_interp_init_weights(&m, 1);
    const dr_interp_config *c = &m.cfg;
    const int F = c->frames, K = c->num_keyframes, Lt = c->text_len, Td = c->text_dim;
    printf("interp.config {\"frames\": %d, \"keyframes\": %d, \"dim\": %d, \"layers\": %d, \"heads\": %d, "
           "\"mlp\": %d, \"text_dim\": %d, \"text_len\": %d, \"diffusion_steps\": %d, \"vel_weight\": %g, "
           "\"p_drop_kf\": %g, \"p_drop_text\": %g, \"batch\": %d, \"pose_dim\": %d, \"frame_cond\": %d, "
           "\"kf_feat\": %d}\n",
           F, K, c->dim, c->num_layers, c->num_heads, c->mlp_dim, Td, Lt, c->diffusion_steps, c->vel_weight,
           c->p_drop_kf, c->p_drop_text, B, DR_POSE_DIM, DR_INTERP_FRAME_COND, DR_INTERP_KF_FEAT);
    /* trainable weights: the spectral skip's prior (one value per frame) is measured from data
     * before training and never trained, like the PyTorch peer's buffer */
    const size_t fixed = c->spectral_skip ? (size_t)F : 0;
    printf("interp.params %zu\ninterp.flops %.6e\n", m.params.total - fixed, interp_step_flops(c, B));
    if (dr_interp_alloc_acts(&m, B, &err)) return fail("interp", &err);
    if (dr_params_alloc_grad(&m.params) || dr_params_alloc_optim(&m.params)) {
        fprintf(stderr, "bench_models interp: out of memory\n");
        return 1;
    }
    dr_rng rng;
    dr_rng_seed(&rng, 3);
    const size_t nx = (size_t)B * F * DR_POSE_DIM;
    float *x0 = malloc(sizeof(float) * nx), *mask = malloc(sizeof(float) * nx);
    float *kf = malloc(sizeof(float) * (size_t)B * K * DR_INTERP_KF_FEAT);
    float *fc = malloc(sizeof(float) * (size_t)B * F * DR_INTERP_FRAME_COND);
    float *text = malloc(sizeof(float) * ((size_t)B * Lt * Td + 1));
    int *kfi = malloc(sizeof(int) * (size_t)B * K);
    uint8_t *valid = malloc((size_t)B * Lt + 1);
    float *scratch = malloc(sizeof(float) * (size_t)dr_interp_loss_scratch_floats(&m, B));
    float *kp = malloc(sizeof(float) * (size_t)K * DR_POSE_DIM), *km = malloc(sizeof(float) * (size_t)K * DR_NUM_KEYPOINTS);
    if (!x0 || !mask || !kf || !fc || !text || !kfi || !valid || !scratch || !kp || !km) {
        fprintf(stderr, "bench_models interp: out of memory\n");
        return 1;
    }
    dr_rng_fill_normal(&rng, x0, (long)nx, 0, 0.5f);
    for (size_t i = 0; i < nx; i++) mask[i] = 1;
    dr_rng_fill_normal(&rng, text, (long)B * Lt * Td, 0, 1);
    memset(valid, 1, (size_t)B * Lt + 1);
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < K; k++) {
            kfi[b * K + k] = k * F / K;
            memcpy(kp + (size_t)k * DR_POSE_DIM, x0 + ((size_t)b * F + kfi[b * K + k]) * DR_POSE_DIM,
                   sizeof(float) * DR_POSE_DIM);
            for (int j = 0; j < DR_NUM_KEYPOINTS; j++) km[k * DR_NUM_KEYPOINTS + j] = 1;
        }
        dr_interp_guide(kp, km, kfi + b * K, K, F, fc + (size_t)b * F * DR_INTERP_FRAME_COND,
                        kf + (size_t)b * K * DR_INTERP_KF_FEAT, NULL, NULL);
    }
    dr_interp_cond cond = {.kf = kf, .kf_index = kfi, .frame_cond = fc, .text = Td > 0 ? text : NULL,
                           .text_valid = Td > 0 ? valid : NULL};
    dr_adamw_config ac = dr_adamw_default();
    timer t = {0};
    float loss = 0;
    for (int s = 0; s <= steps; s++) {
        timer_start(&t);
        dr_params_zero_grad(&m.params);
        loss = dr_interp_loss(&m, x0, mask, &cond, B, &rng, true, scratch, NULL);
        dr_clip_grad_norm(m.params.grad, m.params.total, 1.0f);
        dr_adamw_step(&m.params, 1e-4f, s + 1, &ac);
        if (s > 0) timer_stop(&t);
    }
    if (!isfinite(loss)) {
        fprintf(stderr, "bench_models interp: loss is %g\n", loss);
        return 1;
    }
    printf("interp.loss %.4f\n", loss);
    timer_print(&t, "interp.train");
    free(x0), free(mask), free(kf), free(fc), free(text), free(kfi), free(valid), free(scratch), free(kp), free(km);
    dr_interp_free(&m);
    return 0;
}

/* ------------------------------------------------------------------ end to end */

/* The stages of `director generate` timed one by one, in one process: loading the models,
 * stages 1-3 (director_generate: the pipeline's own LLM / RVQ / diffusion timings), then for
 * sample 0 the renderers (skeleton frames, preview frames) and the encoders (PNG frames,
 * the two MP4s) on their own, and finally director_write_outputs (every output file of
 * every sample, as the CLI writes them). */
/* One stage's wall-clock and CPU seconds (all threads) since (t0, c0). */
static void stage(const char *name, double t0, double c0) {
    printf("e2e.%s_s %.4f\ne2e.%s_cpu_s %.4f\n", name, dr_now() - t0, name, cpu_now() - c0);
}

static int bench_e2e(const char *models, const char *work, const char *prompt, int samples) {
    char err[512], path[4096];
    dr_err e;
    director_pipeline *p;
    double t0 = dr_now(), c0 = cpu_now();
    if (director_pipeline_load(&p, models, err, sizeof err) != DIRECTOR_OK) {
        fprintf(stderr, "bench_models e2e: %s\n", err);
        return 1;
    }
    stage("load", t0, c0);
    director_options o;
    director_options_default(&o);
    o.samples = samples;
    o.seed = 1;
    o.quiet = 1;
    director_result *r;
    t0 = dr_now(), c0 = cpu_now();
    if (director_generate(p, prompt, &o, &r) != DIRECTOR_OK) {
        fprintf(stderr, "bench_models e2e: %s\n", director_last_error(p));
        return 1;
    }
    stage("plan", t0, c0);
    double llm = 0, rvq = 0, diff = 0;
    for (int s = 0; s < r->num_samples; s++) {
        llm += r->samples[s].seconds_llm;
        rvq += r->samples[s].seconds_rvq;
        diff += r->samples[s].seconds_diffusion;
    }
    printf("e2e.llm_s %.4f\ne2e.rvq_s %.4f\ne2e.diffusion_s %.4f\n", llm, rvq, diff);

    /* sample 0 through the renderers and encoders, each timed alone */
    const director_sample *smp = &r->samples[0];
    const int F = smp->num_frames, W = r->width, H = r->height;
    dr_pose_seq seq;
    if (dr_pose_seq_alloc(&seq, F, r->fps, W, H)) return 1;
    for (int f = 0; f < F; f++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const float *v = smp->poses + ((size_t)f * DR_NUM_KEYPOINTS + j) * 3;
            seq.frames[f].kp[j] = (dr_keypoint){v[0], v[1], v[2]};
        }
    dr_image *skel = calloc((size_t)F, sizeof *skel), *prev = calloc((size_t)F, sizeof *prev);
    for (int f = 0; f < F; f++)
        if (dr_image_alloc(&skel[f], W, H) || dr_image_alloc(&prev[f], W, H)) return 1;
    t0 = dr_now(), c0 = cpu_now();
#pragma omp parallel for schedule(dynamic)
    for (int f = 0; f < F; f++) dr_render_pose(&skel[f], &seq.frames[f], W, H);
    stage("render_skeleton", t0, c0);
    t0 = dr_now(), c0 = cpu_now();
    dr_preview_style style;
    dr_preview_style_from_prompt(&style, r->prompt);
    dr_preview *pv;
    if (dr_preview_create(&pv, &style, &seq, W, H, &e) || dr_preview_render_all(pv, &seq, prev, &e))
        return fail("e2e", &e);
    dr_preview_free(pv);
    stage("render_preview", t0, c0);
    snprintf(path, sizeof path, "%s/pose", work);
    if (dr_mkdir_p(path, &e)) return fail("e2e", &e);
    t0 = dr_now(), c0 = cpu_now();
    int png_rc = 0;
#pragma omp parallel for schedule(dynamic) reduction(| : png_rc)
    for (int f = 0; f < F; f++) {
        char fp[4200];
        dr_err fe;
        snprintf(fp, sizeof fp, "%s/pose/frame_%06d.png", work, f);
        png_rc |= dr_png_write(fp, &skel[f], &fe) != 0;
    }
    if (png_rc) {
        fprintf(stderr, "bench_models e2e: cannot write PNG frames in %s\n", work);
        return 1;
    }
    stage("encode_png", t0, c0);
    const struct { const char *name; dr_image *frames; } videos[] = {{"pose", skel}, {"preview", prev}};
    for (int v = 0; v < 2; v++) {
        snprintf(path, sizeof path, "%s/%s.mp4", work, videos[v].name);
        dr_video_writer *w;
        t0 = dr_now(), c0 = cpu_now();
        if (dr_video_open(&w, path, DR_VIDEO_MP4, W, H, r->fps, &e)) return fail("e2e", &e);
        for (int f = 0; f < F; f++)
            if (dr_video_write(w, &videos[v].frames[f], &e)) return fail("e2e", &e);
        if (dr_video_close(w, &e)) return fail("e2e", &e);
        snprintf(path, sizeof path, "encode_%s_mp4", videos[v].name);
        stage(path, t0, c0);
    }
    for (int f = 0; f < F; f++) dr_image_free(&skel[f]), dr_image_free(&prev[f]);
    free(skel), free(prev);
    dr_pose_seq_free(&seq);

    /* what one durable small file costs on this disk: every output file goes through
     * dr_atomic_commit, which fsyncs it (hundreds of files per sample) */
    double sync_s[32];
    for (int i = 0; i < 32; i++) {
        char fp[4200];
        snprintf(fp, sizeof fp, "%s/sync_%02d.bin", work, i);
        static const char block[4096];
        t0 = dr_now();
        FILE *f = fopen(fp, "wb");
        if (!f || fwrite(block, 1, sizeof block, f) != sizeof block || fflush(f) || fsync(fileno(f))) {
            fprintf(stderr, "bench_models e2e: cannot write %s\n", fp);
            if (f) fclose(f);
            return 1;
        }
        fclose(f);
        sync_s[i] = dr_now() - t0;
    }
    printf("e2e.fsync_file_s %.6f\n", bench_median(sync_s, 32));

    snprintf(path, sizeof path, "%s/out", work);
    t0 = dr_now(), c0 = cpu_now();
    if (director_write_outputs(p, r, &o, path) != DIRECTOR_OK) {
        fprintf(stderr, "bench_models e2e: %s\n", director_last_error(p));
        return 1;
    }
    stage("write_outputs", t0, c0);
    director_result_free(r);
    director_pipeline_free(p);
    return 0;
}

/* ------------------------------------------------------------------ main */

static void print_setup(void) {
    char cpu[256] = "unknown", line[512], gemm[128];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *colon = strchr(line, ':');
                if (colon) snprintf(cpu, sizeof cpu, "%s", colon + 2);
                cpu[strcspn(cpu, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    dr_gemm_backend_name(gemm, sizeof gemm);
    /* which of oneDNN's kernel families dnnl_sgemm dispatches to on this CPU */
    const char *isa = "older than AVX2";
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2: isa = "avx2"; break;
    case dnnl_cpu_isa_avx2_vnni: isa = "avx2_vnni"; break;
    case dnnl_cpu_isa_avx512_core: isa = "avx512_core"; break;
    case dnnl_cpu_isa_avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl_cpu_isa_avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl_cpu_isa_avx512_core_amx: isa = "avx512_core_amx"; break;
    default: break;
    }
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf("cpu %s\nthreads %d\nkernels %s, %s kernels, behind dr_sgemm; omp wait policy %s\n", cpu,
           dr_get_threads(), gemm, isa, wait ? wait : "default");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: bench_models ceiling | llm [--steps N] [--decode N] | rvq [--steps N] | "
                        "interp [--steps N] | tiny DIR\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "tiny")) {
        dr_err err;
        if (argc != 3) {
            fprintf(stderr, "usage: bench_models tiny DIR\n");
            return 2;
        }
        return dr_make_tiny_models(argv[2], 1, &err) ? fail("tiny", &err) : 0;
    }
    if (!strcmp(argv[1], "e2e")) {
        int samples = argc == 7 && !strcmp(argv[5], "--samples") ? atoi(argv[6]) : 1;
        if ((argc != 5 && argc != 7) || samples < 1 || samples > 64) {
            fprintf(stderr, "usage: bench_models e2e MODELS_DIR WORK_DIR \"PROMPT\" [--samples N]\n");
            return 2;
        }
        const char *env = getenv("DR_BENCH_THREADS");
        dr_set_threads(env ? atoi(env) : 2);
        print_setup();
        return bench_e2e(argv[2], argv[3], argv[4], samples);
    }
    int steps = 5, decode = 256;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--decode")) decode = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_models: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (steps < 1 || steps > 200 || decode < 2 || decode > 320) {
        fprintf(stderr, "bench_models: --steps must be 1..200 and --decode 2..320\n");
        return 2;
    }
    const char *env = getenv("DR_BENCH_THREADS");
    dr_set_threads(env ? atoi(env) : 2);
    print_setup();
    fflush(stdout);
    if (!strcmp(argv[1], "ceiling")) return bench_ceiling();
    if (!strcmp(argv[1], "llm")) return bench_llm(steps, decode);
    if (!strcmp(argv[1], "rvq")) return bench_rvq(steps);
    if (!strcmp(argv[1], "interp")) return bench_interp(steps);
    fprintf(stderr, "bench_models: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
