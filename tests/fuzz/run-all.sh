#!/usr/bin/env bash
# Run every libFuzzer target of a fuzz build for a bounded time.
#   tests/fuzz/run-all.sh BUILD_DIR [SECONDS_EACH]   (default 20 s each)
# Each target starts from its seed corpus in the repository
# (tests/fuzz/corpus/<target>/, read only) and keeps what it finds in
# BUILD_DIR/fuzz-corpus/<target>/, so repeated runs build on earlier
# findings.  A crash, a sanitizer report (ASan, UBSan, LeakSanitizer) or a
# timeout fails the script and leaves the reproducer in BUILD_DIR
# (crash-*, leak-*, timeout-*); replay it with BUILD_DIR/<target> FILE.
set -euo pipefail
build=${1:?usage: run-all.sh BUILD_DIR [SECONDS_EACH]}
secs=${2:-20}
[ -n "$secs" ] || secs=20
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)
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
  seeds="$here/corpus/$name"
  mkdir -p "$corpus"
  [ -d "$seeds" ] || seeds=
  # Valid images are 8 KiB and more.  The CLI parsers leave to exit() what
  # they hold at a user error: no per-input leak hunt there (fuzz_cli.c).
  max_len=4096
  leaks=1
  case $name in
    fuzz_image) max_len=65536 ;;
    fuzz_cli) leaks=0 ;;
  esac
  echo "fuzz: $name for ${secs}s"
  if ! ASAN_OPTIONS=allow_user_segv_handler=1:detect_leaks=1 \
       UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
       -max_len="$max_len" -detect_leaks="$leaks" \
       -artifact_prefix="$build/" -print_final_stats=1 \
       "$corpus" ${seeds:+"$seeds"} > "$build/fuzz-$name.log" 2>&1; then
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
