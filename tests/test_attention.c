/* Tests of src/nn/attention.c: attention against a naive double-precision
 * softmax(Q K^T / sqrt(D)) V over self / cross / causal / padded / grouped-query shapes,
 * finite-difference checks of dq, dk, dv, and RoPE (reference formula, norms, identity
 * at position 0, inverse, gradient). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "nn/nn.h"
#include "testutil.h"

/* ---- naive reference ---- */

static void attention_ref(float *out, const float *q, const float *k, const float *v, const dr_attn_shape *s) {
    const int B = s->B, Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    double *w = malloc(sizeof(double) * (size_t)Tk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < Hq; h++) {
            int hk = h / (Hq / Hkv);
            for (int t = 0; t < Tq; t++) {
                double maxv = -INFINITY;
                for (int j = 0; j < Tk; j++) {
                    bool visible = (!s->causal || j <= t + (Tk - Tq)) && (!s->key_valid || s->key_valid[b * Tk + j]);
                    if (!visible) {
                        w[j] = -INFINITY;
                        continue;
                    }
                    double dot = 0;
                    for (int d = 0; d < D; d++)
                        dot += (double)q[(((long)b * Tq + t) * Hq + h) * D + d] *
                               (double)k[(((long)b * Tk + j) * Hkv + hk) * D + d];
                    w[j] = dot / sqrt((double)D);
                    if (w[j] > maxv) maxv = w[j];
                }
                double sum = 0;
                for (int j = 0; j < Tk; j++) {
                    w[j] = w[j] == -INFINITY ? 0.0 : exp(w[j] - maxv);
                    sum += w[j];
                }
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int j = 0; j < Tk; j++) acc += w[j] * (double)v[(((long)b * Tk + j) * Hkv + hk) * D + d];
                    out[(((long)b * Tq + t) * Hq + h) * D + d] = sum > 0 ? (float)(acc / sum) : 0.0f;
                }
            }
        }
    free(w);
}

/* ---- one attention problem: inputs, outputs, buffers ---- */

typedef struct problem {
    dr_attn_shape s;
    long nq, nk, natt;
    float *q, *k, *v, *out, *att, *probe, *scratch;
} problem;

static void problem_init(problem *p, dr_attn_shape s, uint64_t seed) {
    dr_rng rng;
    dr_rng_seed(&rng, seed);
    p->s = s;
    p->nq = (long)s.B * s.Tq * s.Hq * s.D;
    p->nk = (long)s.B * s.Tk * s.Hkv * s.D;
    p->natt = (long)s.B * s.Hq * s.Tq * s.Tk;
    p->q = tu_randn(&rng, p->nq, 1.0f);
    p->k = tu_randn(&rng, p->nk, 1.0f);
    p->v = tu_randn(&rng, p->nk, 1.0f);
    p->probe = tu_randn(&rng, p->nq, 1.0f);
    p->out = malloc(sizeof(float) * (size_t)p->nq);
    p->att = malloc(sizeof(float) * (size_t)p->natt);
    p->scratch = malloc(sizeof(float) * (dr_attention_scratch_floats(&s) + 1));
}

static void problem_free(problem *p) {
    free(p->q), free(p->k), free(p->v), free(p->probe), free(p->out), free(p->att), free(p->scratch);
}

static double problem_loss(void *ctx) {
    problem *p = ctx;
    dr_attention_forward(p->out, p->att, p->q, p->k, p->v, &p->s, p->scratch);
    return tu_dot(p->out, p->probe, p->nq);
}

static void check_forward(dr_attn_shape s, uint64_t seed) {
    problem p;
    problem_init(&p, s, seed);
    float *ref = malloc(sizeof(float) * (size_t)p.nq);
    attention_ref(ref, p.q, p.k, p.v, &s);
    dr_attention_forward(p.out, p.att, p.q, p.k, p.v, &s, p.scratch);
    double err = tu_max_abs_diff(p.out, ref, p.nq);
    if (err > 2e-5)
        fail_msg("attention B%d Tq%d Tk%d Hq%d Hkv%d D%d causal%d: max error %g", s.B, s.Tq, s.Tk, s.Hq, s.Hkv, s.D,
                 s.causal, err);
    /* Every probability row sums to 1 or (no visible key) is all zeros. */
    for (long r = 0; r < p.natt / s.Tk; r++) {
        double sum = 0;
        for (int j = 0; j < s.Tk; j++) sum += p.att[r * s.Tk + j];
        assert_true(fabs(sum - 1.0) < 1e-5 || sum == 0.0);
    }
    free(ref);
    problem_free(&p);
}

