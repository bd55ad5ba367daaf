#!/usr/bin/env bash
# CLI test for compressed .rbe files: rbe-convert --out X.rbe with q8_0, RBE
# fixed and RBE entropy on the default model; the report JSON; rbe-infer
# --eval on the .rbe files against the original; --to hf back to a folder;
# a truncated file and bad options give clear errors.
# Usage: rbe_convert.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
CONVERT=$BUILD/app/rbe-convert
INFER=$BUILD/app/rbe-infer
MODEL=$SRC/resources/models/mini-shakespeare
DATA=$SRC/../shared/data/tinyshakespeare.txt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib/assert.bash"

# Bad options: exit 2, one line naming the problem.
expect_rc 2 "$CONVERT" --model "$MODEL" --out "$TMP/x.rbe" --codec q3
one_line_err; err_has "codec"
expect_rc 2 "$CONVERT" --model "$MODEL" --out "$TMP/x.rbe" --grade A --bpw 3
one_line_err; err_has "excludes"
expect_rc 2 "$CONVERT" --model "$MODEL" --out "$TMP/x.rbe" --override 'h.*=codec:q9'
one_line_err; err_has "codec: expected"
expect_rc 2 "$CONVERT" --model "$MODEL" --out "$TMP/hf" --to hf --codec q8_0
one_line_err; err_has "only to .rbe output"
[[ -z $(ls "$TMP" | grep -v -x -e out -e err) ]] || fail "refused conversions left files: $(ls "$TMP")"

if [[ -f $DATA ]]; then
  tail -c 8000 "$DATA" >"$TMP/val.txt"  # inside the held-out last 10%
  head -c 20000 "$DATA" >"$TMP/calib.txt"  # training text
else
  for i in $(seq 1 200); do echo "ROMEO: To be, or not to be, line $i."; done >"$TMP/val.txt"
  cp "$TMP/val.txt" "$TMP/calib.txt"
fi
loss() { "$INFER" --model "$1" --eval "$TMP/val.txt" --eval-all --threads 1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["loss"])'; }
base=$(loss "$MODEL")

# convert NAME MAX_REL_INCREASE ARGS...: writes NAME.rbe + report, checks the
# report, evaluates the file and bounds its loss against the original's.
convert() {
  local name=$1 bound=$2; shift 2
  expect_rc 0 "$CONVERT" --model "$MODEL" --out "$TMP/$name.rbe" --report "$TMP/$name.json" --threads 1 "$@"
  err_has "wrote .*$name.rbe (28 tensors"
  grep -q "^total: 1662208 weights" "$TMP/out" || { cat "$TMP/out"; fail "$name: no totals line in the table"; }
  [[ $(head -c 3 "$TMP/$name.rbe") == RBE ]] || fail "$name.rbe lacks the magic"
  local l
  l=$(loss "$TMP/$name.rbe")
  /usr/bin/python3 - "$TMP/$name.json" "$TMP/$name.rbe" "$base" "$l" "$bound" "$name" <<'PY'
import json, os, sys
rep, path, base, loss, bound, name = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
r = json.load(open(rep))
t = r["totals"]
assert t["bytes"] == os.path.getsize(path), (t["bytes"], os.path.getsize(path))
assert t["weights"] == 1662208, t
assert abs(t["bits_per_weight"] - 8 * t["bytes"] / t["weights"]) < 1e-9, t
assert len(r["tensors"]) == 28
for x in r["tensors"]:
    for k in ("name", "shape", "codec", "storage", "bits_per_weight", "rmse", "rel_rmse", "snr_db", "grade_histogram", "bytes"):
        assert k in x, (x["name"], k)
enc = [x for x in r["tensors"] if x["storage"] != "raw"]
assert len(enc) == 9 and all(x["bits_per_weight"] < 16 for x in enc), [(x["name"], x["bits_per_weight"]) for x in enc]
rise = (loss - base) / base
print(f"{name}: {t['bits_per_weight']:.3f} bits/weight (encoded matrices {t['encoded']['bits_per_weight']:.3f}), "
      f"loss {loss:.4f} vs {base:.4f} ({100 * rise:+.2f}%, bound {100 * bound:.0f}%)")
assert rise <= bound, f"{name}: loss rose {100 * rise:.2f}% > {100 * bound:.0f}%"
PY
}
convert q8 0.01 --codec q8_0
grep -q '"codec": "q8_0"' "$TMP/q8.json" || fail "q8.json does not name q8_0"
convert rbe_fixed4 0.05 --codec rbe --storage fixed --bpw 4
convert rbe_entropy 0.05 --codec rbe --storage entropy --bpw 4 --override 'wte.weight=codec:q8_0'
grep -q '"storage": "entropy"' "$TMP/rbe_entropy.json" || fail "rbe_entropy.json has no entropy tensor"
# Calibration runs and records its token count.
convert q4_calib 0.05 --codec q4_0 --calib "$TMP/calib.txt" --calib-tokens 512
grep -q '"tokens": 512' "$TMP/q4_calib.json" || fail "q4_calib.json lacks the calibration token count"

# The .rbe file generates text, tokenizes, and converts back to a folder that loads.
expect_rc 0 "$INFER" --model "$TMP/q8.rbe" --prompt "ROMEO:" --max-tokens 20 --temperature 0 --threads 1
[[ $(wc -c <"$TMP/out") -ge 20 ]] || fail "generation from q8.rbe gave '$(cat "$TMP/out")'"
echo -n "ROMEO" | "$INFER" --model "$TMP/q8.rbe" --tokenize >"$TMP/ids.json"
[[ $(cat "$TMP/ids.json") == "[30,27,25,17,27]" ]] || fail "tokenize via q8.rbe gave $(cat "$TMP/ids.json")"
expect_rc 0 "$CONVERT" --model "$TMP/q8.rbe" --to hf --out "$TMP/q8_dense"
err_has "decompressed 9 matrices"
[[ -f $TMP/q8_dense/model.safetensors && -f $TMP/q8_dense/tokenizer.json ]] || fail "--to hf from .rbe wrote $(ls "$TMP/q8_dense")"
a=$(loss "$TMP/q8.rbe"); b=$(loss "$TMP/q8_dense")
/usr/bin/python3 -c "import sys; a, b = $a, $b; assert abs(a - b) < 1e-3 * a, (a, b); print(f'q8 .rbe {a:.5f} == dense folder {b:.5f}')"

# Damaged files: a clear error, exit 1, no crash.
head -c 5000 "$TMP/q8.rbe" >"$TMP/cut.rbe"
expect_rc 1 "$INFER" --model "$TMP/cut.rbe" --eval "$TMP/val.txt" --eval-all
one_line_err; err_has "rbe-infer: error: .*cut.rbe: truncated"
printf 'RBE\0\2\0\0\0' >"$TMP/v2.rbe"; head -c 100 /dev/zero >>"$TMP/v2.rbe"
expect_rc 1 "$CONVERT" --model "$TMP/v2.rbe" --to hf --out "$TMP/v2_hf"
err_has "unsupported .rbe version 2"
[[ ! -e $TMP/v2_hf ]] || fail "a failed conversion left $TMP/v2_hf"
echo "cli rbe_convert: OK"
