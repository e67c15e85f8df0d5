/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * pins.h - the layout of a pin directory, shared by sockhopd (which writes
 * it) and the sockhop CLI (which reads it, daemon up or down):
 *
 *   PIN_DIR/            0700
 *     maps/NAME         every map of kern/accel.bpf.c, by its C name
 *     links/PROG-CGID   one bpf_link per program and attached cgroup id (bpffs
 *                   refuses dots in names)
 *     iter/sockets      the iterator over sock_hash (`sockhop sockets`)
 *     tc/egress, tc/ingress   the tc policy's entry programs
 */
#ifndef SOCKHOP_PINS_H
#define SOCKHOP_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockhop.h"

#define SH_DEFAULT_PIN_DIR	"/sys/fs/bpf/sockhop"
#define SH_BPFFS_ROOT		"/sys/fs/bpf"

/** pins_path() - "<dir>/<sub>/<name>" into @out; 0 or -ENAMETOOLONG. */
int pins_path(char *out, size_t len, const char *dir, const char *sub, const char *name);

/** pins_open_map() - fd of the pinned map @name in @dir, or -errno. */
int pins_open_map(const char *dir, const char *name);

/** pins_read_meta() - read the meta map of @dir; -ENOENT when none is pinned. */
int pins_read_meta(const char *dir, struct sh_meta *meta);

/** pins_owner_alive() - does the daemon @meta names still run? A pid that
 * another program took over after the owner died does not count. */
bool pins_owner_alive(const struct sh_meta *meta);

/** pins_sum_stats() - sum the per-CPU counters of @slot in stats map @fd. */
int pins_sum_stats(int fd, uint32_t slot, struct sh_stats *sum);

/* A scope as the scopes map holds it. */
struct scope_row {
	__u64 cgid;
	struct sh_scope s;
};

/** pins_read_scopes() - every scope of @dir's scopes map (at most
 * SH_MAX_SCOPES), ordered by slot. Return: 0 or -errno. */
int pins_read_scopes(const char *dir, struct scope_row *rows, size_t *nr);


#endif /* SOCKHOP_PINS_H */
