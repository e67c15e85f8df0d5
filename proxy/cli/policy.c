// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy.c - `sockhop policy` and `sockhop explain`: the tc policy's
 * rules, defaults and counters, and which scope and rule a flow hits. Both
 * read the pinned maps only, so they answer while the daemon is away (kept
 * state) as well as while it runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "cgroup.h"
#include "cli.h"
#include "emit.h"
#include "maps.h"
#include "pins.h"
#include "rules.h"

static const char *const err_names[SH_TC_ERR_NR] = {
	[SH_TC_ERR_NO_SOCKET] = "no_socket",
	[SH_TC_ERR_EMPTY_SLOT] = "empty_slot",
	[SH_TC_ERR_BAD_SLOT] = "bad_slot",
	[SH_TC_ERR_NO_STAGE + SH_TC_STAGE_PARSE] = "no_stage_parse",
	[SH_TC_ERR_NO_STAGE + SH_TC_STAGE_RULES] = "no_stage_rules",
	[SH_TC_ERR_NO_STAGE + SH_TC_STAGE_ACTION] = "no_stage_action",
	[SH_TC_ERR_NOT_IP] = "not_ip",
	[SH_TC_ERR_TRUNCATED] = "truncated",
	[SH_TC_ERR_MALFORMED] = "malformed",
	[SH_TC_ERR_FRAGMENT] = "fragment",
	[SH_TC_ERR_NO_LOCAL] = "no_local_socket",
	[SH_TC_ERR_NO_RULES] = "no_rule_table",
};

static const char *proto_name(__u8 p)
{
	return p == SH_PROTO_TCP ? "tcp" : p == SH_PROTO_UDP ? "udp" :
	       p == SH_PROTO_ICMP ? "icmp" : "any";
}

static void ports_text(const struct sh_rule *r, char *out, size_t len)
{
	if (r->port_lo == 0 && r->port_hi == 65535)
		snprintf(out, len, "any");
	else if (r->port_lo == r->port_hi)
		snprintf(out, len, "%u", r->port_lo);
	else
		snprintf(out, len, "%u-%u", r->port_lo, r->port_hi);
}

/* fd of scope <slot>'s current rule trie, or -errno. */
static int open_trie(const char *dir, __u32 slot)
{
	int outer = pins_open_map(dir, "scope_rules"), fd;
	__u32 id;

	if (outer < 0)
		return outer;
	fd = bpf_map_lookup_elem(outer, &slot, &id) ? -ENOENT : bpf_map_get_fd_by_id(id);
	if (fd < 0 && fd != -ENOENT)
		fd = -errno;
	close(outer);
	return fd;
}

/* A trie read back: up to SH_MAX_PREFIXES entries. */
struct trie_read {
	struct rules_entry *e;
	size_t n;
};

/* One trie entry into the trie_read @ctx. */
static int read_entry(int fd, const void *key, void *ctx)
{
	struct trie_read *t = ctx;

	if (t->n == SH_MAX_PREFIXES)
		return MAPS_STOP;
	if (bpf_map_lookup_elem(fd, key, &t->e[t->n].set) == 0)
		memcpy(&t->e[t->n++].key, key, sizeof(t->e[0].key));
	return MAPS_NEXT;
}

/* The rules of scope <slot>, back from its trie, in config order. */
static int read_rules(const char *dir, __u32 slot, struct rules_rule **out, size_t *nr)
{
	struct trie_read t = { calloc(SH_MAX_PREFIXES, sizeof(*t.e)), 0 };
	int fd = open_trie(dir, slot), err;

	*out = NULL;
	*nr = 0;
	err = fd < 0 ? fd : !t.e ? -ENOMEM : 0;
	if (!err)
		err = maps_walk(fd, sizeof(t.e[0].key), read_entry, &t);
	if (!err)
		err = rules_decompile(t.e, t.n, out, nr);
	if (fd >= 0)
		close(fd);
	free(t.e);
	return err;
}

static struct sh_tc_count sum_count(int fd, __u32 idx)
{
	struct sh_tc_count s;

	if (maps_sum_percpu(fd, &idx, &s, sizeof(s)))
		memset(&s, 0, sizeof(s));
	return s;
}

struct policy_maps {
	int stats, rules, errors, defaults;
};

