#!/usr/bin/env bash
# CLI test for rbe-train and rbe-infer: a tiny model trained for a few steps,
# resumed, sampled from and evaluated; exit codes and error messages.
# Usage: train_infer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
TRAIN=$BUILD/app/rbe-train
INFER=$BUILD/app/rbe-infer
[[ -x $TRAIN ]] || TRAIN=$BUILD/rbe-train
[[ -x $INFER ]] || INFER=$BUILD/rbe-infer
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc CODE CMD...: runs CMD, checks its exit code, keeps stderr in $TMP/err.
expect_rc() {
  local want=$1; shift
  local rc=0
  "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc == "$want" ]] || { cat "$TMP/err" >&2; fail "exit code $rc (want $want): $*"; }
}
err_has() { grep -q -- "$1" "$TMP/err" || { cat "$TMP/err" >&2; fail "stderr lacks '$1'"; }; }
one_line_err() { [[ $(wc -l <"$TMP/err") == 1 ]] || { cat "$TMP/err" >&2; fail "stderr is not one line"; }; }

# Data: the start of Tiny Shakespeare, or a made-up text when it is absent.
DATA=$TMP/data.txt
if [[ -f $SRC/../shared/data/tinyshakespeare.txt ]]; then
  head -c 20000 "$SRC/../shared/data/tinyshakespeare.txt" >"$DATA"
else
  for i in $(seq 1 300); do echo "To be, or not to be: line $i of the play."; done >"$DATA"
