/* SPDX-License-Identifier: MIT */
/*
 * api_host.h - the public API as a measurement rig sees it: the `lazypv`
 * command's view, private to the tree (tools/ and src/api/ include it; it
 * is not installed, and the shared library exports none of it -- these
 * functions lack LPV_API, and the command links the static library).
 *
 * A rig builds its host with the host layer (src/host/host.h), because it
 * needs what an embedding program does not: protection and population
 * choices, failure injection, memory pressure, the plaintext scan, the
 * machine floor, the first-touch probe, every layer's counters.  It then
 * wraps that host in a struct lpv_host and runs its VMs through the
 * public API like any other program.  What the rig reads of a VM beyond
 * the public API is here too: a hook at the instant of each event, and the
 * keys of the data patterns its guests write.
 *
 * Locking and threads as in lazypv.h.
 */
#ifndef LAZYPV_API_HOST_H
#define LAZYPV_API_HOST_H

#include <stdint.h>

#include "host/host.h"
#include "lazypv/lazypv.h"

/*
 * An lpv_host over @h, which the caller built (host_create) and keeps:
 * lpv_host_destroy(*out) kills and waits for the VMs as usual and leaves
 * @h up; the caller destroys @h after it.  @h must have PV support.
 *   0, -EINVAL (NULL argument, no PV support), -ENOMEM
 */
int lpv_host_wrap(struct host *h, struct lpv_host **out) __must_check;
/* The host-layer host under @host (created or wrapped), or NULL. */
struct host *lpv_host_host(struct lpv_host *host);

/*
 * Call @fn at the instant of each of @vm's events, on the VMM's thread
 * that saw it and under the VMM's lock, before the event is numbered
 * (seq 0) and queued for the callbacks: for reading counters at that
 * instant (host_uv_stats_get, host_hw_stats_get -- nothing that takes an
 * mm lock, and no lpv_* call on @vm).  Set before lpv_vm_boot().
 */
void lpv_vm_set_instant_hook(struct lpv_vm *vm, lpv_event_fn fn, void *ctx);

/*
 * Put @vm's VMM in @memcg (host_memcg_create; the caller destroys it after
 * the VMs) instead of a memcg of its own: VMs sharing one memcg share its
 * limit (vmm_config.memcg; the VM's memcg_limit must be 0).  NULL: its
 * own again.  Set before lpv_vm_boot().
 */
void lpv_vm_set_memcg(struct lpv_vm *vm, struct memcg *memcg);

/*
 * The key of boot @boot's data patterns (0 before the VM boots), and the
 * word a touch or memtest guest of that key writes at guest address
 * @gaddr in round @round: what the plaintext scan looks for in free
 * frames (host_scan_free).
 */
uint64_t lpv_vm_boot_key(struct lpv_vm *vm, unsigned int boot);
uint64_t lpv_pattern_word(uint64_t key, uint64_t gaddr, unsigned int round);

#endif /* LAZYPV_API_HOST_H */
