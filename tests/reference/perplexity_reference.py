#!/usr/bin/python3
"""Sliding-window perplexity of a HuggingFace GPT-2 folder, in NumPy (float64),
for checking `rbe-infer --eval`.

Written from the definition in docs/formats.md, not from our C++: with n
tokens, prediction i (of token i from the tokens before it, 1 <= i < n) is
scored once, in the first window whose end e_k = min(ctx + k * stride, n - 1)
is >= i, from the inputs tokens[max(0, e_k - ctx) : e_k]. With WINDOWS = hf,
the loop of the example code in HuggingFace's "Perplexity of fixed-length
models" instead (for `--windows hf`). The forward pass is gpt2_reference.py's.

Usage: perplexity_reference.py MODEL_DIR IDS_JSON CTX STRIDE [once|hf]
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


def nll(row, target):
    m = row.max()
    return m + math.log(np.exp(row - m).sum()) - row[target]


def hf_example(cfg, w, tokens, max_length, stride):
    """HF's loop: labels outside the window's new tokens are -100, the model
    shifts labels left by one, takes the mean over valid labels, and the
    mean is weighted by the valid labels minus the batch size (1)."""
    seq_len = len(tokens)
    nll_sum, n_tokens, prev_end_loc = 0.0, 0, 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = tokens[begin_loc:end_loc]
        target_ids = list(input_ids)
        target_ids[: len(target_ids) - trg_len] = [-100] * (len(target_ids) - trg_len)
        logits = ref.forward(cfg, w, np.array(input_ids))
        losses = [nll(logits[p], t) for p, t in enumerate(target_ids[1:]) if t != -100]
        neg_log_likelihood = sum(losses) / len(losses)
        num_loss_tokens = sum(t != -100 for t in target_ids) - 1
        nll_sum += neg_log_likelihood * num_loss_tokens
        n_tokens += num_loss_tokens
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return n_tokens, nll_sum / n_tokens


def main():
    if len(sys.argv) not in (5, 6) or (len(sys.argv) == 6 and sys.argv[5] not in ("once", "hf")):
        sys.exit(__doc__)
    d, ids_file, ctx, stride = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with open(ids_file) as f:
        tokens = json.load(f)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = ref.read_weights(d)
    if len(sys.argv) == 6 and sys.argv[5] == "hf":
        count, loss = hf_example(cfg, w, tokens, ctx, stride)
        print(json.dumps({"tokens": count, "loss": loss, "perplexity": math.exp(loss)}))
        return
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
            total += nll(logits[i - 1 - s], tokens[i])
            count += 1
    loss = total / count
    print(json.dumps({"tokens": count, "loss": loss, "perplexity": math.exp(loss)}))


if __name__ == "__main__":
    main()
