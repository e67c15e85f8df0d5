// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* maps.c - see maps.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

int maps_sum_percpu(int fd, const void *key, void *sum, size_t size)
{
	int ncpu = libbpf_num_possible_cpus(), cpu;
	size_t words = size / sizeof(uint64_t), w;
	uint64_t *per, *out = sum;
	int err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	/* the kernel lays out one value a CPU, each rounded up to 8 bytes */
	per = calloc((size_t)ncpu, words * sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(sum, 0, size);
	if (bpf_map_lookup_elem(fd, key, per)) {
		err = -errno;
		goto out;
	}
	for (cpu = 0; cpu < ncpu; cpu++)
		for (w = 0; w < words; w++)
			out[w] += per[(size_t)cpu * words + w];
out:
	free(per);
	return err;
}

int maps_walk(int fd, size_t key_size, int (*fn)(int fd, const void *key, void *ctx), void *ctx)
{
	char *key = calloc(2, key_size), *next = key + key_size;
	bool started = false;
	int ret = 0;

	if (!key)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, started ? key : NULL, next) == 0) {
		ret = fn(fd, next, ctx);
		if (ret < 0 || ret == MAPS_STOP)
			break;
		/* after a delete, the walk goes on from the key before it: the
		 * deleted one is no place to ask "what comes next" from */
		if (ret != MAPS_DELETED) {
			memcpy(key, next, key_size);
			started = true;
		}
		ret = 0;
	}
	free(key);
	return ret < 0 ? ret : 0;
}

static int count_one(int fd, const void *key, void *ctx)
{
	(void)fd, (void)key;
	(*(long *)ctx)++;
	return MAPS_NEXT;
}

long maps_count_keys(int fd, size_t key_size)
{
	long n = 0;
	int err = maps_walk(fd, key_size, count_one, &n);

	return err ? err : n;
}
