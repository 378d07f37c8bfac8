/* rvq.c - the residual VQ-VAE pose tokenizer (see rvq.h and docs/MODELS.md).
 *
 * Shapes: a batch of B clips is N = B * T frames (T = 20 key frames), activations
 * [N, C] row-major with n = b * T + t, which is the [B, T, C] layout conv1d expects.
 *
 *   x [N, 54] = 36 normalized coordinates (0 where missing) + 18 presence flags
 *   encoder:  h0 = x Win^T + b;  per block { h += Wp silu(conv_k2_dil_d(silu(h))) }, by
 *             default d = 1, 2, 4 (a block with d = 0 is pointwise: kernel 1);
 *             z_e = Wout silu(h_last)                                      [N, D]
 *   quantizer: r_0 = z_e; for l < levels: code_l = argmin_k ||r_l - c_lk||^2,
 *             q_l = c_l[code_l], r_{l+1} = r_l - q_l;  z_q = sum_l q_l
 *   decoder:  the same stack from z_q to y [N, 54] = 36 coordinates + 18 presence logits
 *
 * Loss = masked MSE(coords of present keypoints) + w_p BCE(presence) + beta commit, where
 * commit = sum over used levels of ||r_l - sg(q_l)||^2 = ||r_{l+1}||^2 (mean over N*D).
 * Gradients reach the encoder through the straight-through estimator (dz_e = dz_q) plus
 * the commitment term; codebooks are not trained by gradient but by exponential moving
 * averages of the residuals assigned to each code (Laplace-smoothed counts), and codes
 * whose average use falls below a threshold are re-seeded from the batch's residuals.
 *
 * Padding is a model setting. Causal (all padding on the left): token t depends on key
 * frames <= t and decoded pose t on tokens <= t, so a prefix of the language model's
 * output decodes to the same poses whatever follows it. Centred ("same" padding, the
 * 8-frame window spans about 3 key frames back and 4 ahead): each decoded pose draws on the
 * tokens of its neighbours on both sides, which could let the 6 x 9 bits of each key frame
 * share what neighbouring poses have in common (in docs/MODELS.md's measurement it did not:
 * causal stays the default). */
#include "models/rvq.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "nn/nn.h"
#include "nn/optim.h"
#include "nn/params.h"

#define IO_DIM (DR_POSE_DIM + DR_NUM_KEYPOINTS) /* 54: coordinates + presence */
#define CHUNK_CLIPS 256                           /* work-buffer size for inference */

/* Parameter indices of one convolution stack (encoder or decoder). */
typedef struct stack_params {
    int in_w, in_b;
    int conv_w[DR_RVQ_MAX_BLOCKS], conv_b[DR_RVQ_MAX_BLOCKS];
    int proj_w[DR_RVQ_MAX_BLOCKS], proj_b[DR_RVQ_MAX_BLOCKS];
    int out_w, out_b;
    int in_dim, out_dim;
} stack_params;

/* Saved activations of one stack for backward. */
typedef struct stack_acts {
    float *h[DR_RVQ_MAX_BLOCKS + 1]; /* residual stream */
    float *a1[DR_RVQ_MAX_BLOCKS];    /* silu(h_i) */
    float *c[DR_RVQ_MAX_BLOCKS];     /* conv(a1) */
    float *a2[DR_RVQ_MAX_BLOCKS];    /* silu(c) */
    float *a_out;                    /* silu(h_last) */
} stack_acts;

typedef struct workspace {
    int cap_clips;  /* buffers hold this many clips */
    bool training;  /* gradient buffers allocated */
    void *block;    /* one dr_alloc for every float buffer */
    float *x;       /* [N, 54] input: coords + mask */
    stack_acts enc, dec;
    float *z_e;     /* [N, D] */
    float *resid;   /* [depth + 1][N, D] */
    float *z_q;     /* [N, D] */
    float *y;       /* [N, 54] decoder output */
    float *dist;    /* [N, K] code scores */
    float *cnorm;   /* [K] squared code norms */
    float *conv_scratch;
    int *codes;     /* [depth][N], -1 where a level is unused */
    int *levels;    /* [B] levels used per clip */
    /* training only */
    float *dy, *dh, *da, *dc, *da1, *dz; /* gradients */
    double *row_acc;                     /* [N][4] per-frame loss sums */
    float *batch_count;                  /* [K] */
    float *batch_sum;                    /* [K, D] */
    int *active_rows;                    /* [N] */
} workspace;

struct dr_rvq {
    dr_rvq_config cfg;
    dr_params p;
    stack_params enc, dec;
    int codebook[DR_RVQ_MAX_DEPTH], ema_count[DR_RVQ_MAX_DEPTH], ema_sum[DR_RVQ_MAX_DEPTH];
    int first_codebook_param; /* every tensor from here on is codebook state, not a weight */
    dr_adamw_config adamw;
    int beam; /* encoding search width (dr_rvq_set_beam); 1 = greedy, as in training */
    workspace ws;
};

static inline float *P(const dr_rvq *m, int idx) { return m->p.data + m->p.items[idx].offset; }
static inline float *G(const dr_rvq *m, int idx) { return m->p.grad ? m->p.grad + m->p.items[idx].offset : NULL; }

/* ------------------------------------------------------------------------------------ */
/* configuration                                                                        */

dr_rvq_config dr_rvq_default_config(void) {
    dr_rvq_config c = {.depth = 6, .codebook_size = 512, .dim = 64, .channels = 192, .num_keyframes = DR_NUM_KEYFRAMES,
                      .causal = true, .num_blocks = 3, .dilation = {1, 2, 4}};
    return c;
}

int dr_rvq_receptive_field(const dr_rvq_config *c) {
    int rf = 1;
    for (int i = 0; i < c->num_blocks && i < DR_RVQ_MAX_BLOCKS; i++) rf += c->dilation[i];
    return rf;
}

/* A block with dilation d > 0 is a kernel-2 convolution reaching d key frames back (or,
 * centred, across); d = 0 is a pointwise block, kernel 1, that adds depth but no reach. */
static int block_kernel(const dr_rvq_config *c, int i) { return c->dilation[i] > 0 ? 2 : 1; }

static dr_conv1d_shape block_shape(const dr_rvq *m, int clips, int i) {
    const int d = m->cfg.dilation[i];
    dr_conv1d_shape s = {.B = clips, .T_in = m->cfg.num_keyframes, .IC = m->cfg.channels, .OC = m->cfg.channels,
                         .kernel = block_kernel(&m->cfg, i), .stride = 1, .dilation = d > 0 ? d : 1,
                         .pad = m->cfg.causal ? DR_PAD_CAUSAL : DR_PAD_SAME};
    return s;
}

dr_rvq_train_opts dr_rvq_default_train_opts(void) {
    dr_rvq_train_opts o = {.lr = 1e-3f,
                           .weight_decay = 0.0f,
                           .grad_clip = 1.0f,
                           .commit_beta = 0.02f,
                           .presence_weight = 0.1f,
                           .ema_decay = 0.99f,
                           .ema_eps = 1e-5f,
                           .dead_threshold = 0.5f,
                           .quantizer_dropout = 0.5f};
    return o;
}

static int check_config(const dr_rvq_config *c, dr_err *err) {
    if (c->depth < 1 || c->depth > DR_RVQ_MAX_DEPTH)
        return dr_err_set(err, DR_EINVAL, "rvq: depth %d is outside [1, %d]", c->depth, DR_RVQ_MAX_DEPTH);
    if (c->codebook_size < 2 || c->codebook_size > 65536)
        return dr_err_set(err, DR_EINVAL, "rvq: codebook size %d is outside [2, 65536]", c->codebook_size);
    if (c->dim < 1 || c->dim > 4096) return dr_err_set(err, DR_EINVAL, "rvq: latent dim %d is outside [1, 4096]", c->dim);
    if (c->channels < 1 || c->channels > 8192)
        return dr_err_set(err, DR_EINVAL, "rvq: channels %d is outside [1, 8192]", c->channels);
    if (c->num_keyframes < 1 || c->num_keyframes > 4096)
        return dr_err_set(err, DR_EINVAL, "rvq: %d key frames is outside [1, 4096]", c->num_keyframes);
    if (c->num_blocks < 1 || c->num_blocks > DR_RVQ_MAX_BLOCKS)
        return dr_err_set(err, DR_EINVAL, "rvq: %d blocks is outside [1, %d]", c->num_blocks, DR_RVQ_MAX_BLOCKS);
    for (int i = 0; i < c->num_blocks; i++)
        if (c->dilation[i] < 0 || c->dilation[i] > DR_RVQ_MAX_DILATION)
            return dr_err_set(err, DR_EINVAL, "rvq: block %d dilation %d is outside [0, %d]", i, c->dilation[i],
                              DR_RVQ_MAX_DILATION);
    return DR_OK;
}

