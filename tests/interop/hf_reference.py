"""hf_reference.py - an independent LlamaForCausalLM forward over a Hugging Face folder.

    /usr/bin/python3 hf_reference.py DIR ID,ID,... N

Reads DIR/config.json and DIR/model.safetensors (parsed by hand: transformers and the
safetensors package are not installed here), runs the Hugging Face Llama forward in
float64 torch (rotate-half RoPE, grouped-query attention, SwiGLU, RMSNorm, tied or
untied head) and prints the N greedy tokens that follow the prompt ids, comma-separated.
Used by tests/test_llama_interop.c to check that `director export hf` is a model that
the Hugging Face convention runs to the same tokens. Reference checks only, never the
product."""
import json
import struct
import sys

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[base + b : base + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float64))
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, ids):
    T = len(ids)
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, D).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=0)
        v = v.repeat_interleave(H // Hkv, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / D**0.5 + mask, dim=-1)
        y = (att @ v).transpose(0, 1).reshape(T, H * D)
        x = x + y @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return x[-1] @ head.T


def main():
    folder, ids_arg, n_arg = sys.argv[1:4]
    with open(folder + "/config.json") as f:
        cfg = json.load(f)
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    W = load_safetensors(folder + "/model.safetensors")
    ids = [int(t) for t in ids_arg.split(",")]
    out = []
    for _ in range(int(n_arg)):
        logits = forward(cfg, W, ids)
        assert logits.shape[0] == cfg["vocab_size"]
        tok = int(torch.argmax(logits))
        out.append(tok)
        ids.append(tok)
    print(",".join(map(str, out)))


if __name__ == "__main__":
    main()
