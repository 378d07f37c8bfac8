"""PyTorch peer of the pose diffusion interpolator (src/models/pose_diffusion.c) for
`make bench`: timestep MLP feeding FiLM; input linear over [x_t, key-frame guide] plus a
learned frame-position embedding; context = key-frame tokens (+ their frame positions) and
the text states, one shared LayerNorm; blocks of LayerNorm -> FiLM -> self-attention,
LayerNorm -> cross-attention (padding mask), LayerNorm -> FiLM -> GELU (tanh) MLP, all
residual; output LayerNorm -> linear, low-passed over time by a fixed Gaussian (config
out_smooth), added to the guide plus the spectral skip path (the DCT over time of x_t -
sqrt(ab) guide, scaled per frequency by sqrt(ab) S_k / (ab S_k + 1 - ab)). One DDPM training
step (cosine schedule, x0 prediction, masked x0 + velocity MSE, classifier-free-guidance
drops, clipping, AdamW) at the batch bench_models prints.
Usage: torch_interp.py CONFIG_JSON [--steps N]."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_common as tc


def attention(q, k, v, heads, key_mask=None):  # [B, Tq, D], [B, Tk, D]
    B, Tq, D = q.shape
    Tk, hd = k.shape[1], D // heads
    q = q.view(B, Tq, heads, hd).transpose(1, 2)
    k = k.view(B, Tk, heads, hd).transpose(1, 2)
    v = v.view(B, Tk, heads, hd).transpose(1, 2)
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
    if key_mask is not None:
        att = att.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return (att.softmax(-1) @ v).transpose(1, 2).reshape(B, Tq, D)


def film(h, ss):  # ss [B, 2D] = (scale, shift)
    scale, shift = ss.chunk(2, -1)
    return h * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    def __init__(self, D, M, H):
        super().__init__()
        self.H = H
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)
        self.film1, self.film3 = nn.Linear(D, 2 * D), nn.Linear(D, 2 * D)
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.xq, self.xk, self.xv, self.xo = (nn.Linear(D, D) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(D, M), nn.Linear(M, D)

    def forward(self, x, st, ctx, ctx_valid):
        f1 = film(self.norm1(x), self.film1(st))
        x = x + self.o(attention(self.q(f1), self.k(f1), self.v(f1), self.H))
        h2 = self.norm2(x)
        x = x + self.xo(attention(self.xq(h2), self.xk(ctx), self.xv(ctx), self.H, ctx_valid))
        f3 = film(self.norm3(x), self.film3(st))
        return x + self.fc2(F.gelu(self.fc1(f3), approximate="tanh"))


class Interp(nn.Module):
    def __init__(self, c):
        super().__init__()
        D = c["dim"]
        self.D = D
        self.inp = nn.Linear(c["pose_dim"] + c["frame_cond"], D)
        self.pos = nn.Parameter(torch.randn(c["frames"], D) * 0.02)
        self.t1, self.t2 = nn.Linear(D, D), nn.Linear(D, D)
        self.kf = nn.Linear(c["kf_feat"], D)
        self.txt = nn.Linear(c["text_dim"], D)
        self.ctx_norm = nn.LayerNorm(D)
        self.blocks = nn.ModuleList(Block(D, c["mlp"], c["heads"]) for _ in range(c["layers"]))
        self.out_norm = nn.LayerNorm(D)
        self.out = nn.Linear(D, c["pose_dim"])
        Fr = c["frames"]
        # the C side's defaults (dr_interp_default_config) when bench_models does not print them
        self.spectral = c.get("spectral_skip", 1)
        sigma = c.get("out_smooth", 1.0)
        n = torch.arange(Fr, dtype=torch.float64)
        dct = torch.cos(math.pi * (n[None] + 0.5) * n[:, None] / Fr) * (2.0 / Fr) ** 0.5
        dct[0] /= 2 ** 0.5
        self.register_buffer("dct", dct.float())
        self.register_buffer("spec", torch.full((Fr,), 0.025 ** 2))
        self.kern = None
        if sigma > 0:
            R = math.ceil(3 * sigma)
            w = torch.exp(-0.5 * torch.arange(-R, R + 1, dtype=torch.float32) ** 2 / sigma ** 2)
            self.kern = (w / w.sum()).view(1, 1, -1).repeat(c["pose_dim"], 1, 1)

    def forward(self, x_t, t, ab, frame_cond, kf, kf_index, text, text_valid, keep_kf, keep_text):
        half = self.D // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half).float() / half)
        ang = t[:, None] * freqs[None]
        st = F.silu(self.t2(F.silu(self.t1(torch.cat([ang.cos(), ang.sin()], -1)))))
        guide = frame_cond * keep_kf[:, None, None]
        x = self.inp(torch.cat([x_t, guide], -1)) + self.pos
        kf_tok = (self.kf(kf) + self.pos[kf_index]) * keep_kf[:, None, None]
        txt_tok = self.txt(text) * keep_text[:, None, None]
        ctx = self.ctx_norm(torch.cat([kf_tok, txt_tok], 1))
        valid = torch.cat([torch.ones(kf.shape[0], kf.shape[1], dtype=torch.bool),
                           text_valid | (keep_text[:, None] == 0)], 1)
        for b in self.blocks:
            x = b(x, st, ctx, valid)
        y = self.out(self.out_norm(x))
        if self.kern is not None:  # depthwise zero-padded conv over time
            y = F.conv1d(y.transpose(1, 2), self.kern, padding=self.kern.shape[-1] // 2,
                         groups=y.shape[-1]).transpose(1, 2)
        g = guide[..., :x_t.shape[-1]]
        if self.spectral:
            sab = ab.sqrt()[:, None, None]
            gain = sab[:, :, 0] * self.spec / (ab[:, None] * self.spec + 1 - ab[:, None])  # [B, F]
            u = self.dct @ (x_t - sab * g)
            y = y + self.dct.t() @ (gain[..., None] * u) * keep_kf[:, None, None]
        return y + g


def main():
    c, steps = tc.args()
    tc.setup("interp")
    m = Interp(c)
    print(f"interp.params {sum(p.numel() for p in m.parameters())}")
    B, Fr, K, P = c["batch"], c["frames"], c["keyframes"], c["pose_dim"]
    Tsteps = c["diffusion_steps"]
    s = torch.arange(Tsteps + 1, dtype=torch.float64) / Tsteps
    f = torch.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
    alpha_bar = (f[1:] / f[0]).clamp(max=0.9999).float()
    x0 = torch.randn(B, Fr, P) * 0.5
    mask = torch.ones(B, Fr, P)
    kf_index = torch.arange(K) * Fr // K
    kf_index = kf_index.expand(B, K)
    # random but shaped conditions: guide = key frames linearly spread, presence ones, flags
    frame_cond = torch.cat([x0, torch.ones(B, Fr, c["frame_cond"] - P)], -1)
    kf = torch.cat([x0[:, kf_index[0]], torch.ones(B, K, c["kf_feat"] - P)], -1)
    text = torch.randn(B, c["text_len"], c["text_dim"])
    text_valid = torch.ones(B, c["text_len"], dtype=torch.bool)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.0, foreach=True)
    loss_box = [0.0]

    def step():
        t = torch.randint(0, Tsteps, (B,))
        ab = alpha_bar[t][:, None, None]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn_like(x0)
        keep_kf = (torch.rand(B) >= c["p_drop_kf"]).float()
        keep_text = (torch.rand(B) >= c["p_drop_text"]).float()
        opt.zero_grad(set_to_none=True)
        pred = m(x_t, t.float(), alpha_bar[t], frame_cond, kf, kf_index, text, text_valid, keep_kf, keep_text)
        mse = (((pred - x0) ** 2) * mask).sum() / mask.sum()
        mv = mask[:, 1:] * mask[:, :-1]
        dv = (pred[:, 1:] - pred[:, :-1]) - (x0[:, 1:] - x0[:, :-1])
        loss = mse + c["vel_weight"] * (dv * dv * mv).sum() / mv.sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        loss_box[0] = loss.item()

    wall, cpu = tc.time_steps(step, steps)
    print(f"interp.loss {loss_box[0]:.4f}")
    tc.report("interp.train", wall, cpu)


if __name__ == "__main__":
    main()
