/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lb.h - backend selection. Pure code over an array of members (no
 * sockets, no clock): which backends are eligible (the primaries that are
 * up, or the backups when every primary is down; not full; not already
 * tried for this client) and which one each algorithm picks among them.
 */
#ifndef SOCKHOP_LB_H
#define SOCKHOP_LB_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "members.h"

struct lb {
	enum cfg_algo algo;
	struct lb_member *m;
	unsigned int n;
	uint16_t *maglev;	/* MAGLEV_TABLE_SIZE entries, maglev only */
	bool stale;		/* membership changed: rebuild before the next pick */
	uint64_t rng;		/* xorshift state (random-two, tie breaks) */
	unsigned int rotor;	/* least-conn tie-break start */
};

/** lb_init() - @n members, zeroed (the caller fills them). 0 or -ENOMEM. */
int lb_init(struct lb *lb, enum cfg_algo algo, unsigned int n, uint64_t seed);
void lb_free(struct lb *lb);

/** lb_changed() - a member went up or down, or a weight changed. */
void lb_changed(struct lb *lb);

/**
 * lb_pick() - the member for a client, or -1 when none is eligible.
 * @client, @len: the client's address bytes (Maglev hashes them)
 * @tried, @ntried: members already tried for this client, skipped
 */
int lb_pick(struct lb *lb, const void *client, unsigned int len, const int *tried,
	    unsigned int ntried);

#endif /* SOCKHOP_LB_H */
