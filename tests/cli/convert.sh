#!/usr/bin/env bash
# CLI test for rbe-convert: HF folder -> GGUF (F32/F16/Q8_0/Q4_0), -> RBE checkpoint,
# -> HF folder; char-tokenizer models; exit codes and error messages.
# (llama.cpp itself is checked by hand: tests/llama_cpp/check_gguf.sh.)
# Usage: convert.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
CONVERT=$BUILD/app/rbe-convert
INFER=$BUILD/app/rbe-infer
TRAIN=$BUILD/app/rbe-train
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

source "$(dirname "$0")/lib/assert.bash"
greedy() { "$INFER" --model "$1" --prompt "Hello, my name is" --temperature 0 --max-tokens 8 --threads 1; }

# Usage errors: exit 2, one line.
expect_rc 0 "$CONVERT" --help
grep -q -- "--to" "$TMP/out" || fail "--help lacks --to"
expect_rc 2 "$CONVERT" --model x --out y --to onnx
one_line_err; err_has "rbe-convert: error"
expect_rc 2 "$CONVERT" --out y --to gguf
one_line_err; err_has "model"
expect_rc 2 "$CONVERT" --model x --out y --to gguf --dtype bf16
one_line_err; err_has "bf16"
expect_rc 1 "$CONVERT" --model "$TMP/nope" --out "$TMP/y.gguf" --to gguf
err_has "rbe-convert: error: .*nope"

# A character-tokenizer model: GGUF refused, HF falls back to our layout.
if [[ -f $SRC/../shared/data/tinyshakespeare.txt ]]; then
  head -c 5000 "$SRC/../shared/data/tinyshakespeare.txt" >"$TMP/data.txt"
else
  for i in $(seq 1 100); do echo "To be, or not to be: line $i."; done >"$TMP/data.txt"
fi
echo '{"n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 16, "vocab_size": 1, "tokenizer": "char"}' >"$TMP/tiny.json"
expect_rc 0 "$TRAIN" --data "$TMP/data.txt" --config "$TMP/tiny.json" --steps 1 --batch 2 --ctx 16 --out "$TMP/char" --threads 1
expect_rc 1 "$CONVERT" --model "$TMP/char" --to gguf --out "$TMP/char.gguf"
err_has "character tokenizer"
[[ ! -e $TMP/char.gguf ]] || fail "a refused conversion left $TMP/char.gguf"
[[ -z $(ls "$TMP" | grep tmp) ]] || fail "a refused conversion left a temporary file"
expect_rc 0 "$CONVERT" --model "$TMP/char" --to hf --out "$TMP/char_hf" --dtype f16
err_has "no character tokenizer"
[[ -f $TMP/char_hf/tokenizer.json ]] || fail "char model written without tokenizer.json"
expect_rc 0 "$INFER" --model "$TMP/char_hf" --prompt "To" --temperature 0 --max-tokens 5

# A random GPT-2 with the real tokenizer (needs NumPy and the GPT-2 files).
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null || [[ ! -f $SRC/../shared/data/gpt2/encoder.json ]]; then
  echo "cli convert: OK (GPT-2 part skipped: no /usr/bin/python3 with numpy or no GPT-2 tokenizer files)"
  exit 0
fi
/usr/bin/python3 "$SRC/tests/llama_cpp/make_random_gpt2.py" "$TMP/hf" \
  "$SRC/../shared/data/gpt2/encoder.json" "$SRC/../shared/data/gpt2/vocab.bpe"
want=$(greedy "$TMP/hf")

for dt in f32 f16; do
  expect_rc 0 "$CONVERT" --model "$TMP/hf" --to gguf --out "$TMP/m_$dt.gguf" --dtype $dt
  err_has "wrote .*m_$dt.gguf (GGUF v3, arch gpt2, 29 tensors"
  [[ $(head -c 4 "$TMP/m_$dt.gguf") == GGUF ]] || fail "m_$dt.gguf lacks the GGUF magic"
done
f32=$(stat -c %s "$TMP/m_f32.gguf"); f16=$(stat -c %s "$TMP/m_f16.gguf")
(( f16 < f32 * 6 / 10 )) || fail "F16 GGUF ($f16 bytes) is not about half the F32 one ($f32 bytes)"

