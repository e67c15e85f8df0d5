/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * balance.h - connect-time load balancing, user side, and the only writer
 * of its maps: the tables that kern/balance.bpf.c reads (virtual
 * addresses, backends, one Maglev table per service swapped whole), their
 * counters, and the termination of connections made to a backend that
 * left. The loader owns the one struct balance (loader_balance()).
 */
#ifndef SOCKHOP_BALANCE_H
#define SOCKHOP_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "members.h"

struct balance_bpf;

/* The balance object's maps, by fd. */
struct balance {
	int services;		/* vip_services */
	int tables;		/* vip_tables (HASH_OF_MAPS) */
	int backends;
	int rnat;
	int vip_stats;
	int backend_stats;
};

/** balance_init() - @b names @obj's maps. */
void balance_init(struct balance *b, const struct balance_bpf *obj);

/** balance_backend_id() - the id of backend @idx of service @svc_id. */
static inline uint32_t balance_backend_id(uint32_t svc_id, uint32_t idx)
{
	return svc_id * SH_MAX_SVC_BACKENDS + idx;
}

/**
 * balance_fill() - make the maps hold @cfg's virtual services, every backend
 * up: addresses and backends first, then each service's table. Entries of
 * services no longer configured are removed.
 * Return: 0 or -errno (logged).
 */
int balance_fill(const struct balance *m, const struct cfg *cfg);

/**
 * balance_swap() - build service @svc_id's Maglev table from @mem (weights, up;
 * the primaries that are up, or the backups when none is) in a new inner
 * map and swap it in for each of its virtual addresses. With no eligible
 * backend the table holds SH_BACKEND_NONE everywhere (connect() is refused).
 * Return: 0 or -errno.
 */
int balance_swap(const struct balance *m, const struct cfg_service *cs, uint32_t svc_id,
	     const struct lb_member *mem);

/** balance_read_table() - the backend id of each slot of the table of @cs's
 * first virtual address (SH_MAGLEV_SLOTS entries into @ids). 0 or -errno. */
int balance_read_table(const struct balance *m, const struct cfg_service *cs, uint32_t *ids);

/** balance_service_stats(), balance_backend_stats() - counters summed over CPUs. */
int balance_service_stats(const struct balance *m, uint32_t svc_id, struct sh_vip_stats *out);
int balance_backend_stats(const struct balance *m, uint32_t id, struct sh_backend_stats *out);

/**
 * balance_destroy_conns() - terminate (SOCK_DESTROY) at most @max TCP sockets of
 * this network namespace that were balanced to @be (found in rnat by cookie).
 * Return: how many were destroyed (>= 0), or -errno.
 */
int balance_destroy_conns(const struct balance *m, const struct cfg_addr *be, int max);

#endif /* SOCKHOP_BALANCE_H */
