#!/usr/bin/env bash
# Engine layering (docs/architecture.md): each engine folder may include only
# the folders below it, so dependencies point one way and never form a cycle.
# Usage: layering.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
SRC=$2/engine
declare -A allowed=(
  [tensor]=""
  [autodiff]="tensor"
  [nn]="tensor autodiff"
  [models]="tensor autodiff nn"
  [train]="tensor autodiff nn models"
  [generate]="tensor autodiff nn models"
  [io]="tensor autodiff nn models train"
  [codec]="tensor autodiff nn models train io generate"
)
bad=0
for dir in "${!allowed[@]}"; do
  [[ -d $SRC/$dir ]] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    dep=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$line")
    [[ $dep == "$dir" ]] && continue
    [[ -n ${allowed[$dep]+x} ]] || continue  # not an engine folder
    if [[ " ${allowed[$dir]} " != *" $dep "* ]]; then
      echo "layering violation: ${file#$SRC/} ($dir) includes $dep/"
      bad=1
    fi
  done < <(grep -rHE '#include "[a-z_]+/' "$SRC/$dir" || true)
done
[[ $bad == 0 ]] && echo "engine layering OK"
exit $bad
