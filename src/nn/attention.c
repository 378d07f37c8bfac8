/* attention.c - rotary position embedding and multi-head scaled dot-product attention
 * with grouped-query heads, causal and key-padding masks (contracts in nn.h).
 *
 * Attention keeps the full probability matrix att [B, Hq, Tq, Tk] (llm.c style): it is
 * what backward needs, and at director's sequence lengths (a few hundred) it is small.
 * The work is split by head: one (batch, head) at a time per thread runs Q K^T, the
 * softmax and P V while that head's scores are still in the core's cache (a head of
 * 320 x 320 is 400 KB), addressing head h in place inside the [B, T, H, D] activations
 * (row stride H * D), so nothing is transposed or copied. Measured against one strided
 * batched GEMM per product over all heads, which streams the whole score tensor through
 * memory between the steps: forward + backward of one layer's attention at B 8, T 320,
 * 8/4 heads went from 35.5 to 28.5 ms on one core. The backward runs per (batch, kv
 * head), taking the query heads that share it (GQA) in turn, so dk/dv are accumulated
 * by one thread only. */
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

/* In place on one row of raw scores q.k: softmax of scale * scores over the visible keys,
 * masked entries become exactly 0. (The 1/sqrt(D) scale is applied here rather than as the
 * GEMM's alpha: oneDNN 2.6 takes a several times slower path for some small Q K^T shapes
 * when alpha != 1.) */
static void masked_softmax_row(float *row, int n_visible, int Tk, const uint8_t *key_valid, float scale) {
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
        float e = row[j] == -INFINITY ? 0.0f : dr_expf((row[j] - maxv) * scale);
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

static void zero_rows(float *x, int rows, int ld, int n) {
    for (int t = 0; t < rows; t++) memset(x + (long)t * ld, 0, sizeof(float) * (size_t)n);
}

void dr_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const dr_attn_shape *s, float *scratch) {
    (void)scratch;
    const int Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    const int group = Hq / Hkv, ldq = Hq * D, ldkv = Hkv * D, nblocks = query_block_count(s);
    const float scale = 1.0f / sqrtf((float)D);
    const long units = (long)s->B * Hq;
    /* One (batch, head) per iteration: its scores (Tq x Tk, a few hundred KB) are written
     * by Q K^T, normalised and multiplied by V while they are still in this core's cache,
     * instead of streaming the whole [B, H, Tq, Tk] tensor through memory three times. */
#pragma omp parallel for schedule(static) PAR_IF(units * Tq * Tk * D / 8)
    for (long u = 0; u < units; u++) {
        const int b = (int)(u / Hq), h = (int)(u % Hq), j = h / group;
        const float *qh = q + (long)b * Tq * ldq + (long)h * D;
        const float *kh = k + (long)b * Tk * ldkv + (long)j * D, *vh = v + (long)b * Tk * ldkv + (long)j * D;
        float *att_h = att + u * Tq * Tk, *out_h = out + (long)b * Tq * ldq + (long)h * D;
        const uint8_t *valid = s->key_valid ? s->key_valid + (long)b * Tk : NULL;
        for (int n = 0; n < nblocks; n++) { /* scores = q k^T */
            const query_block qb = query_block_at(s, n);
            if (qb.keys > 0)
                dr_sgemm(false, true, qb.rows, qb.keys, D, 1.0f, qh + (long)qb.t0 * ldq, ldq, kh, ldkv, 0.0f,
                         att_h + (long)qb.t0 * Tk, Tk);
        }
        for (int t = 0; t < Tq; t++) masked_softmax_row(att_h + (long)t * Tk, visible_keys(s, t), Tk, valid, scale);
        for (int n = 0; n < nblocks; n++) { /* out = att v */
            const query_block qb = query_block_at(s, n);
            if (qb.keys > 0)
                dr_sgemm(false, false, qb.rows, D, qb.keys, 1.0f, att_h + (long)qb.t0 * Tk, Tk, vh, ldkv, 0.0f,
                         out_h + (long)qb.t0 * ldq, ldq);
            else /* no visible key: zeros, as the probabilities are */
                zero_rows(out_h + (long)qb.t0 * ldq, qb.rows, ldq, D);
        }
    }
}

