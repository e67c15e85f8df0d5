// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_rules.c - libFuzzer harness: the rule compiler on scopes built
 * straight from the bytes (any action, protocol, prefix, port range and
 * argument; rules the YAML layer would never produce included), checked by
 * its inverse: the decompiled trie gives back every rule as written.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rules.h"

#define RULE_BYTES 26	/* what one rule takes from the input */

static void rule_from(struct cfg_rule *r, const uint8_t *p, uint16_t index)
{
	static const uint8_t protos[] = { SH_PROTO_ANY, SH_PROTO_ICMP, SH_PROTO_TCP, SH_PROTO_UDP };
	unsigned int bits, i;

	memset(r, 0, sizeof(*r));
	r->action = (uint8_t)(1 + p[0] % (SH_ACT_NR - 1));
	r->proto = protos[p[1] % 4];
	r->prefixlen = p[2] % 129;
	memcpy(r->addr, p + 3, 16);
	if (p[2] & 0x80) {		/* half the rules IPv4: a v4-mapped prefix */
		memset(r->addr, 0, 10);
		r->addr[10] = r->addr[11] = 0xff;
		if (r->prefixlen < 96)
			r->prefixlen = (uint8_t)(96 + r->prefixlen % 33);
	}
	for (i = 0; i < 16; i++) {	/* host bits zero, as the config writes them */
		bits = r->prefixlen > i * 8 ? r->prefixlen - i * 8 : 0;
		if (bits < 8)
			r->addr[i] &= (uint8_t)(0xff00 >> bits);
	}
	r->port_lo = (uint16_t)(p[19] | p[20] << 8);
	r->port_hi = (uint16_t)(p[21] | p[22] << 8);
	if (r->port_hi < r->port_lo)
		r->port_hi = r->port_lo;
	r->arg = (uint32_t)p[23] | (uint32_t)p[24] << 8 | (uint32_t)(p[25] & 0x0f) << 16;
	r->index = index;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_scope scope = { .name = "fuzz", .cgroup = "fuzz" };
	struct cfg_rule rules[96];
	struct rules_entry *e = NULL;
	struct rules_rule *r = NULL;
	const struct cfg_rule *over = NULL;
	size_t n = 0, nr = 0, i;
	int ret;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]) && (i + 1) * RULE_BYTES <= size; i++)
		rule_from(&rules[i], data + i * RULE_BYTES, (uint16_t)i);
	scope.rules = rules;
	scope.nr_rules = scope.nr_written = i;
	ret = rules_compile(&scope, &e, &n, &over);
	if (ret == -E2BIG && (!over || over < rules || over >= rules + scope.nr_rules))
		abort();		/* an overflow names a rule of the scope */
	if (ret)
		return 0;
	if (rules_decompile(e, n, &r, &nr) || nr != scope.nr_rules)
		abort();
	for (i = 0; i < nr; i++) {
		const struct cfg_rule *c = &rules[i];

		if (r[i].rule.rule_id != c->index || r[i].rule.action != c->action ||
		    r[i].rule.proto != c->proto || r[i].rule.port_lo != c->port_lo ||
		    r[i].rule.port_hi != c->port_hi || r[i].rule.arg != c->arg ||
		    r[i].key.prefixlen != c->prefixlen || memcmp(r[i].key.addr, c->addr, 16))
			abort();
	}
	free(r);
	free(e);
	return 0;
}
