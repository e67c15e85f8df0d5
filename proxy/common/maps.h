/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * maps.h - what both binaries do with BPF maps from user space, once: sum
 * a per-CPU value over the CPUs, and walk every key of a map (deleting on
 * the way, if the caller wants).
 */
#ifndef SOCKHOP_MAPS_H
#define SOCKHOP_MAPS_H

#include <stddef.h>

/** maps_sum_percpu() - the per-CPU value of @key in map @fd, each of its
 * __u64 fields summed over the possible CPUs, into @sum (@size bytes, a
 * multiple of 8). Return: 0 or -errno. */
int maps_sum_percpu(int fd, const void *key, void *sum, size_t size);

/* What a walk's callback says of the key it was given. */
enum maps_walk {
	MAPS_NEXT = 0,		/* go on */
	MAPS_DELETED = 1,	/* it deleted the key: go on from where it was */
	MAPS_STOP = 2,		/* stop the walk here */
};

/**
 * maps_walk() - @fn(@fd, key, @ctx) for each key of map @fd (@key_size
 * bytes), until it says MAPS_STOP or returns a negative errno.
 * Return: 0, or @fn's negative errno.
 */
int maps_walk(int fd, size_t key_size, int (*fn)(int fd, const void *key, void *ctx), void *ctx);

/** maps_count_keys() - how many keys map @fd holds (it walks them). */
long maps_count_keys(int fd, size_t key_size);

#endif /* SOCKHOP_MAPS_H */
