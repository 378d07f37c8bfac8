/* Finite-difference gradient checks of every backward pass in src/nn (except attention
 * and RoPE, tested with their own file), on random small shapes.
 *
 * For each layer the loss is L = sum(out .* probe) for a fixed random probe, computed in
 * double from the float32 forward output, so dL/dout = probe is what backward is fed.
 * Every input and parameter gradient is compared with central differences, eps = 1e-2,
 * on up to 48 entries per tensor, by tu_gradcheck's error |a - f| / max(|a| + |f|, floor),
 * floor = max(1e-3, 1e-2 * max|analytic|). Tolerance 1e-2. Why: the forward passes are
 * float32, so the loss carries rounding noise of ~1e-7 relative per output (and sums over
 * thousands of values, e.g. a group mean, lose a few more bits), which the difference
 * quotient amplifies by 1/(2 eps) = 50: an absolute noise of ~1e-5..1e-4 that would swamp
 * near-zero gradient entries, hence the floor tied to the tensor's gradient scale. The
 * O(eps^2) truncation term of these smooth layers is ~1e-4 relative. Correct backward
 * passes score 1e-5..3e-3 here; a wrong one (a missing term, a transposed index, a 30%
 * error on one entry: see test_gradcheck_detects_wrong_gradient) scores 0.05..1.
 * Softmax cross-entropy returns its loss as a float (rounding ~1e-7 absolute on an O(1)
 * loss, against gradients of O(1/N)), so it is differenced with eps = 5e-2 instead.
 *
 * Each layer's backward is also run
 *   - into gradients pre-filled with random values: the result must be that value plus
 *     the fresh gradient (backward accumulates, never overwrites), to 1e-5 relative;
 *   - with all but one gradient pointer NULL, for each gradient in turn: the one given
 *     must come out as before (NULL means skip, and skipping changes nothing else). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "testutil.h"

#define GRAD_EPS 1e-2f
#define GRAD_TOL 1e-2
#define GRAD_FLOOR 1e-3
#define GRAD_FLOOR_REL 1e-2
#define GRAD_CHECKS 48
#define XENT_EPS 5e-2f
#define MAX_VARS 6

typedef struct gvar {
    const char *name;
    float *x; /* the tensor perturbed by the finite differences */
    long n;
} gvar;

/* Runs forward (refreshing any saved statistics) and then backward with dout = probe,
 * accumulating into g[i] for every non-NULL g[i]. */
typedef void (*backward_fn)(void *ctx, float **g);

static void verify_layer_eps(const char *layer, tu_loss_fn loss, backward_fn backward, void *ctx, const gvar *vars,
                             int nv, dr_rng *rng, float eps) {
    float *g[MAX_VARS] = {0}, *acc[MAX_VARS] = {0}, *init[MAX_VARS] = {0}, *one[MAX_VARS] = {0};
    for (int i = 0; i < nv; i++) {
        g[i] = calloc((size_t)vars[i].n + 1, sizeof(float));
        init[i] = tu_randn(rng, vars[i].n + 1, 1.0f);
        acc[i] = malloc(sizeof(float) * ((size_t)vars[i].n + 1));
        memcpy(acc[i], init[i], sizeof(float) * ((size_t)vars[i].n + 1));
    }
    backward(ctx, g);
    for (int i = 0; i < nv; i++) {
        double gmax = 0;
        for (long j = 0; j < vars[i].n; j++) gmax = fmax(gmax, fabs(g[i][j]));
        double floor = fmax(GRAD_FLOOR, GRAD_FLOOR_REL * gmax);
        double err = tu_gradcheck(loss, ctx, vars[i].x, g[i], vars[i].n, eps, GRAD_CHECKS, floor);
        if (getenv("NN_GRAD_VERBOSE")) printf("%-40s d%-8s err %.2e\n", layer, vars[i].name, err);
        if (!(err <= GRAD_TOL)) fail_msg("%s: d%s finite-difference error %g > %g", layer, vars[i].name, err, GRAD_TOL);
    }
    /* accumulation: init + fresh gradient */
    backward(ctx, acc);
    for (int i = 0; i < nv; i++) {
        double scale = 1.0;
        for (long j = 0; j < vars[i].n; j++) {
            double want = (double)init[i][j] + g[i][j];
            if (fabs(want) > scale) scale = fabs(want);
        }
        for (long j = 0; j < vars[i].n; j++) {
            double want = (double)init[i][j] + g[i][j];
            if (fabs(acc[i][j] - want) > 1e-5 * scale)
                fail_msg("%s: d%s[%ld] = %g after accumulating onto %g, want %g", layer, vars[i].name, j,
                         acc[i][j], init[i][j], want);
        }
    }
    /* NULL gradients are skipped */
    for (int i = 0; i < nv; i++) {
        float *only[MAX_VARS] = {0};
        one[i] = calloc((size_t)vars[i].n + 1, sizeof(float));
        only[i] = one[i];
        backward(ctx, only);
        double err = tu_max_abs_diff(one[i], g[i], vars[i].n);
        double scale = 1e-6;
        for (long j = 0; j < vars[i].n; j++) scale = fmax(scale, fabs(g[i][j]));
        if (err > 1e-5 * scale) fail_msg("%s: d%s alone differs from d%s with all gradients (%g)", layer,
                                         vars[i].name, vars[i].name, err);
    }
    for (int i = 0; i < nv; i++) free(g[i]), free(acc[i]), free(init[i]), free(one[i]);
}

