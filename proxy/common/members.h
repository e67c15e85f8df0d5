/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * members.h - a service's backends as both of its balancers see them: the
 * proxy's (daemon/lb.c) and the connect-time one (bpf/balance.c). The
 * tier rule and Maglev's input are written here once: the two must agree,
 * or a table swap moves the clients the proxy placed.
 */
#ifndef SOCKHOP_MEMBERS_H
#define SOCKHOP_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "maglev.h"

struct lb_member {
	uint64_t key;		/* stable identity (Maglev): a hash of the address */
	uint32_t weight;
	bool backup;
	bool up;
	uint32_t active;	/* open connections (the proxy's) */
	uint32_t max;		/* 0: unlimited */
	int64_t current;	/* smooth weighted round-robin state */
};

/** lb_member_init() - the member of configured backend @b: its key,
 * weight and tier, up, nothing open. */
void lb_member_init(struct lb_member *m, const struct cfg_backend *b);

/** lb_tier_backups() - is the tier in service the backups, no primary
 * being up? */
bool lb_tier_backups(const struct lb_member *m, unsigned int n);

/** lb_in_tier() - is @m up and of the tier in service (@backups)? */
static inline bool lb_in_tier(const struct lb_member *m, bool backups)
{
	return m->up && m->backup == backups;
}

/** lb_maglev_input() - Maglev's backends for @n members: each one's key,
 * and its weight when it is in the tier in service, else 0. */
void lb_maglev_input(const struct lb_member *m, unsigned int n, struct maglev_backend *out);

#endif /* SOCKHOP_MEMBERS_H */