/* "dilations" lists the blocks in order; 0 marks a pointwise block (kernel 1), any other
 * value a kernel-2 convolution with that dilation. */
static char *config_json(const dr_rvq_config *c) {
    char dil[DR_RVQ_MAX_BLOCKS * 4 + 4] = "", buf[768]; /* "64," per block at most */
    for (int i = 0, n = 0; i < c->num_blocks; i++)
        n += snprintf(dil + n, sizeof dil - (size_t)n, "%s%d", i ? "," : "", c->dilation[i]);
    snprintf(buf, sizeof buf,
             "{\"depth\":%d,\"codebook_size\":%d,\"dim\":%d,\"channels\":%d,\"num_keyframes\":%d,"
             "\"kernel\":2,\"dilations\":[%s],\"padding\":\"%s\",\"inputs\":\"coords36+mask18\","
             "\"outputs\":\"coords36+presence_logits18\"}",
             c->depth, c->codebook_size, c->dim, c->channels, c->num_keyframes, dil, c->causal ? "causal" : "same");
    return strdup(buf);
}

static int parse_config(const char *json, const char *path, dr_rvq_config *c, dr_err *err) {
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_EFORMAT, "%s: director.config is not a JSON object", path);
    }
    const char *keys[5] = {"depth", "codebook_size", "dim", "channels", "num_keyframes"};
    int *dst[5] = {&c->depth, &c->codebook_size, &c->dim, &c->channels, &c->num_keyframes};
    for (int i = 0; i < 5; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9) {
            cJSON_Delete(root);
            return dr_err_set(err, DR_EFORMAT, "%s: director.config lacks an integer \"%s\"", path, keys[i]);
        }
        *dst[i] = (int)v->valuedouble;
    }
    /* Every file so far lists its dilations; one without them has the original three blocks. */
    const cJSON *dil = cJSON_GetObjectItemCaseSensitive(root, "dilations");
    c->num_blocks = 3;
    c->dilation[0] = 1, c->dilation[1] = 2, c->dilation[2] = 4;
    if (dil) {
        const int n = cJSON_IsArray(dil) ? cJSON_GetArraySize(dil) : -1;
        if (n < 1 || n > DR_RVQ_MAX_BLOCKS) {
            cJSON_Delete(root);
            return dr_err_set(err, DR_EFORMAT, "%s: director.config \"dilations\" must be an array of 1 to %d integers",
                              path, DR_RVQ_MAX_BLOCKS);
        }
        c->num_blocks = n;
        for (int i = 0; i < n; i++) {
            const cJSON *v = cJSON_GetArrayItem(dil, i);
            /* an integer here; its range is check_config's, below */
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9) {
                cJSON_Delete(root);
                return dr_err_set(err, DR_EFORMAT, "%s: director.config dilation %d is not an integer", path, i);
            }
            c->dilation[i] = (int)v->valuedouble;
        }
    }
    /* Files written before padding was a setting say "causal" (or nothing). */
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "padding");
    c->causal = true;
    if (pad) {
        if (cJSON_IsString(pad) && !strcmp(pad->valuestring, "same")) c->causal = false;
        else if (!cJSON_IsString(pad) || strcmp(pad->valuestring, "causal")) {
            cJSON_Delete(root);
            return dr_err_set(err, DR_EUNSUPPORTED, "%s: padding must be \"causal\" or \"same\"", path);
        }
    }
    cJSON_Delete(root);
    int rc = check_config(c, err);
    return rc ? dr_err_prefix(err, "%s", path) : DR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* construction                                                                         */

static int add_tensor(dr_rvq *m, const char *name, bool no_decay, int ndim, int64_t d0, int64_t d1, int64_t d2,
                      int *idx, dr_err *err) {
    int64_t shape[3] = {d0, d1, d2};
    int rc = dr_params_add(&m->p, name, no_decay, ndim, shape);
    if (rc < 0) return dr_err_set(err, rc, "rvq: cannot declare tensor %s", name);
    *idx = rc;
    return DR_OK;
}

static int declare_stack(dr_rvq *m, stack_params *s, const char *prefix, int in_dim, int out_dim, dr_err *err) {
    const int C = m->cfg.channels;
    char name[96];
    int rc;
    s->in_dim = in_dim;
    s->out_dim = out_dim;
    snprintf(name, sizeof name, "%s.in.weight", prefix);
    if ((rc = add_tensor(m, name, false, 2, C, in_dim, 0, &s->in_w, err))) return rc;
    snprintf(name, sizeof name, "%s.in.bias", prefix);
    if ((rc = add_tensor(m, name, true, 1, C, 0, 0, &s->in_b, err))) return rc;
    for (int i = 0; i < m->cfg.num_blocks; i++) {
        snprintf(name, sizeof name, "%s.blocks.%d.conv.weight", prefix, i);
        if ((rc = add_tensor(m, name, false, 3, C, C, block_kernel(&m->cfg, i), &s->conv_w[i], err))) return rc;
        snprintf(name, sizeof name, "%s.blocks.%d.conv.bias", prefix, i);
        if ((rc = add_tensor(m, name, true, 1, C, 0, 0, &s->conv_b[i], err))) return rc;
        snprintf(name, sizeof name, "%s.blocks.%d.proj.weight", prefix, i);
        if ((rc = add_tensor(m, name, false, 2, C, C, 0, &s->proj_w[i], err))) return rc;
        snprintf(name, sizeof name, "%s.blocks.%d.proj.bias", prefix, i);
        if ((rc = add_tensor(m, name, true, 1, C, 0, 0, &s->proj_b[i], err))) return rc;
    }
    snprintf(name, sizeof name, "%s.out.weight", prefix);
    if ((rc = add_tensor(m, name, false, 2, out_dim, C, 0, &s->out_w, err))) return rc;
    snprintf(name, sizeof name, "%s.out.bias", prefix);
    return add_tensor(m, name, true, 1, out_dim, 0, 0, &s->out_b, err);
}

/* Declare every tensor; values are allocated (zeroed) but not initialised. */
static int build(dr_rvq **out, const dr_rvq_config *cfg, dr_err *err) {
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc) return rc;
    dr_rvq *m = calloc(1, sizeof *m);
    if (!m) return dr_err_set(err, DR_ENOMEM, "rvq: out of memory");
    m->cfg = *cfg;
    m->adamw = dr_adamw_default();
    m->beam = 1;
    dr_params_init(&m->p);
    const int D = cfg->dim, K = cfg->codebook_size;
    if ((rc = declare_stack(m, &m->enc, "encoder", IO_DIM, D, err))) goto fail;
    if ((rc = declare_stack(m, &m->dec, "decoder", D, IO_DIM, err))) goto fail;
    m->first_codebook_param = m->p.count;
    for (int l = 0; l < cfg->depth; l++) {
        char name[96];
        snprintf(name, sizeof name, "quantizer.%d.codebook", l);
        if ((rc = add_tensor(m, name, true, 2, K, D, 0, &m->codebook[l], err))) goto fail;
        snprintf(name, sizeof name, "quantizer.%d.ema_count", l);
        if ((rc = add_tensor(m, name, true, 1, K, 0, 0, &m->ema_count[l], err))) goto fail;
        snprintf(name, sizeof name, "quantizer.%d.ema_sum", l);
        if ((rc = add_tensor(m, name, true, 2, K, D, 0, &m->ema_sum[l], err))) goto fail;
    }
    if ((rc = dr_params_alloc(&m->p)) != DR_OK) {
        rc = dr_err_set(err, rc, "rvq: cannot allocate %zu parameters", m->p.total);
        goto fail;
    }
    *out = m;
    return DR_OK;
fail:
    dr_params_free(&m->p);
    free(m);
    return rc;
}

static void init_uniform(dr_rvq *m, int idx, dr_rng *rng, float bound) {
    dr_params_init_uniform(&m->p, m->p.items[idx].name, rng, bound);
}

static void init_stack(dr_rvq *m, const stack_params *s, dr_rng *rng) {
    const float C = (float)m->cfg.channels;
    /* PyTorch's default for linear/conv layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the
     * residual projections start smaller so the stack starts near its skip path. */
    init_uniform(m, s->in_w, rng, 1.0f / sqrtf((float)s->in_dim));
    for (int i = 0; i < m->cfg.num_blocks; i++) {
        init_uniform(m, s->conv_w[i], rng, 1.0f / sqrtf((float)block_kernel(&m->cfg, i) * C));
        init_uniform(m, s->proj_w[i], rng, 0.5f / sqrtf(C));
    }
    init_uniform(m, s->out_w, rng, 1.0f / sqrtf(C));
}

int dr_rvq_create(dr_rvq **out, const dr_rvq_config *cfg, uint64_t seed, dr_err *err) {
    int rc = build(out, cfg, err);
    if (rc) return rc;
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    init_stack(*out, &(*out)->enc, &rng);
    init_stack(*out, &(*out)->dec, &rng);
    return DR_OK; /* codebooks: zero EMA counts mark them uninitialised (first step seeds them) */
}