static void verify_layer(const char *layer, tu_loss_fn loss, backward_fn backward, void *ctx, const gvar *vars,
                         int nv, dr_rng *rng) {
    verify_layer_eps(layer, loss, backward, ctx, vars, nv, rng, GRAD_EPS);
}

static int rnd(dr_rng *rng, int lo, int hi) { return lo + (int)dr_rng_below(rng, (uint32_t)(hi - lo + 1)); }

/* ---- linear ---- */
typedef struct {
    int N, IC, OC;
    float *x, *w, *b, *out, *probe;
} linear_ctx;
static double linear_loss(void *p) {
    linear_ctx *c = p;
    dr_linear_forward(c->out, c->x, c->w, c->b, c->N, c->IC, c->OC);
    return tu_dot(c->out, c->probe, (long)c->N * c->OC);
}
static void linear_bwd(void *p, float **g) {
    linear_ctx *c = p;
    dr_linear_forward(c->out, c->x, c->w, c->b, c->N, c->IC, c->OC);
    dr_linear_backward(g[0], g[1], c->b ? g[2] : NULL, c->probe, c->x, c->w, c->N, c->IC, c->OC);
}
static void test_linear_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 101);
    for (int rep = 0; rep < 6; rep++) {
        linear_ctx c = {.N = rnd(&rng, 1, 9), .IC = rnd(&rng, 1, 17), .OC = rnd(&rng, 1, 13)};
        bool with_bias = rep % 2 == 0;
        c.x = tu_randn(&rng, (long)c.N * c.IC, 1), c.w = tu_randn(&rng, (long)c.OC * c.IC, 0.5f);
        c.b = with_bias ? tu_randn(&rng, c.OC, 1) : NULL;
        c.out = malloc(sizeof(float) * (size_t)c.N * c.OC), c.probe = tu_randn(&rng, (long)c.N * c.OC, 1);
        gvar v[3] = {{"inp", c.x, (long)c.N * c.IC}, {"weight", c.w, (long)c.OC * c.IC}, {"bias", c.b, c.OC}};
        verify_layer(with_bias ? "linear+bias" : "linear", linear_loss, linear_bwd, &c, v, with_bias ? 3 : 2, &rng);
        free(c.x), free(c.w), free(c.b), free(c.out), free(c.probe);
    }
}

/* ---- embedding ---- */
typedef struct {
    int N, V, C;
    int *ids;
    float *table, *out, *probe;
} emb_ctx;
static double emb_loss(void *p) {
    emb_ctx *c = p;
    dr_embedding_forward(c->out, c->ids, c->table, c->N, c->C);
    return tu_dot(c->out, c->probe, (long)c->N * c->C);
}
static void emb_bwd(void *p, float **g) {
    emb_ctx *c = p;
    dr_embedding_backward(g[0], c->probe, c->ids, c->N, c->C);
}
static void test_embedding_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 102);
    /* more ids than rows, so ids repeat; one large case crosses the parallel threshold */
    int shapes[][3] = {{12, 5, 7}, {30, 4, 3}, {700, 9, 130}};
    for (int s = 0; s < 3; s++) {
        emb_ctx c = {.N = shapes[s][0], .V = shapes[s][1], .C = shapes[s][2]};
        c.ids = malloc(sizeof(int) * (size_t)c.N);
        for (int i = 0; i < c.N; i++) c.ids[i] = (int)dr_rng_below(&rng, (uint32_t)c.V);
        c.ids[1] = c.ids[0];
        c.table = tu_randn(&rng, (long)c.V * c.C, 1);
        c.out = malloc(sizeof(float) * (size_t)c.N * c.C), c.probe = tu_randn(&rng, (long)c.N * c.C, 1);
        gvar v[1] = {{"table", c.table, (long)c.V * c.C}};
        verify_layer("embedding", emb_loss, emb_bwd, &c, v, 1, &rng);
        free(c.ids), free(c.table), free(c.out), free(c.probe);
    }
}

