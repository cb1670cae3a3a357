#!/usr/bin/env bash
# Run every libFuzzer target of a fuzz build briefly.
#   tests/fuzz/run-all.sh BUILD_DIR [SECONDS_EACH]   (default 20 s each)
# Each target gets its own corpus directory under BUILD_DIR/fuzz-corpus/ so
# repeated runs build on earlier findings; a crash fails the script and
# leaves the reproducer (crash-*) in BUILD_DIR.
set -euo pipefail
build=${1:?usage: run-all.sh BUILD_DIR [SECONDS_EACH]}
secs=${2:-20}
[ -n "$secs" ] || secs=20
here=$(cd "$(dirname "$0")" && pwd)
status=0
found=0
for src in "$here"/fuzz_*.c; do
  name=$(basename "$src" .c)
  bin="$build/$name"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $name not built in $build (skipped: its layers are missing)"
    continue
  fi
  found=$((found + 1))
  corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  echo "fuzz: $name for ${secs}s"
  if ! (cd "$build" && ASAN_OPTIONS=allow_user_segv_handler=1:detect_leaks=1 \
        "./$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 "fuzz-corpus/$name" > "fuzz-$name.log" 2>&1); then
    echo "fuzz: $name FAILED (see $build/fuzz-$name.log)"
    tail -n 30 "$build/fuzz-$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" \
      "$build/fuzz-$name.log" | tail -n 1 || true
  fi
done
[ "$found" -gt 0 ] || { echo "fuzz: no fuzz binaries in $build"; exit 1; }
if [ $status = 0 ]; then echo "$found passed, 0 failed"; else echo "fuzz: failures"; fi
exit $status
