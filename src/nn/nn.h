/* nn.h - neural-network layers with explicit forward and backward passes (llm.c style).
 *
 * Conventions, shared by every layer so that models compose them without surprises:
 * - Activations are row-major float32 with the feature (channel) axis last:
 *   [N, C] for tokens/frames, [B, T, C] for sequences. Weights use the PyTorch /
 *   Hugging Face layouts (linear [out, in], conv1d [out, in, kernel]) so checkpoints
 *   map one-to-one.
 * - Backward functions ACCUMULATE (+=) into every gradient they are given, parameter
 *   and input gradients alike, so residual branches and shared weights need no extra
 *   code; zero the gradient buffers once per step. A NULL gradient pointer means "not
 *   needed" and is skipped.
 * - Forward functions save what backward needs in caller-provided buffers (mean, rstd,
 *   attention probabilities...); nothing is allocated inside a layer. Layers needing
 *   scratch memory say how much through a *_scratch_floats() function.
 * - All matrix products go through dr_sgemm (core/gemm.h); loops are OpenMP-parallel.
 * Every backward has a finite-difference test in tests/test_nn_grad.c. */
#ifndef DIRECTOR_NN_NN_H
#define DIRECTOR_NN_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- linear: out[N, OC] = inp[N, IC] @ weight[OC, IC]^T + bias[OC] (bias may be NULL) ---- */
void dr_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int N, int IC, int OC);
void dr_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int N, int IC, int OC);

/* ---- embedding: out[N, C] = table[ids[n], :] ---- */
void dr_embedding_forward(float *out, const int *ids, const float *table, int N, int C);
void dr_embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C);

/* ---- conv1d over time, [B, T, C] layout, weight [OC, IC, K], bias [OC] or NULL ---- */
typedef enum { DR_PAD_VALID = 0, DR_PAD_SAME = 1, DR_PAD_CAUSAL = 2 } dr_pad_mode;
typedef struct dr_conv1d_shape {
    int B, T_in, IC, OC, kernel, stride, dilation;
    dr_pad_mode pad;
} dr_conv1d_shape;
/* Output length for the shape: VALID: floor((T + 0 - d(K-1) - 1)/s) + 1; SAME: ceil(T/s)
 * (pad total d(K-1), left = total/2); CAUSAL: ceil(T/s) (all padding on the left). */
int dr_conv1d_out_len(const dr_conv1d_shape *s);
size_t dr_conv1d_scratch_floats(const dr_conv1d_shape *s); /* im2col buffer */
void dr_conv1d_forward(float *out, const float *inp, const float *weight, const float *bias,
                       const dr_conv1d_shape *s, float *scratch);
void dr_conv1d_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, const dr_conv1d_shape *s, float *scratch);

/* ---- RMSNorm over the last axis: out = inp * rstd * weight, rstd[N] saved ---- */
void dr_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
void dr_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int N, int C);

/* ---- LayerNorm over the last axis, mean[N] and rstd[N] saved ---- */
void dr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int N, int C, float eps);
void dr_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, int N, int C);

/* ---- GroupNorm on [B, T, C]: G groups of C/G channels, statistics over (T, C/G);
 *      per-channel affine weight/bias [C]; mean/rstd [B * G] saved ---- */
void dr_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, int B, int T, int C, int G, float eps);
void dr_groupnorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                           const float *weight, const float *mean, const float *rstd, int B, int T, int C, int G);

/* ---- element-wise activations over n values ---- */
void dr_silu_forward(float *out, const float *inp, long n);
void dr_silu_backward(float *dinp, const float *dout, const float *inp, long n);
/* GELU, tanh approximation (as GPT-2 / CLIP "quick" variants differ, this is the tanh one). */
void dr_gelu_forward(float *out, const float *inp, long n);
void dr_gelu_backward(float *dinp, const float *dout, const float *inp, long n);

/* ---- SwiGLU: h = silu(gate) * up (element-wise), and the Llama MLP built on it:
 *      out = (silu(x Wg^T) * (x Wu^T)) Wd^T, Wg/Wu [H, C], Wd [C, H] ---- */
