// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* rules.c - config rules <-> rule-trie entries (pure code). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "rules.h"

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

			if (!addr_prefix_contains(r->addr, r->prefixlen, ents[j].key.addr,
						  ents[j].key.prefixlen))
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
		const struct cfg_service *sv;

		if (r->action != SH_ACT_BALANCE) {
			out[nr++] = *r;	/* its arg is no service index: a mark, say */
			continue;
		}
		sv = &cfg->services[r->arg];
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

/* config order: rule index, then prefix, then protocol (a lowered balance
 * rule is one rule index over several addresses and protocols) */
static int rule_order(const void *pa, const void *pb)
{
	const struct rules_rule *a = pa, *b = pb;
	int d;

	if (a->rule.rule_id != b->rule.rule_id)
		return a->rule.rule_id < b->rule.rule_id ? -1 : 1;
	d = memcmp(&a->key, &b->key, sizeof(a->key));
	if (d)
		return d;
	return (int)a->rule.proto - (int)b->rule.proto;
}

/* Whether an entry of a shorter prefix that contains @e's also holds @r:
 * then @r came down from there, and @e is not its own prefix. */
static bool inherited(const struct rules_entry *ents, size_t n, const struct rules_entry *e,
		      const struct sh_rule *r)
{
	size_t k, m;

	for (k = 0; k < n; k++) {
		if (&ents[k] == e || ents[k].key.prefixlen >= e->key.prefixlen ||
		    !addr_prefix_contains(ents[k].key.addr, ents[k].key.prefixlen,
					  e->key.addr, e->key.prefixlen))
			continue;
		for (m = 0; m < ents[k].set.count && m < SH_MAX_RULES; m++)
			if (!memcmp(&ents[k].set.rules[m], r, sizeof(*r)))
				return true;
	}
	return false;
}

int rules_decompile(const struct rules_entry *ents, size_t n, struct rules_rule **out,
		    size_t *nr)
{
	struct rules_rule *v;
	size_t i, j, nv = 0;

	*out = NULL;
	*nr = 0;
	v = calloc(n * SH_MAX_RULES + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		for (j = 0; j < ents[i].set.count && j < SH_MAX_RULES; j++) {
			const struct sh_rule *r = &ents[i].set.rules[j];

			if (inherited(ents, n, &ents[i], r))
				continue;
			v[nv].rule = *r;
			v[nv++].key = ents[i].key;
		}
	qsort(v, nv, sizeof(*v), rule_order);
	*out = v;
	*nr = nv;
	return 0;
}