static void free_workspace(workspace *ws) {
    dr_free(ws->block);
    memset(ws, 0, sizeof *ws);
}

void dr_rvq_free(dr_rvq *m) {
    if (!m) return;
    free_workspace(&m->ws);
    dr_params_free(&m->p);
    free(m);
}

int dr_rvq_depth(const dr_rvq *m) { return m->cfg.depth; }
int dr_rvq_codebook_size(const dr_rvq *m) { return m->cfg.codebook_size; }
int dr_rvq_num_keyframes(const dr_rvq *m) { return m->cfg.num_keyframes; }
const dr_rvq_config *dr_rvq_get_config(const dr_rvq *m) { return &m->cfg; }
int dr_rvq_beam(const dr_rvq *m) { return m->beam; }

int dr_rvq_set_beam(dr_rvq *m, int beam, dr_err *err) {
    if (beam < 1 || beam > 4096) return dr_err_set(err, DR_EINVAL, "rvq: beam %d is outside [1, 4096]", beam);
    m->beam = beam;
    return DR_OK;
}
dr_params *dr_rvq_params(dr_rvq *m) { return &m->p; }

long dr_rvq_num_weights(const dr_rvq *m) {
    long n = 0;
    for (int i = 0; i < m->first_codebook_param; i++) n += (long)m->p.items[i].numel;
    return n;
}

static bool codebooks_initialised(const dr_rvq *m) {
    const float *cnt = P(m, m->ema_count[0]);
    for (int k = 0; k < m->cfg.codebook_size; k++)
        if (cnt[k] > 0.0f) return true;
    return false;
}

/* ------------------------------------------------------------------------------------ */
/* work buffers                                                                         */

static int ensure_workspace(dr_rvq *m, int clips, bool training, dr_err *err) {
    workspace *ws = &m->ws;
    if (ws->block && clips <= ws->cap_clips && (!training || ws->training)) return DR_OK;
    if (ws->block && clips < ws->cap_clips) clips = ws->cap_clips;
    training = training || ws->training;
    free_workspace(ws);
    const size_t T = (size_t)m->cfg.num_keyframes, N = (size_t)clips * T, C = (size_t)m->cfg.channels;
    const size_t D = (size_t)m->cfg.dim, K = (size_t)m->cfg.codebook_size, L = (size_t)m->cfg.depth;
    const size_t NB = (size_t)m->cfg.num_blocks;
    size_t conv = 0;
    for (int i = 0; i < (int)NB; i++) {
        dr_conv1d_shape s = block_shape(m, clips, i);
        size_t f = dr_conv1d_scratch_floats(&s);
        if (f > conv) conv = f;
    }
    const size_t per_stack = (NB + 1 + 3 * NB + 1) * N * C;
    /* Float buffers, each rounded to 16 floats (64 bytes) so every one stays aligned. */
#define R16(n) (((n) + 15) & ~(size_t)15)
    size_t floats = R16(N * IO_DIM) * 2 + 2 * R16(per_stack) + R16(N * D) * (3 + L) + R16(N * K) + R16(K) + R16(conv);
    if (training) floats += R16(N * IO_DIM) + 4 * R16(N * C) + R16(N * D) + R16(K) + R16(K * D);
    size_t ints = R16(L * N) + R16((size_t)clips) + (training ? R16(N) : 0);
    size_t doubles = training ? R16(N * 4) : 0;
    size_t bytes = floats * sizeof(float) + ints * sizeof(int) + doubles * sizeof(double);
    char *b = dr_alloc(bytes);
    if (!b) return dr_err_set(err, DR_ENOMEM, "rvq: cannot allocate %.1f MB of work buffers", (double)bytes / 1e6);
    ws->block = b;
    ws->cap_clips = clips;
    ws->training = training;
    float *f = (float *)b;
#define TAKE(ptr, n)      \
    do {                  \
        (ptr) = f;        \
        f += R16(n);      \
    } while (0)
    TAKE(ws->x, N * IO_DIM);
    TAKE(ws->y, N * IO_DIM);
    stack_acts *st[2] = {&ws->enc, &ws->dec};
    for (int s = 0; s < 2; s++) {
        float *g = f;
        for (int i = 0; i <= (int)NB; i++, g += N * C) st[s]->h[i] = g;
        for (int i = 0; i < (int)NB; i++, g += N * C) st[s]->a1[i] = g;
        for (int i = 0; i < (int)NB; i++, g += N * C) st[s]->c[i] = g;
        for (int i = 0; i < (int)NB; i++, g += N * C) st[s]->a2[i] = g;
        st[s]->a_out = g;
        f += R16(per_stack);
    }
    TAKE(ws->z_e, N * D);
    TAKE(ws->z_q, N * D);
    ws->resid = f;
    f += R16(N * D) * (L + 1);
    ws->dist = f;
    f += R16(N * K);
    TAKE(ws->cnorm, K);
    TAKE(ws->conv_scratch, conv);
    if (training) {
        TAKE(ws->dy, N * IO_DIM);
        TAKE(ws->dh, N * C);
        TAKE(ws->da, N * C);
        TAKE(ws->dc, N * C);
        TAKE(ws->da1, N * C);
        TAKE(ws->dz, N * D);
        TAKE(ws->batch_count, K);
        TAKE(ws->batch_sum, K * D);
    }
#undef TAKE
    int *ip = (int *)f;
    ws->codes = ip;
    ip += R16(L * N);
    ws->levels = ip;
    ip += R16((size_t)clips);
    if (training) {
        ws->active_rows = ip;
        ip += R16(N);
    }
    double *dp = (double *)ip;
    ws->row_acc = training ? dp : NULL;
#undef R16
    return DR_OK;
}

/* Residual of level l (l = 0 is z_e itself), [N, D] with the workspace's capacity stride. */
static inline float *resid_at(const dr_rvq *m, int l) {
    const size_t N = (size_t)m->ws.cap_clips * (size_t)m->cfg.num_keyframes;
    const size_t stride = (N * (size_t)m->cfg.dim + 15) & ~(size_t)15;
    return m->ws.resid + (size_t)l * stride;
}

/* ------------------------------------------------------------------------------------ */
/* the convolution stacks                                                               */


static void stack_forward(dr_rvq *m, const stack_params *sp, stack_acts *a, const float *in, float *out, int clips) {
    const int N = clips * m->cfg.num_keyframes, C = m->cfg.channels;
    const long NC = (long)N * C;
    dr_linear_forward(a->h[0], in, P(m, sp->in_w), P(m, sp->in_b), N, sp->in_dim, C);
    for (int i = 0; i < m->cfg.num_blocks; i++) {
        dr_conv1d_shape s = block_shape(m, clips, i);
        dr_silu_forward(a->a1[i], a->h[i], NC);
        dr_conv1d_forward(a->c[i], a->a1[i], P(m, sp->conv_w[i]), P(m, sp->conv_b[i]), &s, m->ws.conv_scratch);
        dr_silu_forward(a->a2[i], a->c[i], NC);
        dr_linear_forward(a->h[i + 1], a->a2[i], P(m, sp->proj_w[i]), P(m, sp->proj_b[i]), N, C, C);
        dr_add_inplace(a->h[i + 1], a->h[i], NC);
    }
    dr_silu_forward(a->a_out, a->h[m->cfg.num_blocks], NC);
    dr_linear_forward(out, a->a_out, P(m, sp->out_w), P(m, sp->out_b), N, C, sp->out_dim);
}

/* Backward through a stack: dout [N, out_dim] -> parameter gradients (accumulated) and,
 * when din != NULL, din [N, in_dim] (accumulated). */
static void stack_backward(dr_rvq *m, const stack_params *sp, const stack_acts *a, const float *in, const float *dout,
                           float *din, int clips) {
    workspace *ws = &m->ws;
    const int N = clips * m->cfg.num_keyframes, C = m->cfg.channels;
    const long NC = (long)N * C;
    const size_t bytes = sizeof(float) * (size_t)NC;
    memset(ws->da, 0, bytes);
    dr_linear_backward(ws->da, G(m, sp->out_w), G(m, sp->out_b), dout, a->a_out, P(m, sp->out_w), N, C, sp->out_dim);
    memset(ws->dh, 0, bytes);
    dr_silu_backward(ws->dh, ws->da, a->h[m->cfg.num_blocks], NC);
    for (int i = m->cfg.num_blocks - 1; i >= 0; i--) {
        /* h[i+1] = h[i] + proj(a2[i]): dh already holds d h[i] from the skip path. */
        dr_conv1d_shape s = block_shape(m, clips, i);
        memset(ws->da, 0, bytes);
        dr_linear_backward(ws->da, G(m, sp->proj_w[i]), G(m, sp->proj_b[i]), ws->dh, a->a2[i], P(m, sp->proj_w[i]), N,
                           C, C);
        memset(ws->dc, 0, bytes);
        dr_silu_backward(ws->dc, ws->da, a->c[i], NC);
        memset(ws->da1, 0, bytes);
        dr_conv1d_backward(ws->da1, G(m, sp->conv_w[i]), G(m, sp->conv_b[i]), ws->dc, a->a1[i], P(m, sp->conv_w[i]),
                           &s, ws->conv_scratch);
        dr_silu_backward(ws->dh, ws->da1, a->h[i], NC);
    }
    dr_linear_backward(din, G(m, sp->in_w), G(m, sp->in_b), ws->dh, in, P(m, sp->in_w), N, sp->in_dim, C);
}

