#!/usr/bin/env bash
# Proof that llama.cpp runs the GGUF files rbe-convert writes (run by hand, not
# by CTest: it needs node and the npm package node-llama-cpp, which ships a
# prebuilt CPU llama.cpp).
#
# Builds a small random GPT-2 HF folder with the real 50257-token GPT-2
# tokenizer, converts it to GGUF (F32 and F16), and greedy-generates with
#   - rbe-infer (our engine, from the HF folder),
#   - llama.cpp through node-llama-cpp (1 thread, from the GGUF),
#   - the NumPy reference tests/reference/gpt2_reference.py (float64, F32 only),
# from the same prompt token ids, then compares: llama.cpp's ids must equal the
# reference's (F32), and llama.cpp's text must equal rbe-infer's (F32 and F16).
#
# Usage: tests/llama_cpp/check_gguf.sh BUILD_DIR [TOKENS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: check_gguf.sh BUILD_DIR [TOKENS]}" && pwd)
TOKENS=${2:-16}
CONVERT=$BUILD/app/rbe-convert
INFER=$BUILD/app/rbe-infer
DATA=$SRC/../shared/data/gpt2
PY=/usr/bin/python3
for f in "$CONVERT" "$INFER"; do [[ -x $f ]] || { echo "missing $f (build it first)" >&2; exit 1; }; done
[[ -f $DATA/encoder.json ]] || { echo "missing $DATA/encoder.json" >&2; exit 1; }
if [[ ! -d $HERE/node_modules/node-llama-cpp ]]; then
  (cd "$HERE" && npm i -E node-llama-cpp@3.21.1)
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" "$HERE/make_random_gpt2.py" "$TMP/hf" "$DATA/encoder.json" "$DATA/vocab.bpe"
"$CONVERT" --model "$TMP/hf" --to gguf --out "$TMP/f32.gguf" --dtype f32
"$CONVERT" --model "$TMP/hf" --to gguf --out "$TMP/f16.gguf" --dtype f16

fails=0
check() {  # check PROMPT
  local prompt=$1
  local ids
  ids=$(printf '%s' "$prompt" | "$INFER" --model "$TMP/hf" --tokenize | tr -d '[] \n')
  "$INFER" --model "$TMP/hf" --prompt "$prompt" --temperature 0 --max-tokens "$TOKENS" --threads 1 >"$TMP/rbe.txt"
  for dt in f32 f16; do
    (cd "$HERE" && node generate.mjs "$TMP/$dt.gguf" --prompt "$prompt" --ids "$ids" --tokens "$TOKENS") >"$TMP/llama_$dt.json"
  done
  "$PY" - "$TMP" "$SRC/tests/reference" "$ids" "$TOKENS" "$prompt" <<'PY' || fails=$((fails + 1))
import json, sys
import numpy as np
tmp, refdir, ids, n, prompt = sys.argv[1], sys.argv[2], [int(t) for t in sys.argv[3].split(",")], int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, refdir)
import gpt2_reference as ref

cfg = json.load(open(f"{tmp}/hf/config.json"))
w = ref.read_weights(f"{tmp}/hf")
seq, out, margin = list(ids), [], float("inf")
for _ in range(n):
    logits = ref.forward(cfg, w, np.array(seq))[-1]
    top2 = np.sort(logits)[-2:]
    margin = min(margin, top2[1] - top2[0])
    t = int(np.argmax(logits))
    if t == 50256:
        break
    out.append(t)
    seq.append(t)

rbe = open(f"{tmp}/rbe.txt", "rb").read().decode("utf-8", "replace")
ok = True
print(f"prompt {prompt!r} ids {ids}")
print(f"  reference (numpy f64) ids {out}  (smallest top-1 margin {margin:.3f})")
print(f"  rbe-infer text          {rbe!r}")
for dt in ("f32", "f16"):
    r = json.loads(open(f"{tmp}/llama_{dt}.json").read())
    same_text = r["text"] == rbe
    line = f"  llama.cpp {dt} ids {r['ids']}  text {'==' if same_text else '!='} rbe-infer"
    if dt == "f32":
        line += f"; ids {'==' if r['ids'] == out else '!='} reference"
        ok &= r["ids"] == out
    ok &= same_text
    if r["llama_prompt_ids"] != ids:
        line += f"  (note: llama.cpp tokenizes the prompt as {r['llama_prompt_ids']})"
    print(line)
print("  MATCH" if ok else "  MISMATCH")
sys.exit(0 if ok else 1)
PY
}

check "Hello, my name is"
check "The quick brown fox jumps over the lazy dog."
check "<|endoftext|>"
check "  Ünïcödé, tabs	and 123 numbers: 3.14159!"

if (( fails )); then echo "check_gguf: $fails prompt(s) MISMATCH" >&2; exit 1; fi
echo "check_gguf: all prompts match (llama.cpp == rbe-infer == reference)"
