// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * scopes.c - the "scopes" section and the top-level "policy": each scope's
 * name, cgroup, rules (accelerate, no-accelerate, balance, the tc policy's)
 * and defaults, and the checks that need all of them (duplicates, limits).
 */
#include <ctype.h>
#include <netinet/in.h>	/* INET6_ADDRSTRLEN */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cgroup.h"
#include "parse.h"
#include "rules.h"

static int parse_ports(struct parser *p, yaml_node_t *n, const char *field, struct cfg_rule *r)
{
	const char *s = scalar(n);
	unsigned long lo, hi;
	const char *dash;
	char buf[16];

	if (!strcmp(s, "any")) {
		r->port_lo = 0;
		r->port_hi = 65535;
		return 0;
	}
	dash = strchr(s, '-');
	if (!dash) {
		if (parse_u32(s, 65535, &lo) || lo == 0)
			goto bad;
		r->port_lo = r->port_hi = (uint16_t)lo;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof(buf))
		goto bad;
	memcpy(buf, s, (size_t)(dash - s));
	buf[dash - s] = '\0';
	if (parse_u32(buf, 65535, &lo) || lo == 0 || parse_u32(dash + 1, 65535, &hi) || hi == 0)
		goto bad;
	if (lo > hi) {
		report(p, n, field, "port range '%s' is reversed (low end above high end)", s);
		return -EINVAL;
	}
	r->port_lo = (uint16_t)lo;
	r->port_hi = (uint16_t)hi;
	return 0;
bad:
	report(p, n, field, "'%s' is not a port (1-65535), a range LOW-HIGH, or 'any'", s);
	return -EINVAL;
}

/* "any", an address, or ADDRESS/LEN; IPv4 is stored v4-mapped. */
static int parse_prefix(struct parser *p, yaml_node_t *n, const char *field, struct cfg_rule *r)
{
	const char *s = scalar(n);
	char addr[INET6_ADDRSTRLEN + 8];
	unsigned long len, max;
	const char *slash;
	bool is4;
	int i;

	if (!strcmp(s, "any")) {
		memset(r->addr, 0, 16);
		r->prefixlen = 0;
		return 0;
	}
	slash = strchr(s, '/');
	if ((slash ? (size_t)(slash - s) : strlen(s)) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (addr_parse(addr, r->addr, &is4))
		goto bad;
	max = is4 ? 32 : 128;
	len = max;
	if (slash && (parse_u32(slash + 1, max, &len))) {
		report(p, n, field, "prefix length in '%s' must be 0-%lu", s, max);
		return -EINVAL;
	}
	r->prefixlen = (uint8_t)(is4 ? 96 + len : len);
	/* Bits past the prefix length must be zero: 10.0.0.1/8 is a typo. */
	for (i = r->prefixlen; i < 128; i++) {
		if (r->addr[i / 8] & (0x80 >> (i % 8))) {
			report(p, n, field, "'%s' has host bits set beyond the prefix length", s);
			return -EINVAL;
		}
	}
	return 0;
bad:
	report(p, n, field, "'%s' is not an IPv4 or IPv6 address or prefix, or 'any'", s);
	return -EINVAL;
}

/* A rule's protocol, as written: its enum sh_proto, or -1. */
static int proto_by_name(const char *s)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} protos[] = {
		{ "tcp", SH_PROTO_TCP }, { "udp", SH_PROTO_UDP },
		{ "icmp", SH_PROTO_ICMP }, { "any", SH_PROTO_ANY },
	};
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(s, protos[i].name))
			return protos[i].proto;
	return -1;
}

static int action_by_name(const char *s)
{
	__u32 i;

	for (i = 1; i < SH_ACT_NR; i++)
		if (!strcmp(s, sh_action_name(i)))
			return (int)i;
	return -1;
}

/* A packet mark: 0-4294967295, decimal or 0x hexadecimal (as tc and ip
 * rule write it). */
