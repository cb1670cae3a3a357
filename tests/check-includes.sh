#!/usr/bin/env bash
# Layering rule (ARCHITECTURE.md §1, STYLE.md §2): calls go downwards only,
#   tools -> vmm -> kvm -> mm, uv -> hw;  mm may use uv;  everyone may use lib.
# A layer includes another layer only through its one header
# (src/<layer>/<layer>.h); anything else in a folder is private to it.
# src/lib/ holds shared helpers (lib.h, options.h) any layer may use.
set -u
top=${1:-$(dirname "$0")/..}
cd "$top" || exit 2
declare -A allowed=(
  [lib]="lib"
  [hw]="lib hw"
  [uv]="lib hw uv"
  [mm]="lib hw uv mm"
  [kvm]="lib hw uv mm kvm"
  [vmm]="lib hw uv mm kvm vmm"
  [api]="lib host vmm api"
)
bad=0
for layer in "${!allowed[@]}"; do
  [ -d "src/$layer" ] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
    case "$inc" in
      lazypv/*) continue ;;
      */*) dep=${inc%%/*} ;;
      *) continue ;;            # same-folder private header
    esac
    if [[ " ${allowed[$layer]} " != *" $dep "* ]]; then
      echo "layering: $file includes $inc ($layer may not use $dep)"; bad=1
    elif [ "$dep" != "$layer" ] && [ "$dep" != lib ] && [ "$inc" != "$dep/$dep.h" ]; then
      echo "layering: $file includes $inc (only $dep/$dep.h is public)"; bad=1
    fi
  done < <(grep -H '#include "' src/"$layer"/*.[ch] 2>/dev/null)
done
[ $bad = 0 ] && echo "include rules: ok"
exit $bad
