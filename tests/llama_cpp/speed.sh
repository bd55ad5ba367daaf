#!/usr/bin/env bash
# Same-session generation speed: llama.cpp (node-llama-cpp, CPU) against our
# engine (rbe-bench), on the same random GPT-2 in the same forms, run by hand
# on an otherwise idle machine (not in CTest).
#
# The machine's memory speed drifts over minutes to hours, so the two engines
# are measured alternately: for every form and thread count, one llama.cpp run
# and one rbe-bench run back to back (which goes first alternates), the pair
# repeated REPEAT times; the table gives the medians.
#
#   form      llama.cpp runs            we run
#   f32       GGUF F32                  the HF folder, --dtype f32
#   f16       GGUF F16                  the HF folder, --dtype f16
#   q8_0      GGUF Q8_0                 the same GGUF (packed, the same bytes)
#   q4_0      GGUF Q4_0                 the same GGUF (packed, the same bytes)
#   rbe4.25   GGUF Q4_0 (nearest rate)  a .rbe file, --codec rbe --storage fixed --bpw 4.25
#
# Usage: tests/llama_cpp/speed.sh BUILD_DIR [OUT_DIR]
# Environment (defaults in brackets):
#   SHAPE    124M (GPT-2 small: 12 layers, 768, 12 heads, 1024 positions), 345M,
#            762M or 1.5B (GPT-2 medium, large, XL: 24/36/48 layers, 1024/1280/
#            1600 wide; OUT_DIR then needs about 3x the f32 model on disk: 19 GB
#            for 1.5B), or tiny (2 layers, 64 wide, 256 positions: proves the
#            script end to end)                                                 [124M]
#   THREADS  thread counts                                                    ["1 2"]
#   FORMS    forms to run                                  ["f32 f16 q8_0 q4_0 rbe4.25"]
#   REPEAT   pairs of runs per form and thread count                         [3]
#   PROMPT   prompt tokens (one batch)                                        [64]
#   GEN      generated tokens timed, after 4 warm-up tokens                   [64]
#   KV_CACHE our KV cache: auto (rbe-bench's default: f32 for f32 weights,
#            f16 for f16 and packed ones), f32 or f16 (llama.cpp's is f16)    [auto]
# OUT_DIR (default: a new temporary folder) receives the models, runs.jsonl
# (one JSON line per run: the engine's own JSON plus engine, form, threads,
# repeat) and table.md. Models already in OUT_DIR are reused, so a second run
# (other THREADS or FORMS) skips the conversions.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: speed.sh BUILD_DIR [OUT_DIR]}" && pwd)
OUT=${2:-$(mktemp -d /tmp/rbe_speed.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SHAPE=${SHAPE:-124M}
THREADS=${THREADS:-1 2}
FORMS=${FORMS:-f32 f16 q8_0 q4_0 rbe4.25}
REPEAT=${REPEAT:-3}
PROMPT=${PROMPT:-64}
GEN=${GEN:-64}
KV_CACHE=${KV_CACHE:-auto}
CONVERT=$BUILD/app/rbe-convert
BENCH=$BUILD/app/rbe-bench
DATA=$SRC/../shared/data/gpt2
PY=/usr/bin/python3
for f in "$CONVERT" "$BENCH"; do [[ -x $f ]] || { echo "missing $f (build it first)" >&2; exit 1; }; done
[[ -f $DATA/encoder.json ]] || { echo "missing $DATA/encoder.json" >&2; exit 1; }
[[ -d $HERE/node_modules/node-llama-cpp ]] || (cd "$HERE" && npm i -E node-llama-cpp@3.21.1)
case $SHAPE in
  124M | 345M | 762M | 1.5B) shape_args=(--shape "$SHAPE") ;;
  tiny) shape_args=(--n-layer 2 --n-embd 64 --n-head 4 --n-positions 256) ;;
  *) echo "SHAPE must be 124M, 345M, 762M, 1.5B or tiny, not '$SHAPE'" >&2; exit 2 ;;
esac
for form in $FORMS; do
  case $form in f32 | f16 | q8_0 | q4_0 | rbe4.25) ;; *) echo "unknown form '$form'" >&2; exit 2 ;; esac
done

echo "speed: SHAPE=$SHAPE THREADS='$THREADS' FORMS='$FORMS' REPEAT=$REPEAT PROMPT=$PROMPT GEN=$GEN KV_CACHE=$KV_CACHE -> $OUT" >&2
if [[ ! -f $OUT/hf/model.safetensors ]]; then
  "$PY" "$HERE/make_random_gpt2.py" "$OUT/hf" "$DATA/encoder.json" "$DATA/vocab.bpe" "${shape_args[@]}"
