#!/usr/bin/env bash
# Line coverage of a coverage build (make coverage) after its tests ran:
# one figure for src/, one for tools/, per-file tables in
# BUILD_DIR/coverage/{src,tools}.txt and HTML in BUILD_DIR/coverage/.
#   tests/coverage.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: coverage.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
out="$build/coverage"
mkdir -p "$out"
cd "$top"
for dir in src tools; do
  gcovr --root "$top" --object-directory "$build" --filter "$top/$dir/" \
    --txt "$out/$dir.txt" --html-details "$out/$dir.html" >/dev/null
  line=$(grep -E '^TOTAL' "$out/$dir.txt")
  # TOTAL  lines  executed  percent
  read -r _ total run pct <<<"$line"
  echo "coverage: $dir/ lines $run of $total ($pct)"
done
echo "coverage: per file in $out/src.txt, $out/tools.txt; HTML in $out/"
