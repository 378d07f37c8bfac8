#!/usr/bin/python3
"""peer_llama.py - the PyTorch peer of bench_llama.c (optional; never part of the product).

The same Llama-style decoder (vocab 4096, dim 256, 6 layers, 8 heads / 4 KV heads of 32,
SwiGLU 704, RoPE (rotate-half), RMSNorm, untied head: 6.5M parameters): one training step
at batch 8 x 320 with AdamW, and greedy decoding with a KV cache at batch 1. Prints wall
time and process CPU time like bench_llama, so the two can be run side by side:

    /usr/bin/python3 bench/peer_llama.py [--threads N] [--steps N] [--decode N]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

V, C, L, HQ, HKV, D, FF = 4096, 256, 6, 8, 4, 32, 704


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(T, offset=0, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, D, 2).float() / D))
    t = torch.arange(offset, offset + T).float()
    f = torch.outer(t, inv)
    emb = torch.cat([f, f], dim=-1)
    return emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]


def rotate_half(x):
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return torch.cat([-x2, x1], dim=-1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(C), RMSNorm(C)
        self.q = nn.Linear(C, HQ * D, bias=False)
        self.k = nn.Linear(C, HKV * D, bias=False)
        self.v = nn.Linear(C, HKV * D, bias=False)
        self.o = nn.Linear(HQ * D, C, bias=False)
        self.g = nn.Linear(C, FF, bias=False)
        self.u = nn.Linear(C, FF, bias=False)
        self.d = nn.Linear(FF, C, bias=False)

    def forward(self, x, cos, sin, cache=None):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, HQ, D)
        k = self.k(h).view(B, T, HKV, D)
        v = self.v(h).view(B, T, HKV, D)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], dim=1)
                v = torch.cat([cache[1], v], dim=1)
            cache[0], cache[1] = k, v
        Tk = k.shape[1]
        q = q.transpose(1, 2)
        k = k.transpose(1, 2).repeat_interleave(HQ // HKV, dim=1)
        v = v.transpose(1, 2).repeat_interleave(HQ // HKV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        if T > 1:
            mask = torch.full((T, Tk), float("-inf")).triu(Tk - T + 1)
            s = s + mask
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, HQ * D)
        x = x + self.o(a)
        h = self.n2(x)
        return x + self.d(F.silu(self.g(h)) * self.u(h))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm(C)
        self.head = nn.Linear(C, V, bias=False)

    def forward(self, idx, offset=0, caches=None):
        x = self.emb(idx)
        cos, sin = rope_tables(idx.shape[1], offset)
        for i, b in enumerate(self.blocks):
            x = b(x, cos, sin, caches[i] if caches is not None else None)
        return self.head(self.norm(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--decode", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Model()
    n_params = sum(p.numel() for p in m.parameters())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n_params / 1e6:.2f}M parameters")
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    B, T = 8, 320
    data = torch.randint(0, V, (B, T + 1))
    x, y = data[:, :-1], data[:, 1:]
    walls, cpus = [], []
    for s in range(a.steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(x).view(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        if s:
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    w, c = sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]
    print(f"train step (B {B} x T {T}): {w:.3f} s wall -> {B * T / w:.0f} tokens/s; {c:.3f} s CPU -> "
          f"{B * T / c:.0f} tokens/s per CPU-second (loss {loss.item():.3f})")
    with torch.no_grad():
        walls, cpus = [], []
        for rep in range(3):
            caches = [[None, None] for _ in range(L)]
            tok = torch.tensor([[1]])
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(a.decode):
                logits = m(tok, offset=i, caches=caches)
                tok = logits[:, -1].argmax(-1, keepdim=True)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        w, c = sorted(walls)[1], sorted(cpus)[1]
        print(f"greedy decode (batch 1, KV cache, {a.decode} tokens): {1e6 * w / a.decode:.1f} us/token wall -> "
              f"{a.decode / w:.0f} tokens/s; {1e6 * c / a.decode:.1f} us/token CPU -> {a.decode / c:.0f} tokens/s "
              f"per CPU-second")


if __name__ == "__main__":
    main()
