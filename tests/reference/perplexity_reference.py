#!/usr/bin/python3
"""Sliding-window perplexity of a HuggingFace GPT-2 folder, in NumPy (float64),
for checking `rbe-infer --eval`.

Written from the definition in docs/formats.md, not from our C++: with n
tokens, prediction i (of token i from the tokens before it, 1 <= i < n) is
scored once, in the first window whose end e_k = min(ctx + k * stride, n - 1)
is >= i, from the inputs tokens[max(0, e_k - ctx) : e_k]. The forward pass is
gpt2_reference.py's.

Usage: perplexity_reference.py MODEL_DIR IDS_JSON CTX STRIDE
  IDS_JSON: a file holding a JSON array of token ids.
Prints {"tokens", "loss", "perplexity"} as one JSON line.
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    d, ids_file, ctx, stride = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(ids_file) as f:
        tokens = json.load(f)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = ref.read_weights(d)
    n = len(tokens)
    ends = []  # window ends, increasing, the last one n - 1
    k = 0
    while not ends or ends[-1] < n - 1:
        ends.append(min(ctx + k * stride, n - 1))
        k += 1
    by_window = {}  # window end -> the predictions it scores
    for i in range(1, n):
        e = next(e for e in ends if e >= i)
        by_window.setdefault(e, []).append(i)
    total, count = 0.0, 0
    for e, preds in by_window.items():
        s = max(0, e - ctx)
        logits = ref.forward(cfg, w, np.array(tokens[s:e]))  # row r predicts token s + r + 1
        for i in preds:
            row = logits[i - 1 - s]
            m = row.max()
            total += m + math.log(np.exp(row - m).sum()) - row[tokens[i]]
            count += 1
    loss = total / count
    print(json.dumps({"tokens": count, "loss": loss, "perplexity": math.exp(loss)}))


if __name__ == "__main__":
    main()
