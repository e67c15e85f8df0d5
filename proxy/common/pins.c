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
	int ncpu = libbpf_num_possible_cpus(), cpu;
	struct sh_stats *per;
	size_t i, nfields = sizeof(*sum) / sizeof(uint64_t);
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &slot, per)) {
		err = -errno;
		goto out;
	}
	for (cpu = 0; cpu < ncpu; cpu++) {
		const uint64_t *src = (const uint64_t *)&per[cpu];
		uint64_t *dst = (uint64_t *)sum;

		for (i = 0; i < nfields; i++)
			dst[i] += src[i];
	}
out:
	free(per);
	return err;
}

long pins_count_keys(int fd, size_t key_size)
{
	unsigned char cur[64], next[64];
	void *prev = NULL;
	long n = 0;

	if (key_size > sizeof(cur))
		return -EINVAL;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		n++;
		memcpy(cur, next, key_size);
		prev = cur;
	}
	return errno == ENOENT ? n : -errno;
}

/* Reads every scope of the scopes map, ordered by slot. */
int pins_read_scopes(const char *dir, struct scope_row *rows, size_t *nr)
{
	__u64 key, cur, *prev = NULL;
	int fd, err = 0;
	size_t n = 0, i, j;

	fd = pins_open_map(dir, "scopes");
	if (fd < 0)
		return fd;
	while (n < SH_MAX_SCOPES && bpf_map_get_next_key(fd, prev, &key) == 0) {
		rows[n].cgid = key;
		if (bpf_map_lookup_elem(fd, &key, &rows[n].s) == 0)
			n++;	/* a key deleted meanwhile is skipped */
		cur = key;
		prev = &cur;
	}
	close(fd);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && rows[j - 1].s.slot > rows[j].s.slot; j--) {
			struct scope_row t = rows[j];

			rows[j] = rows[j - 1];
			rows[j - 1] = t;
		}
	*nr = n;
	return err;
}
