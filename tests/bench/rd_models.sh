#!/usr/bin/env bash
# Rate-distortion of whole trained models: the default Mini GPT-2
# (resources/models/mini-shakespeare) compressed to .rbe files with each codec
# and rate, then scored on the held-out last 10% of Tiny Shakespeare (the
# split rbe-train held out: train/text_dataset.h), timed with rbe-bench, and
# tabulated against the uncompressed checkpoint. Not run by CTest.
#
# Usage: tests/bench/rd_models.sh [BUILD_DIR] [OUT_DIR]    (defaults: build, a temporary folder)
#   THREADS=2 (rbe-infer / rbe-bench / rbe-convert threads), CALIB_TOKENS=16384
#   MODEL=DIR (default: the Mini; any checkpoint trained on Tiny Shakespeare, e.g. the 4 x 384 one of
#   docs/compression.md), CONFIGS=all|goals (goals: the baselines and the issue's whole-file goals only)
# Writes OUT_DIR/rd.jsonl (one JSON line per configuration) and prints a
# Markdown table on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build}
out=${2:-}
if [[ -z $out ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
threads=${THREADS:-2}
calib_tokens=${CALIB_TOKENS:-16384}
model=${MODEL:-$src/resources/models/mini-shakespeare}
data=$src/../shared/data/tinyshakespeare.txt
convert=$build/app/rbe-convert
infer=$build/app/rbe-infer
bench=$build/app/rbe-bench
[[ -f $data ]] || { echo "rd_models: $data not found" >&2; exit 1; }

# Calibration text: the start of the training split, never the held-out part.
head -c $(( $(wc -c <"$data") * 9 / 10 )) "$data" >"$out/calib.txt"

configs=(
  "f16|--codec f16"
  "q8_0|--codec q8_0"
  "q4_0|--codec q4_0"
  "q4_0 +calib|--codec q4_0 --calib $out/calib.txt --calib-tokens $calib_tokens"
  "rbe fixed 4.5|--codec rbe --storage fixed --bpw 4.5"
  "rbe fixed 4.5 +calib|--codec rbe --storage fixed --bpw 4.5 --calib $out/calib.txt --calib-tokens $calib_tokens"
  "rbe fixed 4.25|--codec rbe --storage fixed --bpw 4.25"
  "rbe fixed 4.25 +calib|--codec rbe --storage fixed --bpw 4.25 --calib $out/calib.txt --calib-tokens $calib_tokens"
  "rbe fixed 3.25|--codec rbe --storage fixed --bpw 3.25"
  "rbe fixed 3.25 +calib|--codec rbe --storage fixed --bpw 3.25 --calib $out/calib.txt --calib-tokens $calib_tokens"
  "rbe fixed 2.25|--codec rbe --storage fixed --bpw 2.25"
  "rbe fixed 2.25 +calib|--codec rbe --storage fixed --bpw 2.25 --calib $out/calib.txt --calib-tokens $calib_tokens"
  "rbe entropy 4|--codec rbe --storage entropy --bpw 4"
  "rbe entropy 3|--codec rbe --storage entropy --bpw 3"
  "rbe entropy 2|--codec rbe --storage entropy --bpw 2"
  # The position table is raw f32 by default (1.26 of the Mini's file bits/weight): the same, with it in q8_0.
  "rbe fixed 4.25 +calib, wpe q8_0|--codec rbe --storage fixed --bpw 4.25 --calib $out/calib.txt --calib-tokens $calib_tokens --override wpe.weight=codec:q8_0"
  "rbe fixed 3.25 +calib, wpe q8_0|--codec rbe --storage fixed --bpw 3.25 --calib $out/calib.txt --calib-tokens $calib_tokens --override wpe.weight=codec:q8_0"
  "rbe entropy 4, wpe q8_0|--codec rbe --storage entropy --bpw 4 --override wpe.weight=codec:q8_0"
  "rbe entropy 3, wpe q8_0|--codec rbe --storage entropy --bpw 3 --override wpe.weight=codec:q8_0"
  "rbe fixed 3.5 +calib, wpe q8_0|--codec rbe --storage fixed --bpw 3.5 --calib $out/calib.txt --calib-tokens $calib_tokens --override wpe.weight=codec:q8_0"
  "rbe entropy 3.5, wpe q8_0|--codec rbe --storage entropy --bpw 3.5 --override wpe.weight=codec:q8_0"
  "rbe entropy 2.5, wpe q8_0|--codec rbe --storage entropy --bpw 2.5 --override wpe.weight=codec:q8_0"
)

if [[ ${CONFIGS:-all} == goals ]]; then
  configs=(
    "q8_0|--codec q8_0"
    "q4_0|--codec q4_0"
    "q4_0 +calib|--codec q4_0 --calib $out/calib.txt --calib-tokens $calib_tokens"
    "rbe fixed 4.25 +calib, wpe q8_0|--codec rbe --storage fixed --bpw 4.25 --calib $out/calib.txt --calib-tokens $calib_tokens --override wpe.weight=codec:q8_0"
    "rbe entropy 9, wpe entropy 9|--codec rbe --storage entropy --bpw 9 --override wpe.weight=codec:rbe,storage:entropy,bpw:9"
    "rbe entropy 8, wpe entropy 8|--codec rbe --storage entropy --bpw 8 --override wpe.weight=codec:rbe,storage:entropy,bpw:8"
    "rbe entropy 3.75, wpe entropy 4|--codec rbe --storage entropy --bpw 3.75 --override wpe.weight=codec:rbe,storage:entropy,bpw:4"
    "rbe entropy 2.8, wpe entropy 3|--codec rbe --storage entropy --bpw 2.8 --override wpe.weight=codec:rbe,storage:entropy,bpw:3"
  )
fi

# measure NAME MODEL_PATH REPORT_JSON ENCODE_SECONDS: one JSON line.
measure() {
  local name=$1 path=$2 report=$3 secs=$4
  local ev bj
  ev=$("$infer" --model "$path" --eval "$data" --threads "$threads")
  bj=$("$bench" --model "$path" --threads "$threads" --prompt-tokens 64 --gen-tokens 128 --json 2>/dev/null) || bj=null
  local size
  # A checkpoint folder: its weights only (a training checkpoint also holds optimizer state).
  if [[ -d $path ]]; then size=$(du -cb "$path"/model*.safetensors | tail -1 | cut -f1); else size=$(stat -c %s "$path"); fi
  /usr/bin/python3 - "$name" "$ev" "$bj" "$report" "$size" "$secs" <<'PY' >>"$out/rd.jsonl"
import json, sys
name, ev, bj, report, size, secs = sys.argv[1:7]
ev, bj = json.loads(ev), json.loads(bj)
row = {"name": name, "loss": ev["loss"], "perplexity": ev["perplexity"], "tokens": ev["tokens"], "file_bytes": int(size),
       "encode_seconds": float(secs) if secs else None,
       "gen_ms_per_token": bj["gen_ms_per_token"] if bj else None}
if report:
    r = json.load(open(report))
    t = r["totals"]
    row.update(bits_per_weight=t["bits_per_weight"], matrix_bits_per_weight=t["encoded"]["bits_per_weight"],
               matrix_rel_rmse=t["encoded"]["rel_rmse"], weights=t["weights"])
print(json.dumps(row))
PY
}

: >"$out/rd.jsonl"
measure "uncompressed checkpoint" "$model" "" ""
for c in "${configs[@]}"; do
  name=${c%%|*}
  args=${c#*|}
  file="$out/$(echo "$name" | tr ' +.,' '_pp_').rbe"
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$convert" --model "$model" --out "$file" --report "$file.json" --threads "$threads" $args >/dev/null 2>"$file.log" ||
    { cat "$file.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  measure "$name" "$file" "$file.json" "$(echo "$t1 - $t0" | bc)"
  echo "rd_models: $name done" >&2
done

/usr/bin/python3 - "$out/rd.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = rows[0]
n = None
for r in rows:
    if "weights" in r: n = r["weights"]
base["bits_per_weight"] = 8 * base["file_bytes"] / n
print("| configuration | bits/weight (file, all) | bits/weight (matrices) | file | val loss | perplexity | loss vs uncompressed | generation tok/s | convert s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    rise = 100 * (r["loss"] - base["loss"]) / base["loss"]
    tps = f"{1000 / r['gen_ms_per_token']:.0f}" if r.get("gen_ms_per_token") else "n/a"
    mb = r.get("matrix_bits_per_weight")
    print(f"| {r['name']} | {r['bits_per_weight']:.3f} | {mb:.3f} | {r['file_bytes'] / 1e6:.3f} MB | {r['loss']:.4f} | "
          f"{r['perplexity']:.3f} | {rise:+.2f}% | {tps} | {r['encode_seconds'] or 0:.1f} |"
          if mb is not None else
          f"| {r['name']} | {r['bits_per_weight']:.3f} | {round(r['bits_per_weight'])} | {r['file_bytes'] / 1e6:.3f} MB | {r['loss']:.4f} | "
          f"{r['perplexity']:.3f} | +0.00% | {tps} | - |")
PY
