"""PyTorch peer of DirectorLLM for `make bench`: the Llama 3 decoder of src/models/llama.c
(RMSNorm, attention with RoPE and grouped-query heads, SwiGLU MLP, untied head) at the
configuration bench_models prints; one training step (forward, cross-entropy, backward,
global-norm clipping, AdamW) on a random batch, and greedy decoding with a KV cache at
batch 1. Usage: torch_llama.py CONFIG_JSON [--steps N] [--no-decode]."""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_common as tc


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(seq, head_dim, theta):
    inv = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)
    ang = torch.outer(torch.arange(seq).float(), inv)
    return torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()


def rotate(x, cos, sin):  # x [B, H, T, hd]; Hugging Face's rotate-half convention
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["dim"], c["head_dim"]
        self.h, self.hkv, self.hd = c["heads"], c["kv_heads"], hd
        self.attn_norm, self.ffn_norm = RMSNorm(d, c["eps"]), RMSNorm(d, c["eps"])
        self.wq = nn.Linear(d, self.h * hd, bias=False)
        self.wk = nn.Linear(d, self.hkv * hd, bias=False)
        self.wv = nn.Linear(d, self.hkv * hd, bias=False)
        self.wo = nn.Linear(self.h * hd, d, bias=False)
        self.w_gate = nn.Linear(d, c["ffn"], bias=False)
        self.w_up = nn.Linear(d, c["ffn"], bias=False)
        self.w_down = nn.Linear(c["ffn"], d, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.hkv, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.hkv, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if cache is not None:  # decoding: append to the preallocated cache
            kc, vc, pos = cache
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
        rep = self.h // self.hkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
        if mask is not None:
            att = att + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.h * self.hd)
        x = x + self.wo(y)
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab"], c["dim"])
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"], c["eps"])
        self.head = nn.Linear(c["dim"], c["vocab"], bias=False)
        cos, sin = rope_tables(max(c["seq"], c["decode"]), c["head_dim"], c["rope_theta"])
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens, pos=0, caches=None):
        T = tokens.shape[1]
        x = self.embed(tokens)
        cos, sin = self.cos[pos:pos + T], self.sin[pos:pos + T]
        mask = None
        if T > 1:
            mask = torch.full((T, T), float("-inf")).triu(1)
        for i, b in enumerate(self.blocks):
            x = b(x, cos, sin, mask, None if caches is None else (caches[i][0], caches[i][1], pos))
        return self.head(self.norm(x))


def main():
    c, steps = tc.args()
    tc.setup("llm")
    m = Llama(c)
    B, T, V = c["batch"], c["seq"], c["vocab"]
    print(f"llm.params {sum(p.numel() for p in m.parameters())}")
    inputs = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.1, foreach=True)
    loss_box = [0.0]

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(m(inputs).view(-1, V), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        loss_box[0] = loss.item()

    wall, cpu = tc.time_steps(step, steps)
    print(f"llm.loss {loss_box[0]:.4f}")
    tc.report("llm.train", wall, cpu)

    # one transformer block forward + backward at the same shape
    x = torch.randn(B, T, c["dim"], requires_grad=True)
    gy = torch.randn(B, T, c["dim"])
    mask = torch.full((T, T), float("-inf")).triu(1)
    blk = m.blocks[2]
    wall, cpu = tc.time_steps(lambda: blk(x, m.cos[:T], m.sin[:T], mask).backward(gy), steps)
    tc.report("llm.block", wall, cpu)
    if "--no-decode" in sys.argv:
        return

    # greedy decoding, batch 1, KV cache, from token 1 (as bench_models); in fp32, then with
    # the whole model in bf16 (PyTorch's counterpart of director's opt-in bf16 weights)
    def decode(model, dtype, key):
        n = c["decode"]
        hkv, hd = c["kv_heads"], c["head_dim"]
        caches = [(torch.zeros(1, hkv, n, hd, dtype=dtype), torch.zeros(1, hkv, n, hd, dtype=dtype))
                  for _ in range(c["layers"])]
        dwall, dcpu = [], []
        with torch.inference_mode():
            for rep in range(4):
                tok = torch.tensor([[1]])
                w, p = time.perf_counter(), time.process_time()
                for pos in range(n):
                    logits = model(tok, pos, caches)
                    tok = logits[:, -1].argmax(-1, keepdim=True)
                if rep > 0:
                    dwall.append(time.perf_counter() - w)
                    dcpu.append(time.process_time() - p)
        tc.report(key, dwall, dcpu)

    decode(m, torch.float32, "llm.decode")
    decode(m.to(torch.bfloat16), torch.bfloat16, "llm.decode_bf16")


if __name__ == "__main__":
    main()
