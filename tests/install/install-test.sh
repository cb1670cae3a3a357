#!/usr/bin/env bash
# The install test (ctest: install_and_build_example): install the built
# tree into a temporary directory with prefix /usr (what `make install
# DESTDIR=<tmp> PREFIX=/usr` does), then build tests/install/example.c
# against the INSTALLED header and libraries through pkg-config -- once
# against liblazypv.so, once against liblazypv.a -- and run both: each
# boots a protected guest through the API, shuts it down and checks the
# cleanup completed.  Also: the shared library exports only lpv_*
# symbols, every one declared in the installed header, and only the
# public header is installed.
#   install-test.sh BUILD_DIR SOURCE_DIR [CC [LDFLAGS]]
# LDFLAGS: what the build type links with (a sanitizer's runtime).
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=${3:-cc}
read -r -a ldextra <<<"${4:-}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lazypv-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install-test: $*" >&2; exit 1; }

DESTDIR="$tmp/root" cmake --install "$build" --prefix /usr >"$tmp/install.log" ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
root="$tmp/root"

# What was installed.
[ -x "$root/usr/bin/lazypv" ] || fail "no bin/lazypv"
[ -f "$root/usr/include/lazypv/lazypv.h" ] || fail "no include/lazypv/lazypv.h"
extra=$(cd "$root/usr/include" && find . -type f ! -path ./lazypv/lazypv.h)
[ -z "$extra" ] || fail "headers beyond the public one installed: $extra"
pc=$(find "$root" -name lazypv.pc)
[ -n "$pc" ] || fail "no lazypv.pc"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/liblazypv.a" ] || fail "no liblazypv.a in $libdir"
[ -L "$libdir/liblazypv.so" ] || fail "no liblazypv.so link in $libdir"
soname=$(objdump -p "$libdir/liblazypv.so" | awk '/SONAME/ { print $2 }')
[ -n "$soname" ] && [ -e "$libdir/$soname" ] || fail "SONAME '$soname' not installed"
for page in man1/lazypv.1 man3/lazypv.3; do
  [ -s "$root/usr/share/man/$page" ] || fail "no man page $page"
done

# The shared library's exports: lpv_* only, each in the header.
nm -D --defined-only "$libdir/liblazypv.so" | awk '$2 ~ /[TDBR]/ { print $3 }' |
  sed 's/@.*//' | sort -u >"$tmp/exports"
[ -s "$tmp/exports" ] || fail "the shared library exports nothing"
if grep -v '^lpv_' "$tmp/exports"; then fail "exports beyond lpv_* (above)"; fi
while read -r sym; do
  grep -q "\\b$sym(" "$root/usr/include/lazypv/lazypv.h" ||
    fail "$sym exported but not in lazypv.h"
done <"$tmp/exports"

# pkg-config, through the staged tree.
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
[ "$(pkg-config --modversion lazypv)" = "$(sed -n 's/^#define LAZYPV_VERSION "\(.*\)"/\1/p' "$src/include/lazypv/lazypv.h")" ] ||
  fail "pkg-config --modversion disagrees with the header"
cflags=$(pkg-config --cflags lazypv)
libs=$(pkg-config --libs lazypv)
static_libs=$(pkg-config --static --libs lazypv | sed 's/-llazypv\b/-l:liblazypv.a/')
case "$cflags" in *"$src"*) fail "Cflags point into the source tree: $cflags" ;; esac

# Strict C11 with only the installed header: nothing internal leaks.
"$cc" -std=c11 -pedantic -Wall -Wextra -Werror $cflags \
  -o "$tmp/example-shared" "$src/tests/install/example.c" $libs "${ldextra[@]}" \
  -Wl,-rpath,"$libdir" || fail "building against the shared library failed"
"$cc" -std=c11 -pedantic -Wall -Wextra -Werror $cflags \
  -o "$tmp/example-static" "$src/tests/install/example.c" $static_libs "${ldextra[@]}" ||
  fail "building against the static library failed"
objdump -p "$tmp/example-shared" | grep -q "NEEDED.*$soname" ||
  fail "example-shared does not use $soname"
if objdump -p "$tmp/example-static" | grep -q "NEEDED.*liblazypv"; then
  fail "example-static uses the shared library"
fi

for kind in shared static; do
  echo "== example ($kind)"
  "$tmp/example-$kind" || fail "example ($kind) failed"
done
echo "install-test: ok"
