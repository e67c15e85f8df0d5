/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * scope_dirs.h - each scope's cgroup directory, resolved under the cgroup2
 * mount and checked by identity (device and inode), never by spelling: the
 * mount's root is refused however it is written (".", "MOUNT/.", a symlink,
 * a bind mount), and two scopes on one cgroup are refused. `sockhopd
 * --check` and the start run the same checks; only the start creates.
 */
#ifndef SOCKHOP_SCOPE_DIRS_H
#define SOCKHOP_SCOPE_DIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SCOPE_DIR_LEN	512

struct scope_dir {
	char dir[SCOPE_DIR_LEN];	/* absolute, one spelling per cgroup */
	uint64_t cgid;			/* the cgroup id; 0 while it does not exist */
	bool missing;			/* does not exist (--check with create: true) */
	bool created;			/* this call made the directory */
	unsigned int created_levels;	/* and this many levels: it and its parents */
};

/**
 * scope_dirs_resolve() - resolve and check every scope's cgroup.
 * @cfg: the configuration
 * @mount: the cgroup2 mount point
 * @create: create the missing directories of scopes with 'create: true'
 *          (the start); false reports them as warnings (--check)
 * @dirs: cfg->nr_scopes entries, filled in
 * @msg, @len: receive one line per problem, "FILE:LINE:COL: scopes[i].cgroup:
 *             ...", errors first; warnings say "warning:"
 *
 * Directories created before an error are marked created (the caller
 * removes them). Return: 0, -EINVAL when any scope is refused, or the
 * -errno of a failed mkdir.
 */
int scope_dirs_resolve(const struct cfg *cfg, const char *mount, bool create,
		       struct scope_dir *dirs, char *msg, size_t len);

#endif /* SOCKHOP_SCOPE_DIRS_H */
