#!/usr/bin/env bash
# Training speed of the Mini GPT-2 (batch 16, context 256): our engine
# (bench_train) and PyTorch (torch_train_mini.py) at 1 and 2 threads, in one
# run, then the ratio of the best setting of each.
# Usage: tests/bench/train_speed.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/tests/bench_train" --benchmark_format=json >"$out/rbe.json"
for t in 1 2; do
  OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 "$here/torch_train_mini.py" --threads $t --steps 20 \
    >>"$out/torch.jsonl"
done

/usr/bin/python3 - "$out/rbe.json" "$out/torch.jsonl" <<'PY'
import json, sys
rbe = json.load(open(sys.argv[1]))
torch = [json.loads(l) for l in open(sys.argv[2])]
rows = []
for b in rbe["benchmarks"]:
    threads = int(b["name"].split("/")[1])
    rows.append(("rbe", threads, b["tokens_per_s"]))
for t in torch:
    rows.append((f"pytorch {t['torch']}", t["threads"], t["tokens_per_s"]))
print(f"{'engine':<20} {'threads':>7} {'tokens/s':>10}")
for name, th, tps in rows:
    print(f"{name:<20} {th:>7} {tps:>10.0f}")
best_rbe = max(r[2] for r in rows if r[0] == "rbe")
best_torch = max(r[2] for r in rows if r[0] != "rbe")
print(f"best rbe / best pytorch = {best_rbe / best_torch:.2f}x")
PY
