#!/usr/bin/env bash
# Regenerate the image fuzzer's seed corpus (tests/fuzz/corpus/fuzz_image)
# with the project's own `lazypv mkimage`: small valid images (1 to 3
# payload pages, two host keys), each well under 64 KiB, the -max_len that
# run-all.sh gives the image fuzzer.
#   tests/fuzz/make-image-corpus.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: make-image-corpus.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/fuzz_image"
mkdir -p "$out"
lazypv="$build/lazypv"
"$lazypv" mkimage --program touch:mib=1 --payload-size 4K --nonce 1 \
  -o "$out/touch-1page" >/dev/null
"$lazypv" mkimage --program idle --payload-size 9000 --nonce 2 \
  -o "$out/idle-3pages" >/dev/null
"$lazypv" mkimage --program memtest:ops=4,seed=9 --payload-size 1 \
  --nonce 3 --uv-seed other -o "$out/memtest-other-key" >/dev/null
ls -l "$out"
