#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer under AddressSanitizer and
# UndefinedBehaviorSanitizer: safetensors, GGUF (the file, and a GPT-2 from
# it, loaded and run one window), .rbe (loaded and run), a checkpoint's
# config.json (loaded and run), GPT-2 tokenizer files (vocab.json and
# merges.txt, built and run over a text), an HF folder's
# model.safetensors.index.json (loaded and run) and text through the GPT-2
# tokenizer (encoded, then decoded back: GPT-2's own vocabulary from
# ../shared/data/gpt2 when it is there, else the seeds' tiny one). Builds the fuzzing
# configuration (RBE_FUZZ=ON, clang) in its own folder, writes the seeds
# (make_seeds.cpp), then runs each target for SECONDS. The corpus grows in
# BUILD_DIR/fuzz-corpus/<target> across runs; a crash, sanitizer report,
# timeout (10 s) or allocation over 1 GB stops the script with its input
# saved as BUILD_DIR/fuzz-<target>-{crash,oom,timeout,leak}-* (replay: the
# target's executable with that file as its argument, and the environment
# variables set below).
# Usage: tests/fuzz/run.sh [SECONDS per target, default 60] [BUILD_DIR, default build-fuzz]
set -euo pipefail
secs=${1:-60}
build=${2:-build-fuzz}
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v clang++ >/dev/null || { echo "tests/fuzz/run.sh needs clang++ (Debian: apt-get install clang)" >&2; exit 1; }
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
[[ -f $build/CMakeCache.txt ]] && gen=()
CC=clang CXX=clang++ cmake -S "$src" -B "$build" "${gen[@]}" -DRBE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DRBE_BUILD_GUI=OFF -DBUILD_TESTING=OFF -DRBE_CUDA=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_safetensors fuzz_gguf fuzz_rbe fuzz_config fuzz_gguf_model fuzz_tokenizer \
  fuzz_sharded fuzz_encode fuzz_make_seeds

seeds=$build/fuzz-seeds
"$build/tests/fuzz/fuzz_make_seeds" "$seeds"
export RBE_FUZZ_MODEL=$seeds/model RBE_FUZZ_SHARDED_MODEL=$seeds/hf_sharded RBE_FUZZ_TOKENIZER_DIR=$seeds/tiny_tokenizer
[[ -f $src/../shared/data/gpt2/encoder.json ]] && RBE_FUZZ_TOKENIZER_DIR=$src/../shared/data/gpt2
for t in safetensors gguf gguf_model rbe config tokenizer sharded encode; do
  corpus=$build/fuzz-corpus/$t
  mkdir -p "$corpus"
  log=$build/fuzz-$t.log
  echo "fuzz_$t: ${secs} s (log: $log)"
  status=0
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -artifact_prefix="$build/fuzz-$t-" "$corpus" "$seeds/$t" >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" | tail -n 1 || true
  if ((status != 0)); then
    grep -E -A 30 'ERROR|runtime error|Test unit written' "$log" | head -n 60 >&2
    echo "fuzz_$t failed (exit $status); see $log" >&2
    exit 1
  fi
done
echo "no crash, sanitizer report, timeout or oversized allocation"
