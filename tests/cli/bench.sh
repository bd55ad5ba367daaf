#!/usr/bin/env bash
# rbe-bench runs end to end on the default model and on a preset (dense, and
# with every matrix packed as q4_0 and rbe fixed), and its JSON carries every
# documented key with sane values; bad input exits 1 or 2.
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
assert isinstance(r.get("bandwidth_method"), str) and r["bandwidth_method"], r.get("bandwidth_method")
# What the probe read: a --bandwidth-mb buffer, or the matrices a token reads
# (all of its weight bytes but the small f32 vectors and one row of wpe).
if r["bandwidth_read"] == "the model's matrices":
    assert 0.95 * r["weight_bytes_per_token"] < r["bandwidth_read_mb"] * 1e6 <= r["weight_bytes_per_token"], r
else:
    assert r["bandwidth_read"] == "a buffer of 64 MiB" and r["bandwidth_read_mb"] * 1e6 == 64 << 20, r
# The bandwidth is the fastest probe loop's median over the timed tokens (each
# loop read once after each token), within that loop's range; the median of
# each token's fastest pass (the estimator before) dominates it token by token.
assert 0 < r["bandwidth_gbs_min"] <= r["bandwidth_gbs"] <= r["bandwidth_gbs_max"], r
assert r["bandwidth_gbs"] <= r["bandwidth_gbs_per_token_max"], r
assert abs(r["gen_ms_limit"] - r["weight_bytes_per_token"] / (r["bandwidth_gbs"] * 1e9) * 1e3) < 1e-9 * r["gen_ms_limit"], r
assert r.get("fixed_gemm_kernel") in ("amx-bf16", "amx", "avx512-bf16", "sgemm"), r.get("fixed_gemm_kernel")
assert r.get("fixed_matvec_rows") in ("regrouped by 16", "stored"), r.get("fixed_matvec_rows")
assert (r["fixed_matvec_rows"] == "regrouped by 16") == (r["fixed_kernel"] == "avx512vnni"), r
assert r.get("f16_gemm_kernel") in ("amx-bf16x3", "sgemm"), r.get("f16_gemm_kernel")
assert r.get("f32_gemm_kernel") in ("amx-bf16x6", "sgemm"), r.get("f32_gemm_kernel")
print("rbe-bench JSON OK:", {k: round(r[k], 3) for k in ("gen_ms_per_token", "gen_ms_limit", "bandwidth_gbs")})
PY
}

check_json "$("$BENCH" --model "$MODEL" --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 64 --json)"
# Without --bandwidth-mb the probe reads the model's own matrices in place
# (here and for the packed q4_0 preset and the .rbe file below).
check_json "$("$BENCH" --preset mini --dtype f16 --threads 1 --prompt-tokens 16 --gen-tokens 8 --json)"
# --model with --dtype f16: the checkpoint's matrices are read into f16, so a
# token reads about half the weight bytes (the small f32 vectors stay).
python3 - "$("$BENCH" --model "$MODEL" --threads 1 --prompt-tokens 8 --gen-tokens 4 --bandwidth-mb 16 --json)" \
  "$("$BENCH" --model "$MODEL" --dtype f16 --threads 1 --prompt-tokens 8 --gen-tokens 4 --bandwidth-mb 16 --json)" <<'PY'
import json, sys
f32, f16 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert f32["dtype"] == "f32" and f16["dtype"] == "f16", (f32["dtype"], f16["dtype"])
ratio = f16["weight_bytes_per_token"] / f32["weight_bytes_per_token"]
assert 0.5 <= ratio < 0.51, ratio
PY

# A dense f16 preset is built with f16 matrices (as a folder loads with
# --dtype f16), never as the f32 model cast afterwards: its peak memory is
# the f16 weights' (248 MB at 117M) plus the program, well under the 498 MB
# an f32 copy would take.
python3 - "$("$BENCH" --preset 117M --dtype f16 --threads 1 --prompt-tokens 4 --gen-tokens 2 --bandwidth-mb 16 --json)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
weights_mb = r["weight_bytes_per_token"] / 2**20
assert 230 < weights_mb < 250, weights_mb
assert r["peak_rss_mb"] < 380, f"peak {r['peak_rss_mb']} MB for {weights_mb:.0f} MB of f16 weights"
print("rbe-bench f16 preset peak OK:", round(r["peak_rss_mb"]), "MB")
PY

