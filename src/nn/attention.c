/* attention.c - rotary position embedding and multi-head scaled dot-product attention
 * with grouped-query heads, causal and key-padding masks (contracts in nn.h).
 *
 * Attention keeps the full probability matrix att [B, Hq, Tq, Tk] (llm.c style): it is
 * what backward needs, and at director's sequence lengths (a few hundred) it is small.
 * The two products per head, Q K^T and P V, address head h in place inside the
 * [B, T, H, D] activations (row stride H * D), so nothing is transposed or copied.
 * Query heads sharing one key/value head (GQA) are handled by batching over the
 * key/value heads: for group member i, query head j * group + i reads kv head j, and
 * within one batched call every product writes a different kv head, so gradient
 * accumulation into dk/dv never races. */
#include <math.h>
#include <string.h>

#include "core/gemm.h"
#include "nn/fastmath.h"
#include "nn/nn.h"

/* Below this many floats of work a loop runs on one thread: waking the pool costs more
 * than it saves (decoding steps are made of such small loops). */
#define PAR_IF(work) if ((long)(work) > 32768)

/* ---- RoPE ---------------------------------------------------------------------- */

/* Rotates every head of x [B, T, H, D] by +angle (sign = 1) or -angle (sign = -1).
 * The backward of a rotation is the rotation by the opposite angle, so forward and
 * backward share this loop. The angle depends only on (t, i), so cos/sin are computed
 * once per position for a chunk of frequencies and applied to every batch row and head.
 * Angles are computed in double: pos * base^(-2i/D) reaches thousands of radians, where
 * float32 arguments would lose the low digits. */
enum { ROPE_CHUNK = 64 };
static void rope_rotate(float *x, int B, int T, int H, int D, const int *pos, int pos_offset, float base,
                        double sign) {
    const int half = D / 2;
#pragma omp parallel for schedule(static) PAR_IF((long)B * T * H * D)
    for (int t = 0; t < T; t++) {
        const double p = pos ? (double)pos[t] : (double)(pos_offset + t);
        float c[ROPE_CHUNK], s[ROPE_CHUNK];
        double inv_freq[ROPE_CHUNK];
        for (int i0 = 0; i0 < half; i0 += ROPE_CHUNK) {
            const int n = half - i0 < ROPE_CHUNK ? half - i0 : ROPE_CHUNK;
            /* base^(-2i/D) by a running product: one pow per chunk instead of one per pair */
            const double ratio = pow((double)base, -2.0 / (double)D);
            inv_freq[0] = pow((double)base, -2.0 * i0 / (double)D);
            for (int i = 1; i < n; i++) inv_freq[i] = inv_freq[i - 1] * ratio;
            for (int i = 0; i < n; i++) {
                double sn, cs;
                sincos(p * inv_freq[i], &sn, &cs);
                c[i] = (float)cs;
                s[i] = (float)(sign * sn);
            }
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++) {
                    float *lo = x + (((long)b * T + t) * H + h) * D + i0, *hi = lo + half;
                    for (int i = 0; i < n; i++) {
                        const float a = lo[i], e = hi[i];
                        lo[i] = a * c[i] - e * s[i];
                        hi[i] = e * c[i] + a * s[i];
                    }
                }
        }
    }
}

void dr_rope_forward(float *x, int B, int T, int H, int D, const int *pos, int pos_offset, float base) {
    rope_rotate(x, B, T, H, D, pos, pos_offset, base, 1.0);
}

void dr_rope_backward(float *dx, int B, int T, int H, int D, const int *pos, int pos_offset, float base) {
    rope_rotate(dx, B, T, H, D, pos, pos_offset, base, -1.0);
}

/* ---- attention ----------------------------------------------------------------- */

size_t dr_attention_scratch_floats(const dr_attn_shape *s) {
    /* backward: dP, the gradient of the probabilities, same shape as att. */
    return (size_t)s->B * s->Hq * s->Tq * s->Tk;
}

/* Number of keys query t may see, before the padding mask: all Tk, or under the causal
 * mask the keys at positions <= t + (Tk - Tq). May be <= 0 (row sees nothing). */
static int visible_keys(const dr_attn_shape *s, int t) {
    if (!s->causal) return s->Tk;
    int n = t + (s->Tk - s->Tq) + 1;
    return n < s->Tk ? n : s->Tk;
}