static void check_gradients(dr_attn_shape s, uint64_t seed) {
    problem p;
    problem_init(&p, s, seed);
    /* Backward accumulates: start the gradients from a known non-zero value. */
    float *dq = malloc(sizeof(float) * (size_t)p.nq), *dk = malloc(sizeof(float) * (size_t)p.nk),
          *dv = malloc(sizeof(float) * (size_t)p.nk);
    for (long i = 0; i < p.nq; i++) dq[i] = 0.5f;
    for (long i = 0; i < p.nk; i++) dk[i] = dv[i] = -0.25f;
    dr_attention_forward(p.out, p.att, p.q, p.k, p.v, &s, p.scratch);
    dr_attention_backward(dq, dk, dv, p.probe, p.q, p.k, p.v, p.att, &s, p.scratch);
    for (long i = 0; i < p.nq; i++) dq[i] -= 0.5f;
    for (long i = 0; i < p.nk; i++) dk[i] += 0.25f, dv[i] += 0.25f;
    /* abs_floor 1e-2: the gradients are O(1), and float32 rounding of the summed loss
     * leaves ~1e-4 of noise in a central difference with eps 1e-2. */
    double eq = tu_gradcheck(problem_loss, &p, p.q, dq, p.nq, 1e-2f, 200, 1e-2);
    double ek = tu_gradcheck(problem_loss, &p, p.k, dk, p.nk, 1e-2f, 200, 1e-2);
    double ev = tu_gradcheck(problem_loss, &p, p.v, dv, p.nk, 1e-2f, 200, 1e-2);
    if (eq > 1e-2 || ek > 1e-2 || ev > 1e-2)
        fail_msg("attention grad B%d Tq%d Tk%d Hq%d Hkv%d causal%d: dq %g dk %g dv %g", s.B, s.Tq, s.Tk, s.Hq, s.Hkv,
                 s.causal, eq, ek, ev);
    /* NULL gradients are skipped without touching the others. */
    memset(dq, 0, sizeof(float) * (size_t)p.nq);
    dr_attention_backward(dq, NULL, NULL, p.probe, p.q, p.k, p.v, p.att, &s, p.scratch);
    assert_true(tu_gradcheck(problem_loss, &p, p.q, dq, p.nq, 1e-2f, 50, 1e-2) < 1e-2);
    free(dq), free(dk), free(dv);
    problem_free(&p);
}

static dr_attn_shape shape(int B, int Tq, int Tk, int Hq, int Hkv, int D, bool causal, const uint8_t *key_valid) {
    dr_attn_shape s = {.B = B, .Tq = Tq, .Tk = Tk, .Hq = Hq, .Hkv = Hkv, .D = D, .causal = causal,
                       .key_valid = key_valid};
    return s;
}

static void test_attention_matches_reference(void **state) {
    (void)state;
    check_forward(shape(2, 7, 7, 4, 4, 8, false, NULL), 1);  /* self */
    check_forward(shape(2, 5, 9, 4, 4, 16, false, NULL), 2); /* cross */
    check_forward(shape(3, 6, 6, 2, 2, 8, true, NULL), 3);   /* causal */
    check_forward(shape(2, 3, 8, 2, 2, 8, true, NULL), 4);   /* causal, queries at the end (cache) */
    check_forward(shape(1, 6, 3, 2, 2, 8, true, NULL), 5);   /* causal, Tq > Tk: first rows see nothing */
    check_forward(shape(2, 9, 9, 6, 2, 8, true, NULL), 6);   /* grouped-query heads */
    check_forward(shape(1, 1, 13, 8, 4, 32, true, NULL), 7); /* one decoding step */
    check_forward(shape(2, 40, 33, 8, 4, 32, false, NULL), 8);
    /* causal shapes longer than one query block (64 rows): the blocked products */
    check_forward(shape(2, 150, 150, 4, 2, 8, true, NULL), 12);
    check_forward(shape(1, 130, 200, 2, 2, 8, true, NULL), 13);  /* cached prefix */
    check_forward(shape(1, 200, 70, 2, 1, 8, true, NULL), 14);   /* whole blocks see nothing */
    /* key padding; batch 1 has every key masked and must output zeros */
    uint8_t valid[2 * 6] = {1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    check_forward(shape(2, 4, 6, 4, 2, 8, false, valid), 9);
    check_forward(shape(2, 6, 6, 4, 2, 8, true, valid), 10);
    uint8_t *long_valid = malloc(2 * 150);
    for (int j = 0; j < 300; j++) long_valid[j] = (j * 7) % 5 != 0;
    check_forward(shape(2, 150, 150, 4, 2, 8, true, long_valid), 15);
    free(long_valid);
    problem p;
    dr_attn_shape s = shape(2, 4, 6, 4, 2, 8, false, valid);
    problem_init(&p, s, 11);
    dr_attention_forward(p.out, p.att, p.q, p.k, p.v, &s, p.scratch);
    for (long i = p.nq / 2; i < p.nq; i++) assert_true(p.out[i] == 0.0f);
    problem_free(&p);
}

static void test_attention_gradients(void **state) {
    (void)state;
    check_gradients(shape(2, 5, 5, 2, 2, 8, false, NULL), 21);
    check_gradients(shape(1, 4, 7, 2, 2, 8, false, NULL), 22);
    check_gradients(shape(2, 6, 6, 4, 4, 8, true, NULL), 23);
    check_gradients(shape(2, 6, 6, 6, 2, 4, true, NULL), 24);
    check_gradients(shape(1, 3, 6, 4, 2, 8, true, NULL), 25);
    check_gradients(shape(1, 140, 140, 2, 1, 4, true, NULL), 28);
    check_gradients(shape(1, 150, 100, 2, 2, 4, true, NULL), 29);
    uint8_t valid[2 * 5] = {1, 0, 1, 1, 0, 0, 0, 0, 0, 0};
    check_gradients(shape(2, 5, 5, 4, 2, 8, false, valid), 26);
    check_gradients(shape(2, 5, 5, 4, 2, 8, true, valid), 27);
}

/* ---- RoPE ---- */

/* Hugging Face apply_rotary_pos_emb in double precision. */
static void rope_ref(float *x, int B, int T, int H, int D, const int *pos, int pos_offset, double base) {
    int half = D / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                float *xh = x + (((long)b * T + t) * H + h) * D;
                double p = pos ? pos[t] : pos_offset + t;
                for (int i = 0; i < half; i++) {
                    double th = p / pow(base, 2.0 * i / D);
                    double a = xh[i], e = xh[i + half];
                    xh[i] = (float)(a * cos(th) - e * sin(th));
                    xh[i + half] = (float)(e * cos(th) + a * sin(th));
                }
            }
}