fi
cat >"$TMP/tiny.json" <<'JSON'
{"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 32, "vocab_size": 1, "tokenizer": "char"}
JSON

# --help
expect_rc 0 "$TRAIN" --help
grep -q -- "--data" "$TMP/out" || fail "rbe-train --help lacks --data"
expect_rc 0 "$INFER" --help
grep -q -- "--temperature" "$TMP/out" || fail "rbe-infer --help lacks --temperature"

# Bad arguments: one line, exit 2.
expect_rc 2 "$TRAIN" --data "$DATA" --out "$TMP/x" --preset mini --bogus
one_line_err; err_has "rbe-train: error"
expect_rc 2 "$TRAIN" --data "$DATA" --out "$TMP/x" --preset mini --steps abc
one_line_err
expect_rc 2 "$TRAIN" --out "$TMP/x" --preset mini
one_line_err; err_has "data"
expect_rc 2 "$TRAIN" --data "$DATA" --out "$TMP/x"
one_line_err; err_has "preset"
expect_rc 2 "$TRAIN" --data "$DATA" --out "$TMP/x" --preset mini --config "$TMP/tiny.json"
one_line_err
expect_rc 2 "$INFER" --model "$TMP/x" --top-p 2
one_line_err
expect_rc 2 "$INFER"
one_line_err; err_has "model"

# Runtime errors: exit 1 with "<prog>: error: <message>".
expect_rc 1 "$TRAIN" --data "$TMP/missing.txt" --out "$TMP/x" --preset mini
err_has "rbe-train: error: .*missing.txt: no such file"
: >"$TMP/empty.txt"
expect_rc 1 "$TRAIN" --data "$TMP/empty.txt" --out "$TMP/x" --preset mini
err_has "rbe-train: error: .*empty.txt: file is empty"
echo '{"n_layer": 1, "n_embd": 30, "n_head": 4, "n_positions": 32, "vocab_size": 1, "tokenizer": "char"}' >"$TMP/bad.json"
expect_rc 1 "$TRAIN" --data "$DATA" --out "$TMP/x" --config "$TMP/bad.json"
err_has "n_embd (30) is not divisible by n_head (4)"
echo '{"n_layer": 1, "n_embd": 32' >"$TMP/broken.json"
expect_rc 1 "$TRAIN" --data "$DATA" --out "$TMP/x" --config "$TMP/broken.json"
err_has "broken.json: invalid JSON"
expect_rc 1 "$TRAIN" --data "$DATA" --out "$TMP/x" --config "$TMP/tiny.json" --ctx 64
err_has "exceeds the model's context"
expect_rc 1 "$INFER" --model "$TMP/nope"
err_has "rbe-infer: error: .*nope"

# Train a tiny model: 4 steps, then resume to 6.
COMMON=(--data "$DATA" --batch 4 --ctx 32 --lr 3e-3 --min-lr 3e-3 --warmup 1 --seed 7 --threads 2 --eval-batches 2)
expect_rc 0 "$TRAIN" "${COMMON[@]}" --config "$TMP/tiny.json" --steps 6 --eval-every 3 --out "$TMP/full" --log "$TMP/full.jsonl"
expect_rc 0 "$TRAIN" "${COMMON[@]}" --config "$TMP/tiny.json" --steps 6 --out "$TMP/half" --log "$TMP/half.jsonl" --save-every 3
err_has "step 6/6"
for f in model.safetensors config.json tokenizer.json optimizer.safetensors train_state.json; do
  [[ -f $TMP/full/$f ]] || fail "checkpoint lacks $f"
done
# A separate checkpoint at step 3 to resume from (constant lr: the schedule does not depend on --steps).
expect_rc 0 "$TRAIN" "${COMMON[@]}" --config "$TMP/tiny.json" --steps 3 --out "$TMP/part"
expect_rc 0 "$TRAIN" "${COMMON[@]}" --resume "$TMP/part" --steps 6 --out "$TMP/resumed" --log "$TMP/resumed.jsonl"
err_has "resuming from"

python3 - "$TMP" <<'PY'
import json, sys
tmp = sys.argv[1]
full = [json.loads(l) for l in open(f"{tmp}/full.jsonl")]
assert [r["step"] for r in full] == [1, 2, 3, 4, 5, 6], full
for r in full:
    assert set(r) >= {"step", "loss", "lr", "tokens_per_s"}, r
assert "val_loss" in full[2] and "val_loss" in full[5] and "val_loss" not in full[0], full
half = [json.loads(l) for l in open(f"{tmp}/half.jsonl")]
assert [r["loss"] for r in half] == [r["loss"] for r in full], "same seed, same losses"
resumed = [json.loads(l) for l in open(f"{tmp}/resumed.jsonl")]
assert [r["step"] for r in resumed] == [4, 5, 6], resumed
for a, b in zip(resumed, full[3:]):
    assert abs(a["loss"] - b["loss"]) < 1e-4, (a, b)
state = json.load(open(f"{tmp}/resumed/train_state.json"))
assert state["step"] == 6 and state["seed"] == 7, state
cfg = json.load(open(f"{tmp}/full/config.json"))
tok = json.load(open(f"{tmp}/full/tokenizer.json"))
assert tok["type"] == "char" and cfg["vocab_size"] == len(tok["vocab"]), (cfg, tok)
PY

# Generation: streams exactly --max-tokens characters; greedy is repeatable.
expect_rc 0 "$INFER" --model "$TMP/full" --prompt "ROMEO:" --max-tokens 25 --seed 3 --threads 2
[[ $(wc -c <"$TMP/out") == 25 ]] || fail "expected 25 generated bytes, got $(wc -c <"$TMP/out")"
expect_rc 0 "$INFER" --model "$TMP/full" --prompt "To be" --temperature 0 --max-tokens 15
cp "$TMP/out" "$TMP/greedy1"
expect_rc 0 "$INFER" --model "$TMP/full" --prompt "To be" --temperature 0 --max-tokens 15
cmp -s "$TMP/out" "$TMP/greedy1" || fail "greedy generation differs between runs"
expect_rc 0 "$INFER" --model "$TMP/full" --max-tokens 10 --top-k 5 --top-p 0.9 --repetition-penalty 1.2
expect_rc 1 "$INFER" --model "$TMP/full" --prompt "~~~\`" --max-tokens 5
err_has "not in the vocabulary"

# Evaluation: one JSON line.
expect_rc 0 "$INFER" --model "$TMP/full" --eval "$DATA"
[[ $(wc -l <"$TMP/out") == 1 ]] || fail "--eval printed more than one line"
python3 -c 'import json,sys,math; r=json.load(open(sys.argv[1])); n=int(sys.argv[2]); assert r["tokens"]==n-(n-n//10)-1,(r,n); assert abs(math.exp(r["loss"])-r["perplexity"])<1e-3*r["perplexity"]; assert 0<r["loss"]<10' \
  "$TMP/out" "$(wc -c <"$DATA")"
expect_rc 0 "$INFER" --model "$TMP/full" --eval "$DATA" --eval-all --ctx 16 --stride 8 --batch 16
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["tokens"]==int(sys.argv[2])-1,r' "$TMP/out" "$(wc -c <"$DATA")"
expect_rc 1 "$INFER" --model "$TMP/full" --eval "$TMP/missing.txt"
err_has "rbe-infer: error: .*missing.txt: no such file"
expect_rc 2 "$INFER" --model "$TMP/full" --stride 4
one_line_err

echo "cli train_infer: OK"
