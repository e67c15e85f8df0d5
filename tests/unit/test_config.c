// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_config.c - the config parser: valid files parse to the expected
 * model; each malformed file is refused with exactly the expected first
 * error line (file:line:column: field: reason).
 */
#include "cmocka_all.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/socket.h>

#include "config.h"
#include "reload.h"

static char repo_root[512] = ".";

static struct cfg *parse_ok(const char *yaml)
{
	char err[4096];
	struct cfg *cfg = NULL;
	int ret = cfg_parse("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err));

	if (ret)
		fail_msg("unexpected error %d:\n%s", ret, err);
	return cfg;
}

static void test_shipped_default(void **s)
{
	char path[600], err[4096];
	struct cfg *cfg;

	(void)s;
	snprintf(path, sizeof(path), "%s/proxy/sockhop.yaml", repo_root);
	assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->nr_scopes, 1);
	assert_string_equal(cfg->scopes[0].name, "demo");
	assert_true(cfg->scopes[0].create);
	assert_int_equal(cfg->scopes[0].nr_rules, 3);
	assert_int_equal(cfg->scopes[0].rules[0].prefixlen, 96 + 8);
	assert_int_equal(cfg->scopes[0].rules[1].prefixlen, 128);
	assert_int_equal(cfg->scopes[0].rules[2].action, SH_ACT_COUNT);
	assert_int_equal(cfg->scopes[0].def.action, SH_ACT_ALLOW);
	assert_int_equal(cfg->scopes[0].accel_buffer, SH_ACCEL_BUFFER_DEFAULT);
	cfg_free(cfg);
}

static void test_flow_control_model(void **s)
{
	struct cfg *cfg;

	(void)s;
	cfg = parse_ok("scopes:\n"
		       "  - name: a\n"
		       "    cgroup: a\n"
		       "    accelerate-buffer: 256KiB\n"
		       "    rules:\n"
		       "      - {action: no-accelerate, port: 5432}\n"
		       "      - {action: accelerate}\n"
		       "  - {name: b, cgroup: b, accelerate-buffer: 4M}\n"
		       "  - {name: c, cgroup: c, accelerate-buffer: 65536}\n");
	assert_int_equal(cfg->scopes[0].accel_buffer, 256 << 10);
	assert_int_equal(cfg->scopes[1].accel_buffer, 4 << 20);
	assert_int_equal(cfg->scopes[2].accel_buffer, 65536);
	assert_int_equal(cfg->scopes[0].rules[0].action, SH_ACT_NO_ACCELERATE);
	assert_int_equal(cfg->scopes[0].rules[0].proto, SH_PROTO_TCP);
	assert_int_equal(cfg->scopes[0].rules[0].port_lo, 5432);
	assert_int_equal(cfg->scopes[0].rules[1].action, SH_ACT_ACCELERATE);
	cfg_free(cfg);
}

static void test_full_model(void **s)
{
	struct cfg *cfg;
	const struct cfg_rule *r;
	static const uint8_t v4m[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0 };

	(void)s;
	cfg = parse_ok("scopes:\n"
		       "  - name: web\n"
		       "    cgroup: /sys/fs/cgroup/unified/web\n"
		       "    rules:\n"
		       "      - action: accelerate\n"
		       "        destination: 10.0.0.0/8\n"
		       "        port: 8000-8999\n"
		       "      - {action: accelerate, protocol: tcp, destination: 'fd00::/64', port: 443}\n"
		       "      - action: accelerate\n"
		       "  - name: web.db_1\n"
		       "    cgroup: web/db\n"
		       "    create: false\n"
		       "    rules: []\n");
	assert_int_equal(cfg->nr_scopes, 2);
	assert_string_equal(cfg->scopes[0].cgroup, "/sys/fs/cgroup/unified/web");
	assert_int_equal(cfg->scopes[0].cgroup_line, 3);
	assert_int_equal(cfg->scopes[0].nr_rules, 3);
	r = &cfg->scopes[0].rules[0];
	assert_int_equal(r->line, 5);
	assert_int_equal(r->action, SH_ACT_ACCELERATE);
	assert_int_equal(r->proto, SH_PROTO_TCP);
	assert_int_equal(r->prefixlen, 104);
	assert_memory_equal(r->addr, v4m, 16);
	assert_int_equal(r->port_lo, 8000);
	assert_int_equal(r->port_hi, 8999);
	r = &cfg->scopes[0].rules[1];
	assert_int_equal(r->prefixlen, 64);
	assert_int_equal(r->addr[0], 0xfd);
	assert_int_equal(r->port_lo, 443);
	assert_int_equal(r->port_hi, 443);
	r = &cfg->scopes[0].rules[2];	/* defaults: any destination, any port */
	assert_int_equal(r->prefixlen, 0);
	assert_int_equal(r->port_lo, 0);
	assert_int_equal(r->port_hi, 65535);
	assert_false(cfg->scopes[1].create);
	assert_int_equal(cfg->scopes[1].nr_rules, 0);
	cfg_free(cfg);
}

static void test_no_scopes(void **s)
{
	struct cfg *cfg;

	(void)s;
	cfg = parse_ok("scopes:\n");
	assert_int_equal(cfg->nr_scopes, 0);
	cfg_free(cfg);
	cfg = parse_ok("# nothing yet\nscopes: []\n");
	assert_int_equal(cfg->nr_scopes, 0);
	cfg_free(cfg);
}

struct bad_case {
	const char *what;
	const char *yaml;
	const char *error;	/* the exact first line of the error text */
};

#define SCOPE "scopes:\n  - name: a\n    cgroup: a\n"
#define SVC "services:\n  - name: w\n    listen: 127.0.0.1:80\n"
#define RULES SCOPE "    rules:\n      - action: accelerate\n"