# The prompt pass runs as generate() runs a prompt, logits for the last
# position only, and pp_gflops counts that work: the mini preset (C = 256,
# 2 layers, 65-token vocabulary, tied head) at P = 16 does
# 2 * 12 C^2 * 2 * P + 2 * 65 C (the head, once) + 4 C * 2 * P(P+1)/2 flops.
python3 - "$("$BENCH" --preset mini --threads 1 --prompt-tokens 16 --gen-tokens 4 --bandwidth-mb 16 --json)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
C, L, V, P = 256, 2, 65, 16
want = 2 * 12 * C * C * L * P + 2 * V * C + 4 * C * L * P * (P + 1) / 2
got = r["pp_gflops"] * 1e9 * P / r["pp_tokens_per_s"]
assert abs(got - want) < 1e-6 * want, (got, want)
print("rbe-bench prompt FLOPs OK:", round(got))
PY

# --batch B: B different prompts decoded together. The prompt pass does B times
# the work, a step reads the weights once and B times the cache, and tokens/s
# counts the B tokens of a step. 3 rows run on the held decoding step, 10 on
# the tensor path.
for b in 3 10; do
  python3 - "$b" "$("$BENCH" --preset mini --threads 2 --prompt-tokens 16 --gen-tokens 4 --bandwidth-mb 16 --json)" \
    "$("$BENCH" --preset mini --threads 2 --prompt-tokens 16 --gen-tokens 4 --bandwidth-mb 16 --batch "$b" --json)" <<'PY'
import json, sys
B, one, r = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
assert one["batch"] == 1 and r["batch"] == B, (one["batch"], r["batch"])
assert abs(one["gen_tokens_per_s"] - 1e3 / one["gen_ms_per_token"]) < 1e-9 * one["gen_tokens_per_s"], one
assert abs(r["gen_tokens_per_s"] - B * 1e3 / r["gen_ms_per_token"]) < 1e-9 * r["gen_tokens_per_s"], r
assert r["weight_bytes_per_token"] == one["weight_bytes_per_token"], r
assert abs(r["kv_cache_bytes_per_token"] - B * one["kv_cache_bytes_per_token"]) < 1e-9 * r["kv_cache_bytes_per_token"], r
C, L, V, P = 256, 2, 65, 16
want = B * (2 * 12 * C * C * L * P + 2 * V * C + 4 * C * L * P * (P + 1) / 2)
got = r["pp_gflops"] * 1e9 * B * P / r["pp_tokens_per_s"]
assert abs(got - want) < 1e-6 * want, (got, want)
print(f"rbe-bench --batch {B} OK:", round(r["gen_tokens_per_s"]), "tokens/s")
PY
done
"$BENCH" --preset mini --codec q4_0 --threads 2 --prompt-tokens 8 --gen-tokens 2 --batch 4 | grep -q "ms/step of 4 tokens" ||
  { echo "FAIL: rbe-bench --batch 4 table has no per-step line" >&2; exit 1; }

# --kv-cache f16: the cache bytes read per token halve; the weights' do not.
python3 - "$("$BENCH" --preset mini --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 16 --json)" \
  "$("$BENCH" --preset mini --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 16 --kv-cache f16 --json)" <<'PY'
import json, sys
f32, f16 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert f32["kv_cache"] == "f32" and f16["kv_cache"] == "f16", (f32["kv_cache"], f16["kv_cache"])
assert f32["kv_cache_bytes_per_token"] > 0
assert abs(2 * f16["kv_cache_bytes_per_token"] - f32["kv_cache_bytes_per_token"]) < 1e-6 * f32["kv_cache_bytes_per_token"]
assert f16["weight_bytes_per_token"] == f32["weight_bytes_per_token"] and f16["gen_ms_per_token"] > 0
print("rbe-bench --kv-cache OK")
PY

