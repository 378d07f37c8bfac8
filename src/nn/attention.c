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
        for (int i0 = 0; i0 < half; i0 += ROPE_CHUNK) {
            const int n = half - i0 < ROPE_CHUNK ? half - i0 : ROPE_CHUNK;
            for (int i = 0; i < n; i++) {
                const double angle = p * pow((double)base, -2.0 * (i0 + i) / (double)D);
                c[i] = (float)cos(angle);
                s[i] = (float)(sign * sin(angle));
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

void dr_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const dr_attn_shape *s, float *scratch) {
    (void)scratch;
    const int B = s->B, Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    const int group = Hq / Hkv;
    const int ldq = Hq * D, ldkv = Hkv * D;
    const long att_head = (long)Tq * Tk;
    const float scale = 1.0f / sqrtf((float)D);

    /* scores: att[b, h] = scale * q[b, :, h] k[b, :, h / group]^T, [Tq, Tk] */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < group; i++)
            dr_sgemm_strided_batched(false, true, Tq, Tk, D, scale, q + (long)b * Tq * ldq + (long)i * D, ldq,
                                     (long)group * D, k + (long)b * Tk * ldkv, ldkv, D, 0.0f,
                                     att + ((long)b * Hq + i) * att_head, Tk, group * att_head, Hkv);

    const long rows = (long)B * Hq * Tq;
#pragma omp parallel for schedule(static) PAR_IF(rows * Tk)
    for (long r = 0; r < rows; r++) {
        const int t = (int)(r % Tq);
        const int b = (int)(r / ((long)Hq * Tq));
        masked_softmax_row(att + r * Tk, visible_keys(s, t), Tk, s->key_valid ? s->key_valid + (long)b * Tk : NULL);
    }

    /* out[b, :, h] = att[b, h] v[b, :, h / group], [Tq, D] */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < group; i++)
            dr_sgemm_strided_batched(false, false, Tq, D, Tk, 1.0f, att + ((long)b * Hq + i) * att_head, Tk,
                                     group * att_head, v + (long)b * Tk * ldkv, ldkv, D, 0.0f,
                                     out + (long)b * Tq * ldq + (long)i * D, ldq, (long)group * D, Hkv);
}

void dr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const float *att, const dr_attn_shape *s, float *scratch) {
    const int B = s->B, Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    const int group = Hq / Hkv;
    const int ldq = Hq * D, ldkv = Hkv * D;
    const long att_head = (long)Tq * Tk;
    const float scale = 1.0f / sqrtf((float)D);
    float *datt = scratch; /* [B, Hq, Tq, Tk]: dP, then overwritten by dS (scores) */

    for (int b = 0; b < B; b++)
        for (int i = 0; i < group; i++) {
            const float *dout_bi = dout + (long)b * Tq * ldq + (long)i * D;
            const float *att_bi = att + ((long)b * Hq + i) * att_head;
            float *datt_bi = datt + ((long)b * Hq + i) * att_head;
            const float *v_b = v + (long)b * Tk * ldkv;
            /* dP = dout v^T, [Tq, Tk] */
            dr_sgemm_strided_batched(false, true, Tq, Tk, D, 1.0f, dout_bi, ldq, (long)group * D, v_b, ldkv, D,
                                     0.0f, datt_bi, Tk, group * att_head, Hkv);
            /* dv += P^T dout, [Tk, D] */
            if (dv)
                dr_sgemm_strided_batched(true, false, Tk, D, Tq, 1.0f, att_bi, Tk, group * att_head, dout_bi, ldq,
                                         (long)group * D, 1.0f, dv + (long)b * Tk * ldkv, ldkv, D, Hkv);
        }

    /* softmax backward: dS = P * (dP - sum_j P dP); masked entries have P = 0 */
    const long rows = (long)B * Hq * Tq;
#pragma omp parallel for schedule(static) PAR_IF(rows * Tk)
    for (long r = 0; r < rows; r++) {
        const float *p = att + r * Tk;
        float *d = datt + r * Tk;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < Tk; j++) dot += p[j] * d[j];
#pragma omp simd
        for (int j = 0; j < Tk; j++) d[j] = p[j] * (d[j] - dot);
    }

    for (int b = 0; b < B; b++)
        for (int i = 0; i < group; i++) {
            const float *ds_bi = datt + ((long)b * Hq + i) * att_head;
            /* dq += scale * dS k, [Tq, D] */
            if (dq)
                dr_sgemm_strided_batched(false, false, Tq, D, Tk, scale, ds_bi, Tk, group * att_head,
                                         k + (long)b * Tk * ldkv, ldkv, D, 1.0f,
                                         dq + (long)b * Tq * ldq + (long)i * D, ldq, (long)group * D, Hkv);
            /* dk += scale * dS^T q, [Tk, D] */
            if (dk)
                dr_sgemm_strided_batched(true, false, Tk, D, Tq, scale, ds_bi, Tk, group * att_head,
                                         q + (long)b * Tq * ldq + (long)i * D, ldq, (long)group * D, 1.0f,
                                         dk + (long)b * Tk * ldkv, ldkv, D, Hkv);
        }
}