void dr_swiglu_forward(float *h, const float *gate, const float *up, long n);
void dr_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, long n);
typedef struct dr_swiglu_mlp_acts {
    float *gate, *up, *h; /* [N, H] each, saved by forward for backward */
} dr_swiglu_mlp_acts;
void dr_swiglu_mlp_forward(float *out, dr_swiglu_mlp_acts *acts, const float *inp, const float *w_gate,
                           const float *w_up, const float *w_down, int N, int C, int H);
/* scratch: 3 * N * H floats (dh, dgate, dup). */
void dr_swiglu_mlp_backward(float *dinp, float *dw_gate, float *dw_up, float *dw_down, const float *dout,
                            const dr_swiglu_mlp_acts *acts, const float *inp, const float *w_gate,
                            const float *w_up, const float *w_down, int N, int C, int H, float *scratch);

/* ---- softmax cross-entropy with ignore mask: rows whose target < 0 are ignored.
 *      forward writes probs[N, V] (may alias logits) and returns the mean loss over the
 *      valid rows (0 if none); *num_valid gets their count.
 *      backward: dlogits += scale * (probs - onehot(target)) for valid rows; pass
 *      scale = dloss / num_valid for the mean. ---- */
float dr_softmax_xent_forward(float *probs, const float *logits, const int *targets, int N, int V, int *num_valid);
void dr_softmax_xent_backward(float *dlogits, const float *probs, const int *targets, int N, int V, float scale);

/* ---- rotary position embedding, Hugging Face convention: dimension i pairs with
 *      i + D/2 (rotate_half). In place on x [B, T, H, D]; position of (b, t) is
 *      pos[t] if pos != NULL else pos_offset + t. Backward rotates by the inverse. ---- */
void dr_rope_forward(float *x, int B, int T, int H, int D, const int *pos, int pos_offset, float base);
void dr_rope_backward(float *dx, int B, int T, int H, int D, const int *pos, int pos_offset, float base);

/* ---- multi-head scaled dot-product attention (self or cross) with grouped-query heads.
 *      q [B, Tq, Hq, D]; k, v [B, Tk, Hkv, D] (Hq % Hkv == 0, query head h reads kv head
 *      h / (Hq/Hkv)); out [B, Tq, Hq, D]; att [B, Hq, Tq, Tk] saved probabilities.
 *      causal: query t sees keys <= t + (Tk - Tq) (so decoding with a cache works);
 *      key_valid [B, Tk] (NULL = all valid): 0 masks a padded key. A query row with no
 *      visible key outputs zeros. ---- */
typedef struct dr_attn_shape {
    int B, Tq, Tk, Hq, Hkv, D;
    bool causal;
    const uint8_t *key_valid;
} dr_attn_shape;
size_t dr_attention_scratch_floats(const dr_attn_shape *s);
void dr_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                          const dr_attn_shape *s, float *scratch);
void dr_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const float *att, const dr_attn_shape *s, float *scratch);

/* ---- FiLM: out[b, t, c] = inp[b, t, c] * (1 + scale[b, c]) + shift[b, c], where
 *      ss [B, 2C] holds (scale, shift) as produced by a linear layer on the condition. ---- */
void dr_film_forward(float *out, const float *inp, const float *ss, int B, int T, int C);
void dr_film_backward(float *dinp, float *dss, const float *dout, const float *inp, const float *ss, int B, int T,
                      int C);

/* ---- sinusoidal timestep embedding (DDPM / Transformer): out[n, :] =
 *      [cos(t * f_0..f_{h-1}), sin(t * f_0..f_{h-1})], f_i = max_period^(-i/h), h = dim/2.
 *      No parameters and t is not differentiated, so there is no backward. ---- */
void dr_timestep_embedding(float *out, const float *t, int N, int dim, float max_period);

/* ---- element-wise helpers used by every model ---- */
void dr_add_inplace(float *y, const float *x, long n);   /* y += x */
void dr_scale_inplace(float *y, float a, long n);        /* y *= a */

#endif