# --probe after: tokens back to back, the probe's loops once after the last (one rate a loop).
python3 - "$("$BENCH" --preset mini --threads 1 --prompt-tokens 8 --gen-tokens 6 --probe after --json)" \
  "$("$BENCH" --preset mini --threads 1 --prompt-tokens 8 --gen-tokens 6 --json)" <<'PY'
import json, sys
after, paired = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert after["probe"] == "after" and paired["probe"] == "paired", (after["probe"], paired["probe"])
assert after["bandwidth_gbs"] > 0 and after["gen_ms_per_token"] > 0 and after["gen_tokens"] == 6
assert after["bandwidth_gbs_min"] == after["bandwidth_gbs"] == after["bandwidth_gbs_max"], after  # one pass
print("rbe-bench --probe after OK")
PY

# --kv-cache auto (the default) follows the matrices: f32 for f32, f16 for f16 or packed.
for form in "--dtype f32:f32" "--dtype f16:f16" "--codec q8_0:f16"; do
  got=$("$BENCH" --preset mini --threads 1 --prompt-tokens 8 --gen-tokens 2 --bandwidth-mb 16 ${form%%:*} --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["kv_cache"])')
  [[ $got == "${form##*:}" ]] || { echo "rbe-bench ${form%%:*}: KV cache $got, expected ${form##*:}" >&2; exit 1; }
done
echo "rbe-bench --kv-cache auto OK"

# --profile: each step of a generated token with its ms per token; "other" is the rest.
python3 - "$("$BENCH" --preset mini --threads 2 --prompt-tokens 8 --gen-tokens 8 --bandwidth-mb 64 --profile --json)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
steps = {s["step"]: s for s in r["profile"]}
for name in ("embed", "layer norm", "attn.c_attn", "attn.core", "attn.c_proj", "mlp.c_fc", "mlp.act", "mlp.c_proj", "head", "argmax", "other"):
    assert name in steps, f"missing step {name}: {list(steps)}"
    assert steps[name]["ms_per_token"] >= 0, steps[name]
layers = steps["attn.core"]["calls_per_token"]
assert layers >= 1 and layers == int(layers) and steps["mlp.c_fc"]["calls_per_token"] == layers, steps
assert steps["head"]["calls_per_token"] == 1, steps["head"]
# The products carry the bytes they read and their rate; the head reads the (tied) embedding.
assert abs(sum(steps[n]["weight_bytes_per_token"] for n in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj", "head"))
           - r["weight_bytes_per_token"]) < 0.01 * r["weight_bytes_per_token"], r
assert all(steps[n]["gb_per_s"] > 0 for n in ("attn.c_attn", "head")) and "weight_bytes_per_token" not in steps["attn.core"]
# Attention reads the KV cache: its bytes per token and their rate.
assert steps["attn.core"]["kv_bytes_per_token"] == r["kv_cache_bytes_per_token"] and steps["attn.core"]["gb_per_s"] > 0, steps["attn.core"]
assert sum(s["ms_per_token"] for s in r["profile"]) >= r["gen_ms_per_token_mean"] * 0.999, r
# The prompt pass's steps: one call of each product per layer for the whole prompt, the head once.
pp = {s["step"]: s for s in r["prompt_profile"]}
for name in ("embed", "attn.c_attn", "attn.core", "mlp.c_fc", "mlp.act", "mlp.c_proj", "head", "other"):
    assert name in pp and pp[name]["ms"] >= 0, f"prompt step {name}: {list(pp)}"
assert pp["mlp.c_fc"]["calls"] == layers and pp["head"]["calls"] == 1 and "argmax" not in pp, pp
assert abs(sum(s["ms"] for s in r["prompt_profile"]) - r["prompt_profile_pass_ms"]) <= 1e-6 * r["prompt_profile_pass_ms"] + 1e-9, r
assert r["prompt_profile_pass_ms"] * 1e-3 >= r["prompt_tokens"] / r["pp_tokens_per_s"] * 0.999, r  # the best pass is no slower
print("rbe-bench --profile OK:", len(steps), "steps,", len(pp), "prompt steps")
PY

# Packed forms: the matrices' bits/weight is the form's rate, the model's is a
# little above it (f32 norms, biases, positions), and the weights read per token
# shrink accordingly. check_packed JSON FORM MATRIX_BPW
check_packed() {
  python3 - "$1" "$2" "$3" "$4" <<'PY'
import json, sys
r, form, bpw, dense_bytes = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
assert r["form"] == form, r["form"]
assert abs(r["matrix_bits_per_weight"] - bpw) < 1e-9, r["matrix_bits_per_weight"]
assert bpw < r["bits_per_weight"] < bpw + 2, r["bits_per_weight"]
assert r["weight_bytes_per_token"] < dense_bytes * (bpw + 1) / 16, (r["weight_bytes_per_token"], dense_bytes)
assert r["gen_ms_per_token"] > 0 and r["pp_tokens_per_s"] > 0 and r["gen_ms_limit"] > 0
assert 0 < r["bandwidth_gbs_min"] <= r["bandwidth_gbs"] <= r["bandwidth_gbs_max"] < 1e4, r
print("rbe-bench", form, "OK: bits/weight", round(r["bits_per_weight"], 3), "weights/token", r["weight_bytes_per_token"])
PY
}
F16=$("$BENCH" --preset mini --codec f16 --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 64 --json)
F16_BYTES=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["weight_bytes_per_token"])' "$F16")
check_packed "$("$BENCH" --preset mini --codec q4_0 --threads 2 --prompt-tokens 16 --gen-tokens 8 --json)" q4_0 4.5 "$F16_BYTES"
check_packed "$("$BENCH" --preset mini --codec rbe --bpw 2.5 --threads 2 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 64 --json)" rbe-f2g32 2.5 "$F16_BYTES"
check_packed "$("$BENCH" --preset mini --codec rbe --threads 1 --prompt-tokens 16 --gen-tokens 8 --bandwidth-mb 64 --json)" rbe-f4g64 4.25 "$F16_BYTES"

