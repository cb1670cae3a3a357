#!/usr/bin/env bash
# The layering rule at link level: tests/check-includes.sh reads the
# #include lines, but a public header pulls in the layers below it
# (vmm.h brings kvm.h, which brings uv.h and hw.h), so a call can skip a
# layer without any include showing it.  This reads the objects' symbol
# tables instead: every function or object a layer's code uses that is
# defined in another layer must be one of a layer it may call.
#
#   lib   lib               kvm   lib hw uv mm kvm
#   hw    lib hw            vmm   lib kvm mm vmm + what uv/uv_image.h declares
#   uv    lib hw uv         host  lib hw uv mm kvm vmm host
#   mm    lib hw uv mm      api   lib host vmm api
#   tools lib host api bench      bench (its probes) lib hw bench
#
# Inline functions of a header are compiled into their caller and are not
# seen here; the include rule covers those.
#
#   tests/check-symbols.sh OBJLIST TOP   OBJLIST: object files, one a line
#                                        (written by CMake); TOP: the tree
#   tests/check-symbols.sh --self-test   compile a planted violation and a
#                                        permitted call, expect only the
#                                        first reported
set -u -o pipefail

# allowed[layer]: the one list (tests/layers.sh), with the UV's image
# header as the pseudo-layer uv_image; the command and bench's probes.
# shellcheck source=layers.sh
. "$(dirname "$0")/layers.sh"
for layer in "${!allowed[@]}"; do
  allowed[$layer]=${allowed[$layer]//uv\/uv_image.h/uv_image}
done
allowed[tools]="lib host api bench tools"
allowed[bench]="lib hw bench"

# The source path of an object inside the tree: CMake's objects are
# "<build>/CMakeFiles/<target>.dir/<source path>.o"; the self-test's are
# "<tmp>/<source path>.o" (then TOP is <tmp>).
rel_of() {
  local p=$1
  case "$p" in
    *.dir/*) p=${p##*.dir/} ;;
    "$2"/*) p=${p#"$2"/} ;;
  esac
  echo "$p"
}

# The layer of an object file, from its source path; empty: not checked.
layer_of() {
  case "$1" in
    src/lib/*) echo lib ;;   src/hw/*) echo hw ;;
    src/uv/*) echo uv ;;     src/mm/*) echo mm ;;
    src/kvm/*) echo kvm ;;   src/vmm/*) echo vmm ;;
    src/host/*) echo host ;; src/api/*) echo api ;;
    tools/*) echo tools ;;   bench/*) echo bench ;;
  esac
}

# check OBJLIST TOP: print each violation; exit 1 if there is one.
check() {
  local list=$1 top=$2 obj layer rel
  local -a objs=()
  local table
  [ -r "$list" ] || { echo "check-symbols: cannot read $list"; return 2; }
  command -v nm >/dev/null || { echo "check-symbols: nm not found (binutils)"; return 2; }
  table=$(mktemp)
  # "layer<TAB>object<TAB>symbol<TAB>kind" for every global definition
  # (D) and every undefined reference (U), one object at a time (paths
  # may hold spaces; nm's own lines never do past the object).
  while IFS= read -r obj; do
    [ -n "$obj" ] || continue
    rel=$(rel_of "$obj" "$top")
    layer=$(layer_of "$rel")
    [ -n "$layer" ] || continue
    [ -r "$obj" ] || { echo "check-symbols: $obj: missing (build first)"; rm -f "$table"; return 2; }
    objs+=("$obj")
    nm -P "$obj" | awk -v l="$layer" -v o="$rel" 'BEGIN { OFS = "\t" }
      $2 ~ /^[TDBRCVW]$/ { print l, o, $1, "D" }
      $2 == "U"          { print l, o, $1, "U" }' >>"$table" ||
      { echo "check-symbols: nm $obj failed"; rm -f "$table"; return 2; }
  done <"$list"
  [ ${#objs[@]} -gt 0 ] || { echo "check-symbols: no objects in $list"; rm -f "$table"; return 2; }
  if ! grep -q "	D\$" "$table"; then
    echo "check-symbols: no definitions read (nm output unexpected)"; rm -f "$table"; return 2
  fi

  local image_syms
  image_syms=$(grep -oE '\buv_[a-z0-9_]+\b' "$top/src/uv/uv_image.h" | sort -u | tr '\n' ' ')
  local allowed_list=""
  for layer in "${!allowed[@]}"; do
    allowed_list+="$layer=${allowed[$layer]};"
  done
  awk -F '\t' -v allowed="$allowed_list" -v image="$image_syms" '
    BEGIN {
      n = split(allowed, rows, ";")
      for (i = 1; i <= n; i++) {
        if (rows[i] == "") continue
        split(rows[i], kv, "=")
        m = split(kv[2], ls, " ")
        for (j = 1; j <= m; j++) ok[kv[1], ls[j]] = 1
      }
      m = split(image, is, " ")
      for (j = 1; j <= m; j++) img[is[j]] = 1
    }
    $4 == "D" { def[$3] = $1; next }
    { use[NR] = $0 }
    END {
      bad = 0
      for (k in use) {
        split(use[k], f, "\t")
        who = f[1]; obj = f[2]; sym = f[3]
        if (!(sym in def)) continue     # libc, OpenSSL, jansson
        d = def[sym]
        if ((who, d) in ok) continue
        if (d == "uv" && (sym in img) && ((who, "uv_image") in ok)) continue
        sub(/\.o$/, "", obj)
        printf "layering (symbols): %s (%s) uses %s of %s\n", obj, who, sym, d
        bad = 1
      }
      exit bad
    }' "$table"
  local r=$?
  rm -f "$table"
  return $r
}

self_test() {
  local top=$1 tmp r out
  tmp=$(mktemp -d)
  mkdir -p "$tmp/src/hw" "$tmp/src/lib" "$tmp/src/vmm" "$tmp/src/uv" "$tmp/src/kvm"
  printf 'int hw_planted(void) { return 1; }\n' >"$tmp/src/hw/hw_planted.c"
  printf 'int uv_planted(void) { return 2; }\n' >"$tmp/src/uv/uv_planted.c"
  printf 'int kvm_planted(void) { return 3; }\n' >"$tmp/src/kvm/kvm_planted.c"
  # lib calls up into hw: forbidden.  vmm calls uv (forbidden) and kvm
  # (permitted).
  printf 'int hw_planted(void);\nint lib_planted(void) { return hw_planted(); }\n' \
    >"$tmp/src/lib/lib_planted.c"
  printf 'int uv_planted(void);\nint kvm_planted(void);\nint vmm_planted(void) { return uv_planted() + kvm_planted(); }\n' \
    >"$tmp/src/vmm/vmm_planted.c"
  mkdir -p "$tmp/src/uv"
  cp "$top/src/uv/uv_image.h" "$tmp/src/uv/"
  for f in "$tmp"/src/*/*.c; do
    ${CC:-cc} -c -o "$f.o" "$f" || { rm -rf "$tmp"; echo "self-test: cannot compile"; return 2; }
    echo "$f.o" >>"$tmp/objects"
  done
  out=$(check "$tmp/objects" "$tmp")
  r=$?
  rm -rf "$tmp"
  local fail=0
  [ $r -eq 1 ] || { echo "self-test: exit $r, expected 1"; fail=1; }
  grep -q 'lib_planted.c (lib) uses hw_planted of hw' <<<"$out" ||
    { echo "self-test: lib -> hw not reported"; fail=1; }
  grep -q 'vmm_planted.c (vmm) uses uv_planted of uv' <<<"$out" ||
    { echo "self-test: vmm -> uv not reported"; fail=1; }
  if grep -q 'kvm_planted' <<<"$out"; then
    echo "self-test: vmm -> kvm reported, but it is permitted"; fail=1
  fi
  [ $fail -eq 0 ] && echo "symbol rules self-test: ok"
  return $fail
}

if [ "${1:-}" = "--self-test" ]; then
  self_test "${2:-$(dirname "$0")/..}"
  exit $?
fi
[ $# -eq 2 ] || { echo "usage: $0 OBJLIST TOP | --self-test [TOP]"; exit 2; }
check "$1" "$2"
r=$?
[ $r -eq 0 ] && echo "symbol rules: ok"
exit $r