/* ------------------------------------------------------------------------------------ */
/* input / output                                                                       */

static int check_poses(const dr_pose *poses, int clips, int T, int width, int height, dr_err *err) {
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536)
        return dr_err_set(err, DR_EINVAL, "rvq: canvas %d x %d is invalid", width, height);
    for (long n = 0; n < (long)clips * T; n++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const dr_keypoint *k = &poses[n].kp[j];
            if (!isfinite(k->x) || !isfinite(k->y) || !isfinite(k->c) || fabsf(k->x) > 1e6f || fabsf(k->y) > 1e6f)
                return dr_err_set(err, DR_ERANGE, "rvq: clip %ld key frame %ld keypoint %s has a non-finite or huge value",
                                  n / T, n % T, dr_keypoint_names[j]);
        }
    return DR_OK;
}

static void load_inputs(dr_rvq *m, const dr_pose *poses, int clips, int width, int height) {
    const int N = clips * m->cfg.num_keyframes;
    float *x = m->ws.x;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        dr_pose_normalize(&poses[n], width, height, x + (size_t)n * IO_DIM, x + (size_t)n * IO_DIM + DR_POSE_DIM);
}

static void store_outputs(const dr_rvq *m, int clips, int width, int height, dr_pose *poses) {
    const int N = clips * m->cfg.num_keyframes;
    const float *y = m->ws.y;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *row = y + (size_t)n * IO_DIM;
        float mask[DR_NUM_KEYPOINTS];
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) mask[j] = row[DR_POSE_DIM + j] > 0.0f ? 1.0f : 0.0f;
        dr_pose_denormalize(row, mask, width, height, 1.0f, &poses[n]);
    }
}

/* ------------------------------------------------------------------------------------ */
/* the residual quantizer                                                               */

/* Squared norms of the codes of level l into out[K]. */
static void code_norms(const dr_rvq *m, int l, float *out) {
    const int K = m->cfg.codebook_size, D = m->cfg.dim;
    const float *cb = P(m, m->codebook[l]);
    for (int k = 0; k < K; k++) {
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += cb[(size_t)k * D + d] * cb[(size_t)k * D + d];
        out[k] = s;
    }
}

/* Seed the codebook of level l from random residuals of the rows that use it (the first
 * training step), so that no code starts far from the data. */
static void seed_codebook(dr_rvq *m, int l, const float *r, const int *rows, int num_rows, dr_rng *rng) {
    const int K = m->cfg.codebook_size, D = m->cfg.dim;
    float *cb = P(m, m->codebook[l]), *cnt = P(m, m->ema_count[l]), *sum = P(m, m->ema_sum[l]);
    for (int k = 0; k < K; k++) {
        int n = rows[dr_rng_below(rng, (uint32_t)num_rows)];
        for (int d = 0; d < D; d++) {
            /* a little noise keeps codes distinct when there are fewer rows than codes */
            float v = r[(size_t)n * D + d] + (num_rows < K ? 1e-3f * dr_rng_normal(rng) : 0.0f);
            cb[(size_t)k * D + d] = v;
            sum[(size_t)k * D + d] = v;
        }
        cnt[k] = 1.0f;
    }
}

/* Quantize z_e through the levels each clip uses (ws->levels). Fills codes (-1 where
 * unused), the residuals resid_at(l) and z_q. When `seed_rng` is given and the codebooks
 * are still empty, each level is seeded from its own residuals first. */
static void quantize(dr_rvq *m, int clips, dr_rng *seed_rng) {
    workspace *ws = &m->ws;
    const int T = m->cfg.num_keyframes, N = clips * T, D = m->cfg.dim, K = m->cfg.codebook_size;
    const bool seed = seed_rng && !codebooks_initialised(m);
    float *cnorm = ws->cnorm;
    memcpy(resid_at(m, 0), ws->z_e, sizeof(float) * (size_t)N * D);
    for (int l = 0; l < m->cfg.depth; l++) {
        const float *r = resid_at(m, l);
        float *rn = resid_at(m, l + 1);
        int *codes = ws->codes + (size_t)l * N;
        if (seed) {
            int num = 0;
            for (int n = 0; n < N; n++)
                if (ws->levels[n / T] > l) ws->active_rows[num++] = n;
            if (num > 0) seed_codebook(m, l, r, ws->active_rows, num, seed_rng);
        }
        const float *cb = P(m, m->codebook[l]);
        code_norms(m, l, cnorm);
        /* score[n, k] = ||c_k||^2 - 2 r_n . c_k  (||r_n||^2 is the same for every k) */
        dr_sgemm(false, true, N, K, D, -2.0f, r, D, cb, D, 0.0f, ws->dist, K);
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *rr = r + (size_t)n * D;
            float *out = rn + (size_t)n * D;
            if (ws->levels[n / T] <= l) {
                codes[n] = -1;
                memcpy(out, rr, sizeof(float) * (size_t)D);
                continue;
            }
            const float *sc = ws->dist + (size_t)n * K;
            int best = 0;
            float best_v = sc[0] + cnorm[0];
            for (int k = 1; k < K; k++) {
                float v = sc[k] + cnorm[k];
                if (v < best_v) {
                    best_v = v;
                    best = k;
                }
            }
            codes[n] = best;
            const float *c = cb + (size_t)best * D;
            for (int d = 0; d < D; d++) out[d] = rr[d] - c[d];
        }
    }
    /* z_q = z_e - final residual: the sum of the chosen codes */
    const float *rl = resid_at(m, m->cfg.depth);
    for (long i = 0; i < (long)N * D; i++) ws->z_q[i] = ws->z_e[i] - rl[i];
}

/* Beam search over the levels (encoding only). Greedy residual quantization picks, level by
 * level, the code nearest to what is left, which is not the set of `depth` codes whose sum
 * is nearest to z: an early choice that is slightly worse can leave a residual the later
 * codebooks fit much better. Keeping the `beam` best partial sums at each level (scored by
 * the exact remaining error ||z - sum||^2) finds sums at least as close in practice; beam 1
 * is the greedy search, and a beam of K^(depth-1) is exhaustive. Rows go in blocks: at each
 * level every live residual of the block is scored against every code in one GEMM
 * (||r - c||^2 = ||r||^2 - 2 r.c + ||c||^2), then each row keeps its `beam` best children. */
enum { BEAM_BLOCK_ROWS = 128 };

typedef struct beam_block {
    float *res, *res_next; /* [rows][beam][D] residuals of the live partial sums */
    int *path, *path_next; /* [rows][beam][L] their codes */
    float *scores;         /* [rows * live][K] -2 r.c */
    float *cand_cost;      /* [rows][beam] */
    int *cand_parent, *cand_code;
} beam_block;

/* Row r's `beam` best children of its `live` partial sums at level l, sorted by cost
 * (equal costs keep the earlier parent, then the lower code). */
static int beam_select(const dr_rvq *m, const beam_block *bb, int r, int live, int beam, int l, const float *cnorm) {
    const int D = m->cfg.dim, K = m->cfg.codebook_size;
    float *cost = bb->cand_cost + (size_t)r * beam;
    int *parent = bb->cand_parent + (size_t)r * beam, *code = bb->cand_code + (size_t)r * beam;
    int kept = 0;
    for (int b = 0; b < live; b++) {
        const float *res = bb->res + ((size_t)r * beam + b) * D;
        const float *sc = bb->scores + ((size_t)r * live + b) * K;
        float rr = 0.0f;
        for (int d = 0; d < D; d++) rr += res[d] * res[d];
        for (int k = 0; k < K; k++) {
            const float v = rr + sc[k] + cnorm[k];
            if (kept == beam && !(v < cost[beam - 1])) continue;
            int i = kept < beam ? kept++ : beam - 1;
            while (i > 0 && v < cost[i - 1]) {
                cost[i] = cost[i - 1], parent[i] = parent[i - 1], code[i] = code[i - 1];
                i--;
            }
            cost[i] = v, parent[i] = b, code[i] = k;
        }
    }
    const float *cb = P(m, m->codebook[l]);
    const int L = m->cfg.depth;
    for (int i = 0; i < kept; i++) {
        const float *res = bb->res + ((size_t)r * beam + parent[i]) * D, *c = cb + (size_t)code[i] * D;
        float *rn = bb->res_next + ((size_t)r * beam + i) * D;
        for (int d = 0; d < D; d++) rn[d] = res[d] - c[d];
        int *pn = bb->path_next + ((size_t)r * beam + i) * L;
        memcpy(pn, bb->path + ((size_t)r * beam + parent[i]) * L, sizeof(int) * (size_t)l);
        pn[l] = code[i];
    }
    return kept;
}

