#!/usr/bin/env bash
# The generation bar of issue 3, measured as the issue defines it, several
# times: `rbe-bench --preset 117M --dtype f32|f16 --threads 2 --json`, the two
# dtypes alternating (this VM's memory speed drifts over minutes), then each
# run's efficiency (gen_ms_limit / gen_ms_per_token: the bandwidth limit over
# the measured time; the probe, the fastest loop's median over one read after
# each timed token, and that loop's range) and, per dtype, the lowest, median
# and highest, and how many runs reached 90%. The last column is the
# efficiency against the probe's estimator before the thirtieth session (the
# median of each token's fastest loop: bandwidth_gbs_per_token_max), for
# comparison with earlier figures.
# Usage: tests/bench/bandwidth_bar.sh [BUILD_DIR] [RUNS]   (defaults: build, 5)
# Environment: KV_CACHE=f32|f16 passes --kv-cache (default: rbe-bench's auto, an f16
# cache for f16 weights and an f32 one for f32); PRESET picks another of rbe-bench's
# shapes (default 117M, the issue's; 345M, 762M, 1.5B: GPT-2 medium, large, XL).
set -euo pipefail
build=${1:-build}
runs=${2:-5}
bench=$build/app/rbe-bench
[[ -x $bench ]] || { echo "missing $bench (build it first)" >&2; exit 1; }
preset=${PRESET:-117M}
extra=()
[[ -n ${KV_CACHE:-} ]] && extra=(--kv-cache "$KV_CACHE")
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for ((r = 1; r <= runs; r++)); do
  for dtype in f32 f16; do
    echo "run $r/$runs: $preset $dtype" >&2
    "$bench" --preset "$preset" --dtype "$dtype" --threads 2 --json "${extra[@]}" |
      /usr/bin/python3 -c 'import json, sys; j = json.load(sys.stdin); j["dtype"] = sys.argv[1]; print(json.dumps(j))' "$dtype" >>"$out"
  done
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'dtype':<6} {'ms/token':>9} {'limit ms':>9} {'probe GB/s':>11} {'probe range':>12} {'efficiency':>11} {'per-token max':>14}")
def old_eff(j):  # against the median of each token's fastest loop
    return j["gen_ms_limit"] * j["bandwidth_gbs"] / j["bandwidth_gbs_per_token_max"] / j["gen_ms_per_token"]
for j in runs:
    eff = j["gen_ms_limit"] / j["gen_ms_per_token"]
    rng = f"{j['bandwidth_gbs_min']:.1f}-{j['bandwidth_gbs_max']:.1f}"
    print(f"{j['dtype']:<6} {j['gen_ms_per_token']:>9.2f} {j['gen_ms_limit']:>9.2f} {j['bandwidth_gbs']:>11.1f} {rng:>12} {eff:>10.1%}"
          f" {old_eff(j):>13.1%}")
for dtype in ("f32", "f16"):
    effs = [j["gen_ms_limit"] / j["gen_ms_per_token"] for j in runs if j["dtype"] == dtype]
    olds = [old_eff(j) for j in runs if j["dtype"] == dtype]
    print(f"{dtype}: {len(effs)} runs, efficiency {min(effs):.1%} / {statistics.median(effs):.1%} / {max(effs):.1%}"
          f" (lowest / median / highest), {sum(e >= 0.9 for e in effs)} at 90% or more;"
          f" against each token's fastest loop {min(olds):.1%} / {statistics.median(olds):.1%} / {max(olds):.1%},"
          f" {sum(e >= 0.9 for e in olds)} at 90% or more")
PY
