"""PyTorch peer of the residual VQ-VAE (src/models/rvq.c) for `make bench`: the same
encoder / decoder stacks (linear in; 3 residual blocks of SiLU, causal kernel-2 conv with
dilation 1, 2, 4, SiLU, linear; SiLU, linear out), the residual quantizer (nearest code by
||c||^2 - 2 r.c, straight-through estimator, commitment loss, quantizer dropout, EMA
codebooks with Laplace smoothing and dead-code reset), masked coordinate MSE + presence BCE,
global-norm clipping and AdamW, on random key frames of the batch bench_models prints; then
encoding the batch to tokens and decoding them back (inference).
Usage: torch_rvq.py CONFIG_JSON [--steps N]."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_common as tc


class Stack(nn.Module):
    def __init__(self, din, dout, C, dilations):
        super().__init__()
        self.inp = nn.Linear(din, C)
        self.convs = nn.ModuleList(nn.Conv1d(C, C, 2, dilation=d) for d in dilations)
        self.projs = nn.ModuleList(nn.Linear(C, C) for _ in dilations)
        self.dilations = dilations
        self.out = nn.Linear(C, dout)

    def forward(self, x):  # x [B, T, din]
        h = self.inp(x)
        for conv, proj, d in zip(self.convs, self.projs, self.dilations):
            a = F.pad(F.silu(h).transpose(1, 2), (d, 0))  # causal: all padding on the left
            c = conv(a).transpose(1, 2)
            h = h + proj(F.silu(c))
        return self.out(F.silu(h))


def main():
    c, steps = tc.args()
    tc.setup("rvq")
    B, T, C, D, K, L, io = c["batch"], c["keyframes"], c["channels"], c["dim"], c["codebook"], c["depth"], c["io"]
    enc, dec = Stack(io, D, C, c["dilations"]), Stack(D, io, C, c["dilations"])
    params = list(enc.parameters()) + list(dec.parameters())
    print(f"rvq.params {sum(p.numel() for p in params)}")
    codebooks = torch.randn(L, K, D) * 0.1
    ema_count, ema_sum = torch.ones(L, K), codebooks.clone()
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0, foreach=True)
    # random key frames: 36 normalized coordinates and 18 presence flags (some missing)
    present = (torch.rand(B, T, 18) > 0.05).float()
    coords = torch.randn(B, T, 36) * 0.5 * present.repeat_interleave(2, -1)
    x = torch.cat([coords, present], -1)
    cmask = present.repeat_interleave(2, -1)
    loss_box = [0.0]

    def step():
        # quantizer dropout: some clips use only their first 1..L levels
        drop = torch.rand(B) < c["quantizer_dropout"]
        levels = torch.where(drop, torch.randint(1, L + 1, (B,)), torch.full((B,), L))
        lv = levels.repeat_interleave(T)  # per row
        opt.zero_grad(set_to_none=True)
        z_e = enc(x).reshape(B * T, D)
        r = z_e
        resid, codes, actives = [], [], []
        commit = 0.0
        for l in range(L):
            cb = codebooks[l]
            with torch.no_grad():
                dist = (cb * cb).sum(1) - 2.0 * r.detach() @ cb.t()
                code = dist.argmin(1)
            active = (lv > l).float().unsqueeze(1)
            resid.append(r.detach())
            r = r - cb[code] * active
            commit = commit + ((r * r) * active).sum()
            codes.append(code)
            actives.append(active.squeeze(1) > 0)
        z_q = z_e - r.detach()  # straight-through: the sum of the codes in value, z_e's gradient
        y = dec(z_q.view(B, T, D))
        npresent = present.sum().clamp(min=1)
        rec = (((y[..., :36] - coords) ** 2) * cmask).sum() / (2 * npresent)
        bce = F.binary_cross_entropy_with_logits(y[..., 36:], present)
        loss = rec + c["presence_weight"] * bce + c["commit_beta"] * commit / (B * T * D)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():  # EMA codebooks and dead-code reset
            decay = c["ema_decay"]
            for l in range(L):
                rows = actives[l]
                if not rows.any():
                    continue
                rl, cl = resid[l][rows], codes[l][rows]
                cnt = torch.bincount(cl, minlength=K).float()
                s = torch.zeros(K, D).index_add_(0, cl, rl)
                ema_count[l].mul_(decay).add_(cnt, alpha=1 - decay)
                ema_sum[l].mul_(decay).add_(s, alpha=1 - decay)
                total = ema_count[l].sum()
                smoothed = (ema_count[l] + 1e-5) / (total + K * 1e-5) * total
                codebooks[l] = ema_sum[l] / smoothed.unsqueeze(1)
                dead = ema_count[l] < c["dead_threshold"]
                nd = int(dead.sum())
                if nd:
                    pick = rl[torch.randint(0, rl.shape[0], (nd,))]
                    codebooks[l][dead] = pick
                    ema_sum[l][dead] = pick
                    ema_count[l][dead] = 1.0
        loss_box[0] = loss.item()

    wall, cpu = tc.time_steps(step, steps)
    print(f"rvq.loss {loss_box[0]:.4f}")
    tc.report("rvq.train", wall, cpu)

    # inference: encode the batch to tokens (every level), decode the tokens back
    tokens = torch.empty(L, B * T, dtype=torch.long)

    def encode():
        with torch.inference_mode():
            r = enc(x).reshape(B * T, D)
            for l in range(L):
                cb = codebooks[l]
                code = ((cb * cb).sum(1) - 2.0 * r @ cb.t()).argmin(1)
                r = r - cb[code]
                tokens[l] = code

    def decode():
        with torch.inference_mode():
            z = codebooks[0][tokens[0]]
            for l in range(1, L):
                z = z + codebooks[l][tokens[l]]
            y = dec(z.view(B, T, D))
            (y[..., 36:] > 0).float()  # presence decisions, as director's decode makes them

    wall, cpu = tc.time_steps(encode, steps)
    tc.report("rvq.encode", wall, cpu)
    wall, cpu = tc.time_steps(decode, steps)
    tc.report("rvq.decode", wall, cpu)


if __name__ == "__main__":
    main()