/* In place on one row of scaled scores: masked softmax, masked entries become exactly 0. */
static void masked_softmax_row(float *row, int n_visible, int Tk, const uint8_t *key_valid) {
    if (n_visible < 0) n_visible = 0;
    if (key_valid)
        for (int j = 0; j < n_visible; j++)
            if (!key_valid[j]) row[j] = -INFINITY;
    float maxv = -INFINITY;
#pragma omp simd reduction(max : maxv)
    for (int j = 0; j < n_visible; j++) maxv = row[j] > maxv ? row[j] : maxv;
    if (maxv == -INFINITY) { /* no visible key: the row outputs zeros */
        memset(row, 0, sizeof(float) * (size_t)Tk);
        return;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n_visible; j++) {
        float e = row[j] == -INFINITY ? 0.0f : dr_expf(row[j] - maxv);
        row[j] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < n_visible; j++) row[j] *= inv;
    for (int j = n_visible; j < Tk; j++) row[j] = 0.0f;
}

/* Causal attention skips the masked upper triangle: the queries are taken in blocks of
 * CAUSAL_BLOCK rows, and block [t0, t1) is multiplied only with the keys its last row
 * can see. At T = 320 that does 60% of the full products' work. Entries of att beyond a
 * block's keys are still written (zeros) by the softmax, so att is always complete. */
enum { CAUSAL_BLOCK = 64 };

typedef struct query_block {
    int t0, rows, keys; /* queries [t0, t0 + rows) against keys [0, keys) */
} query_block;

static int query_block_count(const dr_attn_shape *s) {
    return s->causal ? (s->Tq + CAUSAL_BLOCK - 1) / CAUSAL_BLOCK : 1;
}

static query_block query_block_at(const dr_attn_shape *s, int n) {
    query_block qb = {0, s->Tq, s->Tk};
    if (!s->causal) return qb;
    qb.t0 = n * CAUSAL_BLOCK;
    qb.rows = s->Tq - qb.t0 < CAUSAL_BLOCK ? s->Tq - qb.t0 : CAUSAL_BLOCK;
    qb.keys = visible_keys(s, qb.t0 + qb.rows - 1);
    if (qb.keys < 0) qb.keys = 0;
    return qb;
}

/* The layouts, shared by forward and backward: for batch b and group member i, the
 * batched products run over the kv heads j; query head j * group + i reads kv head j. */
typedef struct attn_layout {
    int group, ldq, ldkv;
    long att_head;
    float scale;
} attn_layout;

static attn_layout layout_of(const dr_attn_shape *s) {
    attn_layout L = {s->Hq / s->Hkv, s->Hq * s->D, s->Hkv * s->D, (long)s->Tq * s->Tk, 1.0f / sqrtf((float)s->D)};
    return L;
}

void dr_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const dr_attn_shape *s, float *scratch) {
    (void)scratch;
    const int B = s->B, Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    const attn_layout L = layout_of(s);
    const int nblocks = query_block_count(s);

    /* scores: att[b, h] = scale * q[b, :, h] k[b, :, h / group]^T, [Tq, Tk] */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L.group; i++)
            for (int n = 0; n < nblocks; n++) {
                const query_block qb = query_block_at(s, n);
                if (qb.keys == 0) continue; /* rows that see nothing: the softmax zeroes them */
                dr_sgemm_strided_batched(false, true, qb.rows, qb.keys, D, L.scale,
                                         q + ((long)b * Tq + qb.t0) * L.ldq + (long)i * D, L.ldq, (long)L.group * D,
                                         k + (long)b * Tk * L.ldkv, L.ldkv, D, 0.0f,
                                         att + ((long)b * Hq + i) * L.att_head + (long)qb.t0 * Tk, Tk,
                                         L.group * L.att_head, Hkv);
            }

    const long rows = (long)B * Hq * Tq;
#pragma omp parallel for schedule(static) PAR_IF(rows * Tk)
    for (long r = 0; r < rows; r++) {
        const int t = (int)(r % Tq);
        const int b = (int)(r / ((long)Hq * Tq));
        masked_softmax_row(att + r * Tk, visible_keys(s, t), Tk, s->key_valid ? s->key_valid + (long)b * Tk : NULL);
    }

    /* out[b, :, h] = att[b, h] v[b, :, h / group], [Tq, D] */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L.group; i++)
            for (int n = 0; n < nblocks; n++) {
                const query_block qb = query_block_at(s, n);
                float *out_bi = out + ((long)b * Tq + qb.t0) * L.ldq + (long)i * D;
                if (qb.keys == 0) { /* no visible key: zeros, as the softmax rows are */
                    for (int t = 0; t < qb.rows; t++)
                        for (int j = 0; j < Hkv; j++)
                            memset(out_bi + (long)t * L.ldq + (long)j * L.group * D, 0, sizeof(float) * (size_t)D);
                    continue;
                }
                dr_sgemm_strided_batched(false, false, qb.rows, D, qb.keys, 1.0f,
                                         att + ((long)b * Hq + i) * L.att_head + (long)qb.t0 * Tk, Tk,
                                         L.group * L.att_head, v + (long)b * Tk * L.ldkv, L.ldkv, D, 0.0f, out_bi,
                                         L.ldq, (long)L.group * D, Hkv);
            }
}

