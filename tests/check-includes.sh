#!/usr/bin/env bash
# The layering rule (docs/host.md, ARCHITECTURE.md §1), checked over src/,
# tools/, bench/ and tests/.  Layers, bottom to top, and what each may
# include ("uv/uv_image.h" alone: that one header of the layer):
#
#   lib   lib               kvm   lib hw uv mm kvm
#   hw    lib hw            vmm   lib kvm mm vmm uv/uv_image.h
#   uv    lib hw uv         host  lib hw uv mm kvm vmm host
#   mm    lib hw uv mm      api   lib host vmm api
#   tools lib host api/api_host.h (and include/lazypv/): the VMs through
#         the public API only, the host layer for what a measurement rig
#         needs beside it
#
# A layer includes another only through its public header
# (src/<layer>/<layer>.h; uv/uv_image.h too; every header of lib); the
# rest of a folder is private to it, and nobody includes another layer's
# *_internal.h.  bench/bench-<layer>.c may use that layer and below (the
# rest of bench/, probes of the machine itself, lib and hw); tests/<layer>/ that layer and below, and its own
# layer's private headers; the VMM's scenario tests and the failure sweep
# need a whole stack and use host; tests/tools/ drives the CLI binary only;
# the fuzzers may use any public header and tools.h.  include/lazypv/ is
# public to everyone.  src/ is not a public include directory of the
# library (CMakeLists.txt).
#
#   tests/check-includes.sh [TOP]        check the tree at TOP (default ..)
#   tests/check-includes.sh --self-test  plant violations in a copy, expect
#                                        each one reported
set -u

# allowed[layer], layers: the one list (tests/layers.sh).
# shellcheck source=layers.sh
. "$(dirname "$0")/layers.sh"

bad=0
violation() {
  echo "layering: $1"
  bad=1
}

# Is "$2" (a layer or a header path) in the word list "$1"?
in_list() { [[ " $1 " == *" $2 "* ]]; }

