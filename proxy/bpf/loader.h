/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * loader.h - puts a configuration into the kernel: loads the embedded BPF
 * objects, pins maps and links under the pin directory (adopting what an
 * earlier daemon left there), fills the maps, attaches, and takes it all
 * down again.
 */
#ifndef SOCKHOP_LOADER_H
#define SOCKHOP_LOADER_H

#include <stdbool.h>

#include "config.h"

struct loader;

/**
 * loader_start() - make @cfg's kernel paths live.
 * @cfg: a validated configuration
 * @pin_dir: where maps and links are pinned (created 0700)
 * @cg_mount: the cgroup2 mount point scopes are resolved under
 * @map_size: capacity of the accelerated-socket map (0: SH_MAX_SOCKETS)
 * @out: receives the loader on success
 *
 * Everything is filled before anything is attached. On failure what this
 * call created is removed; pins adopted from an earlier daemon are left.
 * Return: 0 or -errno, with the reason logged.
 */
int loader_start(const struct cfg *cfg, const char *pin_dir, const char *cg_mount,
		 uint32_t map_size, struct loader **out);

/**
 * loader_stop() - leave. With @keep the kernel paths stay attached and
 * pinned for a later daemon to adopt; without it every link is detached,
 * every pin removed, and cgroups the loader created are removed when empty.
 */
void loader_stop(struct loader *l, bool keep);

struct balance;

/** loader_balance() - the connect-time balancer (balance.h), which lives
 * as long as the loader. */
struct balance *loader_balance(struct loader *l);

/**
 * loader_check_cgroups() - is each scope's cgroup still the directory the
 * programs were attached to (same id)? 0, or -ESTALE with a line for the
 * operator in @msg: a cgroup removed and made again under its name no
 * longer has them.
 */
int loader_check_cgroups(const struct loader *l, char *msg, size_t len);

/**
 * loader_reload() - put @cfg's rules and tc defaults in place of the
 * running ones: one atomic swap of each scope's rule table. The scopes
 * themselves (names, cgroups, order) must be those the loader started with.
 * Return: 0 or -errno, logged.
 */
int loader_reload(struct loader *l, const struct cfg *cfg);

/**
 * loader_replace_stages() - load the tc stage programs anew and put them in
 * their tc_stages slots while traffic flows; the operators' filters (which
 * hold the entry programs) are not touched. Return: 0 or -errno; on failure
 * the running stages stay.
 */
int loader_replace_stages(struct loader *l);

/** loader_closed_unread_fd() - the ring buffer of sockets closed with bytes
 * unread (aborts.h). */
int loader_closed_unread_fd(const struct loader *l);

/** loader_adopted() - did the start adopt pins an earlier daemon kept? */
bool loader_adopted(const struct loader *l);

#endif /* SOCKHOP_LOADER_H */
