/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * maglev.h - Maglev consistent hashing (Eisenbud et al., NSDI 2016) with
 * weights. Pure code, shared by the proxy's balancer and the connect-time
 * balancer, which copies the same table into a BPF inner map.
 */
#ifndef SOCKHOP_MAGLEV_H
#define SOCKHOP_MAGLEV_H

#include <stdint.h>

#define MAGLEV_TABLE_SIZE	65537	/* prime; about 256 slots per backend at 256 */
#define MAGLEV_EMPTY		0xffff

struct maglev_backend {
	uint64_t key;		/* stable identity, e.g. a hash of address:port */
	uint32_t weight;	/* 0: not in the table */
};

/**
 * maglev_build() - fill @table (@size entries, @size prime) with indexes
 * into @b; backends take slots in proportion to their weights. With no
 * backend of non-zero weight every slot is MAGLEV_EMPTY.
 * Return: 0, -EINVAL (bad size or @n > 65535), -ENOMEM.
 */
int maglev_build(const struct maglev_backend *b, unsigned int n, uint16_t *table,
		 uint32_t size);

/** maglev_hash() - 64-bit hash of @len bytes (the client address), seeded. */
uint64_t maglev_hash(const void *data, unsigned int len, uint64_t seed);

#endif /* SOCKHOP_MAGLEV_H */