static const struct bad_case bad_cases[] = {
	{ "empty file", "",
	  "t.yaml:1:1: the file is empty (expected a mapping with 'scopes' or 'services')" },
	{ "YAML syntax", "scopes: [\n",
	  "t.yaml:2:1: YAML syntax error: did not find expected node content while parsing a flow node" },
	{ "bad indentation", "scopes:\n  - name: a\n   cgroup: b\n",
	  "t.yaml:3:4: YAML syntax error: did not find expected '-' indicator while parsing a block collection" },
	{ "top level is a list", "- a\n",
	  "t.yaml:1:1: (top level): expected a mapping, found a list" },
	{ "unknown top-level key", "scopes: []\nscope: []\n",
	  "t.yaml:2:1: (top level): unknown key 'scope' (expected one of: scopes, services, policy)" },
	{ "missing scopes", "other: 1\n",
	  "t.yaml:1:1: (top level): unknown key 'other' (expected one of: scopes, services, policy)" },
	{ "scopes is a mapping", "scopes:\n  a: b\n",
	  "t.yaml:2:3: scopes: expected a list, found a mapping" },
	{ "scope is a scalar", "scopes:\n  - web\n",
	  "t.yaml:2:5: scopes[0]: expected a mapping, found a scalar" },
	{ "scope without name", "scopes:\n  - cgroup: a\n",
	  "t.yaml:2:5: scopes[0]: missing required key 'name'" },
	{ "scope without cgroup", "scopes:\n  - name: a\n",
	  "t.yaml:2:5: scopes[0]: missing required key 'cgroup'" },
	{ "bad name", "scopes:\n  - name: 'a b'\n    cgroup: a\n",
	  "t.yaml:2:11: scopes[0].name: 'a b' is not a valid name (1-31 characters of A-Z a-z 0-9 . _ -)" },
	{ "name too long", "scopes:\n  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n    cgroup: a\n",
	  "t.yaml:2:11: scopes[0].name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a valid name (1-31 characters of A-Z a-z 0-9 . _ -)" },
	{ "cgroup with ..", "scopes:\n  - name: a\n    cgroup: x/../../etc\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'x/../../etc' contains '..'" },
	{ "cgroup is a list", "scopes:\n  - name: a\n    cgroup: [a]\n",
	  "t.yaml:3:13: scopes[0].cgroup: expected a scalar, found a list" },
	{ "create not boolean", SCOPE "    create: maybe\n",
	  "t.yaml:4:13: scopes[0].create: expected true or false, found 'maybe'" },
	{ "a name three times: said once, of the first", SCOPE "  - name: a\n    cgroup: b\n  - name: a\n    cgroup: c\n",
	  "t.yaml:4:5: scopes[1].name: duplicate scope name 'a' (first at line 2)\n"
	  "t.yaml:6:5: scopes[2].name: duplicate scope name 'a' (first at line 2)" },
	{ "duplicate scope name", SCOPE "  - name: a\n    cgroup: b\n",
	  "t.yaml:4:5: scopes[1].name: duplicate scope name 'a' (first at line 2)" },
	{ "duplicate cgroup", SCOPE "  - name: b\n    cgroup: a\n",
	  "t.yaml:5:13: scopes[1].cgroup: cgroup 'a' is already the scope 'a' (line 3)" },
	{ "unknown scope key", SCOPE "    rule: []\n",
	  "t.yaml:4:5: scopes[0]: unknown key 'rule' (expected one of: name, cgroup, create, rules, default, default-mark, accelerate-buffer)" },
	{ "duplicate key", SCOPE "    cgroup: b\n",
	  "t.yaml:4:5: scopes[0]: duplicate key 'cgroup' (first at line 3)" },
	{ "rules is a mapping", SCOPE "    rules:\n      action: accelerate\n",
	  "t.yaml:5:7: scopes[0].rules: expected a list, found a mapping" },
	{ "rule is a scalar", SCOPE "    rules:\n      - accelerate\n",
	  "t.yaml:5:9: scopes[0].rules[0]: expected a mapping, found a scalar" },
	{ "rule without action", SCOPE "    rules:\n      - port: 80\n",
	  "t.yaml:5:9: scopes[0].rules[0]: missing required key 'action'" },
	{ "unknown action", SCOPE "    rules:\n      - action: speedup\n",
	  "t.yaml:5:17: scopes[0].rules[0].action: unknown action 'speedup' (expected accelerate, no-accelerate, balance, allow, deny, count or mark)" },
	{ "accelerate over udp", RULES "        protocol: udp\n",
	  "t.yaml:6:19: scopes[0].rules[0].protocol: action accelerate applies to tcp only, not 'udp'" },
	{ "unknown protocol", RULES "        protocol: sctp\n",
	  "t.yaml:6:19: scopes[0].rules[0].protocol: unknown protocol 'sctp' (expected tcp)" },
	{ "bad destination", RULES "        destination: 10.0.0.300\n",
	  "t.yaml:6:22: scopes[0].rules[0].destination: '10.0.0.300' is not an IPv4 or IPv6 address or prefix, or 'any'" },
	{ "host bits set", RULES "        destination: 10.0.0.1/8\n",
	  "t.yaml:6:22: scopes[0].rules[0].destination: '10.0.0.1/8' has host bits set beyond the prefix length" },
	{ "prefix too long", RULES "        destination: 10.0.0.0/33\n",
	  "t.yaml:6:22: scopes[0].rules[0].destination: prefix length in '10.0.0.0/33' must be 0-32" },
	{ "IPv6 prefix too long", RULES "        destination: fd00::/129\n",
	  "t.yaml:6:22: scopes[0].rules[0].destination: prefix length in 'fd00::/129' must be 0-128" },
	{ "port 0", RULES "        port: 0\n",
	  "t.yaml:6:15: scopes[0].rules[0].port: '0' is not a port (1-65535), a range LOW-HIGH, or 'any'" },
	{ "port too large", RULES "        port: 70000\n",
	  "t.yaml:6:15: scopes[0].rules[0].port: '70000' is not a port (1-65535), a range LOW-HIGH, or 'any'" },
	{ "reversed range", RULES "        port: 9000-8000\n",
	  "t.yaml:6:15: scopes[0].rules[0].port: port range '9000-8000' is reversed (low end above high end)" },
	{ "port name", RULES "        port: http\n",
	  "t.yaml:6:15: scopes[0].rules[0].port: 'http' is not a port (1-65535), a range LOW-HIGH, or 'any'" },
	{ "negative port", RULES "        port: -1\n",
	  "t.yaml:6:15: scopes[0].rules[0].port: '-1' is not a port (1-65535), a range LOW-HIGH, or 'any'" },
	{ "unknown rule key", RULES "        dport: 80\n",
	  "t.yaml:6:9: scopes[0].rules[0]: unknown key 'dport' (expected one of: action, protocol, destination, port, service, mark)" },
	{ "service without backends", SVC "",
	  "t.yaml:2:5: services[0]: missing required key 'backends'" },
	{ "bare IPv6 listen", "services:\n  - name: w\n    listen: ::1:80\n    backends: [127.0.0.1:1]\n",
	  "t.yaml:3:13: services[0].listen: '::1:80' is not IP:PORT or [IPv6]:PORT (port 1-65535)" },
	{ "port 0 backend", SVC "    backends: [127.0.0.1:0]\n",
	  "t.yaml:4:16: services[0].backends[0]: '127.0.0.1:0' is not IP:PORT or [IPv6]:PORT (port 1-65535)" },
	{ "unknown algorithm", SVC "    backends: [127.0.0.1:1]\n    algorithm: hash\n",
	  "t.yaml:5:16: services[0].algorithm: unknown algorithm 'hash' (expected one of: round-robin, least-conn, maglev, random-two)" },
	{ "unknown data path", SVC "    backends: [127.0.0.1:1]\n    data-path: kernel\n",
	  "t.yaml:5:16: services[0].data-path: unknown data-path 'kernel' (expected one of: auto, splice, relay)" },
	{ "bad duration", SVC "    backends: [127.0.0.1:1]\n    timeouts: {idle: 5 minutes}\n",
	  "t.yaml:5:22: services[0].timeouts.idle: '5 minutes' is not a duration (e.g. 250ms, 2s, 5m, 1h)" },
	{ "check timeout over interval", SVC "    backends: [127.0.0.1:1]\n    health-check: {interval: 1s, timeout: 2s}\n",
	  "t.yaml:5:19: services[0].health-check: timeout (2000ms) must not exceed interval (1000ms)" },
	{ "weight 0", SVC "    backends: [{address: 127.0.0.1:1, weight: 0}]\n",
	  "t.yaml:4:47: services[0].backends[0].weight: '0' is not a whole number in 1-256" },
	{ "only backups", SVC "    backends: [{address: 127.0.0.1:1, backup: true}]\n",
	  "t.yaml:2:5: services[0]: every backend is a backup; at least one must be a primary" },
	{ "duplicate listen", SVC "    backends: [127.0.0.1:1]\n  - name: v\n    listen: 127.0.0.1:80\n    backends: [127.0.0.1:2]\n",
	  "t.yaml:6:13: services[1]: listen address 127.0.0.1:80 is already used by service 'w' (line 3)" },
	{ "balance: unknown service", "services:\n  - {name: w, virtual: 10.0.0.1:80, backends: [10.0.1.1:80]}\n" SCOPE "    rules:\n      - {action: balance, service: x}\n",
	  "t.yaml:7:36: scopes[0].rules[0].service: no service named 'x'" },
	{ "balance: no virtual address", SVC "    backends: [127.0.0.1:1]\n" SCOPE "    rules:\n      - {action: balance, service: w}\n",
	  "t.yaml:9:36: scopes[0].rules[0].service: service 'w' (line 2) has no 'virtual' address to balance" },
	{ "balance with a destination", "services:\n  - {name: w, virtual: 10.0.0.1:80, backends: [10.0.1.1:80]}\n" SCOPE "    rules:\n      - {action: balance, service: w, destination: 10.0.0.0/8}\n",
	  "t.yaml:7:52: scopes[0].rules[0].destination: a balance rule matches its service's virtual addresses; remove 'destination'" },
	{ "accelerate naming a service", RULES "        service: w\n",
	  "t.yaml:6:18: scopes[0].rules[0].service: only a balance rule names a service" },
	{ "virtual family mismatch", "services:\n  - name: w\n    virtual: 10.0.0.1:80\n    backends: [\"[::1]:80\"]\n",
	  "t.yaml:4:16: services[0]: backend [::1]:80 is not of the family of virtual address 10.0.0.1:80 (line 3); connect-time balancing keeps IPv4 and IPv6 apart" },
	{ "duplicate virtual", "services:\n  - {name: w, virtual: 10.0.0.1:80, backends: [10.0.1.1:80]}\n  - {name: v, virtual: 10.0.0.1:80, backends: [10.0.1.2:80]}\n",
	  "t.yaml:3:24: services[1]: virtual address 10.0.0.1:80 already belongs to service 'w' (line 2)" },
	{ "neither listen nor virtual", "services:\n  - {name: w, backends: [10.0.1.1:80]}\n",
	  "t.yaml:2:5: services[0]: missing required key 'listen' (a proxy address) or 'virtual' (a connect-time virtual address)" },
	{ "unknown virtual protocol", "services:\n  - {name: w, virtual: 10.0.0.1:80, virtual-protocol: sctp, backends: [10.0.1.1:80]}\n",
	  "t.yaml:2:55: services[0].virtual-protocol: unknown protocol 'sctp' (expected tcp, udp or both)" },
	{ "mark without a mark", SCOPE "    rules:\n      - {action: mark, protocol: udp}\n",
	  "t.yaml:5:9: scopes[0].rules[0].mark: a mark rule needs 'mark: N'" },
	{ "mark on an allow rule", SCOPE "    rules:\n      - {action: allow, mark: 3}\n",
	  "t.yaml:5:31: scopes[0].rules[0].mark: only a mark rule sets a mark" },
	{ "mark too large", SCOPE "    rules:\n      - {action: mark, mark: 0x100000000}\n",
	  "t.yaml:5:30: scopes[0].rules[0].mark: '0x100000000' is not a mark (0-4294967295, or 0x hexadecimal)" },
	{ "icmp with a port", SCOPE "    rules:\n      - {action: deny, protocol: icmp, port: 80}\n",
	  "t.yaml:5:46: scopes[0].rules[0].port: icmp has no ports; remove 'port' or match tcp or udp" },
	{ "unknown policy protocol", SCOPE "    rules:\n      - {action: deny, protocol: sctp}\n",
	  "t.yaml:5:34: scopes[0].rules[0].protocol: unknown protocol 'sctp' (expected tcp, udp, icmp or any)" },
	{ "accelerate icmp", SCOPE "    rules:\n      - {action: accelerate, protocol: icmp}\n",
	  "t.yaml:5:40: scopes[0].rules[0].protocol: unknown protocol 'icmp' (expected tcp)" },
	{ "count as a default", SCOPE "    default: count\n",
	  "t.yaml:4:14: scopes[0].default: 'count' is not a default verdict (expected allow, deny or mark)" },
	{ "default mark without its mark", SCOPE "    default: mark\n",
	  "t.yaml:4:14: scopes[0].default-mark: default 'mark' needs 'default-mark: N'" },
	{ "default-mark without mark", SCOPE "    default-mark: 5\n",
	  "t.yaml:4:19: scopes[0].default-mark: 'default-mark' is only for 'default: mark'" },
	{ "unknown policy key", "policy: {default: deny, ingress: allow}\nscopes: []\n",
	  "t.yaml:1:25: policy: unknown key 'ingress' (expected one of: default, default-mark)" },
	{ "policy default accelerate", "policy: {default: accelerate}\nscopes: []\n",
	  "t.yaml:1:19: policy.default: 'accelerate' is not a default verdict (expected allow, deny or mark)" },
	{ "auto-min-idle over 100", SVC "    backends: [127.0.0.1:1]\n    auto-min-idle: 101\n",
	  "t.yaml:5:20: services[0].auto-min-idle: '101' is not a whole number in 0-100" },
	{ "unknown limits key", SVC "    backends: [127.0.0.1:1]\n    limits: {max: 3}\n",
	  "t.yaml:5:14: services[0].limits: unknown key 'max' (expected one of: connections, per-backend, attempts)" },
	/* file-level problems name the line and column of the offending byte */
	{ "invalid UTF-8 on line 3", "scopes:\n  - name: a\n    cgroup: b\xff\n",
	  "t.yaml:3:14: invalid UTF-8 (byte 0xff): the file must be UTF-8 text" },
	{ "overlong UTF-8", "scopes:\n  - name: \xc0\xaf\n",
	  "t.yaml:2:11: invalid UTF-8 (byte 0xc0): the file must be UTF-8 text" },
	{ "UTF-8 surrogate", "# \xed\xa0\x80\nscopes: []\n",
	  "t.yaml:1:3: invalid UTF-8 (byte 0xed): the file must be UTF-8 text" },
	{ "truncated UTF-8 at the end", "scopes: []\n# \xe2\x82",
	  "t.yaml:2:3: invalid UTF-8 (byte 0xe2): the file must be UTF-8 text" },
	/* one document only */
	{ "second document", SCOPE "---\nscopes: []\n",
	  "t.yaml:4:1: a second YAML document starts here; the file must hold exactly one (remove this '---' and what follows, or merge them)" },
	{ "second document with a syntax error", SCOPE "---\nscopes: [\n",
	  "t.yaml:6:1: YAML syntax error: did not find expected node content while parsing a flow node" },
	/* the root cgroup by a relative spelling */
	{ "cgroup .", "scopes:\n  - name: a\n    cgroup: .\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path '.' names the root of the cgroup2 mount: every process on the machine would be in scope" },
	{ "cgroup ./", "scopes:\n  - name: a\n    cgroup: ./\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path './' names the root of the cgroup2 mount: every process on the machine would be in scope" },
	{ "cgroup .//./", "scopes:\n  - name: a\n    cgroup: .//./\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path './/./' names the root of the cgroup2 mount: every process on the machine would be in scope" },
	{ "cgroup a/..", "scopes:\n  - name: a\n    cgroup: a/..\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a/..' contains '..'" },
	/* one cgroup by two spellings */
	{ "duplicate cgroup by spelling", SCOPE "  - name: b\n    cgroup: ./a//\n",
	  "t.yaml:5:13: scopes[1].cgroup: cgroup './a//' is already the scope 'a' (line 3)" },
	{ "duplicate absolute cgroup", "scopes:\n  - {name: a, cgroup: /c/g}\n  - {name: b, cgroup: /c/./g/}\n",
	  "t.yaml:3:23: scopes[1].cgroup: cgroup '/c/./g/' is already the scope 'a' (line 2)" },
	/* a virtual address that is another service's listener */
	{ "virtual address is a listener", SVC "    backends: [127.0.0.1:1]\n  - {name: v, virtual: 127.0.0.1:80, backends: [127.0.0.1:2]}\n",
	  "t.yaml:5:24: services[1]: virtual address 127.0.0.1:80 is the listen address of service 'w' (line 3): connect-time balancing would take its connections from scoped clients" },
	{ "virtual address is a v4-mapped listener", "services:\n  - name: w\n    listen: \"[::ffff:10.1.1.1]:80\"\n    backends: [\"[::1]:1\"]\n  - {name: v, virtual: 10.1.1.1:80, backends: [10.0.1.2:80]}\n",
	  "t.yaml:5:24: services[1]: virtual address 10.1.1.1:80 is the listen address of service 'w' (line 3): connect-time balancing would take its connections from scoped clients" },
	/* local-clients */
	{ "local-clients unknown", SVC "    local-clients: direct\n    backends: [127.0.0.1:1]\n",
	  "t.yaml:4:20: services[0].local-clients: unknown local-clients 'direct' (expected one of: proxy, connect)" },
	{ "local-clients without listen", "services:\n  - {name: v, virtual: 10.1.1.1:80, local-clients: connect, backends: [127.0.0.1:2]}\n",
	  "t.yaml:2:52: services[0].local-clients: 'connect' gives local clients the backends of the listen addresses, and this service has none" },
	{ "local-clients on a wildcard", "services:\n  - {name: v, listen: 0.0.0.0:80, local-clients: connect, backends: [127.0.0.1:2]}\n",
	  "t.yaml:2:23: services[0].listen: local-clients: connect needs the address clients connect to, not the wildcard 0.0.0.0:80" },
	{ "local-clients across families", "services:\n  - {name: v, listen: \"[::1]:80\", local-clients: connect, backends: [127.0.0.1:2]}\n",
	  "t.yaml:2:23: services[0].listen: local-clients: connect gives a client of [::1]:80 a backend of its family, and backend 127.0.0.1:2 is not (one family per service)" },
	{ "local-clients with udp", SVC "    virtual-protocol: udp\n    local-clients: connect\n    backends: [127.0.0.1:1]\n",
	  "t.yaml:5:20: services[0].local-clients: 'connect' balances TCP connects to the listen addresses; virtual-protocol must be tcp (the default)" },
	/* what the first pass over the events refuses */
	{ "nesting 65 deep", "scopes: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	  "t.yaml:1:72: nesting deeper than 64 levels (the config needs a handful)" },
	{ "block nesting 65 deep", "scopes:\n- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - a\n",
	  "t.yaml:2:127: nesting deeper than 64 levels (the config needs a handful)" },
	{ "NUL escape in a name", "scopes:\n  - name: \"ab\\0cd\"\n    cgroup: x\n",
	  "t.yaml:2:11: a NUL character (\\0) in a value" },
	{ "NUL escape in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\\0/../..\"\n",
	  "t.yaml:3:13: a NUL character (\\0) in a value" },
	/* characters a cgroup path may not hide */
	{ "DEL in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\\x7f\"\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a\x7f' contains a control character" },
	{ "bidi override in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\xe2\x80\xae" "b\"\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a\xe2\x80\xae" "b' contains an invisible or text-reordering character" },
	{ "NEL in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\\Nb\"\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a\xc2\x85" "b' contains an invisible or text-reordering character" },
	{ "zero-width space in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\xe2\x80\x8b" "b\"\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a\xe2\x80\x8b" "b' contains an invisible or text-reordering character" },
	{ "byte-order mark in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\xef\xbb\xbf" "b\"\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a\xef\xbb\xbf" "b' contains an invisible or text-reordering character" },
	{ "word joiner in a cgroup", "scopes:\n  - name: a\n    cgroup: \"a\xe2\x81\xa0" "b\"\n",
	  "t.yaml:3:13: scopes[0].cgroup: cgroup path 'a\xe2\x81\xa0" "b' contains an invisible or text-reordering character" },
	/* a backend that is one of the daemon's own listeners */
	{ "backend is its own listener", SVC "    backends: [127.0.0.1:80]\n",
	  "t.yaml:4:16: services[0]: backend 127.0.0.1:80 is the listen address 127.0.0.1:80 of service 'w' (line 3): every connection would loop through the proxy" },
	{ "backend is another's listener", SVC "    backends: [127.0.0.1:1]\n  - {name: v, listen: 127.0.0.1:81, backends: [127.0.0.1:80]}\n",
	  "t.yaml:5:48: services[1]: backend 127.0.0.1:80 is the listen address 127.0.0.1:80 of service 'w' (line 3): every connection would loop through the proxy" },
	{ "loopback backend, wildcard listener", "services:\n  - name: w\n    listen: 0.0.0.0:80\n    backends: [127.0.0.2:80]\n",
	  "t.yaml:4:16: services[0]: backend 127.0.0.2:80 is the listen address 0.0.0.0:80 of service 'w' (line 3): every connection would loop through the proxy" },
	{ "::1 backend, [::] listener", "services:\n  - name: w\n    listen: \"[::]:80\"\n    backends: [\"[::1]:80\"]\n",
	  "t.yaml:4:16: services[0]: backend [::1]:80 is the listen address [::]:80 of service 'w' (line 3): every connection would loop through the proxy" },
	/* flow control's bound, and the exclusion rule */
	{ "accelerate-buffer not a size", SCOPE "    accelerate-buffer: 1 MB\n",
	  "t.yaml:4:24: scopes[0].accelerate-buffer: '1 MB' is not a size (e.g. 262144, 256KiB, 4MiB)" },
	{ "accelerate-buffer too small", SCOPE "    accelerate-buffer: 4096\n",
	  "t.yaml:4:24: scopes[0].accelerate-buffer: '4096' is out of range (64 KiB to 256 MiB)" },
	{ "accelerate-buffer too large", SCOPE "    accelerate-buffer: 1GiB\n",
	  "t.yaml:4:24: scopes[0].accelerate-buffer: '1GiB' is out of range (64 KiB to 256 MiB)" },
	{ "accelerate-buffer overflows", SCOPE "    accelerate-buffer: 99999999999K\n",
	  "t.yaml:4:24: scopes[0].accelerate-buffer: '99999999999K' is out of range (64 KiB to 256 MiB)" },
	{ "no-accelerate over udp", SCOPE "    rules:\n      - {action: no-accelerate, protocol: udp, port: 53}\n",
	  "t.yaml:5:43: scopes[0].rules[0].protocol: action no-accelerate applies to tcp only, not 'udp'" },
	{ "no-accelerate with a mark", SCOPE "    rules:\n      - {action: no-accelerate, mark: 1}\n",
	  "t.yaml:5:39: scopes[0].rules[0].mark: only a mark rule sets a mark" },
};

static void test_service_model(void **s)
{
	struct cfg *cfg;
	const struct cfg_service *sv;

	(void)s;
	cfg = parse_ok("services:\n"
		       "  - name: web\n"
		       "    listen: [127.0.0.1:8080, \"[::1]:8080\"]\n"
		       "    algorithm: maglev\n"
		       "    data-path: relay\n"
		       "    backends:\n"
		       "      - 127.0.0.1:9001\n"
		       "      - {address: \"[fd00::1]:9002\", weight: 3, backup: true}\n"
		       "    health-check: {interval: 500ms, timeout: 250ms, rise: 1, fall: 4}\n"
		       "    timeouts: {connect: 1s, idle: 2m, drain: 0}\n"
		       "    limits: {connections: 100, per-backend: 10, attempts: 2}\n"
		       "    auto-min-idle: 0\n");
	assert_int_equal(cfg->nr_scopes, 0);
	assert_int_equal(cfg->nr_services, 1);
	sv = &cfg->services[0];
	assert_int_equal(sv->nr_listen, 2);
	assert_int_equal(sv->listen[1].sa.ss_family, AF_INET6);
	assert_int_equal(sv->algo, CFG_ALGO_MAGLEV);
	assert_int_equal(sv->path, CFG_PATH_RELAY);
	assert_int_equal(sv->nr_backends, 2);
	assert_int_equal(sv->backends[0].weight, 1);
	assert_int_equal(sv->backends[1].weight, 3);
	assert_true(sv->backends[1].backup);
	assert_true(sv->health.enabled);
	assert_int_equal(sv->health.interval_ms, 500);
	assert_int_equal(sv->health.fall, 4);
	assert_int_equal(sv->connect_timeout_ms, 1000);
	assert_int_equal(sv->idle_timeout_ms, 120000);
	assert_int_equal(sv->drain_timeout_ms, 0);
	assert_int_equal(sv->max_conns, 100);
	assert_int_equal(sv->max_conns_backend, 10);
	assert_int_equal(sv->connect_attempts, 2);
	assert_int_equal(sv->auto_min_idle, 0);
	cfg_free(cfg);

	/* defaults */
	cfg = parse_ok("services:\n  - {name: a, listen: 127.0.0.1:1, backends: [127.0.0.1:2]}\n");
	sv = &cfg->services[0];
	assert_int_equal(sv->algo, CFG_ALGO_ROUND_ROBIN);
	assert_int_equal(sv->path, CFG_PATH_AUTO);
	assert_false(sv->health.enabled);
	assert_int_equal(sv->backlog, CFG_DEF_BACKLOG);
	assert_int_equal(sv->idle_timeout_ms, CFG_DEF_IDLE_MS);
	assert_int_equal(sv->connect_attempts, CFG_DEF_ATTEMPTS);
	assert_int_equal(sv->auto_min_idle, CFG_DEF_AUTO_MIN_IDLE);
	assert_false(sv->local_connect);
	cfg_free(cfg);

	/* local-clients: connect: the listen addresses become virtual ones,
	 * after the written ones */
	cfg = parse_ok("services:\n"
		       "  - name: a\n"
		       "    listen: [127.0.0.1:1, 127.0.0.2:1]\n"
		       "    virtual: 10.96.0.9:80\n"
		       "    local-clients: connect\n"
		       "    backends: [127.0.0.1:2]\n");
	sv = &cfg->services[0];
	assert_true(sv->local_connect);
	assert_int_equal(sv->nr_written_vips, 1);
	assert_int_equal(sv->nr_vips, 3);
	assert_string_equal(sv->vips[1].text, "127.0.0.1:1");
	assert_string_equal(sv->vips[2].text, "127.0.0.2:1");
	cfg_free(cfg);

	/* a balance rule becomes one rule per virtual address and protocol,
	 * in place, matching exactly that address and port */
	cfg = parse_ok("services:\n"
		       "  - {name: a, listen: 127.0.0.1:1, backends: [127.0.0.1:2]}\n"
		       "  - name: b\n"
		       "    virtual: [10.96.0.1:53, 10.96.0.2:5353]\n"
		       "    virtual-protocol: both\n"
		       "    backends: [10.0.0.1:53]\n"
		       "scopes:\n"
		       "  - name: s\n"
		       "    cgroup: s\n"
		       "    rules:\n"
		       "      - {action: accelerate, destination: 127.0.0.0/8}\n"
		       "      - {action: balance, service: b}\n");
	sv = &cfg->services[1];
	assert_int_equal(sv->nr_vips, 2);
	assert_int_equal(sv->vip_protos, CFG_VIP_TCP | CFG_VIP_UDP);
	assert_int_equal(cfg->scopes[0].nr_rules, 5);
	assert_int_equal(cfg->scopes[0].rules[0].action, SH_ACT_ACCELERATE);
	assert_int_equal(cfg->scopes[0].rules[1].action, SH_ACT_BALANCE);
	assert_int_equal(cfg->scopes[0].rules[1].arg, 1);
	assert_int_equal(cfg->scopes[0].rules[1].proto, SH_PROTO_TCP);
	assert_int_equal(cfg->scopes[0].rules[2].proto, SH_PROTO_UDP);
	assert_int_equal(cfg->scopes[0].rules[3].port_lo, 5353);
	assert_int_equal(cfg->scopes[0].rules[3].port_hi, 5353);
	assert_int_equal(cfg->scopes[0].rules[3].prefixlen, 128);
	assert_int_equal(cfg->scopes[0].rules[3].addr[15], 2);
	assert_int_equal(cfg->scopes[0].rules[3].addr[10], 0xff);
	cfg_free(cfg);
}

/* tc policy: actions, marks, protocols, defaults, rule indexes. */
static void test_policy_model(void **s)
{
	struct cfg *cfg = parse_ok(
		"policy: {default: mark, default-mark: 0x20}\n"
		"services:\n  - {name: w, virtual: [10.0.0.1:80, 10.0.0.2:80], backends: [10.0.1.1:80]}\n"
		"scopes:\n  - name: a\n    cgroup: a\n    default: deny\n    rules:\n"
		"      - {action: balance, service: w}\n"
		"      - {action: count}\n"
		"      - {action: mark, mark: 0x10, protocol: udp, port: 53}\n"
		"      - {action: allow, protocol: icmp, destination: 10.0.0.0/8}\n"
		"  - {name: b, cgroup: b}\n");
	const struct cfg_scope *a = &cfg->scopes[0];

	(void)s;
	assert_int_equal(cfg->no_scope.action, SH_ACT_MARK);
	assert_int_equal(cfg->no_scope.mark, 0x20);
	assert_int_equal(a->def.action, SH_ACT_DENY);
	assert_int_equal(cfg->scopes[1].def.action, SH_ACT_ALLOW);	/* the default */
	assert_int_equal(a->nr_written, 4);
	assert_int_equal(a->nr_rules, 5);	/* the balance rule: one per virtual address */
	assert_int_equal(a->rules[0].index, 0);
	assert_int_equal(a->rules[1].index, 0);
	assert_int_equal(a->rules[2].action, SH_ACT_COUNT);
	assert_int_equal(a->rules[2].index, 1);
	assert_int_equal(a->rules[2].proto, SH_PROTO_ANY);	/* policy: any unless told */
	assert_int_equal(a->rules[3].action, SH_ACT_MARK);
	assert_int_equal(a->rules[3].arg, 0x10);
	assert_int_equal(a->rules[3].index, 2);
	assert_int_equal(a->rules[4].proto, SH_PROTO_ICMP);
	assert_int_equal(a->rules[4].port_lo, 0);
	assert_int_equal(a->rules[4].port_hi, 65535);
	assert_int_equal(a->rules[4].index, 3);
	cfg_free(cfg);
}

/* What a reload may change in place, and what it refuses, naming it. */
static void test_reload_check(void **s)
{
	static const char *const base =
		"services:\n  - name: w\n    listen: 127.0.0.1:80\n    backends: [127.0.0.1:1, "
		"{address: 127.0.0.1:2, weight: %s}]\n    algorithm: %s\n"
		"scopes:\n  - {name: %s, cgroup: a, rules: [{action: %s}]}\n";
	static const struct {
		const char *weight, *algo, *scope, *action;
		int ok;
		const char *why;
	} cases[] = {
		{ "1", "round-robin", "a", "deny", 1, NULL },
		{ "7", "round-robin", "a", "allow", 1, NULL },
		{ "1", "maglev", "a", "deny", 0, "t.yaml:5:16: services[0].algorithm: 'w' changed its algorithm" },
		{ "1", "round-robin", "b", "deny", 0, "t.yaml:7:5: scopes[0]: scope 'b' (cgroup a) was 'a' (cgroup a) in the running config; a reload cannot rename, move or re-create a scope" },
	};
	char yaml[1024], why[512];
	struct cfg *cur, *next;
	size_t i;

	(void)s;
	snprintf(yaml, sizeof(yaml), base, "1", "round-robin", "a", "deny");
	cur = parse_ok(yaml);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml), base, cases[i].weight, cases[i].algo, cases[i].scope,
			 cases[i].action);
		next = parse_ok(yaml);
		why[0] = '\0';
		assert_int_equal(reload_check(cur, next, why, sizeof(why)), cases[i].ok ? 0 : -EINVAL);
		if (!cases[i].ok && !strstr(why, cases[i].why))
			fail_msg("case %zu: want '%s' in '%s'", i, cases[i].why, why);
		cfg_free(next);
	}
	next = parse_ok("services:\n  - name: w\n    listen: 127.0.0.1:80\n    backends: [127.0.0.1:1]\n"
			"scopes:\n  - {name: a, cgroup: a}\n");
	assert_int_equal(reload_check(cur, next, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "services[0].backends: 'w' has 1 backends instead of 2"));
	assert_non_null(strstr(why, "restart sockhopd"));
	cfg_free(next);
	/* local-clients: connect adds virtual addresses: the message names the field changed */
	next = parse_ok("services:\n  - name: w\n    listen: 127.0.0.1:80\n    local-clients: connect\n"
			"    backends: [127.0.0.1:1, {address: 127.0.0.1:2, weight: 1}]\n"
			"scopes:\n  - {name: a, cgroup: a, rules: [{action: deny}]}\n");
	assert_int_equal(reload_check(cur, next, why, sizeof(why)), -EINVAL);
	if (!strstr(why, "t.yaml:4:20: services[0].local-clients: 'w' changed from proxy to connect"))
		fail_msg("local-clients reload: '%s'", why);
	cfg_free(next);
	cfg_free(cur);
}