static int parse_mark(struct parser *p, yaml_node_t *v, const char *field, uint32_t *out)
{
	const char *s;
	unsigned long long m;
	char *end;

	if (expect(p, v, YAML_SCALAR_NODE, field))
		return -EINVAL;
	s = scalar(v);
	errno = 0;
	m = isdigit((unsigned char)*s) ? strtoull(s, &end, 0) : 0;
	if (!isdigit((unsigned char)*s) || errno || *end || m > 0xffffffffull) {
		report(p, v, field, "'%s' is not a mark (0-4294967295, or 0x hexadecimal)", s);
		return -EINVAL;
	}
	*out = (uint32_t)m;
	return 0;
}

/*
 * A tc policy default: `default: allow|deny|mark` plus `default-mark: N`
 * for mark, in a scope or under the top-level `policy`.
 */
int parse_verdict(struct parser *p, yaml_node_t *map, const char *path,
			 struct cfg_verdict *out)
{
	yaml_node_t *v = lookup(p, map, "default"), *m = lookup(p, map, "default-mark");
	char field[256];
	int a;

	out->action = SH_ACT_ALLOW;
	out->mark = 0;
	out->line = 0;
	snprintf(field, sizeof(field), "%s.default", path);
	if (v) {
		if (expect(p, v, YAML_SCALAR_NODE, field))
			return -EINVAL;
		a = action_by_name(scalar(v));
		if (a != SH_ACT_ALLOW && a != SH_ACT_DENY && a != SH_ACT_MARK) {
			report(p, v, field, "'%s' is not a default verdict (expected allow, deny "
			       "or mark)", scalar(v));
			return -EINVAL;
		}
		out->action = (uint8_t)a;
		out->line = (int)v->start_mark.line + 1;
	}
	snprintf(field, sizeof(field), "%s.default-mark", path);
	if (out->action == SH_ACT_MARK && !m) {
		report(p, v, field, "default 'mark' needs 'default-mark: N'");
		return -EINVAL;
	}
	if (m && out->action != SH_ACT_MARK) {
		report(p, m, field, "'default-mark' is only for 'default: mark'");
		return -EINVAL;
	}
	return m ? parse_mark(p, m, field, &out->mark) : 0;
}

/*
 * `action: balance` + `service: NAME`: the rule matches the service's
 * virtual addresses and protocols, so it takes no match fields of its own.
 * It is expanded into one rule per virtual address and protocol later.
 */
static int parse_balance_rule(struct parser *p, yaml_node_t *n, const char *path,
			      struct cfg_rule *r)
{
	static const char *const match[] = { "protocol", "destination", "port" };
	char field[256];
	yaml_node_t *v;
	int bad = 0;
	size_t i;

	for (i = 0; i < 3; i++) {
		v = lookup(p, n, match[i]);
		if (!v)
			continue;
		snprintf(field, sizeof(field), "%s.%s", path, match[i]);
		report(p, v, field, "a balance rule matches its service's virtual addresses; "
		       "remove '%s'", match[i]);
		bad = -EINVAL;
	}
	v = need_scalar(p, n, "service", path);
	if (!v)
		return -EINVAL;
	snprintf(field, sizeof(field), "%s.service", path);
	for (i = 0; i < p->cfg->nr_services; i++)
		if (!strcmp(p->cfg->services[i].name, scalar(v)))
			break;
	if (i == p->cfg->nr_services) {
		report(p, v, field, "no service named '%s'", scalar(v));
		return -EINVAL;
	}
	if (!p->cfg->services[i].nr_vips) {
		report(p, v, field, "service '%s' (line %d) has no 'virtual' address to balance",
		       scalar(v), p->cfg->services[i].line);
		return -EINVAL;
	}
	r->arg = (uint32_t)i;
	return bad;
}

