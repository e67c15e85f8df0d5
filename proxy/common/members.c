// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* members.c - see members.h. */
#include "members.h"

void lb_member_init(struct lb_member *m, const struct cfg_backend *b)
{
	*m = (struct lb_member){
		.key = maglev_hash(&b->addr.sa, b->addr.len, 0),
		.weight = b->weight,
		.backup = b->backup,
		.up = true,
	};
}

bool lb_tier_backups(const struct lb_member *m, unsigned int n)
{
	unsigned int i;

	/* the primaries while any is up, else the backups */
	for (i = 0; i < n; i++)
		if (!m[i].backup && m[i].up)
			return false;
	return true;
}

void lb_maglev_input(const struct lb_member *m, unsigned int n, struct maglev_backend *out)
{
	bool backups = lb_tier_backups(m, n);
	unsigned int i;

	for (i = 0; i < n; i++) {
		out[i].key = m[i].key;
		out[i].weight = lb_in_tier(&m[i], backups) ? m[i].weight : 0;
	}
}