void dr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const float *att, const dr_attn_shape *s, float *scratch) {
    const int Tq = s->Tq, Tk = s->Tk, Hq = s->Hq, Hkv = s->Hkv, D = s->D;
    const int group = Hq / Hkv, ldq = Hq * D, ldkv = Hkv * D, nblocks = query_block_count(s);
    const float scale = 1.0f / sqrtf((float)D);
    const long units = (long)s->B * Hkv;
    /* One (batch, kv head) per iteration, with the query heads that read it in turn: dk and
     * dv of a kv head are written by one thread only, and each head's dP/dS (scratch,
     * [B, Hq, Tq, Tk]) stays in cache between the products that make and use it. */
#pragma omp parallel for schedule(static) PAR_IF(units * group * Tq * Tk * D / 8)
    for (long u = 0; u < units; u++) {
        const int b = (int)(u / Hkv), j = (int)(u % Hkv);
        const float *kh = k + (long)b * Tk * ldkv + (long)j * D, *vh = v + (long)b * Tk * ldkv + (long)j * D;
        float *dk_h = dk ? dk + (long)b * Tk * ldkv + (long)j * D : NULL;
        float *dv_h = dv ? dv + (long)b * Tk * ldkv + (long)j * D : NULL;
        for (int i = 0; i < group; i++) {
            const int h = j * group + i;
            const long head = (long)b * Hq + h;
            const float *qh = q + (long)b * Tq * ldq + (long)h * D, *dout_h = dout + (long)b * Tq * ldq + (long)h * D;
            const float *att_h = att + head * Tq * Tk;
            float *ds_h = scratch + head * Tq * Tk; /* dP, then dS */
            float *dq_h = dq ? dq + (long)b * Tq * ldq + (long)h * D : NULL;
            for (int n = 0; n < nblocks; n++) {
                const query_block qb = query_block_at(s, n);
                if (qb.keys == 0) continue; /* P = 0: no gradient flows */
                /* dP = dout v^T */
                dr_sgemm(false, true, qb.rows, qb.keys, D, 1.0f, dout_h + (long)qb.t0 * ldq, ldq, vh, ldkv, 0.0f,
                         ds_h + (long)qb.t0 * Tk, Tk);
                /* dv += P^T dout */
                if (dv_h)
                    dr_sgemm(true, false, qb.keys, D, qb.rows, 1.0f, att_h + (long)qb.t0 * Tk, Tk,
                             dout_h + (long)qb.t0 * ldq, ldq, 1.0f, dv_h, ldkv);
            }
            /* dS = P * (dP - sum_j P dP). Only the causally visible prefix of dP was
             * computed; past it (and at masked keys) P = 0, so dS is written as zeros. */
            for (int t = 0; t < Tq; t++) {
                const float *p = att_h + (long)t * Tk;
                float *d = ds_h + (long)t * Tk;
                int nv = visible_keys(s, t);
                nv = nv < 0 ? 0 : nv;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int c = 0; c < nv; c++) dot += p[c] * d[c];
#pragma omp simd
                for (int c = 0; c < nv; c++) d[c] = p[c] * (d[c] - dot);
                for (int c = nv; c < Tk; c++) d[c] = 0.0f;
            }
            for (int n = 0; n < nblocks; n++) {
                const query_block qb = query_block_at(s, n);
                if (qb.keys == 0) continue;
                /* dq += scale * dS k */
                if (dq_h)
                    dr_sgemm(false, false, qb.rows, D, qb.keys, scale, ds_h + (long)qb.t0 * Tk, Tk, kh, ldkv, 1.0f,
                             dq_h + (long)qb.t0 * ldq, ldq);
                /* dk += scale * dS^T q */
                if (dk_h)
                    dr_sgemm(true, false, qb.keys, D, qb.rows, scale, ds_h + (long)qb.t0 * Tk, Tk,
                             qh + (long)qb.t0 * ldq, ldq, 1.0f, dk_h, ldkv);
            }
        }
    }
}
