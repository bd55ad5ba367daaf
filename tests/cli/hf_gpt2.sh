#!/usr/bin/env bash
# CLI test for rbe-infer on a HuggingFace GPT-2 folder: a small random model
# written by hand (config.json + model.safetensors from NumPy) with the real
# GPT-2 tokenizer files; generation, stop strings, --tokenize/--detokenize,
# sliding-window --eval (against the NumPy reference), and corrupt folders.
# Usage: hf_gpt2.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
INFER=$BUILD/app/rbe-infer
[[ -x $INFER ]] || INFER=$BUILD/rbe-infer
PY=/usr/bin/python3
GPT2=$SRC/../shared/data/gpt2
if [[ ! -f $GPT2/encoder.json || ! -f $GPT2/vocab.bpe ]]; then
  echo "SKIP: $GPT2 (GPT-2 tokenizer files) not found"; exit 0
fi
if ! $PY -c 'import numpy' 2>/dev/null; then
  echo "SKIP: $PY with numpy not found"; exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

source "$(dirname "$0")/lib/assert.bash"

# A random 2-layer GPT-2 (n_embd 32) in HF's layout: "transformer." prefix,
# Conv1D weights [in, out], the attn.bias buffers, no lm_head (tied).
M=$TMP/model
mkdir -p "$M"
$PY - "$M" <<'PY'
import json, struct, sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
C, L, V, P = 32, 2, 50257, 64
t = {}
def add(name, shape, mean=0.0, std=0.15):
    t["transformer." + name] = (mean + std * rng.standard_normal(shape)).astype(np.float32)
add("wte.weight", (V, C), std=0.5)
add("wpe.weight", (P, C), std=0.3)
for l in range(L):
    h = f"h.{l}."
    for ln in ("ln_1", "ln_2"):
        add(h + ln + ".weight", (C,), 1.0, 0.2)
        add(h + ln + ".bias", (C,), 0.0, 0.2)
    add(h + "attn.c_attn.weight", (C, 3 * C)); add(h + "attn.c_attn.bias", (3 * C,))
    add(h + "attn.c_proj.weight", (C, C)); add(h + "attn.c_proj.bias", (C,))
    add(h + "mlp.c_fc.weight", (C, 4 * C)); add(h + "mlp.c_fc.bias", (4 * C,))
    add(h + "mlp.c_proj.weight", (4 * C, C)); add(h + "mlp.c_proj.bias", (C,))
    t["transformer." + h + "attn.bias"] = np.tril(np.ones((1, 1, P, P), dtype=np.float32))