/* ---- conv1d ---- */
typedef struct {
    dr_conv1d_shape s;
    int T_out;
    float *x, *w, *b, *out, *probe, *scratch;
} conv_ctx;
static double conv_loss(void *p) {
    conv_ctx *c = p;
    dr_conv1d_forward(c->out, c->x, c->w, c->b, &c->s, c->scratch);
    return tu_dot(c->out, c->probe, (long)c->s.B * c->T_out * c->s.OC);
}
static void conv_bwd(void *p, float **g) {
    conv_ctx *c = p;
    dr_conv1d_backward(g[0], g[1], c->b ? g[2] : NULL, c->probe, c->x, c->w, &c->s, c->scratch);
}
static void test_conv1d_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 103);
    const int kernels[] = {1, 2, 3}, strides[] = {1, 2}, dilations[] = {1, 2, 4};
    const dr_pad_mode pads[] = {DR_PAD_VALID, DR_PAD_SAME, DR_PAD_CAUSAL};
    char name[96];
    for (int ki = 0; ki < 3; ki++)
        for (int si = 0; si < 2; si++)
            for (int di = 0; di < 3; di++)
                for (int pi = 0; pi < 3; pi++) {
                    conv_ctx c = {.s = {.B = rnd(&rng, 1, 3), .T_in = rnd(&rng, 9, 14), .IC = rnd(&rng, 1, 5),
                                        .OC = rnd(&rng, 1, 5), .kernel = kernels[ki], .stride = strides[si],
                                        .dilation = dilations[di], .pad = pads[pi]}};
                    c.T_out = dr_conv1d_out_len(&c.s);
                    assert_true(c.T_out > 0);
                    long nin = (long)c.s.B * c.s.T_in * c.s.IC, nw = (long)c.s.OC * c.s.IC * c.s.kernel;
                    long nout = (long)c.s.B * c.T_out * c.s.OC;
                    bool with_bias = (ki + si + di + pi) % 2 == 0;
                    c.x = tu_randn(&rng, nin, 1), c.w = tu_randn(&rng, nw, 0.5f);
                    c.b = with_bias ? tu_randn(&rng, c.s.OC, 1) : NULL;
                    c.out = malloc(sizeof(float) * (size_t)nout), c.probe = tu_randn(&rng, nout, 1);
                    c.scratch = malloc(sizeof(float) * (dr_conv1d_scratch_floats(&c.s) + 1));
                    snprintf(name, sizeof name, "conv1d K=%d s=%d d=%d pad=%d bias=%d", c.s.kernel, c.s.stride,
                             c.s.dilation, (int)c.s.pad, with_bias);
                    gvar v[3] = {{"inp", c.x, nin}, {"weight", c.w, nw}, {"bias", c.b, c.s.OC}};
                    verify_layer(name, conv_loss, conv_bwd, &c, v, with_bias ? 3 : 2, &rng);
                    free(c.x), free(c.w), free(c.b), free(c.out), free(c.probe), free(c.scratch);
                }
    /* RVQ-like sizes, large enough for the parallel im2col / col2im paths */
    for (int pi = 0; pi < 3; pi++) {
        conv_ctx c = {.s = {.B = 9, .T_in = 20, .IC = 70, .OC = 40, .kernel = 2, .stride = 1, .dilation = 1 << pi,
                            .pad = pads[pi]}};
        c.T_out = dr_conv1d_out_len(&c.s);
        long nin = (long)c.s.B * c.s.T_in * c.s.IC, nw = (long)c.s.OC * c.s.IC * 2, nout = (long)c.s.B * c.T_out * c.s.OC;
        c.x = tu_randn(&rng, nin, 1), c.w = tu_randn(&rng, nw, 0.2f), c.b = tu_randn(&rng, c.s.OC, 1);
        c.out = malloc(sizeof(float) * (size_t)nout), c.probe = tu_randn(&rng, nout, 1);
        c.scratch = malloc(sizeof(float) * dr_conv1d_scratch_floats(&c.s));
        snprintf(name, sizeof name, "conv1d RVQ-like d=%d pad=%d", c.s.dilation, (int)c.s.pad);
        gvar v[3] = {{"inp", c.x, nin}, {"weight", c.w, nw}, {"bias", c.b, c.s.OC}};
        verify_layer(name, conv_loss, conv_bwd, &c, v, 3, &rng);
        free(c.x), free(c.w), free(c.b), free(c.out), free(c.probe), free(c.scratch);
    }
}