fi
for form in $FORMS; do
  case $form in
    f32 | f16 | q8_0 | q4_0)
      [[ -f $OUT/$form.gguf ]] || "$CONVERT" --model "$OUT/hf" --to gguf --dtype "$form" --out "$OUT/$form.gguf" ;;
    rbe4.25)
      [[ -f $OUT/q4_0.gguf ]] || "$CONVERT" --model "$OUT/hf" --to gguf --dtype q4_0 --out "$OUT/q4_0.gguf"
      [[ -f $OUT/rbe4.25.rbe ]] || "$CONVERT" --model "$OUT/hf" --out "$OUT/rbe4.25.rbe" --codec rbe --storage fixed \
        --bpw 4.25 >/dev/null ;;
  esac
done

llama_model() { case $1 in rbe4.25) echo "$OUT/q4_0.gguf" ;; *) echo "$OUT/$1.gguf" ;; esac; }
ours() {  # ours FORM THREADS
  local model
  case $1 in
    f32 | f16) model=(--model "$OUT/hf" --dtype "$1") ;;
    q8_0 | q4_0) model=(--model "$OUT/$1.gguf") ;;
    rbe4.25) model=(--model "$OUT/rbe4.25.rbe") ;;
  esac
  "$BENCH" "${model[@]}" --threads "$2" --prompt-tokens "$PROMPT" --gen-tokens "$GEN" --kv-cache "$KV_CACHE" --json
}
llama() {  # llama FORM THREADS
  (cd "$HERE" && node bench.mjs "$(llama_model "$1")" --threads "$2" --prompt-tokens "$PROMPT" --gen-tokens "$GEN")
}
# The engine's JSON line plus engine, form, repeat and the thread count asked
# for (rbe-bench's own "threads" field reports the machine's concurrency, not
# the --threads limit: it is kept as threads_reported).
record() {  # record ENGINE FORM THREADS REPEAT < one JSON line
  "$PY" -c 'import json, sys
j = json.loads(sys.stdin.read().strip().splitlines()[-1])
j["threads_reported"] = j.get("threads")
j.update(engine=sys.argv[1], form=sys.argv[2], threads=int(sys.argv[3]), repeat=int(sys.argv[4]))
print(json.dumps(j))' "$@" >>"$OUT/runs.jsonl"
}

: >"$OUT/runs.jsonl"
pair=0
for ((r = 1; r <= REPEAT; r++)); do
  for form in $FORMS; do
    for t in $THREADS; do
      echo "  repeat $r/$REPEAT: $form, $t thread(s)" >&2
      if (( pair++ % 2 == 0 )); then
        llama "$form" "$t" | record llama.cpp "$form" "$t" "$r"
        ours "$form" "$t" | record ours "$form" "$t" "$r"
      else
        ours "$form" "$t" | record ours "$form" "$t" "$r"
        llama "$form" "$t" | record llama.cpp "$form" "$t" "$r"
      fi
    done
  done
done

"$PY" - "$OUT/runs.jsonl" "$SHAPE" "$FORMS" "$THREADS" >"$OUT/table.md" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
shape, forms, threads = sys.argv[2], sys.argv[3].split(), [int(t) for t in sys.argv[4].split()]
def med(engine, form, t, key):
    v = [r[key] for r in runs if r["engine"] == engine and r["form"] == form and r["threads"] == t]
    return statistics.median(v) if v else float("nan")
n = max(r["repeat"] for r in runs)
bw = [r["bandwidth_gbs"] for r in runs if r["engine"] == "ours"]
kv = sorted({r.get("kv_cache", "f32") for r in runs if r["engine"] == "ours"})
print(f"Shape {shape}; medians of {n} interleaved pair(s) per row; read bandwidth (rbe-bench's probe) "
      f"{min(bw):.1f} to {max(bw):.1f} GB/s over the run; our KV cache {'/'.join(kv)}, llama.cpp's f16.\n")
print("| form | threads | llama.cpp ms/token | ours ms/token | llama.cpp / ours (>1: ours faster) | llama.cpp prompt tok/s | ours prompt tok/s |")
print("|---|---|---|---|---|---|---|")
for form in forms:
    for t in threads:
        l, o = med("llama.cpp", form, t, "gen_ms_per_token"), med("ours", form, t, "gen_ms_per_token")
        lp, op = med("llama.cpp", form, t, "pp_tokens_per_s"), med("ours", form, t, "pp_tokens_per_s")
        label = "rbe 4.25 (llama.cpp: Q4_0)" if form == "rbe4.25" else form
        print(f"| {label} | {t} | {l:.2f} | {o:.2f} | {l / o:.2f} | {lp:.0f} | {op:.0f} |")
PY
cat "$OUT/table.md"
echo "speed: runs in $OUT/runs.jsonl, table in $OUT/table.md" >&2
