#!/usr/bin/env bash
# The embedded default model loads, generates (with an f32 and an f16 KV
# cache, and with f16 weights), and keeps its validation loss on Tiny
# Shakespeare (docs/training.md: 1.530 nats/char; the issue's bar is 1.80,
# its goal 1.65 — this test holds the goal), with f16 weights within 1e-4 of
# it (the model's weights are f16 values: any difference is the f16
# product's own, the AMX tiles' split operands where the machine has them).
# Usage: default_model.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
INFER=$BUILD/app/rbe-infer
MODEL=$SRC/resources/models/mini-shakespeare
DATA=$SRC/../shared/data/tinyshakespeare.txt

out=$("$INFER" --model "$MODEL" --prompt "ROMEO:" --max-tokens 40 --temperature 0 --seed 1)
[[ ${#out} -ge 20 ]] || { echo "FAIL: generated only '${out}'" >&2; exit 1; }
# With an f16 KV cache too (keys and values rounded: the text may differ, not its length).
out16=$("$INFER" --model "$MODEL" --prompt "ROMEO:" --max-tokens 40 --temperature 0 --seed 1 --kv-cache f16)
[[ ${#out16} -ge 20 ]] || { echo "FAIL: with --kv-cache f16 generated only '${out16}'" >&2; exit 1; }

# With f16 weights: the same greedy text.
out_w16=$("$INFER" --model "$MODEL" --prompt "ROMEO:" --max-tokens 40 --temperature 0 --seed 1 --dtype f16)
[[ $out_w16 == "$out" ]] || { echo "FAIL: --dtype f16 generated '${out_w16}', f32 '${out}'" >&2; exit 1; }

if [[ ! -f $DATA ]]; then
  echo "SKIP: $DATA not found; validation loss not checked"
  exit 0
fi
json=$("$INFER" --model "$MODEL" --eval "$DATA")
json16=$("$INFER" --model "$MODEL" --eval "$DATA" --dtype f16)
echo "$json"
echo "$json16"
python3 - "$json" "$json16" <<'PY'
import json, sys
r, r16 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert r["tokens"] == 111538, r
assert r["loss"] <= 1.65, f"validation loss {r['loss']:.4f} > 1.65"
print(f"validation loss {r['loss']:.4f} nats/char over {r['tokens']} tokens: OK")
assert r16["tokens"] == r["tokens"], r16
assert abs(r16["loss"] - r["loss"]) <= 1e-4, f"f16 weights: loss {r16['loss']:.6f} against {r['loss']:.6f}"
print(f"with f16 weights {r16['loss']:.9f} (f32 {r['loss']:.9f}): OK")
PY
