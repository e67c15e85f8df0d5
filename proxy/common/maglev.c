// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * maglev.c - Maglev lookup table population. Each backend walks its own
 * permutation of the table (offset + j * skip mod M) and claims the next
 * free slot on its turn; a weight w gives a backend w turns for every
 * w_max turns of the heaviest one. Removing a backend frees only its slots
 * and the others' permutations stay the same, so most entries keep their
 * backend: that is what keeps clients on their backend across changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "sockhop.h"


uint64_t maglev_hash(const void *data, unsigned int len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = sh_mix64(seed ^ len);
	unsigned int i;

	for (i = 0; i < len; i++)
		h = sh_mix64(h ^ p[i]) + i;
	return sh_mix64(h);
}

int maglev_build(const struct maglev_backend *b, unsigned int n, uint16_t *table, uint32_t size)
{
	uint32_t *offset = NULL, *skip = NULL, *next = NULL, *credit = NULL;
	uint32_t filled = 0, wmax = 0;
	unsigned int i;
	int ret = 0;

	if (size < 3 || n > 0xfffe)
		return -EINVAL;
	for (i = 0; i < size; i++)
		table[i] = MAGLEV_EMPTY;
	for (i = 0; i < n; i++)
		if (b[i].weight > wmax)
			wmax = b[i].weight;
	if (!wmax)
		return 0;

	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	credit = calloc(n, sizeof(*credit));
	if (!offset || !skip || !next || !credit) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		offset[i] = (uint32_t)(sh_mix64(b[i].key ^ 0x6d61676c6576ULL) % size);
		skip[i] = (uint32_t)(sh_mix64(b[i].key ^ 0x736b6970ULL) % (size - 1)) + 1;
	}
	while (filled < size) {
		for (i = 0; i < n && filled < size; i++) {
			uint32_t c;

			if (!b[i].weight)
				continue;
			credit[i] += b[i].weight;
			if (credit[i] < wmax)
				continue;
			credit[i] -= wmax;
			do {
				c = (uint32_t)(((uint64_t)offset[i] + (uint64_t)next[i] * skip[i]) % size);
				next[i]++;
			} while (table[c] != MAGLEV_EMPTY);
			table[c] = (uint16_t)i;
			filled++;
		}
	}
out:
	free(offset);
	free(skip);
	free(next);
	free(credit);
	return ret;
}
