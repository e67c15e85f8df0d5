// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_key.c - the key and rule-match code the BPF programs compile too. */
#include "cmocka_all.h"
#include <arpa/inet.h>
#include <string.h>

#include "sockhop.h"

static void v4(struct sh_sock_key *k, const char *l, uint16_t lp, const char *r, uint16_t rp)
{
	struct in_addr a;

	memset(k, 0, sizeof(*k));
	k->netns_cookie = 7;
	inet_pton(AF_INET, l, &a);
	sh_addr_from_ip4(k->local_ip, a.s_addr);
	inet_pton(AF_INET, r, &a);
	sh_addr_from_ip4(k->remote_ip, a.s_addr);
	k->local_port = lp;
	k->remote_port = rp;
}

static void v6(struct sh_sock_key *k, const char *l, uint16_t lp, const char *r, uint16_t rp)
{
	struct in6_addr a;
	uint32_t w[4];

	memset(k, 0, sizeof(*k));
	k->netns_cookie = 7;
	inet_pton(AF_INET6, l, &a);
	memcpy(w, &a, 16);
	sh_addr_from_ip6(k->local_ip, w);
	inet_pton(AF_INET6, r, &a);
	memcpy(w, &a, 16);
	sh_addr_from_ip6(k->remote_ip, w);
	k->local_port = lp;
	k->remote_port = rp;
}

/* An AF_INET socket and an AF_INET6 one speaking v4-mapped meet. */
static void test_v4_equals_v4mapped(void **s)
{
	struct sh_sock_key a, b;

	(void)s;
	v4(&a, "127.0.0.1", 5000, "127.0.0.2", 80);
	v6(&b, "::ffff:127.0.0.1", 5000, "::ffff:127.0.0.2", 80);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_mapped_bytes(void **s)
{
	struct sh_sock_key a;
	const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3 };

	(void)s;
	v4(&a, "10.1.2.3", 1, "10.0.0.1", 2);
	assert_memory_equal(a.local_ip, want, 16);
}

/* The peer's key of my key is the key the peer builds for itself. */
static void test_peer(void **s)
{
	struct sh_sock_key client, server, peer, back;

	(void)s;
	v6(&client, "fd00::1", 40000, "fd00::2", 443);
	v6(&server, "fd00::2", 443, "fd00::1", 40000);
	sh_sock_key_peer(&client, &peer);
	assert_memory_equal(&peer, &server, sizeof(peer));
	sh_sock_key_peer(&peer, &back);
	assert_memory_equal(&back, &client, sizeof(back));
}

static void test_netns_separates(void **s)
{
	struct sh_sock_key a, b;

	(void)s;
	v4(&a, "127.0.0.1", 5000, "127.0.0.1", 80);
	v4(&b, "127.0.0.1", 5000, "127.0.0.1", 80);
	b.netns_cookie = 8;
	assert_memory_not_equal(&a, &b, sizeof(a));
}

#define A SH_KIND(SH_ACT_ACCELERATE)

static void test_rule_match(void **s)
{
	struct sh_rule_set rs = { .count = 3 };
	const struct sh_rule *r;

	(void)s;
	rs.rules[0] = (struct sh_rule){ .proto = SH_PROTO_UDP, .action = 1, .rule_id = 0,
					.port_lo = 0, .port_hi = 65535 };
	rs.rules[1] = (struct sh_rule){ .proto = SH_PROTO_TCP, .action = 1, .rule_id = 1,
					.port_lo = 8000, .port_hi = 8999 };
	rs.rules[2] = (struct sh_rule){ .proto = SH_PROTO_ANY, .action = 1, .rule_id = 2,
					.port_lo = 80, .port_hi = 80 };
	r = sh_rule_match(&rs, A, SH_PROTO_TCP, 8000);
	assert_non_null(r);
	assert_int_equal(r->rule_id, 1);
	r = sh_rule_match(&rs, A, SH_PROTO_TCP, 8999);
	assert_int_equal(r->rule_id, 1);
	assert_null(sh_rule_match(&rs, A, SH_PROTO_TCP, 9000));
	r = sh_rule_match(&rs, A, SH_PROTO_TCP, 80);
	assert_int_equal(r->rule_id, 2);
	r = sh_rule_match(&rs, A, SH_PROTO_UDP, 80);
	assert_int_equal(r->rule_id, 0);	/* first match wins */
	rs.count = 0;
	assert_null(sh_rule_match(&rs, A, SH_PROTO_TCP, 80));
}

/* Each hook sees only rules of its kind; count rules let the search go on. */
static void test_rule_kinds(void **s)
{
	struct sh_rule_set rs = { .count = 4 };

	(void)s;
	rs.rules[0] = (struct sh_rule){ .proto = SH_PROTO_TCP, .action = SH_ACT_DENY,
					.port_lo = 443, .port_hi = 443 };
	rs.rules[1] = (struct sh_rule){ .proto = SH_PROTO_TCP, .action = SH_ACT_ACCELERATE,
					.port_lo = 0, .port_hi = 65535 };
	rs.rules[2] = (struct sh_rule){ .proto = SH_PROTO_ANY, .action = SH_ACT_COUNT,
					.port_lo = 0, .port_hi = 65535 };
	rs.rules[3] = (struct sh_rule){ .proto = SH_PROTO_ICMP, .action = SH_ACT_MARK,
					.port_lo = 0, .port_hi = 65535, .arg = 7 };
	/* the deny before it does not hide the accelerate rule from sockops */
	assert_int_equal(sh_rule_find(&rs, 0, SH_KIND(SH_ACT_ACCELERATE), SH_PROTO_TCP, 443), 1);
	assert_int_equal(sh_rule_find(&rs, 0, SH_KINDS_POLICY, SH_PROTO_TCP, 443), 0);
	assert_int_equal(sh_rule_find(&rs, 0, SH_KINDS_POLICY, SH_PROTO_TCP, 80), 2);
	assert_int_equal(sh_rule_find(&rs, 3, SH_KINDS_POLICY, SH_PROTO_TCP, 80), -1);
	assert_int_equal(sh_rule_find(&rs, 3, SH_KINDS_POLICY, SH_PROTO_ICMP, 0), 3);
	assert_int_equal(sh_rule_find(&rs, 0, SH_KIND(SH_ACT_BALANCE), SH_PROTO_TCP, 80), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_equals_v4mapped),
		cmocka_unit_test(test_rule_kinds),
		cmocka_unit_test(test_mapped_bytes),
		cmocka_unit_test(test_peer),
		cmocka_unit_test(test_netns_separates),
		cmocka_unit_test(test_rule_match),
	};

	return cmocka_run_group_tests_name("key", tests, NULL, NULL);
}
