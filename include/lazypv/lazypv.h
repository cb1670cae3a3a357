/* SPDX-License-Identifier: MIT */
/*
 * lazypv.h - the public API: what a program embedding lazypv (the `lazypv`
 * tool, benchmarks) needs beyond the layer headers.  Errors are 0 or a
 * negative errno everywhere (docs/errors.md); firmware rc/rrc travel beside
 * the errno in out-parameters, never inside it.
 */
#ifndef LAZYPV_LAZYPV_H
#define LAZYPV_LAZYPV_H

#include "lazypv/compiler.h"

#define LPV_VERSION_MAJOR 0
#define LPV_VERSION_MINOR 1
#define LPV_VERSION_PATCH 0

/* "0.1.0" */
const char *lpv_version(void);

#endif /* LAZYPV_LAZYPV_H */
