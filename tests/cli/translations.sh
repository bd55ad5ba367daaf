#!/usr/bin/env bash
# The Korean translation covers every user-visible string of the workbench:
# lupdate over widgets/ and app/workbench/ into a temporary copy of
# translations/rbe_workbench_ko.ts must find no message without a finished
# translation (none new, none unfinished, none empty).
# Usage: translations.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source "$SRC/tests/cli/lib/assert.bash"

LUPDATE=""
for c in /usr/lib/qt6/bin/lupdate "$(command -v lupdate6 || true)" "$(command -v lupdate || true)"; do
  if [[ -n $c && -x $c ]]; then LUPDATE=$c; break; fi
done
if [[ -z $LUPDATE ]]; then
  [[ -e $1/app/workbench ]] && fail "lupdate not found (Qt 6 LinguistTools), but the workbench is built"
  echo "cli translations: OK (skipped: no Qt, the workbench is not built)"
  exit 0
fi

cp "$SRC/translations/rbe_workbench_ko.ts" "$TMP/ko.ts"
mapfile -t sources < <(find "$SRC/widgets" "$SRC/app/workbench" -name '*.cpp' -o -name '*.h' | sort)
expect_rc 0 "$LUPDATE" -no-obsolete -locations none "${sources[@]}" -ts "$TMP/ko.ts"

/usr/bin/python3 - "$TMP/ko.ts" >"$TMP/check" <<'PY' || fail "the Korean translation is incomplete (run: cmake --build BUILD --target update_translations, then translate)"
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
total, bad = 0, []
for ctx in root.iter("context"):
    name = ctx.findtext("name")
    for msg in ctx.iter("message"):
        total += 1
        tr = msg.find("translation")
        numerus = msg.get("numerus") == "yes"
        text = "".join(tr.itertext()) if tr is not None else ""
        if tr is None or tr.get("type") in ("unfinished", "vanished", "obsolete") or not text.strip():
            bad.append(f"{name}: {msg.findtext('source')!r}")
if total == 0:
    print("no messages found: lupdate scanned nothing?", file=sys.stderr)
    sys.exit(1)
for b in bad:
    print("untranslated:", b, file=sys.stderr)
print(f"{total} messages, {len(bad)} unfinished")
sys.exit(1 if bad else 0)
PY
echo "cli translations: OK ($(cat "$TMP/check"))"