static int parse_rule(struct parser *p, yaml_node_t *n, const char *path, struct cfg_rule *r)
{
	static const char *const keys[] = { "action", "protocol", "destination", "port", "service",
					    "mark", NULL };
	bool policy;
	yaml_node_t *v;
	char field[256];
	int bad = 0, a;

	r->line = (int)n->start_mark.line + 1;
	r->col = (int)n->start_mark.column + 1;
	if (expect(p, n, YAML_MAPPING_NODE, path))
		return -EINVAL;
	bad |= check_keys(p, n, path, keys);

	v = need_scalar(p, n, "action", path);
	a = v ? action_by_name(scalar(v)) : -1;
	if (v && a < 0) {
		snprintf(field, sizeof(field), "%s.action", path);
		report(p, v, field, "unknown action '%s' (expected accelerate, no-accelerate, "
		       "balance, allow, deny, count or mark)", scalar(v));
	}
	if (a < 0)
		return -EINVAL;
	r->action = (uint8_t)a;
	if (a == SH_ACT_BALANCE)
		return bad | parse_balance_rule(p, n, path, r);
	policy = SH_KINDS_POLICY & SH_KIND(a);
	if (lookup(p, n, "service")) {
		snprintf(field, sizeof(field), "%s.service", path);
		report(p, lookup(p, n, "service"), field, "only a balance rule names a service");
		bad = -EINVAL;
	}
	v = lookup(p, n, "mark");
	snprintf(field, sizeof(field), "%s.mark", path);
	if (a == SH_ACT_MARK && !v) {
		report(p, n, field, "a mark rule needs 'mark: N'");
		bad = -EINVAL;
	} else if (v && a != SH_ACT_MARK) {
		report(p, v, field, "only a mark rule sets a mark");
		bad = -EINVAL;
	} else if (v && parse_mark(p, v, field, &r->arg)) {
		bad = -EINVAL;
	}

	/* accelerate moves TCP streams: tcp, the default; a policy rule
	 * matches any protocol unless told */
	r->proto = policy ? SH_PROTO_ANY : SH_PROTO_TCP;
	v = lookup(p, n, "protocol");
	snprintf(field, sizeof(field), "%s.protocol", path);
	if (v && !expect(p, v, YAML_SCALAR_NODE, field)) {
		int pr = proto_by_name(scalar(v));

		/* icmp is no protocol an accelerate rule knows at all; udp and
		 * any are, just not for it */
		if (pr < 0 || (!policy && pr == SH_PROTO_ICMP)) {
			report(p, v, field, "unknown protocol '%s' (expected %s)", scalar(v),
			       policy ? "tcp, udp, icmp or any" : "tcp");
			bad = -EINVAL;
		} else if (!policy && pr != SH_PROTO_TCP) {
			report(p, v, field, "action %s applies to tcp only, not '%s'",
			       sh_action_name((__u32)a), scalar(v));
			bad = -EINVAL;
		} else {
			r->proto = (uint8_t)pr;
		}
	} else if (v) {
		bad = -EINVAL;
	}

	memset(r->addr, 0, sizeof(r->addr));
	r->prefixlen = 0;
	v = lookup(p, n, "destination");
	snprintf(field, sizeof(field), "%s.destination", path);
	if (v && (expect(p, v, YAML_SCALAR_NODE, field) || parse_prefix(p, v, field, r)))
		bad = -EINVAL;

	r->port_lo = 0;
	r->port_hi = 65535;
	v = lookup(p, n, "port");
	snprintf(field, sizeof(field), "%s.port", path);
	if (v && r->proto == SH_PROTO_ICMP) {
		report(p, v, field, "icmp has no ports; remove 'port' or match tcp or udp");
		bad = -EINVAL;
	} else if (v && (expect(p, v, YAML_SCALAR_NODE, field) || parse_ports(p, v, field, r))) {
		bad = -EINVAL;
	}
	return bad;
}

/*
 * One string per cgroup, whatever the spelling: "." and empty components
 * dropped (cg_resolve); a relative path is marked with a leading '@' so
 * that "a" (under the mount) and "/a" (absolute) stay apart. The mount is
 * not known here; --check and the start compare resolved directories by
 * identity as well (scope_dirs.c).
 */
static int cgroup_key(const char *path, char *out, size_t len)
{
	if (path[0] == '/')
		return cg_resolve("/", path, out, len);
	out[0] = '@';
	return cg_resolve("", path, out + 1, len - 1);
}

/* A cgroup path: not empty, no "..", no control characters, and not the
 * root of the mount by a relative spelling ("." or "./"). */