typedef struct rope_ctx {
    float *x, *y, *probe;
    int B, T, H, D, offset;
    long n;
} rope_ctx;

static double rope_loss(void *ctx) {
    rope_ctx *c = ctx;
    memcpy(c->y, c->x, sizeof(float) * (size_t)c->n);
    dr_rope_forward(c->y, c->B, c->T, c->H, c->D, NULL, c->offset, 10000.0f);
    return tu_dot(c->y, c->probe, c->n);
}

static void test_rope(void **state) {
    (void)state;
    dr_rng rng;
    dr_rng_seed(&rng, 31);
    const int B = 2, T = 9, H = 3, D = 16, offset = 500;
    const long n = (long)B * T * H * D;
    float *x = tu_randn(&rng, n, 1.0f), *y = malloc(sizeof(float) * n), *r = malloc(sizeof(float) * n);

    /* matches the reference, at large positions too */
    memcpy(y, x, sizeof(float) * n);
    memcpy(r, x, sizeof(float) * n);
    dr_rope_forward(y, B, T, H, D, NULL, offset, 10000.0f);
    rope_ref(r, B, T, H, D, NULL, offset, 10000.0);
    assert_true(tu_max_abs_diff(y, r, n) < 1e-5);
    /* explicit positions equal the offset form; position 0 is the identity */
    int pos[9];
    for (int t = 0; t < T; t++) pos[t] = offset + t;
    memcpy(r, x, sizeof(float) * n);
    dr_rope_forward(r, B, T, H, D, pos, 0, 10000.0f);
    assert_true(tu_max_abs_diff(y, r, n) == 0.0);
    for (int t = 0; t < T; t++) pos[t] = 0;
    memcpy(r, x, sizeof(float) * n);
    dr_rope_forward(r, B, T, H, D, pos, 0, 10000.0f);
    assert_true(tu_max_abs_diff(r, x, n) == 0.0);
    /* rotation preserves the norm of every (i, i + D/2) pair */
    for (long row = 0; row < n / D; row++)
        for (int i = 0; i < D / 2; i++) {
            const float *a = x + row * D, *b = y + row * D;
            double n0 = (double)a[i] * a[i] + (double)a[i + D / 2] * a[i + D / 2];
            double n1 = (double)b[i] * b[i] + (double)b[i + D / 2] * b[i + D / 2];
            assert_true(fabs(n0 - n1) < 1e-5 * (1 + n0));
        }
    /* backward is the inverse rotation */
    dr_rope_backward(y, B, T, H, D, NULL, offset, 10000.0f);
    assert_true(tu_max_abs_diff(y, x, n) < 1e-5);

    /* finite-difference gradient */
    rope_ctx c = {.x = x, .y = y, .probe = tu_randn(&rng, n, 1.0f), .B = B, .T = T, .H = H, .D = D,
                  .offset = 37, .n = n};
    float *dx = malloc(sizeof(float) * n);
    memcpy(dx, c.probe, sizeof(float) * n);
    dr_rope_backward(dx, B, T, H, D, NULL, c.offset, 10000.0f);
    double e = tu_gradcheck(rope_loss, &c, x, dx, n, 1e-2f, 300, 1e-3);
    if (e > 1e-2) fail_msg("rope gradient error %g", e);
    free(x), free(y), free(r), free(dx), free(c.probe);
}

int main(void) {
    dr_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_matches_reference),
        cmocka_unit_test(test_attention_gradients),
        cmocka_unit_test(test_rope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
