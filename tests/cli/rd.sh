#!/usr/bin/env bash
# CLI test for rbe-rd: a small Gaussian matrix; the table and the JSON are
# well formed, every SNR rises with the rate, RBE stays under the Shannon
# bound and beats plain ECSQ; usage errors exit 2 with one line.
# Usage: rd.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
RD=$BUILD/app/rbe-rd
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib/assert.bash"

expect_rc 0 "$RD" --help
grep -q -- "--bpw" "$TMP/out" || fail "--help lacks --bpw"
expect_rc 2 "$RD" --bpw -1
one_line_err; err_has "rbe-rd: error"
expect_rc 2 "$RD" --rows 0
one_line_err

expect_rc 0 "$RD" --rows 96 --cols 200 --seed 3 --bpw 1,2,3 --block-size 32 --threads 1 --json "$TMP/rd.json"
grep -q "^bpw" "$TMP/out" || fail "no table header"
[[ $(grep -cE '^[0-9]+\.[0-9]+ ' "$TMP/out") == 3 ]] || { cat "$TMP/out"; fail "expected 3 table rows"; }
grep -qE '^q4_0 ' "$TMP/out" || fail "no q4_0 baseline line"
python3 - "$TMP/rd.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pts = d["points"]
assert [p["target_bpw"] for p in pts] == [1, 2, 3], pts
for key in ["rbe", "rbe_no_generator", "rbe_no_rotation", "rbe_forced_generator", "ecsq"]:
    snr = [p[key]["snr_db"] for p in pts]
    assert all(b > a + 3 for a, b in zip(snr, snr[1:])), (key, snr)
    for p in pts:
        q = p[key]
        assert q["bpw"] <= p["target_bpw"] + 1e-9, (key, q)
        assert q["snr_db"] < 6.0206 * q["bpw"], ("beats the Shannon bound?", key, q)
for p in pts:
    assert p["rbe"]["snr_db"] > p["ecsq"]["snr_db"] + 0.5, p
for c in ["q4_0", "q8_0"]:
    b = d["baselines"][c]
    assert "snr_db" in b or "error" in b, b
PY
echo "rd.sh: ok"