# A .rbe file (written by rbe-convert) runs from its packed form.
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
"$1/app/rbe-convert" --model "$MODEL" --out "$TMPD/mini-q4.rbe" --codec q4_0 --threads 2 >/dev/null
python3 - "$("$BENCH" --model "$TMPD/mini-q4.rbe" --threads 2 --prompt-tokens 8 --gen-tokens 4 --json)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["form"] == "q4_0" and r["matrix_bits_per_weight"] == 4.5, r
print("rbe-bench on a .rbe file OK")
PY

# --compare: one row per form, in order, each with its own rate.
python3 - "$("$BENCH" --preset mini --compare --bpw 3.5 --threads 2 --prompt-tokens 8 --gen-tokens 4 --bandwidth-mb 64 --json)" <<'PY'
import json, sys
rows = json.loads(sys.argv[1])
assert [r["form"] for r in rows] == ["f16", "q8_0", "q4_0", "rbe-f3g32"], [r["form"] for r in rows]
assert [r["matrix_bits_per_weight"] for r in rows][1:] == [8.5, 4.5, 3.5], rows
assert all(r["gen_ms_per_token"] > 0 for r in rows)
print("rbe-bench --compare OK")
PY

rc=0; "$BENCH" --model /nonexistent/model --json 2>/dev/null || rc=$?
[[ $rc == 1 ]] || { echo "FAIL: missing model exited $rc, want 1" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --dtype q3 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: bad --dtype exited $rc, want 2" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --kv-cache bf16 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: bad --kv-cache exited $rc, want 2" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --codec q3_k 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: bad --codec exited $rc, want 2" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --probe sometimes 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: bad --probe exited $rc, want 2" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --batch 0 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: --batch 0 exited $rc, want 2" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --bpw 4 2>/dev/null || rc=$?
[[ $rc == 2 ]] || { echo "FAIL: --bpw without --codec exited $rc, want 2" >&2; exit 1; }
rc=0; "$BENCH" --preset mini --codec rbe --bpw 1 2>/dev/null || rc=$?
[[ $rc == 1 ]] || { echo "FAIL: --bpw below the lowest rate exited $rc, want 1" >&2; exit 1; }
echo "rbe-bench CLI OK"
