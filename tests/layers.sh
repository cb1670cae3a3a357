# The layers, bottom to top, and what each may use (docs/host.md, "The
# layering"): one list, sourced by tests/check-includes.sh (who includes
# whom) and tests/check-symbols.sh (who calls whom).  "uv/uv_image.h":
# of the UV, the image format's header alone.
# shellcheck shell=bash
declare -A allowed=(
  [lib]="lib"
  [hw]="lib hw"
  [uv]="lib hw uv"
  [mm]="lib hw uv mm"
  [kvm]="lib hw uv mm kvm"
  [vmm]="lib kvm mm vmm uv/uv_image.h"
  [host]="lib hw uv mm kvm vmm host"
  [api]="lib host vmm api"
)
layers="lib hw uv mm kvm vmm host api"