static void test_bad_configs(void **s)
{
	size_t i, failures = 0;

	(void)s;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char err[4096], first[1024];
		struct cfg *cfg = NULL;
		int ret = cfg_parse("t.yaml", c->yaml, strlen(c->yaml), &cfg, err, sizeof(err));

		const char *end = err, *nl;
		size_t lines = 1, k;

		/* as many error lines as the case names (usually the first) */
		for (nl = c->error; (nl = strchr(nl, '\n')); nl++)
			lines++;
		for (k = 0; k < lines && end; k++)
			if ((end = strchr(end, '\n')) && k + 1 < lines)
				end++;
		snprintf(first, sizeof(first), "%.*s", (int)(end ? end - err : (long)strlen(err)), err);
		if (ret != -EINVAL || cfg || strcmp(first, c->error)) {
			print_error("case '%s': ret %d\n  want: %s\n  got:  %s\n", c->what, ret,
				    c->error, first);
			failures++;
		}
		cfg_free(cfg);
	}
	assert_int_equal(failures, 0);
}

/* The parser reports every problem, not just the first. */
static void test_all_errors_reported(void **s)
{
	const char *yaml = "scopes:\n  - name: 'bad name'\n    cgroup: ok\n    rules:\n"
			   "      - action: accelerate\n        port: 0\n";
	char err[4096];
	struct cfg *cfg;

	(void)s;
	assert_int_equal(cfg_parse("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:2:11: scopes[0].name:"));
	assert_non_null(strstr(err, "t.yaml:6:15: scopes[0].rules[0].port:"));
}