int dr_rvq_quantize_latents(const dr_rvq *m, const float *z, long N, int beam, int *tokens, dr_err *err) {
    const int D = m->cfg.dim, K = m->cfg.codebook_size, L = m->cfg.depth, RB = BEAM_BLOCK_ROWS;
    if (N < 0) return dr_err_set(err, DR_EINVAL, "rvq quantize: negative row count %ld", N);
    if (beam < 1 || beam > 4096) return dr_err_set(err, DR_EINVAL, "rvq: beam %d is outside [1, 4096]", beam);
    if (!codebooks_initialised(m)) return dr_err_set(err, DR_EINVAL, "rvq quantize: the model's codebooks are untrained");
    const size_t rbd = (size_t)RB * beam * D, rbl = (size_t)RB * beam * L, rbk = (size_t)RB * beam * K;
    float *fl = malloc(sizeof(float) * (2 * rbd + rbk + (size_t)RB * beam + (size_t)L * K));
    int *in = malloc(sizeof(int) * (2 * rbl + 2 * (size_t)RB * beam));
    if (!fl || !in) {
        free(fl), free(in);
        return dr_err_set(err, DR_ENOMEM, "rvq: out of memory for a beam of %d", beam);
    }
    beam_block bb = {.res = fl, .res_next = fl + rbd, .scores = fl + 2 * rbd, .cand_cost = fl + 2 * rbd + rbk,
                     .path = in, .path_next = in + rbl, .cand_parent = in + 2 * rbl,
                     .cand_code = in + 2 * rbl + (size_t)RB * beam};
    float *cnorm = bb.cand_cost + (size_t)RB * beam;
    for (int l = 0; l < L; l++) code_norms(m, l, cnorm + (size_t)l * K);
    for (long r0 = 0; r0 < N; r0 += RB) {
        const int rows = N - r0 < RB ? (int)(N - r0) : RB;
        for (int r = 0; r < rows; r++) memcpy(bb.res + (size_t)r * beam * D, z + (size_t)(r0 + r) * D, sizeof(float) * D);
        int live = 1; /* the same for every row: min(beam, K^l) */
        for (int l = 0; l < L; l++) {
            /* gather the live residuals contiguously, [rows * live][D], then score all codes */
            for (int r = 0; r < rows; r++)
                memcpy(bb.res_next + (size_t)r * live * D, bb.res + (size_t)r * beam * D,
                        sizeof(float) * (size_t)live * D);
            dr_sgemm(false, true, rows * live, K, D, -2.0f, bb.res_next, D, P(m, m->codebook[l]), D, 0.0f, bb.scores, K);
            int kept = beam; /* every row keeps min(beam, live * K); the reduction includes this */
#pragma omp parallel for schedule(static) reduction(min : kept)
            for (int r = 0; r < rows; r++) {
                int k = beam_select(m, &bb, r, live, beam, l, cnorm + (size_t)l * K);
                if (k < kept) kept = k;
            }
            live = kept;
            float *tf = bb.res;
            bb.res = bb.res_next, bb.res_next = tf;
            int *ti = bb.path;
            bb.path = bb.path_next, bb.path_next = ti;
        }
        for (int r = 0; r < rows; r++) /* candidates are sorted: the first is the nearest sum */
            memcpy(tokens + (size_t)(r0 + r) * L, bb.path + (size_t)r * beam * L, sizeof(int) * (size_t)L);
    }
    free(fl);
    free(in);
    return DR_OK;
}

/* Encoding: quantize every row of ws->z_e through all levels with the model's search (the
 * greedy pass of training, or the beam), leaving ws->codes, the residuals resid_at(l) and
 * ws->z_q as quantize() does. */
static int quantize_all_levels(dr_rvq *m, int clips, dr_err *err) {
    workspace *ws = &m->ws;
    const int T = m->cfg.num_keyframes, N = clips * T, D = m->cfg.dim, L = m->cfg.depth;
    for (int b = 0; b < clips; b++) ws->levels[b] = L;
    if (m->beam == 1) {
        quantize(m, clips, NULL);
        return DR_OK;
    }
    int *paths = malloc(sizeof(int) * (size_t)N * L);
    if (!paths) return dr_err_set(err, DR_ENOMEM, "rvq: out of memory");
    int rc = dr_rvq_quantize_latents(m, ws->z_e, N, m->beam, paths, err);
    if (!rc) memcpy(resid_at(m, 0), ws->z_e, sizeof(float) * (size_t)N * D);
    for (int n = 0; !rc && n < N; n++) {
        const float *prev = ws->z_e + (size_t)n * D;
        for (int l = 0; l < L; l++) {
            const int k = paths[(size_t)n * L + l];
            ws->codes[(size_t)l * N + n] = k;
            const float *c = P(m, m->codebook[l]) + (size_t)k * D;
            float *r = resid_at(m, l + 1) + (size_t)n * D;
            for (int d = 0; d < D; d++) r[d] = prev[d] - c[d];
            prev = r;
        }
        for (int d = 0; d < D; d++) ws->z_q[(size_t)n * D + d] = ws->z_e[(size_t)n * D + d] - prev[d];
    }
    free(paths);
    return rc;
}

