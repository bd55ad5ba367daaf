#!/usr/bin/env bash
# Proof that llama.cpp runs the GGUF files rbe-convert writes (run by hand, not
# by CTest: it needs node and the npm package node-llama-cpp, which ships a
# prebuilt CPU llama.cpp).
#
# Builds a small random GPT-2 HF folder with the real 50257-token GPT-2
# tokenizer, converts it to GGUF (F32, F16, Q8_0, Q4_0), and greedy-generates with
#   - rbe-infer (our engine, from the HF folder; for Q8_0 / Q4_0 from the GGUF
#     itself, run packed, and from the .rbe file rbe-convert --codec writes),
#   - llama.cpp through node-llama-cpp (1 thread, from the GGUF),
#   - the NumPy reference tests/reference/gpt2_reference.py (float64, F32 only),
# from the same prompt token ids, then compares: llama.cpp's ids must equal the
# reference's (F32), and llama.cpp's text must equal rbe-infer's (F32 and F16).
# Q8_0 / Q4_0: rbe-infer must give the same text from the GGUF as from the
# .rbe file (the same blocks); llama.cpp's agreement with it is reported as a
# count of equal leading tokens, not required: both engines quantize the
# activations for these products, each in its own way.
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
for q in q8_0 q4_0; do
  "$CONVERT" --model "$TMP/hf" --to gguf --out "$TMP/$q.gguf" --dtype $q
  "$CONVERT" --model "$TMP/hf" --out "$TMP/$q.rbe" --codec $q >/dev/null
done

fails=0
check() {  # check PROMPT
  local prompt=$1
  local ids
  ids=$(printf '%s' "$prompt" | "$INFER" --model "$TMP/hf" --tokenize | tr -d '[] \n')
  "$INFER" --model "$TMP/hf" --prompt "$prompt" --temperature 0 --max-tokens "$TOKENS" --threads 1 >"$TMP/rbe.txt"
  for q in q8_0 q4_0; do
    for src in gguf rbe; do
      "$INFER" --model "$TMP/$q.$src" --prompt "$prompt" --temperature 0 --max-tokens "$TOKENS" --threads 1 \
        >"$TMP/rbe_${q}_$src.txt"
    done
  done
  for dt in f32 f16 q8_0 q4_0; do
    (cd "$HERE" && node generate.mjs "$TMP/$dt.gguf" --prompt "$prompt" --ids "$ids" --tokens "$TOKENS") >"$TMP/llama_$dt.json"
  done
  "$PY" - "$TMP" "$SRC/tests/reference" "$ids" "$TOKENS" "$prompt" "$DATA/encoder.json" <<'PY' || fails=$((fails + 1))
import json, sys
import numpy as np
tmp, refdir, ids, n, prompt = sys.argv[1], sys.argv[2], [int(t) for t in sys.argv[3].split(",")], int(sys.argv[4]), sys.argv[5]
encoder = json.load(open(sys.argv[6], encoding="utf-8"))
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

# GPT-2's byte-level decoding (ids -> bytes), to count llama.cpp's leading
# tokens whose text begins rbe-infer's (rbe-infer prints text, not ids).
def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, k = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + k)
            k += 1
    return {chr(c): b for b, c in zip(bs, cs)}
byte_of = bytes_to_unicode()
token_bytes = {i: bytes(byte_of[ch] for ch in t) for t, i in encoder.items()}
agree = {}
for q in ("q8_0", "q4_0"):
    ours = open(f"{tmp}/rbe_{q}_gguf.txt", "rb").read()
    from_rbe = open(f"{tmp}/rbe_{q}_rbe.txt", "rb").read()
    r = json.loads(open(f"{tmp}/llama_{q}.json").read())
    k, text = 0, b""
    for t in r["ids"]:
        text += token_bytes[t]
        if not ours.startswith(text):
            break
        k += 1
    same = ours == from_rbe
    ok &= same
    agree[q] = (k, len(r["ids"]), r["text"].encode() == ours)
    print(f"  {q}: rbe-infer text {ours.decode('utf-8', 'replace')!r} (from the GGUF {'==' if same else '!='} from the .rbe file)")
    print(f"        llama.cpp ids {r['ids']}: the first {k} of {len(r['ids'])}, as text, begin rbe-infer's "
          f"(text {'==' if agree[q][2] else '!='})")
with open(f"{tmp}/agree.txt", "a") as f:
    for q, (k, total, same_text) in agree.items():
        f.write(f"{q} {k} {total} {int(same_text)}\n")
print("  MATCH" if ok else "  MISMATCH")
sys.exit(0 if ok else 1)
PY
}

check "Hello, my name is"
check "The quick brown fox jumps over the lazy dog."
check "<|endoftext|>"
check "  Ünïcödé, tabs	and 123 numbers: 3.14159!"

for q in q8_0 q4_0; do
  awk -v q=$q '$1 == q { k += $2; n += $3; same += $4; p++ }
    END { printf "check_gguf: %s: llama.cpp and rbe-infer agree on %d of %d generated tokens (leading); same text on %d of %d prompts\n", q, k, n, same, p }' \
    "$TMP/agree.txt"
done
if (( fails )); then echo "check_gguf: $fails prompt(s) MISMATCH" >&2; exit 1; fi
echo "check_gguf: all prompts match (F32/F16: llama.cpp == rbe-infer == reference; Q8_0/Q4_0: rbe-infer GGUF == .rbe)"