/* ---- norms ---- */
typedef struct {
    int kind; /* 0 rms, 1 layer, 2 group */
    int N, C, B, T, G;
    float *x, *w, *b, *out, *mean, *rstd, *probe;
} norm_ctx;
static void norm_fwd(norm_ctx *c) {
    if (c->kind == 0) dr_rmsnorm_forward(c->out, c->rstd, c->x, c->w, c->N, c->C, 1e-5f);
    else if (c->kind == 1) dr_layernorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->C, 1e-5f);
    else dr_groupnorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->B, c->T, c->C, c->G, 1e-5f);
}
static double norm_loss(void *p) {
    norm_ctx *c = p;
    norm_fwd(c);
    return tu_dot(c->out, c->probe, (long)c->N * c->C);
}
static void norm_bwd(void *p, float **g) {
    norm_ctx *c = p;
    norm_fwd(c);
    if (c->kind == 0) dr_rmsnorm_backward(g[0], g[1], c->probe, c->x, c->w, c->rstd, c->N, c->C);
    else if (c->kind == 1)
        dr_layernorm_backward(g[0], g[1], g[2], c->probe, c->x, c->w, c->mean, c->rstd, c->N, c->C);
    else
        dr_groupnorm_backward(g[0], g[1], g[2], c->probe, c->x, c->w, c->mean, c->rstd, c->B, c->T, c->C, c->G);
}
static void run_norm(int kind, int B, int T, int C, int G, dr_rng *rng) {
    norm_ctx c = {.kind = kind, .N = B * T, .C = C, .B = B, .T = T, .G = G};
    long n = (long)c.N * C;
    c.x = tu_randn(rng, n, 1);
    for (long i = 0; i < n; i++) c.x[i] += 0.7f; /* a non-zero mean exercises the centring */
    c.w = tu_randn(rng, C, 1), c.b = tu_randn(rng, C, 1);
    c.out = malloc(sizeof(float) * (size_t)n), c.probe = tu_randn(rng, n, 1);
    size_t nstat = (size_t)(kind == 2 ? B * G : c.N); /* one per row, or per (batch, group) */
    c.mean = malloc(sizeof(float) * nstat), c.rstd = malloc(sizeof(float) * nstat);
    gvar v[3] = {{"inp", c.x, n}, {"weight", c.w, C}, {"bias", c.b, C}};
    const char *names[] = {"rmsnorm", "layernorm", "groupnorm"};
    verify_layer(names[kind], norm_loss, norm_bwd, &c, v, kind == 0 ? 2 : 3, rng);
    free(c.x), free(c.w), free(c.b), free(c.out), free(c.probe), free(c.mean), free(c.rstd);
}
static void test_rmsnorm_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 104);
    for (int rep = 0; rep < 4; rep++) run_norm(0, 1, rnd(&rng, 1, 9), rnd(&rng, 2, 24), 1, &rng);
    run_norm(0, 1, 300, 130, 1, &rng); /* parallel path, several channel blocks */
}
static void test_layernorm_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 105);
    for (int rep = 0; rep < 4; rep++) run_norm(1, 1, rnd(&rng, 1, 9), rnd(&rng, 2, 24), 1, &rng);
    run_norm(1, 1, 300, 130, 1, &rng);
}
static void test_groupnorm_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 106);
    int cases[][4] = {{2, 3, 8, 2}, {3, 4, 6, 1}, {2, 5, 6, 6}, {1, 7, 12, 3}, {40, 20, 96, 4}};
    for (int i = 0; i < 5; i++) run_norm(2, cases[i][0], cases[i][1], cases[i][2], cases[i][3], &rng);
}

