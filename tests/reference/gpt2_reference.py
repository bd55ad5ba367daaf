#!/usr/bin/python3
"""Independent GPT-2 forward pass in NumPy (float64), for checking our engine.

Reads a HuggingFace GPT-2 folder by hand — config.json, model.safetensors or
model.safetensors.index.json + shards (F32/F16/BF16), names with or without
the "transformer." prefix — and writes the logits of the given token ids.

Written from the GPT-2 definition, not from our C++: token + position
embeddings; per layer x += attn(ln_1(x)), x += mlp(ln_2(x)) with Conv1D
weights [in, out] (y = x @ W + b), causal softmax(q k^T / sqrt(d)) v per head,
gelu_new; final LayerNorm; head = lm_head.weight, or wte.weight when tied.

Usage: gpt2_reference.py MODEL_DIR IDS OUT
  IDS: comma-separated token ids; OUT: raw little-endian float64 [T, vocab].
"""
import json
import math
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = body[b:e]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif dt == "BF16":  # the top 16 bits of an IEEE float32
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dt == "BOOL":
            a = np.frombuffer(raw, dtype=np.uint8)
        else:
            raise ValueError(f"{path}: dtype {dt} not handled by the reference")
        out[name] = a.astype(np.float64).reshape(shape)
    return out


def read_weights(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        w = read_safetensors(single)
    else:
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            index = json.load(f)
        w = {}
        for shard in sorted(set(index["weight_map"].values())):
            w.update(read_safetensors(os.path.join(d, shard)))
    return {(k[len("transformer."):] if k.startswith("transformer.") else k): v for k, v in w.items()}


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def activation(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "gelu":
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
    if name == "relu":
        return np.maximum(x, 0.0)
    raise ValueError(f"activation {name} not handled by the reference")


def forward(cfg, w, ids):
    C, H = cfg["n_embd"], cfg["n_head"]
    D = C // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    T = len(ids)
    x = w["wte.weight"][ids] + w["wpe.weight"][np.arange(T)]
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)  # True above the diagonal: the future
    for l in range(cfg["n_layer"]):
        p = lambda n: w[f"h.{l}.{n}"]
        h = layer_norm(x, p("ln_1.weight"), p("ln_1.bias"), eps)
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = (qkv[:, i * C:(i + 1) * C].reshape(T, H, D).transpose(1, 0, 2) for i in range(3))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(D)  # [H, T, T]
        s = np.where(mask, -np.inf, s)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = layer_norm(x, p("ln_2.weight"), p("ln_2.bias"), eps)
        h = activation(act, h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    tied = cfg.get("tie_word_embeddings", True)
    head = w["wte.weight"] if tied or "lm_head.weight" not in w else w["lm_head.weight"]
    return x @ head.T


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    d, ids, out = sys.argv[1], [int(t) for t in sys.argv[2].split(",")], sys.argv[3]
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if "n_positions" not in cfg:
        cfg["n_positions"] = cfg["n_ctx"]
    logits = forward(cfg, read_weights(d), np.array(ids))
    logits.astype("<f8").tofile(out)


if __name__ == "__main__":
    main()