# The public headers of a layer as seen from another one.
is_public() {
  local dep=$1 hdr=$2
  case "$dep/$hdr" in
    lib/*) return 0 ;;
    "$dep/$dep.h") return 0 ;;
    uv/uv_image.h) return 0 ;;
  esac
  return 1
}

# check_file FILE WHO ALLOWED OWN [EXTRA]
#   WHO: what the file is (for messages); ALLOWED: layers (or layer/header
#   paths) it may include; OWN: the layer whose private headers it may
#   include (empty: none); EXTRA: other quoted includes it may use.
check_file() {
  local file=$1 who=$2 list=$3 own=$4 extra=${5:-}
  local dir=${file%/*} line inc dep hdr
  local re='^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)"'
  while IFS= read -r line; do
    [[ "$line" =~ $re ]] || continue
    inc=${BASH_REMATCH[1]}
    case "$inc" in
      lazypv/*) continue ;;
    esac
    if in_list "$extra" "$inc"; then
      continue
    fi
    if [[ "$inc" != */* ]]; then
      # A header of the file's own folder.
      [ -f "$dir/$inc" ] ||
        violation "$file includes \"$inc\", which is not in $dir/ ($who)"
      continue
    fi
    dep=${inc%%/*}
    hdr=${inc#*/}
    if [ ! -f "src/$inc" ] && [ -f "tests/$inc" ] && [[ "$file" == tests/* ]]; then
      # A test helper of another test folder: that folder counts as
      # its layer (tests/sweep as host, tests/tools as tools).
      case "$dep" in
        sweep) dep=host ;;
      esac
      if [ "tests/$dep" != "$dir" ] && [ "$dep" != "$own" ] && ! in_list "$list" "$dep"; then
        violation "$file includes \"$inc\": $who may not use tests/${inc%%/*}/"
      fi
      continue
    fi
    if [[ "$hdr" == *_internal.h ]] && [ "$dep" != "$own" ]; then
      violation "$file includes \"$inc\": another layer's internal header ($who)"
      continue
    fi
    if ! in_list "$list" "$dep" && ! in_list "$list" "$inc"; then
      violation "$file includes \"$inc\": $who may not use $dep (may: $list)"
      continue
    fi
    if [ "$dep" != "$own" ] && ! in_list "$list" "$inc" && ! is_public "$dep" "$hdr"; then
      violation "$file includes \"$inc\": only $dep/$dep.h is public ($who)"
    fi
  done <"$file"
}

check_tree() {
  local f layer base
  for layer in $layers; do
    [ -d "src/$layer" ] || continue
    for f in src/"$layer"/*.[ch]; do
      [ -e "$f" ] && check_file "$f" "src/$layer" "${allowed[$layer]}" "$layer"
    done
  done
  for f in tools/*.[ch]; do
    # damon.h, wakeup.h: bench/'s probes of the machine, which `lazypv bench` reports.
    [ -e "$f" ] && check_file "$f" "tools" "lib host api/api_host.h" "" "damon.h wakeup.h"
  done
  for f in bench/*.[ch]; do
    [ -e "$f" ] || continue
    base=${f##*/}
    layer=${base#bench-}
    layer=${layer%.c}
    if [[ "$base" == bench-*.c ]] && [ -n "${allowed[$layer]+x}" ]; then
      check_file "$f" "bench/$base" "${allowed[$layer]}" ""
    else
      check_file "$f" "bench/$base" "lib hw" ""
    fi
  done
  for f in tests/*/*.[ch]; do
    [ -e "$f" ] || continue
    layer=${f#tests/}
    layer=${layer%%/*}
    case "$layer" in
      vmm) check_file "$f" "tests/vmm" "${allowed[vmm]} host sweep" "vmm" "test.h" ;;
      sweep) check_file "$f" "tests/sweep" "${allowed[host]}" "" "test.h" ;;
      tools) check_file "$f" "tests/tools (the CLI binary only)" "" "tools" "test.h" ;;
      fuzz) check_file "$f" "tests/fuzz" "lib hw uv mm kvm vmm host" "" "tools.h test.h" ;;
      bench) check_file "$f" "tests/bench" "lib hw" "" "test.h damon.h wakeup.h" ;;
      # A program built against the installed library: the public header only.
      install) check_file "$f" "tests/install (the installed API only)" "" "" ;;
      *)
        if [ -n "${allowed[$layer]+x}" ]; then
          check_file "$f" "tests/$layer" "${allowed[$layer]}" "$layer" "test.h"
        else
          violation "$f: tests/$layer/ is not a layer's test folder (add it to $0)"
        fi ;;
    esac
  done
  # src/ is not a public include directory of the library.
  if [ -f CMakeLists.txt ] &&
     grep -Eq 'target_include_directories\(lazypv(-[a-z]+)?[[:space:]]+PUBLIC[^)]*(/src\b|\$\{LAZYPV_SRC_INCLUDE\})' CMakeLists.txt; then
    violation "CMakeLists.txt: src/ is a PUBLIC include directory of lazypv (make it PRIVATE)"
  fi
}

# Copy the tree, check the copy passes; plant violations (one per file),
# expect every one reported.
self_test() {
  local top=$1 tmp rc=0 out expect file line
  tmp=$(mktemp -d) || return 2
  trap 'rm -rf "$tmp"' RETURN
  cp -r "$top/src" "$top/tools" "$top/bench" "$top/tests" "$top/CMakeLists.txt" "$tmp/"
  [ -d "$top/include" ] && cp -r "$top/include" "$tmp/"
  if ! out=$("$0" "$tmp" 2>&1); then
    echo "self-test: the clean copy fails:"; echo "$out"; return 1
  fi
  # FILE|LINE|what the report must say
  local plants=(
    'tools/common.c|#include "mm/mm.h"|tools/common.c includes "mm/mm.h": tools may not use mm'
    'tools/cmd_run.c|#include "vmm/vmm.h"|tools/cmd_run.c includes "vmm/vmm.h": tools may not use vmm'
    'tools/cmd_bench.c|#include "api/api_internal.h"|tools/cmd_bench.c includes "api/api_internal.h": another layer'"'"'s internal header'
    'tools/soak_vm.c|#include "api/api.h"|tools/soak_vm.c includes "api/api.h": tools may not use api'
    'tools/tools.h|#include "nowhere.h"|which is not in tools/'
    'src/vmm/vmm.c|#include "uv/uv.h"|src/vmm/vmm.c includes "uv/uv.h": src/vmm may not use uv'
    'src/vmm/boot.c|#include "kvm/kvm_internal.h"|src/vmm/boot.c includes "kvm/kvm_internal.h": another layer'"'"'s internal header'
    'src/kvm/pv.c|#include "vmm/vmm.h"|src/kvm may not use vmm'
    'src/host/host.c|#include "mm/mm_internal.h"|src/host/host.c includes "mm/mm_internal.h": another layer'"'"'s internal header'
    'src/mm/mm.c|#include "uv/uv_frame.h"|only uv/uv.h is public'
    'bench/bench-hw.c|#include "mm/mm.h"|bench/bench-hw.c may not use mm'
    'bench/main.c|#include "uv/uv.h"|bench/main.c may not use uv'
    'tests/tools/cli.c|#include "vmm/vmm.h"|tests/tools (the CLI binary only) may not use vmm'
    'tests/uv/uv_test.c|#include "kvm/kvm.h"|tests/uv may not use kvm'
    'tests/kvm/fixture.c|#include "host/host.h"|tests/kvm may not use host'
    'tests/install/example.c|#include "lib/lib.h"|tests/install (the installed API only) may not use lib'
  )
  for p in "${plants[@]}"; do
    file=${p%%|*}; line=${p#*|}; line=${line%%|*}
    echo "$line" >>"$tmp/$file"
  done
  sed -i 's|target_include_directories(lazypv-core PUBLIC \${CMAKE_SOURCE_DIR}/include|target_include_directories(lazypv-core PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/src|' "$tmp/CMakeLists.txt"
  plants+=('CMakeLists.txt||src/ is a PUBLIC include directory')
  if out=$("$0" "$tmp" 2>&1); then
    echo "self-test: the planted violations passed"; rc=1
  fi
  # The same through the variable that names src/, on its own.
  cp "$top/CMakeLists.txt" "$tmp/CMakeLists.txt"
  sed -i 's|target_include_directories(lazypv-core PUBLIC \${CMAKE_SOURCE_DIR}/include|target_include_directories(lazypv-core PUBLIC ${LAZYPV_SRC_INCLUDE}|' "$tmp/CMakeLists.txt"
  if ! grep -q 'lazypv-core PUBLIC ${LAZYPV_SRC_INCLUDE}' "$tmp/CMakeLists.txt" ||
     [[ "$("$0" "$tmp" 2>&1)" != *"src/ is a PUBLIC include directory"* ]]; then
    echo "self-test: not reported: src/ PUBLIC through \${LAZYPV_SRC_INCLUDE}"; rc=1
  fi
  for p in "${plants[@]}"; do
    expect=${p##*|}
    if [[ "$out" != *"$expect"* ]]; then
      echo "self-test: not reported: $expect"; rc=1
    fi
  done
  [ $rc = 0 ] || { echo "the report was:"; echo "$out"; }
  [ $rc = 0 ] && echo "include rules self-test: ok"
  return $rc
}

if [ "${1:-}" = "--self-test" ]; then
  self_test "$(cd "${2:-$(dirname "$0")/..}" && pwd)"
  exit $?
fi
top=${1:-$(dirname "$0")/..}
cd "$top" || exit 2
check_tree
[ $bad = 0 ] && echo "include rules: ok"
exit $bad