static int open_policy_maps(const char *dir, struct policy_maps *m)
{
	m->stats = pins_open_map(dir, "tc_stats");
	m->rules = pins_open_map(dir, "tc_rule_stats");
	m->errors = pins_open_map(dir, "tc_errors");
	m->defaults = pins_open_map(dir, "tc_defaults");
	if (m->stats < 0 || m->rules < 0 || m->errors < 0 || m->defaults < 0) {
		cli_err("no tc policy maps pinned in %s/maps (is sockhopd "
			"running, or was it stopped without --keep?)\n", dir);
		return -ENOENT;
	}
	return 0;
}

static void close_policy_maps(struct policy_maps *m)
{
	close(m->stats);
	close(m->rules);
	close(m->errors);
	close(m->defaults);
}

static void default_text(const struct policy_maps *m, __u32 slot, char *out, size_t len)
{
	struct sh_tc_default d = { SH_ACT_ALLOW, 0 };

	bpf_map_lookup_elem(m->defaults, &slot, &d);
	if (d.action == SH_ACT_MARK)
		snprintf(out, len, "mark 0x%x", d.mark);
	else
		snprintf(out, len, "%s", sh_action_name(d.action));
}

/* Packets and bytes per direction and action of scope @slot. */
static void print_dirs(const struct policy_maps *m, __u32 slot, struct emit *e)
{
	static const __u32 acts[] = { SH_ACT_ALLOW, SH_ACT_DENY, SH_ACT_MARK };
	int dir;
	size_t a;

	for (dir = 0; dir < SH_TC_DIRS; dir++) {
		const char *name = dir ? "ingress" : "egress";

		emit_text(e, "  %-8s", name);
		emit_object(e, name, NULL);
		for (a = 0; a < 3; a++) {
			struct sh_tc_count c = sum_count(m->stats, SH_TC_STATS_IDX(slot, (__u32)dir,
										   acts[a]));

			emit_text(e, "  %s", sh_action_name(acts[a]));
			emit_object(e, sh_action_name(acts[a]), NULL);
			emit_u64(e, "packets", " %llu pkt", c.packets);
			emit_u64(e, "bytes", " %llu B", c.bytes);
			emit_end(e, NULL);
		}
		emit_end(e, "\n");
	}
}

/* Scope @slot's rules as the config has them, each with its counters. */
static void print_rules(const char *dir, const struct policy_maps *m, __u32 slot,
			struct emit *e)
{
	struct rules_rule *v;
	size_t n = 0, i;

	read_rules(dir, slot, &v, &n);	/* none on failure */
	emit_array(e, "rules", NULL);
	for (i = 0; i < n; i++) {
		const struct sh_rule *r = &v[i].rule;
		struct sh_tc_count c = { 0 };
		char pre[64], ports[16];
		bool policy = SH_KINDS_POLICY & SH_KIND(r->action & 31);

		addr_prefix_text(v[i].key.addr, v[i].key.prefixlen, pre, sizeof(pre));
		ports_text(r, ports, sizeof(ports));
		if (policy && r->rule_id < SH_MAX_SCOPE_RULES)
			c = sum_count(m->rules, slot * SH_MAX_SCOPE_RULES + r->rule_id);
		emit_object(e, NULL, NULL);
		emit_u64(e, "index", "  rules[%llu]", r->rule_id);
		emit_str(e, "action", " %-13s", sh_action_name(r->action));
		emit_str(e, "protocol", " %-4s", proto_name(r->proto));
		emit_str(e, "destination", " %-24s", pre);
		emit_str(e, "port", " port %-11s", ports);
		emit_u64(e, "arg", r->action == SH_ACT_MARK ? " mark 0x%llx" :
			 r->action == SH_ACT_BALANCE ? " service #%llu" : NULL, r->arg);
		if (policy) {
			emit_u64(e, "packets", "  %llu pkt", c.packets);
			emit_u64(e, "bytes", " %llu B", c.bytes);
		} else {
			emit_text(e, "  (not a tc rule)");
		}
		emit_end(e, "\n");
	}
	emit_end(e, NULL);
	free(v);
}