# HF -> RBE checkpoint -> HF: the same greedy text all the way.
# (The copy is also named "hf", so that general.name and hence the GGUF bytes match.)
expect_rc 0 "$CONVERT" --model "$TMP/hf" --to rbe --out "$TMP/rbe/hf"
[[ -f $TMP/rbe/hf/vocab.json && -f $TMP/rbe/hf/merges.txt ]] || fail "rbe layout lacks the tokenizer files"
[[ $(greedy "$TMP/rbe/hf") == "$want" ]] || fail "greedy text differs after --to rbe"
expect_rc 0 "$CONVERT" --model "$TMP/rbe/hf" --to hf --out "$TMP/hf2"
err_has "HuggingFace layout"
[[ $(greedy "$TMP/hf2") == "$want" ]] || fail "greedy text differs after --to hf"
expect_rc 0 "$CONVERT" --model "$TMP/hf" --to hf --out "$TMP/hf16" --dtype f16
a=$(stat -c %s "$TMP/hf/model.safetensors"); b=$(stat -c %s "$TMP/hf16/model.safetensors")
(( b < a * 6 / 10 )) || fail "--to hf --dtype f16 did not halve model.safetensors ($a -> $b bytes)"
expect_rc 0 "$INFER" --model "$TMP/hf16" --prompt "Hi" --max-tokens 4
expect_rc 0 "$CONVERT" --model "$TMP/rbe/hf" --to gguf --out "$TMP/from_rbe.gguf"
cmp -s "$TMP/from_rbe.gguf" "$TMP/m_f32.gguf" || fail "GGUF from the RBE copy differs from GGUF from the HF folder"

# GGUF back to a folder (gguf_import.h): the same greedy text.
expect_rc 0 "$CONVERT" --model "$TMP/m_f32.gguf" --to rbe --out "$TMP/from_gguf"
err_has "gguf: 2 layers"
[[ $(greedy "$TMP/from_gguf") == "$want" ]] || fail "greedy text differs after GGUF -> rbe"
printf 'GGUF\3\0\0\0' >"$TMP/bad.gguf"
expect_rc 1 "$CONVERT" --model "$TMP/bad.gguf" --to rbe --out "$TMP/nothing"
err_has "bad.gguf: file too small"

# A compressed .rbe file of the GPT-2 (its BPE tokenizer travels inside): f32
# keeps the greedy text; back to HF and GGUF (decompressed) it matches the originals.
expect_rc 0 "$CONVERT" --model "$TMP/hf" --out "$TMP/m.rbe" --codec f32
[[ $(greedy "$TMP/m.rbe") == "$want" ]] || fail "greedy text differs from the f32 .rbe file"
echo "Hello world<|endoftext|>" | "$INFER" --model "$TMP/m.rbe" --tokenize >"$TMP/ids_rbe"
echo "Hello world<|endoftext|>" | "$INFER" --model "$TMP/hf" --tokenize >"$TMP/ids_hf"
cmp -s "$TMP/ids_rbe" "$TMP/ids_hf" || fail "the .rbe file's tokenizer differs: $(cat "$TMP/ids_rbe") vs $(cat "$TMP/ids_hf")"
expect_rc 0 "$CONVERT" --model "$TMP/m.rbe" --to hf --out "$TMP/from_rbe_file"
[[ $(greedy "$TMP/from_rbe_file") == "$want" ]] || fail "greedy text differs after .rbe -> hf"
expect_rc 0 "$CONVERT" --model "$TMP/m.rbe" --to gguf --out "$TMP/from_rbe_file.gguf"
err_has "wrote .*from_rbe_file.gguf (GGUF v3, arch gpt2, 29 tensors"
expect_rc 0 "$CONVERT" --model "$TMP/hf" --out "$TMP/q8.rbe" --codec q8_0
expect_rc 0 "$INFER" --model "$TMP/q8.rbe" --prompt "Hi" --max-tokens 4

