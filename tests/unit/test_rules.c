// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_rules.c - compiling rules into longest-prefix trie entries, and back. */
#include "cmocka_all.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "rules.h"

static struct cfg *parse(const char *yaml)
{
	char err[4096];
	struct cfg *cfg = NULL;

	if (cfg_parse("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	return cfg;
}

static const struct rules_entry *entry(const struct rules_entry *e, size_t n, int plen, uint8_t b12)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((int)e[i].key.prefixlen == plen && (plen <= 96 || e[i].key.addr[12] == b12))
			return &e[i];
	return NULL;
}

/* 10.1.0.0/16 is inside 10.0.0.0/8 is inside any: the /16 entry carries all
 * three rules in config order, the /8 two, any one. */
static void test_nested_prefixes(void **s)
{
	struct cfg *cfg = parse("scopes:\n  - name: a\n    cgroup: a\n    rules:\n"
				"      - {action: accelerate, port: 1}\n"
				"      - {action: accelerate, destination: 10.0.0.0/8, port: 2}\n"
				"      - {action: accelerate, destination: 10.1.0.0/16, port: 3}\n"
				"      - {action: accelerate, destination: 192.168.0.0/16, port: 4}\n");
	struct rules_entry *e;
	const struct rules_entry *x;
	size_t n;
	const struct cfg_rule *over;

	(void)s;
	assert_int_equal(rules_compile(&cfg->scopes[0], &e, &n, &over), 0);
	assert_int_equal(n, 4);
	x = entry(e, n, 0, 0);
	assert_non_null(x);
	assert_int_equal(x->set.count, 1);
	x = entry(e, n, 104, 10);
	assert_int_equal(x->set.count, 2);
	assert_int_equal(x->set.rules[0].port_lo, 1);
	assert_int_equal(x->set.rules[1].port_lo, 2);
	x = entry(e, n, 112, 10);
	assert_int_equal(x->set.count, 3);
	assert_int_equal(x->set.rules[2].port_lo, 3);
	assert_int_equal(x->set.rules[2].rule_id, 2);
	x = entry(e, n, 112, 192);
	assert_int_equal(x->set.count, 2);	/* any + its own */
	assert_int_equal(x->set.rules[1].port_lo, 4);
	free(e);
	cfg_free(cfg);
}

static void test_same_prefix_merges(void **s)
{
	struct cfg *cfg = parse("scopes:\n  - name: a\n    cgroup: a\n    rules:\n"
				"      - {action: accelerate, destination: '::1', port: 80}\n"
				"      - {action: accelerate, destination: '::1', port: 443}\n");
	struct rules_entry *e;
	size_t n;
	const struct cfg_rule *over;

	(void)s;
	assert_int_equal(rules_compile(&cfg->scopes[0], &e, &n, &over), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].key.prefixlen, 128);
	assert_int_equal(e[0].set.count, 2);
	free(e);
	cfg_free(cfg);
}

static void test_contains(void **s)
{
	uint8_t a[16] = { 10 }, b[16] = { 10, 1 }, c[16] = { 11 };

	(void)s;
	assert_true(addr_prefix_contains(a, 8, b, 16));
	assert_false(addr_prefix_contains(b, 16, a, 8));
	assert_false(addr_prefix_contains(a, 8, c, 8));
	assert_true(addr_prefix_contains(c, 0, a, 8));
	assert_true(addr_prefix_contains(a, 7, c, 8));	/* 10 and 11 share 7 bits */
}

/* What `sockhop policy` shows is the config again: compile, read the
 * entries back in any order (a trie walk has none), decompile, and each
 * rule returns once, with its own prefix, in config order. */
static void test_decompile_round_trip(void **s)
{
	struct cfg *cfg = parse("scopes:\n  - name: a\n    cgroup: a\n    rules:\n"
				"      - {action: deny, destination: 10.1.0.0/16, port: 3}\n"
				"      - {action: allow, port: 1}\n"
				"      - {action: mark, mark: 7, destination: 10.0.0.0/8, protocol: udp}\n"
				"      - {action: deny, destination: '2001:db8::/32', port: 20-30}\n"
				"      - {action: allow, destination: 10.1.2.3}\n"
				"      - {action: deny, destination: 10.1.0.0/16, port: 4}\n");
	const struct cfg_scope *sc = &cfg->scopes[0];
	struct rules_entry *e, t;
	struct rules_rule *r;
	size_t n, nr, i;
	const struct cfg_rule *over;

	(void)s;
	assert_int_equal(rules_compile(sc, &e, &n, &over), 0);
	for (i = 0; i < n / 2; i++) {	/* reverse: no order to lean on */
		t = e[i];
		e[i] = e[n - 1 - i];
		e[n - 1 - i] = t;
	}
	assert_int_equal(rules_decompile(e, n, &r, &nr), 0);
	assert_int_equal(nr, sc->nr_rules);
	for (i = 0; i < nr; i++) {
		const struct cfg_rule *c = &sc->rules[i];

		assert_int_equal(r[i].rule.rule_id, c->index);
		assert_int_equal(r[i].rule.action, c->action);
		assert_int_equal(r[i].rule.proto, c->proto);
		assert_int_equal(r[i].rule.port_lo, c->port_lo);
		assert_int_equal(r[i].rule.port_hi, c->port_hi);
		assert_int_equal(r[i].rule.arg, c->arg);
		assert_int_equal(r[i].key.prefixlen, c->prefixlen);
		assert_memory_equal(r[i].key.addr, c->addr, 16);
	}
	free(r);
	free(e);
	cfg_free(cfg);
}

static void test_decompile_empty(void **s)
{
	struct rules_rule *r = (void *)1;
	size_t nr = 9;

	(void)s;
	assert_int_equal(rules_decompile(NULL, 0, &r, &nr), 0);
	assert_int_equal(nr, 0);
	free(r);
}

static void test_no_rules(void **s)
{
	struct cfg *cfg = parse("scopes:\n  - name: a\n    cgroup: a\n");
	struct rules_entry *e = (void *)1;
	size_t n = 9;
	const struct cfg_rule *over;

	(void)s;
	assert_int_equal(rules_compile(&cfg->scopes[0], &e, &n, &over), 0);
	assert_null(e);
	assert_int_equal(n, 0);
	cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_prefixes),
		cmocka_unit_test(test_same_prefix_merges),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_decompile_round_trip),
		cmocka_unit_test(test_decompile_empty),
		cmocka_unit_test(test_no_rules),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