int cli_policy(const char *dir, struct emit *e)
{
	struct scope_row rows[SH_MAX_SCOPES];
	struct policy_maps m;
	char def[32];
	size_t n, i;
	int err;
	__u32 r;

	err = pins_read_scopes(dir, rows, &n);
	if (err) {
		cli_err("cannot read %s/maps/scopes: %s\n", dir, strerror(-err));
		return 1;
	}
	if (open_policy_maps(dir, &m))
		return 1;
	emit_object(e, NULL, NULL);
	emit_u64(e, "abi", "tc policy (stage ABI %llu)", SH_TC_ABI_VERSION);
	emit_text(e, ": attach %s/tc/egress and %s/tc/ingress\n", dir, dir);
	emit_array(e, "scopes", NULL);
	for (i = 0; i < n; i++) {
		default_text(&m, rows[i].s.slot, def, sizeof(def));
		emit_object(e, NULL, NULL);
		emit_str(e, "name", "scope %s", rows[i].s.name);
		emit_u64(e, "slot", " (slot %llu)", rows[i].s.slot);
		emit_str(e, "default", ", default %s\n", def);
		print_dirs(&m, rows[i].s.slot, e);
		print_rules(dir, &m, rows[i].s.slot, e);
		emit_end(e, NULL);
	}
	emit_end(e, NULL);
	default_text(&m, SH_SLOT_GLOBAL, def, sizeof(def));
	emit_object(e, "no_scope", NULL);
	emit_str(e, "default", "no scope, default %s\n", def);
	print_dirs(&m, SH_SLOT_GLOBAL, e);
	emit_end(e, NULL);
	emit_object(e, "errors", "errors:");
	for (r = 0; r < SH_TC_ERR_NR; r++) {
		__u64 s;

		if (maps_sum_percpu(m.errors, &r, &s, sizeof(s)))
			s = 0;
		emit_text(e, " %s", err_names[r]);
		emit_u64(e, err_names[r], " %llu", s);
	}
	emit_end(e, "\n");
	emit_end(e, NULL);
	close_policy_maps(&m);
	return 0;
}

/* The deepest scope among @cgroup and its ancestors, by cgroup id. */
static int scope_of_cgroup(const char *dir, const char *cgroup, struct scope_row *out)
{
	struct scope_row rows[SH_MAX_SCOPES];
	char path[512];
	size_t n, i;
	int err;

	err = pins_read_scopes(dir, rows, &n);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s", cgroup);
	for (;;) {
		uint64_t id;
		char *slash;

		if (cg_id(path, &id) == 0)
			for (i = 0; i < n; i++)
				if (rows[i].cgid == id) {
					*out = rows[i];
					return 0;
				}
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			return -ENOENT;
		*slash = '\0';
	}
}