/* ---- element-wise: silu, gelu, swiglu ---- */
typedef struct {
    int kind; /* 0 silu, 1 gelu, 2 swiglu */
    long n;
    float *x, *y, *out, *probe;
} ew_ctx;
static double ew_loss(void *p) {
    ew_ctx *c = p;
    if (c->kind == 0) dr_silu_forward(c->out, c->x, c->n);
    else if (c->kind == 1) dr_gelu_forward(c->out, c->x, c->n);
    else dr_swiglu_forward(c->out, c->x, c->y, c->n);
    return tu_dot(c->out, c->probe, c->n);
}
static void ew_bwd(void *p, float **g) {
    ew_ctx *c = p;
    if (c->kind == 0) dr_silu_backward(g[0], c->probe, c->x, c->n);
    else if (c->kind == 1) dr_gelu_backward(g[0], c->probe, c->x, c->n);
    else dr_swiglu_backward(g[0], g[1], c->probe, c->x, c->y, c->n);
}
static void test_elementwise_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 107);
    const char *names[] = {"silu", "gelu", "swiglu"};
    for (int kind = 0; kind < 3; kind++)
        for (int rep = 0; rep < 2; rep++) {
            ew_ctx c = {.kind = kind, .n = rep ? 70000 : rnd(&rng, 5, 60)};
            c.x = tu_randn(&rng, c.n, 2.5f), c.y = tu_randn(&rng, c.n, 1);
            c.out = malloc(sizeof(float) * (size_t)c.n), c.probe = tu_randn(&rng, c.n, 1);
            gvar v[2] = {{kind == 2 ? "gate" : "inp", c.x, c.n}, {"up", c.y, c.n}};
            verify_layer(names[kind], ew_loss, ew_bwd, &c, v, kind == 2 ? 2 : 1, &rng);
            free(c.x), free(c.y), free(c.out), free(c.probe);
        }
}

/* ---- SwiGLU MLP ---- */
typedef struct {
    int N, C, H;
    float *x, *wg, *wu, *wd, *out, *probe, *gate, *up, *h, *scratch;
} mlp_ctx;
static double mlp_loss(void *p) {
    mlp_ctx *c = p;
    dr_swiglu_mlp_acts a = {c->gate, c->up, c->h};
    dr_swiglu_mlp_forward(c->out, &a, c->x, c->wg, c->wu, c->wd, c->N, c->C, c->H);
    return tu_dot(c->out, c->probe, (long)c->N * c->C);
}
static void mlp_bwd(void *p, float **g) {
    mlp_ctx *c = p;
    mlp_loss(c);
    dr_swiglu_mlp_acts a = {c->gate, c->up, c->h};
    dr_swiglu_mlp_backward(g[0], g[1], g[2], g[3], c->probe, &a, c->x, c->wg, c->wu, c->wd, c->N, c->C, c->H,
                           c->scratch);
}
static void test_swiglu_mlp_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 108);
    for (int rep = 0; rep < 3; rep++) {
        mlp_ctx c = {.N = rnd(&rng, 1, 7), .C = rnd(&rng, 2, 12), .H = rnd(&rng, 2, 20)};
        long nx = (long)c.N * c.C, nw = (long)c.H * c.C, nh = (long)c.N * c.H;
        c.x = tu_randn(&rng, nx, 1), c.wg = tu_randn(&rng, nw, 0.5f), c.wu = tu_randn(&rng, nw, 0.5f);
        c.wd = tu_randn(&rng, nw, 0.5f), c.probe = tu_randn(&rng, nx, 1);
        c.out = malloc(sizeof(float) * (size_t)nx);
        c.gate = malloc(sizeof(float) * (size_t)nh), c.up = malloc(sizeof(float) * (size_t)nh);
        c.h = malloc(sizeof(float) * (size_t)nh), c.scratch = malloc(sizeof(float) * 3 * (size_t)nh);
        gvar v[4] = {{"inp", c.x, nx}, {"w_gate", c.wg, nw}, {"w_up", c.wu, nw}, {"w_down", c.wd, nw}};
        verify_layer("swiglu_mlp", mlp_loss, mlp_bwd, &c, v, 4, &rng);
        free(c.x), free(c.wg), free(c.wu), free(c.wd), free(c.probe), free(c.out), free(c.gate), free(c.up);
        free(c.h), free(c.scratch);
    }
}

