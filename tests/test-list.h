/* SPDX-License-Identifier: MIT */
/*
 * test-list.h - every test, as TEST_ENTRY(name, timeout_s) X-macro lines in
 * one list file per layer (tests/list-<layer>.h, tests in tests/<layer>/).
 * CMake reads the same files to register each test with ctest, so a test
 * listed here is a test that runs.  LAZYPV_HAVE_<LAYER> comes from CMake's
 * LAZYPV_LAYERS.
 */
#if defined(LAZYPV_HAVE_LIB) && __has_include("list-lib.h")
#include "list-lib.h"
#endif
#if defined(LAZYPV_HAVE_HW) && __has_include("list-hw.h")
#include "list-hw.h"
#endif
#if defined(LAZYPV_HAVE_UV) && __has_include("list-uv.h")
#include "list-uv.h"
#endif
#if defined(LAZYPV_HAVE_MM) && __has_include("list-mm.h")
#include "list-mm.h"
#endif
#if defined(LAZYPV_HAVE_KVM) && __has_include("list-kvm.h")
#include "list-kvm.h"
#endif
#if defined(LAZYPV_HAVE_VMM) && __has_include("list-vmm.h")
#include "list-vmm.h"
#endif
#if defined(LAZYPV_HAVE_API) && __has_include("list-api.h")
#include "list-api.h"
#endif
#if defined(LAZYPV_HAVE_BENCH) && __has_include("list-bench.h")
#include "list-bench.h"
#endif
#if defined(LAZYPV_HAVE_TOOLS) && __has_include("list-tools.h")
#include "list-tools.h"
#endif
