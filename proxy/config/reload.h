/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * reload.h - what a configuration reload (SIGHUP, `sockhop reload`) may
 * change while the daemon runs. Rules of every scope, tc defaults, and a
 * service's weights, backup flags, health checks, timeouts and limits are
 * swapped in place; anything that would need a listener, a cgroup
 * attachment or a backend to appear or vanish needs a restart, and the
 * reload is then refused whole with the field that differs.
 */
#ifndef SOCKHOP_RELOAD_H
#define SOCKHOP_RELOAD_H

#include <stddef.h>

#include "config.h"

/**
 * reload_check() - can @next replace @cur in a running daemon?
 * @why: on -EINVAL, "FILE:LINE: FIELD: what differs; restart sockhopd"
 * Return: 0 or -EINVAL.
 */
int reload_check(const struct cfg *cur, const struct cfg *next, char *why, size_t len);

#endif /* SOCKHOP_RELOAD_H */