add("ln_f.weight", (C,), 1.0, 0.2)
add("ln_f.bias", (C,), 0.0, 0.2)
header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for name, a in t.items():
    b = a.tobytes()
    header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
    off += len(b)
    blobs.append(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(d + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": L, "n_embd": C, "n_head": 4,
       "n_positions": P, "n_ctx": P, "vocab_size": V, "layer_norm_epsilon": 1e-5,
       "activation_function": "gelu_new", "resid_pdrop": 0.1, "bos_token_id": 50256, "eos_token_id": 50256}
json.dump(cfg, open(d + "/config.json", "w"), indent=2)
PY
cp "$GPT2/encoder.json" "$M/vocab.json"
cp "$GPT2/vocab.bpe" "$M/merges.txt"

# Generation: greedy is deterministic.
expect_rc 0 "$INFER" --model "$M" --prompt "Hello" --temperature 0 --max-tokens 5
cp "$TMP/out" "$TMP/gen1"
expect_rc 0 "$INFER" --model "$M" --prompt "Hello" --temperature 0 --max-tokens 5
cmp -s "$TMP/out" "$TMP/gen1" || fail "greedy generation is not deterministic"

# Stop strings: the output is cut before the first occurrence.
expect_rc 0 "$INFER" --model "$M" --prompt "Hello" --seed 3 --max-tokens 24 --ignore-eot
cp "$TMP/out" "$TMP/long"
# The stop string: 3 bytes from the middle of that output (no backslash: --stop reads escapes).
STOP=$($PY -c '
import sys
t = open(sys.argv[1], "rb").read()
s = next(t[i:i + 3] for i in range(6, len(t) - 2) if not set(t[i:i + 3]) & set(b"\\\0\n"))
sys.stdout.buffer.write(s)' "$TMP/long") || fail "generated text too short for the stop-string check"
expect_rc 0 "$INFER" --model "$M" --prompt "Hello" --seed 3 --max-tokens 24 --ignore-eot --stop="$STOP" --stop "NEVER-HAPPENS"
$PY -c '
import sys
full, cut, stop = open(sys.argv[1],"rb").read(), open(sys.argv[2],"rb").read(), sys.argv[3].encode("utf-8", "surrogateescape")
want = full[:full.find(stop)]
assert cut == want, (cut, want)' "$TMP/long" "$TMP/out" "$STOP" || fail "--stop output is not the text before the stop string"

# --tokenize: <|endoftext|> maps to its id, as HF does; --detokenize inverts it.
printf 'Hello world<|endoftext|> again' >"$TMP/text"
expect_rc 0 "$INFER" --model "$M" --tokenize <"$TMP/text"
[[ $(cat "$TMP/out") == "[15496,995,50256,757]" ]] || fail "--tokenize gave $(cat "$TMP/out")"
cp "$TMP/out" "$TMP/ids.json"
expect_rc 0 "$INFER" --model "$M" --detokenize <"$TMP/ids.json"
cmp -s "$TMP/out" "$TMP/text" || fail "--detokenize did not give the text back: $(cat "$TMP/out")"
echo '[1, "x"]' >"$TMP/bad.json"
expect_rc 1 "$INFER" --model "$M" --detokenize <"$TMP/bad.json"
one_line_err; err_has "entry 1"
echo '[50257]' >"$TMP/bad.json"
expect_rc 1 "$INFER" --model "$M" --detokenize <"$TMP/bad.json"
err_has "not a token id"

# Sliding-window perplexity: one JSON line scoring every token but the first.
DATA=$TMP/eval.txt
if [[ -f $SRC/../shared/data/tinyshakespeare.txt ]]; then
  head -c 1500 "$SRC/../shared/data/tinyshakespeare.txt" >"$DATA"
else
  for i in $(seq 1 30); do echo "To be, or not to be: line $i of the play."; done >"$DATA"
fi
expect_rc 0 "$INFER" --model "$M" --tokenize <"$DATA"
cp "$TMP/out" "$TMP/eval_ids.json"
NTOK=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$TMP/out")
expect_rc 0 "$INFER" --model "$M" --eval "$DATA" --eval-all --ctx 32 --stride 16
[[ $(wc -l <"$TMP/out") == 1 ]] || fail "--eval printed more than one line"
$PY -c '
import json, math, sys
r = json.loads(open(sys.argv[1]).read())
assert set(r) == {"tokens", "loss", "perplexity"}, r
assert r["tokens"] == int(sys.argv[2]) - 1, r
assert r["loss"] > 0 and abs(math.exp(r["loss"]) - r["perplexity"]) < 1e-6 * r["perplexity"], r' "$TMP/out" "$NTOK" \
  || fail "--eval output: $(cat "$TMP/out")"
# The same figures from the NumPy reference (float64, the windows as
# docs/formats.md defines them, or HF's example loop for --windows hf),
# overlapping and not.
for cs in "32 16 once" "32 32 once" "20 7 once" "32 16 hf" "32 32 hf" "20 7 hf"; do
  read -r CTX STRIDE WIN <<<"$cs"
  expect_rc 0 "$INFER" --model "$M" --eval "$DATA" --eval-all --ctx "$CTX" --stride "$STRIDE" --windows "$WIN"
  $PY "$SRC/tests/reference/perplexity_reference.py" "$M" "$TMP/eval_ids.json" "$CTX" "$STRIDE" "$WIN" >"$TMP/ref.json"
  $PY -c '
import json, sys
r, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert r["tokens"] == ref["tokens"], (r, ref)
assert abs(r["loss"] - ref["loss"]) <= 1e-6 * ref["loss"], (r, ref)' "$TMP/out" "$TMP/ref.json" \
    || fail "--eval --ctx $CTX --stride $STRIDE --windows $WIN: $(cat "$TMP/out") against the reference $(cat "$TMP/ref.json")"
done
expect_rc 1 "$INFER" --model "$M" --eval "$DATA" --eval-all --ctx 1 --windows hf
one_line_err; err_has "at least 2"
expect_rc 2 "$INFER" --model "$M" --eval "$DATA" --windows huggingface
expect_rc 1 "$INFER" --model "$M" --eval "$DATA" --eval-all --ctx 128
one_line_err; err_has "n_positions"

# Corrupt folders: exit 1, one clear line naming the file and the problem.
C=$TMP/corrupt
cp -r "$M" "$C"
$PY -c 'import json,sys; c=json.load(open(sys.argv[1])); del c["n_embd"]; json.dump(c, open(sys.argv[1],"w"))' "$C/config.json"
expect_rc 1 "$INFER" --model "$C" --prompt "Hi" --max-tokens 2
one_line_err; err_has "config.json"; err_has "n_embd"
# An absurd size fails at once with a message (it once built 10^9 blocks for minutes).
$PY -c 'import json,sys; c=json.load(open(sys.argv[2])); c["n_layer"] = 10**9; json.dump(c, open(sys.argv[1],"w"))' "$C/config.json" "$M/config.json"
expect_rc 1 "$INFER" --model "$C" --prompt "Hi" --max-tokens 2
one_line_err; err_has "config.json"; err_has "more than this machine's memory"
cp "$M/config.json" "$C/config.json"
truncate -s 100000 "$C/model.safetensors"
expect_rc 1 "$INFER" --model "$C" --prompt "Hi" --max-tokens 2
one_line_err; err_has "model.safetensors"
rm "$C/model.safetensors"
echo "not a pickle" >"$C/pytorch_model.bin"
expect_rc 1 "$INFER" --model "$C" --prompt "Hi" --max-tokens 2
one_line_err; err_has "safe_serialization=True"
expect_rc 1 "$INFER" --model "$TMP/nowhere" --prompt "Hi"
one_line_err; err_has "nowhere"
echo "OK"