/* z_q from given tokens (already validated), the first `levels` levels of each. */
static void dequantize(dr_rvq *m, const int *tokens, int clips, int levels) {
    const int T = m->cfg.num_keyframes, N = clips * T, D = m->cfg.dim, L = m->cfg.depth;
    float *zq = m->ws.z_q;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *out = zq + (size_t)n * D;
        memset(out, 0, sizeof(float) * (size_t)D);
        for (int l = 0; l < levels; l++) {
            const float *c = P(m, m->codebook[l]) + (size_t)tokens[(size_t)n * L + l] * D;
            for (int d = 0; d < D; d++) out[d] += c[d];
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* encode / decode                                                                      */

int dr_rvq_encode(dr_rvq *m, const dr_pose *keyframes, int B, int width, int height, int *tokens, dr_err *err) {
    if (B < 0) return dr_err_set(err, DR_EINVAL, "rvq encode: negative batch %d", B);
    const int T = m->cfg.num_keyframes, L = m->cfg.depth;
    int rc = check_poses(keyframes, B, T, width, height, err);
    if (rc) return rc;
    if (!codebooks_initialised(m)) return dr_err_set(err, DR_EINVAL, "rvq encode: the model's codebooks are untrained");
    for (int b0 = 0; b0 < B; b0 += CHUNK_CLIPS) {
        const int nb = B - b0 < CHUNK_CLIPS ? B - b0 : CHUNK_CLIPS, N = nb * T;
        if ((rc = ensure_workspace(m, nb, false, err))) return rc;
        load_inputs(m, keyframes + (size_t)b0 * T, nb, width, height);
        stack_forward(m, &m->enc, &m->ws.enc, m->ws.x, m->ws.z_e, nb);
        if ((rc = quantize_all_levels(m, nb, err))) return rc;
        int *out = tokens + (size_t)b0 * T * L;
        for (int n = 0; n < N; n++)
            for (int l = 0; l < L; l++) out[(size_t)n * L + l] = m->ws.codes[(size_t)l * N + n];
    }
    return DR_OK;
}

static int check_tokens(const dr_rvq *m, const int *tokens, int B, int levels, dr_err *err) {
    const int T = m->cfg.num_keyframes, L = m->cfg.depth, K = m->cfg.codebook_size;
    if (levels < 1 || levels > L)
        return dr_err_set(err, DR_EINVAL, "rvq decode: levels %d is outside [1, %d]", levels, L);
    for (long n = 0; n < (long)B * T; n++)
        for (int l = 0; l < levels; l++) {
            int t = tokens[(size_t)n * L + l];
            if (t < 0 || t >= K)
                return dr_err_set(err, DR_ERANGE,
                                  "rvq decode: token %d at clip %ld, key frame %ld, level %d is outside [0, %d)", t,
                                  n / T, n % T, l, K);
        }
    return DR_OK;
}

int dr_rvq_decode(dr_rvq *m, const int *tokens, int B, int levels, int width, int height, dr_pose *keyframes,
                  dr_err *err) {
    if (B < 0) return dr_err_set(err, DR_EINVAL, "rvq decode: negative batch %d", B);
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536)
        return dr_err_set(err, DR_EINVAL, "rvq decode: canvas %d x %d is invalid", width, height);
    int rc = check_tokens(m, tokens, B, levels, err);
    if (rc) return rc;
    const int T = m->cfg.num_keyframes, L = m->cfg.depth;
    for (int b0 = 0; b0 < B; b0 += CHUNK_CLIPS) {
        const int nb = B - b0 < CHUNK_CLIPS ? B - b0 : CHUNK_CLIPS;
        if ((rc = ensure_workspace(m, nb, false, err))) return rc;
        dequantize(m, tokens + (size_t)b0 * T * L, nb, levels);
        stack_forward(m, &m->dec, &m->ws.dec, m->ws.z_q, m->ws.y, nb);
        store_outputs(m, nb, width, height, keyframes + (size_t)b0 * T);
    }
    return DR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* losses                                                                               */

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

/* Loss of the decoder output ws->y against the inputs ws->x (and the commitment of the
 * used levels); when `grad` is set, writes dL/dy into ws->dy. Fills the loss fields of st. */
static void losses(dr_rvq *m, int clips, int height, const dr_rvq_train_opts *o, bool grad, dr_rvq_stats *st) {
    workspace *ws = &m->ws;
    const int T = m->cfg.num_keyframes, N = clips * T, D = m->cfg.dim;
    double *acc = ws->row_acc; /* per row: squared error, present count, BCE, pixel error */
    long present = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) present += ws->x[(size_t)n * IO_DIM + DR_POSE_DIM + j] > 0.5f;
    const float coord_scale = 2.0f / (float)(present > 0 ? 2 * present : 1);
    const float pres_scale = o->presence_weight / (float)((long)N * DR_NUM_KEYPOINTS);
    long pres_ok = 0;
#pragma omp parallel for schedule(static) reduction(+ : pres_ok)
    for (int n = 0; n < N; n++) {
        const float *x = ws->x + (size_t)n * IO_DIM, *y = ws->y + (size_t)n * IO_DIM;
        float *dy = grad ? ws->dy + (size_t)n * IO_DIM : NULL;
        double se = 0, bce = 0, px = 0;
        int cnt = 0;
        for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
            const float mk = x[DR_POSE_DIM + j];
            const float ex = y[2 * j] - x[2 * j], ey = y[2 * j + 1] - x[2 * j + 1];
            if (mk > 0.5f) {
                se += (double)ex * ex + (double)ey * ey;
                px += sqrt((double)ex * ex + (double)ey * ey);
                cnt++;
            }
            if (dy) {
                dy[2 * j] = mk > 0.5f ? coord_scale * ex : 0.0f;
                dy[2 * j + 1] = mk > 0.5f ? coord_scale * ey : 0.0f;
            }
            const float z = y[DR_POSE_DIM + j];
            bce += softplus(z) - (double)mk * z;
            pres_ok += (z > 0.0f) == (mk > 0.5f);
            if (dy) dy[DR_POSE_DIM + j] = pres_scale * (sigmoidf(z) - mk);
        }
        double *a = acc + (size_t)n * 4;
        a[0] = se;
        a[1] = cnt;
        a[2] = bce;
        a[3] = px;
    }
    double se = 0, bce = 0, px = 0, commit = 0;
    for (int n = 0; n < N; n++) {
        se += acc[(size_t)n * 4];
        bce += acc[(size_t)n * 4 + 2];
        px += acc[(size_t)n * 4 + 3];
    }
    /* commitment: each used level l contributes ||r_{l+1}||^2 = ||r_l - q_l||^2 */
    for (int l = 0; l < m->cfg.depth; l++) {
        const float *r = resid_at(m, l + 1);
        const int *codes = ws->codes + (size_t)l * N;
        for (int n = 0; n < N; n++) {
            if (codes[n] < 0) continue;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)r[(size_t)n * D + d] * r[(size_t)n * D + d];
            commit += s;
        }
    }
    commit /= (double)N * D;
    st->rec = se / (double)(present > 0 ? 2 * present : 1);
    st->presence = bce / ((double)N * DR_NUM_KEYPOINTS);
    st->commit = commit;
    st->loss = st->rec + o->presence_weight * st->presence + o->commit_beta * st->commit;
    st->recon_px = present > 0 ? px / (double)present * 0.5 * height : 0.0;
    st->presence_acc = (double)pres_ok / ((double)N * DR_NUM_KEYPOINTS);
}

/* dL/dz_e = dL/dz_q (straight-through) + beta * d commit / d z_e, where
 * d ||r_{l+1}||^2 / d z_e = 2 r_{l+1} for every used level (earlier codes are constants). */
static void quantizer_backward(dr_rvq *m, int clips, const dr_rvq_train_opts *o) {
    workspace *ws = &m->ws;
    const int N = clips * m->cfg.num_keyframes, D = m->cfg.dim;
    const float scale = 2.0f * o->commit_beta / ((float)N * (float)D);
    for (int l = 0; l < m->cfg.depth; l++) {
        const float *r = resid_at(m, l + 1);
        const int *codes = ws->codes + (size_t)l * N;
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            if (codes[n] < 0) continue;
            for (int d = 0; d < D; d++) ws->dz[(size_t)n * D + d] += scale * r[(size_t)n * D + d];
        }
    }
}

/* Forward (and backward if asked) of the whole model on loaded inputs, ws->levels set. */
static void forward_backward(dr_rvq *m, int clips, int height, const dr_rvq_train_opts *o, bool backward,
                             bool quantized, dr_rng *seed_rng, dr_rvq_stats *st) {
    workspace *ws = &m->ws;
    const int N = clips * m->cfg.num_keyframes, D = m->cfg.dim;
    stack_forward(m, &m->enc, &ws->enc, ws->x, ws->z_e, clips);
    if (quantized) {
        quantize(m, clips, seed_rng);
    } else { /* continuous auto-encoder: no codes, z_q = z_e (used by the gradient checks) */
        memcpy(ws->z_q, ws->z_e, sizeof(float) * (size_t)N * D);
        for (long i = 0; i < (long)m->cfg.depth * N; i++) ws->codes[i] = -1;
    }
    stack_forward(m, &m->dec, &ws->dec, ws->z_q, ws->y, clips);
    losses(m, clips, height, o, backward, st);
    if (!backward) return;
    dr_params_zero_grad(&m->p);
    memset(ws->dz, 0, sizeof(float) * (size_t)N * D);
    stack_backward(m, &m->dec, &ws->dec, ws->z_q, ws->dy, ws->dz, clips);
    if (quantized) quantizer_backward(m, clips, o);
    stack_backward(m, &m->enc, &ws->enc, ws->x, ws->dz, NULL, clips);
}