static const char *cgroup_path_problem(const char *s)
{
	char key[CFG_PATH_LEN + 2];
	const char *c;

	if (!*s)
		return "is empty";
	if (strlen(s) >= CFG_PATH_LEN)
		return "is too long";
	for (c = s; *c; c++) {
		const unsigned char *u = (const unsigned char *)c;

		if (*u < 0x20 || *u == 0x7f)
			return "contains a control character";
		/* characters that show as nothing or reorder the text around
		 * them: C1 controls (NEL among them), the soft hyphen, the
		 * Mongolian vowel separator, zero-width space and joiners,
		 * LRM/RLM, line and paragraph separators, bidi embeddings,
		 * overrides and isolates, word joiner and invisible operators,
		 * the byte-order mark */
		if ((u[0] == 0xc2 && ((u[1] >= 0x80 && u[1] <= 0x9f) || u[1] == 0xad)) ||
		    (u[0] == 0xe1 && u[1] == 0xa0 && u[2] == 0x8e) ||
		    (u[0] == 0xe2 && u[1] == 0x80 && ((u[2] >= 0x8b && u[2] <= 0x8f) ||
						      (u[2] >= 0xa8 && u[2] <= 0xae))) ||
		    (u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa0 && u[2] <= 0xaf) ||
		    (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf))
			return "contains an invisible or text-reordering character";
	}
	if (cgroup_key(s, key, sizeof(key)))
		return "contains '..'";
	if (!strcmp(key, "@/"))
		return "names the root of the cgroup2 mount: every process on the machine "
		       "would be in scope";
	return NULL;
}

static int parse_scope(struct parser *p, yaml_node_t *n, const char *path, struct cfg_scope *sc)
{
	static const char *const keys[] = { "name", "cgroup", "create", "rules", "default",
					    "default-mark", "accelerate-buffer", NULL };
	yaml_node_item_t *it;
	yaml_node_t *v;
	char field[256];
	const char *why;
	int bad = 0;
	size_t i;

	sc->line = (int)n->start_mark.line + 1;
	sc->col = (int)n->start_mark.column + 1;
	if (expect(p, n, YAML_MAPPING_NODE, path))
		return -EINVAL;
	bad |= check_keys(p, n, path, keys);

	bad |= parse_name(p, n, path, sc->name);

	v = need_scalar(p, n, "cgroup", path);
	if (!v) {
		bad = -EINVAL;
	} else if ((why = cgroup_path_problem(scalar(v)))) {
		snprintf(field, sizeof(field), "%s.cgroup", path);
		report(p, v, field, "cgroup path '%s' %s", scalar(v), why);
		bad = -EINVAL;
	} else {
		snprintf(sc->cgroup, sizeof(sc->cgroup), "%s", scalar(v));
		sc->cgroup_line = (int)v->start_mark.line + 1;
		sc->cgroup_col = (int)v->start_mark.column + 1;
	}

	bad |= parse_bool(p, n, "create", path, &sc->create);

	bad |= parse_verdict(p, n, path, &sc->def);
	sc->accel_buffer = SH_ACCEL_BUFFER_DEFAULT;
	bad |= parse_size(p, n, "accelerate-buffer", path, SH_ACCEL_BUFFER_MIN,
			  SH_ACCEL_BUFFER_MAX, &sc->accel_buffer);
	v = lookup(p, n, "accelerate-buffer");
	if (v) {
		sc->accel_buffer_line = (int)v->start_mark.line + 1;
		sc->accel_buffer_col = (int)v->start_mark.column + 1;
	}

	v = lookup(p, n, "rules");
	snprintf(field, sizeof(field), "%s.rules", path);
	if (!v)
		return bad;
	if (v->type == YAML_SCALAR_NODE && !*scalar(v))
		return bad;	/* "rules:" with nothing: no rules */
	if (expect(p, v, YAML_SEQUENCE_NODE, field))
		return -EINVAL;
	i = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (i > SH_MAX_SCOPE_RULES) {
		report(p, v, field, "%zu rules, at most %d per scope are supported", i,
		       SH_MAX_SCOPE_RULES);
		return -EINVAL;
	}
	sc->rules = calloc(i ? i : 1, sizeof(*sc->rules));
	if (!sc->rules)
		return -ENOMEM;
	sc->nr_rules = sc->nr_written = i;
	for (i = 0, it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
		snprintf(field, sizeof(field), "%s.rules[%zu]", path, i);
		sc->rules[i].index = (uint16_t)i;
		bad |= parse_rule(p, node_at(p, *it), field, &sc->rules[i]);
	}
	return bad;
}