# Quantized GGUF (Q8_0 / Q4_0 blocks = our q8_0 / q4_0 payloads): rbe-infer runs
# it packed from the file, with exactly the .rbe file's bytes, hence its greedy text.
expect_rc 2 "$CONVERT" --model "$TMP/hf" --to hf --out "$TMP/nothing" --dtype q8_0
one_line_err; err_has "only for --to gguf"
expect_rc 0 "$CONVERT" --model "$TMP/hf" --out "$TMP/q4.rbe" --codec q4_0
for q in q8_0 q4_0; do
  rbe=$TMP/q${q:1:1}.rbe
  expect_rc 0 "$CONVERT" --model "$TMP/hf" --to gguf --out "$TMP/m_$q.gguf" --dtype $q
  err_has "$q matrices: 0 copied from .*, 10 encoded"
  err_has "wrote .*m_$q.gguf (GGUF v3, arch gpt2, 29 tensors, ${q^^}"
  [[ $(greedy "$TMP/m_$q.gguf") == "$(greedy "$rbe")" ]] || fail "greedy text of m_$q.gguf differs from $rbe"
  # From the .rbe file: its blocks copied, so the very same file (the copy is
  # named "hf" for the same general.name; .rbe files are known by their magic).
  mkdir -p "$TMP/rbe_$q" && cp "$rbe" "$TMP/rbe_$q/hf"
  expect_rc 0 "$CONVERT" --model "$TMP/rbe_$q/hf" --to gguf --out "$TMP/from_rbe_$q.gguf" --dtype $q
  err_has "$q matrices: 10 copied from .*rbe_$q/hf, 0 encoded"
  cmp -s "$TMP/from_rbe_$q.gguf" "$TMP/m_$q.gguf" || fail "GGUF $q from the .rbe file differs from GGUF $q from the HF folder"
done
q8=$(stat -c %s "$TMP/m_q8_0.gguf"); q4=$(stat -c %s "$TMP/m_q4_0.gguf")
(( q8 < f16 && q4 < q8 )) || fail "GGUF sizes not in order: f16 $f16, q8_0 $q8, q4_0 $q4 bytes"
# GPTQ-rounded blocks (calibrated) are not what re-encoding their decode gives:
# the GGUF must copy them. Same bytes -> bit-identical loss.
expect_rc 0 "$CONVERT" --model "$TMP/hf" --out "$TMP/q8c.rbe" --codec q8_0 --calib "$TMP/data.txt" --calib-tokens 256
expect_rc 0 "$CONVERT" --model "$TMP/q8c.rbe" --to gguf --out "$TMP/q8c.gguf" --dtype q8_0
err_has "q8_0 matrices: 10 copied"
loss_rbe=$("$INFER" --model "$TMP/q8c.rbe" --eval "$TMP/data.txt" --threads 1)
loss_gguf=$("$INFER" --model "$TMP/q8c.gguf" --eval "$TMP/data.txt" --threads 1)
[[ $loss_rbe == "$loss_gguf" ]] || fail "calibrated q8_0: .rbe $loss_rbe but GGUF $loss_gguf"
# Q8_0 GGUF -> Q4_0 GGUF re-encodes; -> Q8_0 copies.
expect_rc 0 "$CONVERT" --model "$TMP/m_q8_0.gguf" --to gguf --out "$TMP/again.gguf" --dtype q8_0
err_has "10 copied"
expect_rc 0 "$CONVERT" --model "$TMP/m_q8_0.gguf" --to gguf --out "$TMP/again.gguf" --dtype q4_0
err_has "0 copied from .*, 10 encoded"
# Rows that are not whole 32-weight blocks, and a truncated file: clear errors.
/usr/bin/python3 "$SRC/tests/llama_cpp/make_random_gpt2.py" "$TMP/hf48" \
  "$SRC/../shared/data/gpt2/encoder.json" "$SRC/../shared/data/gpt2/vocab.bpe" --n-embd 48 --n-head 4 --n-layer 1
expect_rc 1 "$CONVERT" --model "$TMP/hf48" --to gguf --out "$TMP/x48.gguf" --dtype q4_0
err_has "rbe-convert: error: .*blocks of 32 weights, but 'token_embd.weight'.*rows of 48"
[[ ! -e $TMP/x48.gguf ]] || fail "a refused conversion left x48.gguf"
head -c $(( q8 - 100 )) "$TMP/m_q8_0.gguf" >"$TMP/cut.gguf"
expect_rc 1 "$INFER" --model "$TMP/cut.gguf" --prompt "Hi" --max-tokens 2
one_line_err; err_has "cut.gguf: tensor 'output.weight'.*outside the data section"

echo "cli convert: OK"