void dr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const float *att, const dr_attn_shape *s, float *scratch) {
    const int B = s->B, Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    const attn_layout L = layout_of(s);
    const int nblocks = query_block_count(s);
    float *datt = scratch; /* [B, Hq, Tq, Tk]: dP, then overwritten by dS (scores) */

    for (int b = 0; b < B; b++)
        for (int i = 0; i < L.group; i++)
            for (int n = 0; n < nblocks; n++) {
                const query_block qb = query_block_at(s, n);
                if (qb.keys == 0) continue;
                const float *dout_bi = dout + ((long)b * Tq + qb.t0) * L.ldq + (long)i * D;
                const float *att_bi = att + ((long)b * Hq + i) * L.att_head + (long)qb.t0 * Tk;
                float *datt_bi = datt + ((long)b * Hq + i) * L.att_head + (long)qb.t0 * Tk;
                const float *v_b = v + (long)b * Tk * L.ldkv;
                /* dP = dout v^T, [rows, keys] */
                dr_sgemm_strided_batched(false, true, qb.rows, qb.keys, D, 1.0f, dout_bi, L.ldq, (long)L.group * D,
                                         v_b, L.ldkv, D, 0.0f, datt_bi, Tk, L.group * L.att_head, Hkv);
                /* dv += P^T dout, [keys, D] */
                if (dv)
                    dr_sgemm_strided_batched(true, false, qb.keys, D, qb.rows, 1.0f, att_bi, Tk, L.group * L.att_head,
                                             dout_bi, L.ldq, (long)L.group * D, 1.0f, dv + (long)b * Tk * L.ldkv,
                                             L.ldkv, D, Hkv);
            }

    /* softmax backward: dS = P * (dP - sum_j P dP). Only the causally visible prefix was
     * computed; past it (and at masked keys) P = 0, so dS is written as exact zeros. */
    const long rows = (long)B * Hq * Tq;
#pragma omp parallel for schedule(static) PAR_IF(rows * Tk)
    for (long r = 0; r < rows; r++) {
        const float *p = att + r * Tk;
        float *d = datt + r * Tk;
        int nv = visible_keys(s, (int)(r % Tq));
        nv = nv < 0 ? 0 : nv;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < nv; j++) dot += p[j] * d[j];
#pragma omp simd
        for (int j = 0; j < nv; j++) d[j] = p[j] * (d[j] - dot);
        for (int j = nv; j < Tk; j++) d[j] = 0.0f;
    }

    for (int b = 0; b < B; b++)
        for (int i = 0; i < L.group; i++)
            for (int n = 0; n < nblocks; n++) {
                const query_block qb = query_block_at(s, n);
                if (qb.keys == 0) continue;
                const float *ds_bi = datt + ((long)b * Hq + i) * L.att_head + (long)qb.t0 * Tk;
                /* dq += scale * dS k, [rows, D] */
                if (dq)
                    dr_sgemm_strided_batched(false, false, qb.rows, D, qb.keys, L.scale, ds_bi, Tk,
                                             L.group * L.att_head, k + (long)b * Tk * L.ldkv, L.ldkv, D, 1.0f,
                                             dq + ((long)b * Tq + qb.t0) * L.ldq + (long)i * D, L.ldq,
                                             (long)L.group * D, Hkv);
                /* dk += scale * dS^T q, [keys, D] */
                if (dk)
                    dr_sgemm_strided_batched(true, false, qb.keys, D, qb.rows, L.scale, ds_bi, Tk,
                                             L.group * L.att_head, q + ((long)b * Tq + qb.t0) * L.ldq + (long)i * D,
                                             L.ldq, (long)L.group * D, 1.0f, dk + (long)b * Tk * L.ldkv, L.ldkv, D,
                                             Hkv);
            }
}