int dr_rvq_loss(dr_rvq *m, const dr_pose *keyframes, int B, int width, int height, int levels,
                const dr_rvq_train_opts *opts, bool backward, dr_rvq_stats *stats, dr_err *err) {
    memset(stats, 0, sizeof *stats);
    if (B < 1) return dr_err_set(err, DR_EINVAL, "rvq: batch %d must be positive", B);
    if (levels < 0 || levels > m->cfg.depth)
        return dr_err_set(err, DR_EINVAL, "rvq: levels %d is outside [0, %d]", levels, m->cfg.depth);
    if (levels > 0 && !codebooks_initialised(m))
        return dr_err_set(err, DR_EINVAL, "rvq: the model's codebooks are untrained");
    int rc = check_poses(keyframes, B, m->cfg.num_keyframes, width, height, err);
    if (rc) return rc;
    if ((rc = ensure_workspace(m, B, true, err))) return rc;
    if (backward && !m->p.grad && (rc = dr_params_alloc_grad(&m->p)) != DR_OK)
        return dr_err_set(err, rc, "rvq: cannot allocate gradients");
    load_inputs(m, keyframes, B, width, height);
    for (int b = 0; b < B; b++) m->ws.levels[b] = levels;
    forward_backward(m, B, height, opts, backward, levels > 0, NULL, stats);
    return DR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* training                                                                             */

static double perplexity_of(const float *count, int K) {
    double total = 0, h = 0;
    for (int k = 0; k < K; k++) total += count[k];
    if (total <= 0) return 0;
    for (int k = 0; k < K; k++)
        if (count[k] > 0) {
            double p = count[k] / total;
            h -= p * log(p);
        }
    return exp(h);
}

/* EMA update of every level's codebook from this batch's assignments, then re-seed the
 * codes whose smoothed use fell below the threshold with random residuals of the batch. */
static void update_codebooks(dr_rvq *m, int clips, const dr_rvq_train_opts *o, dr_rng *rng, dr_rvq_stats *st) {
    workspace *ws = &m->ws;
    const int N = clips * m->cfg.num_keyframes, D = m->cfg.dim, K = m->cfg.codebook_size;
    const float decay = o->ema_decay;
    for (int l = 0; l < m->cfg.depth; l++) {
        const float *r = resid_at(m, l);
        const int *codes = ws->codes + (size_t)l * N;
        float *cb = P(m, m->codebook[l]), *cnt = P(m, m->ema_count[l]), *sum = P(m, m->ema_sum[l]);
        memset(ws->batch_count, 0, sizeof(float) * (size_t)K);
        memset(ws->batch_sum, 0, sizeof(float) * (size_t)K * D);
        int num_rows = 0;
        for (int n = 0; n < N; n++) {
            int k = codes[n];
            if (k < 0) continue;
            ws->active_rows[num_rows++] = n;
            ws->batch_count[k] += 1.0f;
            float *s = ws->batch_sum + (size_t)k * D;
            for (int d = 0; d < D; d++) s[d] += r[(size_t)n * D + d];
        }
        st->perplexity[l] = perplexity_of(ws->batch_count, K);
        st->dead[l] = 0;
        if (num_rows == 0) continue;
        double total = 0;
        for (int k = 0; k < K; k++) {
            cnt[k] = decay * cnt[k] + (1.0f - decay) * ws->batch_count[k];
            total += cnt[k];
        }
        for (long i = 0; i < (long)K * D; i++) sum[i] = decay * sum[i] + (1.0f - decay) * ws->batch_sum[i];
        /* Laplace smoothing keeps a code's divisor away from zero without moving the mean. */
        for (int k = 0; k < K; k++) {
            double smoothed = (cnt[k] + o->ema_eps) / (total + K * o->ema_eps) * total;
            float inv = (float)(1.0 / smoothed);
            for (int d = 0; d < D; d++) cb[(size_t)k * D + d] = sum[(size_t)k * D + d] * inv;
        }
        for (int k = 0; k < K; k++) {
            if (cnt[k] >= o->dead_threshold) continue;
            int n = ws->active_rows[dr_rng_below(rng, (uint32_t)num_rows)];
            for (int d = 0; d < D; d++) {
                cb[(size_t)k * D + d] = r[(size_t)n * D + d];
                sum[(size_t)k * D + d] = r[(size_t)n * D + d];
            }
            cnt[k] = 1.0f;
            st->dead[l]++;
        }
    }
}

int dr_rvq_train_step(dr_rvq *m, const dr_pose *keyframes, int B, int width, int height,
                      const dr_rvq_train_opts *opts, long step, dr_rng *rng, dr_rvq_stats *stats, dr_err *err) {
    memset(stats, 0, sizeof *stats);
    if (B < 1) return dr_err_set(err, DR_EINVAL, "rvq: batch %d must be positive", B);
    if (step < 1) return dr_err_set(err, DR_EINVAL, "rvq: training step %ld must be >= 1", step);
    int rc = check_poses(keyframes, B, m->cfg.num_keyframes, width, height, err);
    if (rc) return rc;
    if ((rc = ensure_workspace(m, B, true, err))) return rc;
    if (!m->p.grad && (rc = dr_params_alloc_grad(&m->p)) != DR_OK)
        return dr_err_set(err, rc, "rvq: cannot allocate gradients");
    if (!m->p.m && (rc = dr_params_alloc_optim(&m->p)) != DR_OK)
        return dr_err_set(err, rc, "rvq: cannot allocate optimizer state");
    load_inputs(m, keyframes, B, width, height);
    /* quantizer dropout: some clips train with only their first 1..depth levels */
    for (int b = 0; b < B; b++)
        m->ws.levels[b] = dr_rng_uniform(rng) < opts->quantizer_dropout ? 1 + (int)dr_rng_below(rng, (uint32_t)m->cfg.depth)
                                                                        : m->cfg.depth;
    forward_backward(m, B, height, opts, true, true, rng, stats);
    if (!isfinite(stats->loss))
        return dr_err_set(err, DR_ERANGE, "rvq: loss became %g at step %ld (lower the learning rate)", stats->loss, step);
    /* weights: AdamW (the codebook tensors have zero gradients and no decay, so AdamW
     * leaves them exactly as they are); codebooks: EMA */
    if (opts->grad_clip > 0) dr_clip_grad_norm(m->p.grad, m->p.total, opts->grad_clip);
    m->adamw.weight_decay = opts->weight_decay;
    dr_adamw_step(&m->p, opts->lr, (int)step, &m->adamw);
    update_codebooks(m, B, opts, rng, stats);
    return DR_OK;
}

/* ------------------------------------------------------------------------------------ */
/* evaluation                                                                           */

int dr_rvq_eval_init(dr_rvq_eval *ev, const dr_rvq *m) {
    memset(ev, 0, sizeof *ev);
    ev->depth = m->cfg.depth;
    ev->codebook_size = m->cfg.codebook_size;
    ev->code_counts = calloc((size_t)ev->depth * (size_t)ev->codebook_size, sizeof(long));
    return ev->code_counts ? DR_OK : DR_ENOMEM;
}

void dr_rvq_eval_free(dr_rvq_eval *ev) {
    free(ev->code_counts);
    ev->code_counts = NULL;
}

int dr_rvq_eval_batch(dr_rvq *m, const dr_pose *keyframes, const dr_pose *reference, int B, int width, int height,
                      dr_rvq_eval *ev, dr_err *err) {
    const int T = m->cfg.num_keyframes, L = m->cfg.depth;
    int rc = check_poses(keyframes, B, T, width, height, err);
    if (!rc && reference) rc = check_poses(reference, B, T, width, height, err);
    if (rc) return rc;
    if (!codebooks_initialised(m)) return dr_err_set(err, DR_EINVAL, "rvq eval: the model's codebooks are untrained");
    const float scale = 0.5f * (float)height; /* normalized units -> pixels */
    for (int b0 = 0; b0 < B; b0 += CHUNK_CLIPS) {
        const int nb = B - b0 < CHUNK_CLIPS ? B - b0 : CHUNK_CLIPS, N = nb * T;
        if ((rc = ensure_workspace(m, nb, false, err))) return rc;
        workspace *ws = &m->ws;
        load_inputs(m, keyframes + (size_t)b0 * T, nb, width, height);
        stack_forward(m, &m->enc, &ws->enc, ws->x, ws->z_e, nb);
        if ((rc = quantize_all_levels(m, nb, err))) return rc;
        for (int l = 0; l < L; l++)
            for (int n = 0; n < N; n++) ev->code_counts[(size_t)l * ev->codebook_size + ws->codes[(size_t)l * N + n]]++;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < DR_NUM_KEYPOINTS; j++) ev->joints += ws->x[(size_t)n * IO_DIM + DR_POSE_DIM + j] > 0.5f;
        ev->keypoints += (long)N * DR_NUM_KEYPOINTS;
        /* decode with 1..L levels: z_q(levels) = z_e - r_levels */
        for (int lv = 1; lv <= L; lv++) {
            const float *r = resid_at(m, lv);
            for (long i = 0; i < (long)N * m->cfg.dim; i++) ws->z_q[i] = ws->z_e[i] - r[i];
            stack_forward(m, &m->dec, &ws->dec, ws->z_q, ws->y, nb);
            double err_sum = 0, ok = 0;
            for (int n = 0; n < N; n++) {
                const float *x = ws->x + (size_t)n * IO_DIM, *y = ws->y + (size_t)n * IO_DIM;
                for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
                    bool present = x[DR_POSE_DIM + j] > 0.5f;
                    if (present) {
                        double ex = y[2 * j] - x[2 * j], ey = y[2 * j + 1] - x[2 * j + 1];
                        err_sum += sqrt(ex * ex + ey * ey) * scale;
                    }
                    ok += (y[DR_POSE_DIM + j] > 0.0f) == present;
                }
            }
            ev->err_px_sum[lv - 1] += err_sum;
            ev->presence_ok[lv - 1] += ok;
            if (reference) {
                double ref_sum = 0, in_sum = 0;
                long both = 0;
                for (int n = 0; n < N; n++) {
                    float rx[DR_POSE_DIM], rp[DR_NUM_KEYPOINTS];
                    dr_pose_normalize(&reference[(size_t)b0 * T + n], width, height, rx, rp);
                    const float *x = ws->x + (size_t)n * IO_DIM, *y = ws->y + (size_t)n * IO_DIM;
                    for (int j = 0; j < DR_NUM_KEYPOINTS; j++) {
                        if (!(x[DR_POSE_DIM + j] > 0.5f && rp[j] > 0.5f)) continue;
                        ref_sum += hypot(y[2 * j] - rx[2 * j], y[2 * j + 1] - rx[2 * j + 1]) * scale;
                        in_sum += hypot(x[2 * j] - rx[2 * j], x[2 * j + 1] - rx[2 * j + 1]) * scale;
                        both++;
                    }
                }
                ev->ref_err_px_sum[lv - 1] += ref_sum;
                if (lv == 1) ev->input_ref_px_sum += in_sum, ev->ref_joints += both;
            }
        }
    }
    return DR_OK;
}

