# Assertions shared by the CLI test scripts (sourced, not a test itself).
# They keep the last command's stdout and stderr in $TMP/out and $TMP/err;
# the sourcing script sets TMP.

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc CODE CMD...: runs CMD and checks its exit code.
expect_rc() {
  local want=$1; shift
  local rc=0
  "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc == "$want" ]] || { cat "$TMP/err" >&2; fail "exit code $rc (want $want): $*"; }
}
err_has() { grep -q -- "$1" "$TMP/err" || { cat "$TMP/err" >&2; fail "stderr lacks '$1'"; }; }
one_line_err() { [[ $(wc -l <"$TMP/err") == 1 ]] || { cat "$TMP/err" >&2; fail "stderr is not one line"; }; }
