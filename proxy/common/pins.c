// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* pins.c - reading the pinned objects of a pin directory. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "pins.h"

int pins_path(char *out, size_t len, const char *dir, const char *sub, const char *name)
{
	int n = snprintf(out, len, "%s%s%s%s%s", dir, sub ? "/" : "", sub ? sub : "",
			 name ? "/" : "", name ? name : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pins_open_map(const char *dir, const char *name)
{
	char path[512];
	int fd, err;

	err = pins_path(path, sizeof(path), dir, "maps", name);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int pins_read_meta(const char *dir, struct sh_meta *meta)
{
	uint32_t zero = 0;
	int fd, err = 0;

	fd = pins_open_map(dir, "meta");
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, meta))
		err = -errno;
	close(fd);
	return err;
}

bool pins_owner_alive(const struct sh_meta *meta)
{
	char path[64], cmd[4096];
	size_t n, i;
	FILE *f;

	if (!meta->daemon_pid)
		return false;
	/* The pid alone may have been reused since the owner died: the owner
	 * is alive only if that process is a sockhopd (its command line names
	 * it, also under valgrind or strace). */
	snprintf(path, sizeof(path), "/proc/%u/cmdline", meta->daemon_pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	for (i = 0; i < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	cmd[n] = '\0';
	return strstr(cmd, "sockhopd") != NULL;
}

int pins_sum_stats(int fd, uint32_t slot, struct sh_stats *sum)
{
	return maps_sum_percpu(fd, &slot, sum, sizeof(*sum));
}

struct scope_walk {
	struct scope_row *rows;
	size_t n;
};

static int read_scope(int fd, const void *key, void *ctx)
{
	struct scope_walk *w = ctx;

	if (w->n >= SH_MAX_SCOPES)
		return MAPS_STOP;
	memcpy(&w->rows[w->n].cgid, key, sizeof(w->rows[w->n].cgid));
	if (bpf_map_lookup_elem(fd, key, &w->rows[w->n].s) == 0)
		w->n++;	/* a key deleted meanwhile is skipped */
	return MAPS_NEXT;
}

/* Reads every scope of the scopes map, ordered by slot. */
int pins_read_scopes(const char *dir, struct scope_row *rows, size_t *nr)
{
	struct scope_walk w = { .rows = rows };
	size_t i, j;
	int fd, err;

	fd = pins_open_map(dir, "scopes");
	if (fd < 0)
		return fd;
	err = maps_walk(fd, sizeof(__u64), read_scope, &w);
	close(fd);
	for (i = 1; i < w.n; i++)
		for (j = i; j > 0 && rows[j - 1].s.slot > rows[j].s.slot; j--) {
			struct scope_row t = rows[j];

			rows[j] = rows[j - 1];
			rows[j - 1] = t;
		}
	*nr = w.n;
	return err;
}