double dr_rvq_eval_ref_error_px(const dr_rvq_eval *ev, int levels) {
    if (ev->ref_joints <= 0) return 0.0;
    return (levels == 0 ? ev->input_ref_px_sum : ev->ref_err_px_sum[levels - 1]) / (double)ev->ref_joints;
}

double dr_rvq_eval_error_px(const dr_rvq_eval *ev, int levels) {
    return ev->joints > 0 ? ev->err_px_sum[levels - 1] / (double)ev->joints : 0.0;
}
double dr_rvq_eval_presence_acc(const dr_rvq_eval *ev, int levels) {
    return ev->keypoints > 0 ? ev->presence_ok[levels - 1] / (double)ev->keypoints : 0.0;
}
double dr_rvq_eval_perplexity(const dr_rvq_eval *ev, int level) {
    const long *c = ev->code_counts + (size_t)level * ev->codebook_size;
    double total = 0, h = 0;
    for (int k = 0; k < ev->codebook_size; k++) total += (double)c[k];
    if (total <= 0) return 0;
    for (int k = 0; k < ev->codebook_size; k++)
        if (c[k] > 0) h -= (double)c[k] / total * log((double)c[k] / total);
    return exp(h);
}
int dr_rvq_eval_used_codes(const dr_rvq_eval *ev, int level) {
    int used = 0;
    for (int k = 0; k < ev->codebook_size; k++) used += ev->code_counts[(size_t)level * ev->codebook_size + k] > 0;
    return used;
}

/* ------------------------------------------------------------------------------------ */
/* files                                                                                */

int dr_rvq_save(const dr_rvq *m, const char *path, dr_err *err) {
    char *cfg = config_json(&m->cfg);
    if (!cfg) return dr_err_set(err, DR_ENOMEM, "rvq: out of memory");
    int rc = dr_params_save(&m->p, path, "rvq", cfg, err);
    free(cfg);
    return rc;
}

int dr_rvq_save_checkpoint(const dr_rvq *m, const char *path, long step, const char *train_state_json,
                           dr_err *err) {
    char *cfg = config_json(&m->cfg);
    if (!cfg) return dr_err_set(err, DR_ENOMEM, "rvq: out of memory");
    int rc = dr_params_save_checkpoint(&m->p, path, "rvq", cfg, step, train_state_json, err);
    free(cfg);
    return rc;
}

/* Build an empty model from a file's metadata. */
static int build_from_file(dr_rvq **out, const char *path, dr_err *err) {
    char *kind = NULL, *cfg_json = NULL;
    int rc = dr_model_file_info(path, &kind, &cfg_json, err);
    if (rc) return rc;
    dr_rvq_config cfg;
    if (!kind || strcmp(kind, "rvq"))
        rc = dr_err_set(err, DR_EFORMAT, "%s: not an rvq model (director.kind is \"%s\")", path, kind ? kind : "");
    else if (!cfg_json)
        rc = dr_err_set(err, DR_EFORMAT, "%s: no director.config metadata", path);
    else
        rc = parse_config(cfg_json, path, &cfg, err);
    free(kind);
    free(cfg_json);
    if (rc) return rc;
    return build(out, &cfg, err);
}

int dr_rvq_load(dr_rvq **out, const char *path, dr_err *err) {
    *out = NULL;
    dr_rvq *m;
    int rc = build_from_file(&m, path, err);
    if (rc) return rc;
    /* allow_extra: a training checkpoint also carries optimizer moments */
    if ((rc = dr_params_load(&m->p, path, true, err))) {
        dr_rvq_free(m);
        return rc;
    }
    *out = m;
    return DR_OK;
}

int dr_rvq_load_checkpoint(dr_rvq **out, const char *path, long *step, char **train_state_json, dr_err *err) {
    *out = NULL;
    *step = 0;
    *train_state_json = NULL;
    dr_rvq *m;
    int rc = build_from_file(&m, path, err);
    if (rc) return rc;
    if ((rc = dr_params_alloc_optim(&m->p)) != DR_OK) {
        dr_rvq_free(m);
        return dr_err_set(err, rc, "rvq: cannot allocate optimizer state");
    }
    if ((rc = dr_params_load_checkpoint(&m->p, path, step, train_state_json, err))) {
        dr_rvq_free(m);
        return rc;
    }
    *out = m;
    return DR_OK;
}

void dr_rvq_keyframes_of_clip(const dr_pose *clip, dr_pose *out) {
    for (int i = 0; i < DR_NUM_KEYFRAMES; i++) out[i] = clip[i * DR_KEYFRAME_STRIDE];
}

/* ------------------------------------------------------------------------------------ */
/* tokens files                                                                         */

int dr_rvq_tokens_write(const char *path, const int *tokens, int num_keyframes, int depth, int codebook_size,
                        dr_err *err) {
    dr_atomic_file af;
    int rc = dr_atomic_open(&af, path, err);
    if (rc) return rc;
    fprintf(af.fp, "{\"format\": \"director-pose-tokens\", \"version\": 1, \"depth\": %d, \"codebook_size\": %d,\n"
                   " \"keyframes\": [\n", depth, codebook_size);
    for (int t = 0; t < num_keyframes; t++) {
        fputs("  [", af.fp);
        for (int l = 0; l < depth; l++) fprintf(af.fp, "%s%d", l ? ", " : "", tokens[(size_t)t * depth + l]);
        fprintf(af.fp, "]%s\n", t + 1 < num_keyframes ? "," : "");
    }
    fputs(" ]}\n", af.fp);
    return dr_atomic_commit(&af, err);
}

static bool json_int(const cJSON *v, long lo, long hi, int *out) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return false;
    *out = (int)v->valuedouble;
    return true;
}

int dr_rvq_tokens_read(const char *path, int **tokens, int *num_keyframes, int *depth, int *codebook_size,
                       dr_err *err) {
    *tokens = NULL;
    char *text = NULL;
    size_t size = 0;
    int rc = dr_read_file(path, 64u << 20, &text, &size, err);
    if (rc) return rc;
    rc = dr_rvq_tokens_parse(text, size, path, tokens, num_keyframes, depth, codebook_size, err);
    free(text);
    return rc;
}

int dr_rvq_tokens_parse(const char *text, size_t size, const char *path, int **tokens, int *num_keyframes,
                        int *depth, int *codebook_size, dr_err *err) {
    *tokens = NULL;
    int rc = DR_OK;
    cJSON *root = cJSON_ParseWithLength(text, size);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_EFORMAT, "%s: not a JSON object", path);
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *kf = cJSON_GetObjectItemCaseSensitive(root, "keyframes");
    int version = 0;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "director-pose-tokens")) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: \"format\" is not \"director-pose-tokens\"", path);
    } else if (!json_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 1, 1000, &version) || version != 1) {
        rc = dr_err_set(err, DR_EUNSUPPORTED, "%s: unsupported or missing \"version\" (expected 1)", path);
    } else if (!json_int(cJSON_GetObjectItemCaseSensitive(root, "depth"), 1, DR_RVQ_MAX_DEPTH, depth)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: \"depth\" must be an integer in [1, %d]", path, DR_RVQ_MAX_DEPTH);
    } else if (!json_int(cJSON_GetObjectItemCaseSensitive(root, "codebook_size"), 2, 65536, codebook_size)) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: \"codebook_size\" must be an integer in [2, 65536]", path);
    } else if (!cJSON_IsArray(kf) || cJSON_GetArraySize(kf) < 1 || cJSON_GetArraySize(kf) > 4096) {
        rc = dr_err_set(err, DR_EFORMAT, "%s: \"keyframes\" must be an array of 1..4096 token lists", path);
    }
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    const int T = cJSON_GetArraySize(kf), L = *depth;
    int *tok = malloc(sizeof(int) * (size_t)T * (size_t)L);
    if (!tok) {
        cJSON_Delete(root);
        return dr_err_set(err, DR_ENOMEM, "%s: out of memory", path);
    }
    int t = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, kf) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != L) {
            rc = dr_err_set(err, DR_EFORMAT, "%s: key frame %d does not hold %d tokens", path, t, L);
            break;
        }
        int l = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, row) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
                rc = dr_err_set(err, DR_EFORMAT, "%s: key frame %d level %d is not an integer", path, t, l);
                break;
            }
            if (v->valuedouble < 0 || v->valuedouble >= *codebook_size) {
                rc = dr_err_set(err, DR_ERANGE, "%s: token %.0f at key frame %d level %d is outside [0, %d)", path,
                                v->valuedouble, t, l, *codebook_size);
                break;
            }
            tok[(size_t)t * L + l++] = (int)v->valuedouble;
        }
        if (rc) break;
        t++;
    }
    cJSON_Delete(root);
    if (rc) {
        free(tok);
        return rc;
    }
    *tokens = tok;
    *num_keyframes = T;
    return DR_OK;
}
