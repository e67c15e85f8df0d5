// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* rules.c - config rules -> rule-trie entries (pure code). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "rules.h"

int rules_prefix_contains(const uint8_t a[16], int alen, const uint8_t b[16], int blen)
{
	int full = alen / 8, rest = alen % 8;

	if (alen > blen)
		return 0;
	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & mask) != (b[full] & mask))
			return 0;
	}
	return 1;
}

int rules_compile(const struct cfg_scope *scope, struct rules_entry **out, size_t *nr,
		  const struct cfg_rule **bad)
{
	struct rules_entry *ents = NULL;
	size_t i, j, n = 0;

	*out = NULL;
	*nr = 0;
	if (!scope->nr_rules)
		return 0;
	ents = calloc(scope->nr_rules, sizeof(*ents));
	if (!ents)
		return -ENOMEM;

	/* One entry per distinct prefix, in order of first appearance. */
	for (i = 0; i < scope->nr_rules; i++) {
		const struct cfg_rule *r = &scope->rules[i];

		for (j = 0; j < n; j++)
			if (ents[j].key.prefixlen == r->prefixlen &&
			    !memcmp(ents[j].key.addr, r->addr, 16))
				break;
		if (j < n)
			continue;
		if (n == SH_MAX_PREFIXES) {
			*bad = r;
			free(ents);
			return -E2BIG;
		}
		ents[n].key.prefixlen = r->prefixlen;
		memcpy(ents[n].key.addr, r->addr, 16);
		n++;
	}

	/* Each entry gets every rule whose prefix contains the entry's. */
	for (j = 0; j < n; j++) {
		struct sh_rule_set *set = &ents[j].set;

		for (i = 0; i < scope->nr_rules; i++) {
			const struct cfg_rule *r = &scope->rules[i];
			struct sh_rule *sr;

			if (!rules_prefix_contains(r->addr, r->prefixlen, ents[j].key.addr,
						   (int)ents[j].key.prefixlen))
				continue;
			if (set->count == SH_MAX_RULES) {
				*bad = r;
				free(ents);
				return -E2BIG;
			}
			sr = &set->rules[set->count++];
			sr->proto = r->proto;
			sr->action = r->action;
			sr->rule_id = r->index;
			sr->port_lo = r->port_lo;
			sr->port_hi = r->port_hi;
			sr->arg = r->arg;
		}
	}
	*out = ents;
	*nr = n;
	return 0;
}

/* Replaces each balance rule by one rule per virtual address and protocol
 * of its service, in place, keeping config order. */
int rules_lower_balance(const struct cfg *cfg, struct cfg_scope *sc)
{
	struct cfg_rule *out;
	size_t i, j, nr = 0;
	int pr;

	for (i = 0; i < sc->nr_rules; i++)
		nr += sc->rules[i].action == SH_ACT_BALANCE ?
		      cfg->services[sc->rules[i].arg].nr_vips *
		      (size_t)__builtin_popcount(cfg->services[sc->rules[i].arg].vip_protos) : 1;
	out = calloc(nr ? nr : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (i = 0, nr = 0; i < sc->nr_rules; i++) {
		const struct cfg_rule *r = &sc->rules[i];
		const struct cfg_service *sv = &cfg->services[r->arg];

		if (r->action != SH_ACT_BALANCE) {
			out[nr++] = *r;
			continue;
		}
		for (j = 0; j < sv->nr_vips; j++) {
			for (pr = 0; pr < 2; pr++) {
				struct cfg_rule *o = &out[nr];
				const struct sockaddr_storage *sa = &sv->vips[j].sa;

				if (!(sv->vip_protos & (pr ? CFG_VIP_UDP : CFG_VIP_TCP)))
					continue;
				*o = *r;
				o->proto = pr ? SH_PROTO_UDP : SH_PROTO_TCP;
				addr_ip6(sa, o->addr, &o->port_lo);
				o->port_hi = o->port_lo;
				o->prefixlen = 128;
				nr++;
			}
		}
	}
	free(sc->rules);
	sc->rules = out;
	sc->nr_rules = nr;
	return 0;
}