/* ---- softmax cross-entropy: the loss is the layer's own mean loss ---- */
typedef struct {
    int N, V;
    int *targets;
    float *logits, *probs;
} xent_ctx;
static double xent_loss(void *p) {
    xent_ctx *c = p;
    int nv;
    return dr_softmax_xent_forward(c->probs, c->logits, c->targets, c->N, c->V, &nv);
}
static void xent_bwd(void *p, float **g) {
    xent_ctx *c = p;
    int nv;
    dr_softmax_xent_forward(c->probs, c->logits, c->targets, c->N, c->V, &nv);
    dr_softmax_xent_backward(g[0], c->probs, c->targets, c->N, c->V, nv ? 1.0f / (float)nv : 0.0f);
}
static void test_softmax_xent_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 109);
    for (int rep = 0; rep < 4; rep++) {
        xent_ctx c = {.N = rnd(&rng, 2, 9), .V = rnd(&rng, 2, 30)};
        c.targets = malloc(sizeof(int) * (size_t)c.N);
        for (int i = 0; i < c.N; i++) c.targets[i] = (int)dr_rng_below(&rng, (uint32_t)c.V);
        c.targets[0] = -1; /* ignored rows */
        if (c.N > 3) c.targets[c.N - 1] = -100;
        c.logits = tu_randn(&rng, (long)c.N * c.V, 2), c.probs = malloc(sizeof(float) * (size_t)c.N * c.V);
        gvar v[1] = {{"logits", c.logits, (long)c.N * c.V}};
        verify_layer_eps("softmax_xent", xent_loss, xent_bwd, &c, v, 1, &rng, XENT_EPS);
        /* the ignored row gets no gradient at all */
        float *g = calloc((size_t)c.N * c.V, sizeof(float));
        xent_bwd(&c, &g);
        for (int i = 0; i < c.V; i++) assert_true(g[i] == 0.0f);
        free(g), free(c.targets), free(c.logits), free(c.probs);
    }
}

/* ---- FiLM ---- */
typedef struct {
    int B, T, C;
    float *x, *ss, *out, *probe;
} film_ctx;
static double film_loss(void *p) {
    film_ctx *c = p;
    dr_film_forward(c->out, c->x, c->ss, c->B, c->T, c->C);
    return tu_dot(c->out, c->probe, (long)c->B * c->T * c->C);
}
static void film_bwd(void *p, float **g) {
    film_ctx *c = p;
    dr_film_backward(g[0], g[1], c->probe, c->x, c->ss, c->B, c->T, c->C);
}
static void test_film_grad(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 110);
    for (int rep = 0; rep < 3; rep++) {
        film_ctx c = {.B = rnd(&rng, 1, 4), .T = rnd(&rng, 1, 6), .C = rnd(&rng, 1, 10)};
        long n = (long)c.B * c.T * c.C;
        c.x = tu_randn(&rng, n, 1), c.ss = tu_randn(&rng, 2L * c.B * c.C, 0.5f);
        c.out = malloc(sizeof(float) * (size_t)n), c.probe = tu_randn(&rng, n, 1);
        gvar v[2] = {{"inp", c.x, n}, {"ss", c.ss, 2L * c.B * c.C}};
        verify_layer("film", film_loss, film_bwd, &c, v, 2, &rng);
        free(c.x), free(c.ss), free(c.out), free(c.probe);
    }
}

/* The checker itself must fail on a wrong gradient, or every test above proves nothing. */
static void test_gradcheck_detects_wrong_gradient(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 111);
    linear_ctx c = {.N = 4, .IC = 5, .OC = 3};
    c.x = tu_randn(&rng, 20, 1), c.w = tu_randn(&rng, 15, 1), c.b = NULL;
    c.out = malloc(sizeof(float) * 12), c.probe = tu_randn(&rng, 12, 1);
    float gw[15] = {0};
    dr_linear_backward(NULL, gw, NULL, c.probe, c.x, c.w, c.N, c.IC, c.OC);
    gw[7] *= 1.3f;
    assert_true(tu_gradcheck(linear_loss, &c, c.w, gw, 15, GRAD_EPS, GRAD_CHECKS, GRAD_FLOOR) > 0.05);
    free(c.x), free(c.w), free(c.out), free(c.probe);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_detects_wrong_gradient),
        cmocka_unit_test(test_linear_grad),
        cmocka_unit_test(test_embedding_grad),
        cmocka_unit_test(test_conv1d_grad),
        cmocka_unit_test(test_rmsnorm_grad),
        cmocka_unit_test(test_layernorm_grad),
        cmocka_unit_test(test_groupnorm_grad),
        cmocka_unit_test(test_elementwise_grad),
        cmocka_unit_test(test_swiglu_mlp_grad),
        cmocka_unit_test(test_softmax_xent_grad),
        cmocka_unit_test(test_film_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
