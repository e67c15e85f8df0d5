// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lb.c - the four algorithms. Weighted round-robin is the smooth variant
 * (nginx's): over any run of sum(weights) picks each member is chosen
 * exactly its weight times, interleaved rather than in bursts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "maglev.h"

int lb_init(struct lb *lb, enum cfg_algo algo, unsigned int n, uint64_t seed)
{
	memset(lb, 0, sizeof(*lb));
	lb->algo = algo;
	lb->n = n;
	lb->rng = seed | 1;
	lb->stale = true;
	lb->m = calloc(n ? n : 1, sizeof(*lb->m));
	if (!lb->m)
		return -ENOMEM;
	if (algo == CFG_ALGO_MAGLEV) {
		lb->maglev = malloc(MAGLEV_TABLE_SIZE * sizeof(*lb->maglev));
		if (!lb->maglev) {
			free(lb->m);
			lb->m = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

void lb_free(struct lb *lb)
{
	free(lb->m);
	free(lb->maglev);
	memset(lb, 0, sizeof(*lb));
}

void lb_changed(struct lb *lb)
{
	unsigned int i;

	lb->stale = true;
	for (i = 0; i < lb->n; i++)
		lb->m[i].current = 0;
}

static uint64_t next_rand(struct lb *lb)
{
	uint64_t x = lb->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	lb->rng = x;
	return x;
}

static bool eligible(const struct lb *lb, unsigned int i, bool backups, const int *tried,
		     unsigned int ntried)
{
	const struct lb_member *m = &lb->m[i];
	unsigned int t;

	if (!lb_in_tier(m, backups) || (m->max && m->active >= m->max))
		return false;
	for (t = 0; t < ntried; t++)
		if (tried[t] == (int)i)
			return false;
	return true;
}

static int rebuild_maglev(struct lb *lb)
{
	struct maglev_backend *mb = calloc(lb->n ? lb->n : 1, sizeof(*mb));
	int err;

	if (!mb)
		return -ENOMEM;
	lb_maglev_input(lb->m, lb->n, mb);
	err = maglev_build(mb, lb->n, lb->maglev, MAGLEV_TABLE_SIZE);
	free(mb);
	return err;
}

static int pick_maglev(struct lb *lb, bool backups, const void *client, unsigned int len,
		       const int *tried, unsigned int ntried)
{
	uint32_t slot, probes;

	if (lb->stale) {
		if (rebuild_maglev(lb))
			return -1;
		lb->stale = false;
	}
	slot = (uint32_t)(maglev_hash(client, len, 0) % MAGLEV_TABLE_SIZE);
	/* The owner of the slot, or (full, tried) the next eligible owner. */
	for (probes = 0; probes < MAGLEV_TABLE_SIZE; probes++) {
		uint16_t i = lb->maglev[(slot + probes) % MAGLEV_TABLE_SIZE];

		if (i == MAGLEV_EMPTY)
			return -1;
		if (eligible(lb, i, backups, tried, ntried))
			return i;
	}
	return -1;
}

static int pick_round_robin(struct lb *lb, bool backups, const int *tried, unsigned int ntried)
{
	int64_t total = 0;
	int best = -1;
	unsigned int i;

	for (i = 0; i < lb->n; i++) {
		if (!eligible(lb, i, backups, tried, ntried))
			continue;
		lb->m[i].current += lb->m[i].weight;
		total += lb->m[i].weight;
		if (best < 0 || lb->m[i].current > lb->m[best].current)
			best = (int)i;
	}
	if (best >= 0)
		lb->m[best].current -= total;
	return best;
}

/* a loaded less than b, per weight: a.active/a.weight < b.active/b.weight */
static bool less_loaded(const struct lb_member *a, const struct lb_member *b)
{
	return (uint64_t)a->active * b->weight < (uint64_t)b->active * a->weight;
}

static int pick_least_conn(struct lb *lb, bool backups, const int *tried, unsigned int ntried)
{
	int best = -1;
	unsigned int k, i;

	/* Start at a rotating member so ties spread over the tied members. */
	for (k = 0; k < lb->n; k++) {
		i = (lb->rotor + k) % lb->n;
		if (!eligible(lb, i, backups, tried, ntried))
			continue;
		if (best < 0 || less_loaded(&lb->m[i], &lb->m[best]))
			best = (int)i;
	}
	lb->rotor = lb->n ? (lb->rotor + 1) % lb->n : 0;
	return best;
}

/* One member drawn with probability weight / sum of eligible weights. */
static int draw(struct lb *lb, bool backups, const int *tried, unsigned int ntried, int not)
{
	uint64_t total = 0, r;
	unsigned int i;

	for (i = 0; i < lb->n; i++)
		if ((int)i != not && eligible(lb, i, backups, tried, ntried))
			total += lb->m[i].weight;
	if (!total)
		return -1;
	r = next_rand(lb) % total;
	for (i = 0; i < lb->n; i++) {
		if ((int)i == not || !eligible(lb, i, backups, tried, ntried))
			continue;
		if (r < lb->m[i].weight)
			return (int)i;
		r -= lb->m[i].weight;
	}
	return -1;
}

static int pick_random_two(struct lb *lb, bool backups, const int *tried, unsigned int ntried)
{
	int a = draw(lb, backups, tried, ntried, -1), b;

	if (a < 0)
		return -1;
	b = draw(lb, backups, tried, ntried, a);
	if (b < 0 || !less_loaded(&lb->m[b], &lb->m[a]))
		return a;
	return b;
}

int lb_pick(struct lb *lb, const void *client, unsigned int len, const int *tried,
	    unsigned int ntried)
{
	bool backups = lb_tier_backups(lb->m, lb->n);

	switch (lb->algo) {
	case CFG_ALGO_MAGLEV:
		return pick_maglev(lb, backups, client, len, tried, ntried);
	case CFG_ALGO_LEAST_CONN:
		return pick_least_conn(lb, backups, tried, ntried);
	case CFG_ALGO_RANDOM_TWO:
		return pick_random_two(lb, backups, tried, ntried);
	case CFG_ALGO_ROUND_ROBIN:
	default:
		return pick_round_robin(lb, backups, tried, ntried);
	}
}