static void test_too_many_scopes(void **s)
{
	char yaml[16384], err[4096];
	size_t used = 0;
	struct cfg *cfg;
	int i;

	(void)s;
	used += (size_t)snprintf(yaml + used, sizeof(yaml) - used, "scopes:\n");
	for (i = 0; i <= SH_MAX_SCOPES; i++)
		used += (size_t)snprintf(yaml + used, sizeof(yaml) - used,
					 "  - {name: s%d, cgroup: c%d}\n", i, i);
	assert_int_equal(cfg_parse("t.yaml", yaml, used, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:2:3: scopes: 65 scopes, at most 64 are supported\n");
}

static void test_too_many_rules_for_a_prefix(void **s)
{
	char yaml[16384], err[4096];
	size_t used = 0;
	struct cfg *cfg;
	int i;

	(void)s;
	used += (size_t)snprintf(yaml + used, sizeof(yaml) - used, RULES);
	for (i = 1; i <= SH_MAX_RULES; i++)
		used += (size_t)snprintf(yaml + used, sizeof(yaml) - used,
					 "      - {action: accelerate, port: %d}\n", 1000 + i);
	assert_int_equal(cfg_parse("t.yaml", yaml, used, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:37:9: scopes[0].rules[32]: too many rules for one destination "
			    "(at most 32 apply to any prefix, at most 256 prefixes per scope)\n");
}

/* A value echoed in an error is cut short, and the line stays whole. */
static void test_long_error_line(void **s)
{
	char yaml[20000], err[16384];
	struct cfg *cfg = NULL;
	size_t n;

	(void)s;
	n = (size_t)snprintf(yaml, sizeof(yaml), "scopes:\n  - name: a\n    cgroup: x\n    rules:\n      - {action: accelerate, port: ");
	memset(yaml + n, '9', 9000);
	n += 9000;
	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "}\n");
	assert_int_equal(cfg_parse("t.yaml", yaml, n, &cfg, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) < 1200);
	assert_string_equal(err + strlen(err) - 4, "...\n");
	assert_non_null(strstr(err, "t.yaml:5:36: scopes[0].rules[0].port: '9999"));
}

static void test_load_errors(void **s)
{
	char path[] = "/tmp/sh-cfg-XXXXXX", dir[] = "/tmp/sh-cfgdir-XXXXXX", err[4096], want[1200];
	char fifo[600], link[600];
	struct cfg *cfg;
	FILE *f;
	int fd;

	(void)s;
	assert_int_equal(cfg_load("/nonexistent/sockhop.yaml", &cfg, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/sockhop.yaml:1:1: cannot open: No such file or directory\n");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fwrite("scopes:\n  - name: a\n    cg\0roup: a\n", 1, 34, f);
	fclose(f);
	assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3:7: the file contains a NUL byte (is it a YAML text file?)\n", path);
	assert_string_equal(err, want);

	assert_int_equal(truncate(path, CFG_MAX_FILE_SIZE + 1), 0);
	assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), -EFBIG);
	snprintf(want, sizeof(want), "%s:1:1: the file is 1048577 bytes, more than the 1048576 (1 MiB) allowed\n", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_int_equal(cfg_load("/tmp", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/tmp:1:1: a directory, not a regular file\n");
	assert_int_equal(cfg_load("/dev/null", &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/dev/null:1:1: a character device, not a regular file\n");

	/* a FIFO nobody writes to is refused at once, not waited on */
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(cfg_load(fifo, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1:1: a FIFO, not a regular file\n", fifo);
	assert_string_equal(err, want);
	unlink(fifo);

	snprintf(link, sizeof(link), "%s/link.yaml", dir);
	assert_int_equal(symlink("gone.yaml", link), 0);
	assert_int_equal(cfg_load(link, &cfg, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s:1:1: cannot open: a symbolic link to 'gone.yaml', which does not exist\n", link);
	assert_string_equal(err, want);
	unlink(link);
	assert_int_equal(rmdir(dir), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_default),
		cmocka_unit_test(test_full_model),
		cmocka_unit_test(test_flow_control_model),
		cmocka_unit_test(test_no_scopes),
		cmocka_unit_test(test_service_model),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_policy_model),
		cmocka_unit_test(test_reload_check),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_too_many_scopes),
		cmocka_unit_test(test_too_many_rules_for_a_prefix),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_long_error_line),
	};

	if (argc > 1)
		snprintf(repo_root, sizeof(repo_root), "%s", argv[1]);
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