bool cfg_same_cgroup(const char *a, const char *b)
{
	char ka[CFG_PATH_LEN + 2], kb[CFG_PATH_LEN + 2];

	return !cgroup_key(a, ka, sizeof(ka)) && !cgroup_key(b, kb, sizeof(kb)) && !strcmp(ka, kb);
}

/* Checks that need the whole model: duplicates and the kernel's limits. */
static int validate_scopes(struct parser *p, struct cfg *cfg, yaml_node_t *list)
{
	yaml_node_item_t *items = list->data.sequence.items.start;
	int bad = 0;
	size_t i, j;

	for (i = 0; i < cfg->nr_scopes; i++) {
		struct cfg_scope *a = &cfg->scopes[i];
		yaml_node_t *an = node_at(p, items[i]);
		const struct cfg_rule *over = NULL;
		struct rules_entry *ents;
		char field[64];
		size_t nr;
		int err;

		bool named_twice = false;

		snprintf(field, sizeof(field), "scopes[%zu]", i);
		for (j = 0; j < i; j++) {
			struct cfg_scope *b = &cfg->scopes[j];

			if (*a->name && !strcmp(a->name, b->name) && !named_twice) {
				char nf[72];

				snprintf(nf, sizeof(nf), "%s.name", field);
				report(p, an, nf, "duplicate scope name '%s' (first at line %d)",
				       a->name, b->line);
				named_twice = true;	/* said once, of the first */
				bad = -EINVAL;
			}
			if (*a->cgroup && *b->cgroup && cfg_same_cgroup(a->cgroup, b->cgroup)) {
				yaml_node_t at = { .start_mark = {
					.line = (size_t)a->cgroup_line - 1,
					.column = (size_t)a->cgroup_col - 1 } };
				char cfield[80];

				snprintf(cfield, sizeof(cfield), "%s.cgroup", field);
				report(p, &at, cfield,
				       "cgroup '%s' is already the scope '%s' (line %d)", a->cgroup,
				       b->name, b->cgroup_line);
				bad = -EINVAL;
			}
		}
		err = rules_compile(a, &ents, &nr, &over);
		if (err == -E2BIG) {
			yaml_node_t fake = { .start_mark = { .line = (size_t)over->line - 1,
							     .column = (size_t)over->col - 1 } };

			snprintf(field, sizeof(field), "scopes[%zu].rules[%u]", i, over->index);
			report(p, &fake, field,
			       "too many rules for one destination (at most %d apply to any prefix, "
			       "at most %d prefixes per scope)", SH_MAX_RULES, SH_MAX_PREFIXES);
			bad = -EINVAL;
		} else if (err) {
			return err;
		}
		free(ents);
	}
	return bad;
}

int parse_scopes(struct parser *p, struct cfg *cfg, yaml_node_t *list)
{
	yaml_node_item_t *it;
	char field[64];
	int bad = 0, err;
	size_t i, n;

	if (list->type == YAML_SCALAR_NODE && !*scalar(list))
		return 0;	/* "scopes:" with nothing: a daemon with no scope */
	if (expect(p, list, YAML_SEQUENCE_NODE, "scopes"))
		return -EINVAL;
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	if (n > SH_MAX_SCOPES) {
		report(p, list, "scopes", "%zu scopes, at most %d are supported", n, SH_MAX_SCOPES);
		return -EINVAL;
	}
	cfg->scopes = calloc(n ? n : 1, sizeof(*cfg->scopes));
	if (!cfg->scopes)
		return -ENOMEM;
	cfg->nr_scopes = n;
	for (i = 0, it = list->data.sequence.items.start; it < list->data.sequence.items.top;
	     it++, i++) {
		snprintf(field, sizeof(field), "scopes[%zu]", i);
		err = parse_scope(p, node_at(p, *it), field, &cfg->scopes[i]);
		if (err == -ENOMEM)
			return err;
		bad |= err;
	}
	if (bad)
		return -EINVAL;
	/* a balance rule stands for its service's virtual addresses */
	for (i = 0; i < cfg->nr_scopes; i++) {
		err = rules_lower_balance(cfg, &cfg->scopes[i]);
		if (err)
			return err;
	}
	return validate_scopes(p, cfg, list);
}
