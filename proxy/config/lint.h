/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lint.h - what a valid configuration says that it likely does not mean:
 * a rule no flow can reach, a no-accelerate rule where nothing is
 * accelerated, a flow-control bound on a scope that accelerates nothing.
 * Warnings, not errors: the file loads as written.
 */
#ifndef SOCKHOP_LINT_H
#define SOCKHOP_LINT_H

#include <stddef.h>

#include "config.h"

/**
 * cfg_lint() - the warnings of @cfg, one line each, "FILE:LINE:COL: FIELD:
 * WHAT", into @out (@len bytes, NUL-terminated, cut at a line).
 * Return: how many warnings there are (all counted, even those cut).
 */
size_t cfg_lint(const struct cfg *cfg, char *out, size_t len);

#endif /* SOCKHOP_LINT_H */
