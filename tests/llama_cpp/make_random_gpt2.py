#!/usr/bin/python3
"""Writes a small random GPT-2 as a HuggingFace folder, with the real GPT-2
tokenizer files, for the llama.cpp check (check_gguf.sh).

Usage: make_random_gpt2.py OUT_DIR VOCAB_JSON MERGES_TXT [--seed N]
           [--n-layer L] [--n-embd C] [--n-head H] [--n-positions P] [--shape 124M|345M|762M|1.5B]

The default shape is 2 layers, 64 wide, 4 heads, 128 positions; --shape 124M
is GPT-2 small's (12 layers, 768, 12 heads, 1024 positions), and 345M, 762M
and 1.5B are GPT-2 medium's, large's and XL's (rbe-bench's preset names), for
speed.sh. The vocabulary is always the real tokenizer's 50257 tokens.

Weights are drawn with larger scales than GPT-2's initialisation so that the
logits are peaked: greedy decoding then does not hinge on rounding-level ties
between engines (random GPT-2 weights give nearly uniform logits). The
matrices' scales shrink with the width as 1/sqrt(C / 64), so that wider models
keep the default shape's activation statistics.
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

N_LAYER, N_EMBD, N_HEAD, N_POS, VOCAB = 2, 64, 4, 128, 50257
SHAPES = {  # n_layer, n_embd, n_head, n_positions
    "124M": (12, 768, 12, 1024),
    "345M": (24, 1024, 16, 1024),
    "762M": (36, 1280, 20, 1024),
    "1.5B": (48, 1600, 25, 1024),
}


def save_safetensors(path, tensors):
    """Writes one tensor at a time (XL's 6 GB of f32 are not copied whole)."""
    header, offset, arrays = {}, 0, []
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for a in arrays:
            f.write(memoryview(a).cast("B"))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("vocab")
    ap.add_argument("merges")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", choices=sorted(SHAPES), help="a named shape (overrides the four sizes)")
    ap.add_argument("--n-layer", type=int, default=N_LAYER)
    ap.add_argument("--n-embd", type=int, default=N_EMBD)
    ap.add_argument("--n-head", type=int, default=N_HEAD)
    ap.add_argument("--n-positions", type=int, default=N_POS)
    a = ap.parse_args()
    if a.shape:
        a.n_layer, a.n_embd, a.n_head, a.n_positions = SHAPES[a.shape]
    if min(a.n_layer, a.n_embd, a.n_head, a.n_positions) < 1 or a.n_embd % a.n_head:
        ap.error("sizes must be positive and n_embd a multiple of n_head")
    rng = np.random.default_rng(a.seed)
    C, L, N_POS_ = a.n_embd, a.n_layer, a.n_positions
    width = float(np.sqrt(N_EMBD / C))  # 1 at the default width: the default model is unchanged

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def matrix(shape, std):
        return normal(shape, std * width)

    w = {"wte.weight": normal((VOCAB, C), 1.0), "wpe.weight": normal((N_POS_, C), 0.5)}
    for i in range(L):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1.0 + normal((C,), 0.1)
        w[p + "ln_1.bias"] = normal((C,), 0.1)
        w[p + "attn.c_attn.weight"] = matrix((C, 3 * C), 0.3)  # Conv1D: [in, out]
        w[p + "attn.c_attn.bias"] = normal((3 * C,), 0.1)
        w[p + "attn.c_proj.weight"] = matrix((C, C), 0.2)
        w[p + "attn.c_proj.bias"] = normal((C,), 0.1)
        w[p + "ln_2.weight"] = 1.0 + normal((C,), 0.1)
        w[p + "ln_2.bias"] = normal((C,), 0.1)
        w[p + "mlp.c_fc.weight"] = matrix((C, 4 * C), 0.2)
        w[p + "mlp.c_fc.bias"] = normal((4 * C,), 0.1)
        w[p + "mlp.c_proj.weight"] = matrix((4 * C, C), 0.1)
        w[p + "mlp.c_proj.bias"] = normal((C,), 0.1)
    w["ln_f.weight"] = 1.0 + normal((C,), 0.1)
    w["ln_f.bias"] = normal((C,), 0.1)

    os.makedirs(a.out, exist_ok=True)
    save_safetensors(os.path.join(a.out, "model.safetensors"), w)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": VOCAB,
              "n_positions": N_POS_, "n_ctx": N_POS_, "n_embd": C, "n_layer": L, "n_head": a.n_head,
              "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "bos_token_id": 50256,
              "eos_token_id": 50256, "tie_word_embeddings": True}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copyfile(a.vocab, os.path.join(a.out, "vocab.json"))
    shutil.copyfile(a.merges, os.path.join(a.out, "merges.txt"))


if __name__ == "__main__":
    main()
