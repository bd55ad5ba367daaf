#!/usr/bin/env bash
# rbe-bench runs end to end on the default model and on a preset, and its
# JSON carries every documented key with sane values; bad input exits 1 or 2.
# (A smoke test of the tool, not a speed measurement.)
# Usage: bench.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BENCH=$1/app/rbe-bench
MODEL=$2/resources/models/mini-shakespeare

check_json() {
  python3 - "$1" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
for key in ("pp_tokens_per_s", "gen_ms_per_token", "peak_rss_mb", "bandwidth_gbs", "gen_ms_limit"):
    assert key in r, f"missing {key}: {r}"
    assert r[key] > 0, f"{key} = {r[key]}"
print("rbe-bench JSON OK:", {k: round(r[k], 3) for k in ("gen_ms_per_token", "gen_ms_limit", "bandwidth_gbs")})
PY
}

check_json "$("$BENCH" --model "$MODEL" --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 64 --json)"
check_json "$("$BENCH" --preset mini --dtype f16 --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 64 --json)"

rc=0; "$BENCH" --model /nonexistent/model --json 2>/dev/null || rc=$?
[[ $rc == 1 ]] || { echo "FAIL: missing model exited $rc, want 1" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --dtype q3 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: bad --dtype exited $rc, want 2" >&2; exit 1; }
echo "rbe-bench CLI OK"