int cli_explain(const char *dir, int argc, char **argv, struct emit *e)
{
	struct sh_lpm_key key = { .prefixlen = 128 };
	struct scope_row scope;
	struct sh_rule_set rs = { 0 };
	const struct sh_rule *acc = NULL, *bal = NULL, *fin = NULL;
	int counted[SH_MAX_RULES], nc = 0, trie, i;
	struct policy_maps m;
	unsigned long port = 0;
	char def[32], mount[512] = "", cgdir[512];
	__u8 proto;
	__u32 slot;
	int err;

	proto = !strcmp(argv[1], "tcp") ? SH_PROTO_TCP : !strcmp(argv[1], "udp") ? SH_PROTO_UDP :
		!strcmp(argv[1], "icmp") ? SH_PROTO_ICMP : 0;
	if (!proto) {
		cli_err("explain: protocol '%s' is not tcp, udp or icmp\n", argv[1]);
		return 2;
	}
	if (addr_parse(argv[2], key.addr, NULL)) {
		cli_err("explain: '%s' is not an IPv4 or IPv6 address\n", argv[2]);
		return 2;
	}
	if (argc == 4) {
		char *end;

		port = strtoul(argv[3], &end, 10);
		if (*end || !argv[3][0] || argv[3][0] == '-' || port < 1 || port > 65535 ||
		    proto == SH_PROTO_ICMP) {
			cli_err("explain: '%s' is not a port of %s\n", argv[3],
				argv[1]);
			return 2;
		}
	}
	/* The cgroup as the config spells one: absolute under the cgroup2
	 * mount, or relative to it; a path that is no cgroup is an error, not
	 * "in no scope". */
	err = cg_find_mount("/proc/self/mountinfo", mount, sizeof(mount));
	if (!err)
		err = cg_resolve(mount, argv[0], cgdir, sizeof(cgdir));
	if (!err)
		err = cg_check_dir(mount, cgdir, NULL);
	if (err && err != -EPERM) {	/* the root is a cgroup too, of no scope */
		cli_err("explain: '%s' is not a cgroup under the cgroup2 mount%s%s "
			"(%s)\n", argv[0], mount[0] ? " " : "", mount,
			err == -EINVAL ? "not a path under it" : strerror(-err));
		return 2;
	}
	if (open_policy_maps(dir, &m))
		return 1;
	slot = SH_SLOT_GLOBAL;
	if (scope_of_cgroup(dir, cgdir, &scope) == 0)
		slot = scope.s.slot;
	trie = slot < SH_MAX_SCOPES ? open_trie(dir, slot) : -ENOENT;
	if (trie >= 0) {
		if (bpf_map_lookup_elem(trie, &key, &rs))
			rs.count = 0;
		close(trie);
	}
	acc = proto == SH_PROTO_TCP ? sh_rule_match(&rs, SH_KINDS_ACCEL, proto,
						    (__u16)port) : NULL;
	bal = sh_rule_match(&rs, SH_KIND(SH_ACT_BALANCE), proto, (__u16)port);
	/* the RULES stage's walk: count rules count and go on */
	for (i = sh_rule_find(&rs, 0, SH_KINDS_POLICY, proto, (__u16)port); i >= 0;
	     i = sh_rule_find(&rs, (__u32)i + 1, SH_KINDS_POLICY, proto, (__u16)port)) {
		if (rs.rules[i].action != SH_ACT_COUNT) {
			fin = &rs.rules[i];
			break;
		}
		counted[nc++] = rs.rules[i].rule_id;
	}
	default_text(&m, slot, def, sizeof(def));
	close_policy_maps(&m);

	emit_object(e, NULL, NULL);
	emit_str(e, "cgroup", "cgroup %s: ", argv[0]);
	if (slot == SH_SLOT_GLOBAL)
		emit_text(e, "in no scope\n");
	emit_str(e, "scope", slot == SH_SLOT_GLOBAL ? NULL : "scope '%s'",
		 slot == SH_SLOT_GLOBAL ? NULL : scope.s.name);
	if (slot != SH_SLOT_GLOBAL)
		emit_text(e, " (slot %u)\n", slot);
	emit_text(e, "flow: %s to %s%s%s\n", argv[1], argv[2], argc == 4 ? " port " : "",
		  argc == 4 ? argv[3] : "");
	emit_object(e, "tc", "tc policy: ");
	if (fin && fin->action == SH_ACT_MARK)
		emit_text(e, "mark 0x%x, by rules[%u]", fin->arg, fin->rule_id);
	else if (fin)
		emit_text(e, "%s, by rules[%u]", sh_action_name(fin->action), fin->rule_id);
	else
		emit_text(e, "%s, the %s default (no rule decides)", def,
			  slot == SH_SLOT_GLOBAL ? "no-scope" : "scope's");
	emit_str(e, "action", NULL, fin ? sh_action_name(fin->action) : def);
	emit_s64(e, "rule", NULL, fin ? fin->rule_id : -1);
	emit_u64(e, "mark", NULL, fin && fin->action == SH_ACT_MARK ? fin->arg : 0);
	emit_array(e, "counted_by", NULL);
	for (i = 0; i < nc; i++)
		emit_s64(e, NULL, i ? ", rules[%lld]" : "; counted by rules[%lld]", counted[i]);
	emit_end(e, "\n");
	emit_end(e, NULL);
	emit_s64(e, "accelerate", NULL,
		 acc && acc->action == SH_ACT_ACCELERATE ? acc->rule_id : -1);
	emit_s64(e, "excluded_by", NULL,
		 acc && acc->action == SH_ACT_NO_ACCELERATE ? acc->rule_id : -1);
	emit_text(e, "accelerate: %s", acc && acc->action == SH_ACT_ACCELERATE ? "yes" : "no");
	if (acc)
		emit_text(e, ", by rules[%u]%s", acc->rule_id,
			  acc->action == SH_ACT_NO_ACCELERATE ? " (no-accelerate)" : "");
	emit_s64(e, "balance", NULL, bal ? bal->rule_id : -1);
	emit_text(e, "\nbalance: %s", bal ? "yes" : "no");
	if (bal)
		emit_text(e, ", by rules[%u] (service #%u)", bal->rule_id, bal->arg);
	emit_text(e, "\n(a socket belongs to the scope of the cgroup it was created in; at ingress "
		  "the rules match the packet's source, the remote end; the tc policy applies "
		  "only on devices whose filters use %s/tc: 'tc filter show dev DEV egress')\n",
		  dir);
	emit_end(e, NULL);
	return 0;
}

