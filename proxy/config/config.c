// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * config.c - YAML configuration parser and validator, on libyaml's document
 * API (the node tree keeps the line and column of every value, which is
 * what lets each error point at its place in the file).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "cgroup.h"
#include "config.h"
#include "rules.h"

struct parser {
	const char *file;
	yaml_document_t *doc;
	char *err;		/* error lines accumulate here */
	size_t errlen, used;
	int nerr;
	const struct cfg *cfg;	/* services are parsed first: rules name them */
};

#define MAX_REPORTED_ERRORS 20
#define REPORT_LINE_MAX	1024	/* an error's text; longer ones end in "..." */

__attribute__((format(printf, 4, 5)))
static void report(struct parser *p, const yaml_node_t *node, const char *field,
		   const char *fmt, ...)
{
	unsigned long line = node ? node->start_mark.line + 1 : 1;
	unsigned long col = node ? node->start_mark.column + 1 : 1;
	char msg[REPORT_LINE_MAX];
	va_list ap;
	int n;

	if (p->nerr++ >= MAX_REPORTED_ERRORS)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))	/* a value echoed in full: cut it short */
		memcpy(msg + sizeof(msg) - 4, "...", 4);
	n = snprintf(p->err + p->used, p->errlen - p->used, "%s:%lu:%lu: %s%s%s\n", p->file,
		     line, col, field ? field : "", field && *field ? ": " : "", msg);
	if (n < 0 || (size_t)n >= p->errlen - p->used) {
		p->err[p->used] = '\0';	/* no room for a whole line: none */
		p->nerr = MAX_REPORTED_ERRORS;
		return;
	}
	p->used += (size_t)n;
}

/* A stand-in node that points at where address <a> was written. */
static yaml_node_t at_addr(const struct cfg_addr *a)
{
	yaml_node_t n = { .start_mark = { .line = (size_t)a->line - 1,
					  .column = (size_t)a->col - 1 } };

	return n;
}

static yaml_node_t *node_at(struct parser *p, int idx)
{
	return yaml_document_get_node(p->doc, idx);
}

static const char *type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static int expect(struct parser *p, const yaml_node_t *n, yaml_node_type_t type,
		  const char *field)
{
	static const char *const want[] = {
		[YAML_SCALAR_NODE] = "a scalar",
		[YAML_SEQUENCE_NODE] = "a list",
		[YAML_MAPPING_NODE] = "a mapping",
	};

	if (n->type == type)
		return 0;
	report(p, n, field, "expected %s, found %s", want[type], type_name(n));
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/*
 * Checks that every key of mapping <map> is a scalar listed in <allowed>
 * and appears once. Unknown keys are errors: a typo must not silently turn
 * into a default.
 */
static int check_keys(struct parser *p, yaml_node_t *map, const char *path,
		      const char *const *allowed)
{
	yaml_node_pair_t *a, *b;
	int bad = 0;

	for (a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
		yaml_node_t *k = node_at(p, a->key);
		const char *const *w;

		if (k->type != YAML_SCALAR_NODE) {
			report(p, k, path, "keys must be plain names, found %s", type_name(k));
			bad = -EINVAL;
			continue;
		}
		for (w = allowed; *w; w++)
			if (!strcmp(*w, scalar(k)))
				break;
		if (!*w) {
			char list[256] = "";
			size_t used = 0;

			for (w = allowed; *w && used < sizeof(list); w++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 w == allowed ? "" : ", ", *w);
			report(p, k, path, "unknown key '%s' (expected one of: %s)", scalar(k), list);
			bad = -EINVAL;
			continue;
		}
		for (b = map->data.mapping.pairs.start; b < a; b++) {
			yaml_node_t *kb = node_at(p, b->key);

			if (kb->type == YAML_SCALAR_NODE && !strcmp(scalar(kb), scalar(k))) {
				report(p, k, path, "duplicate key '%s' (first at line %lu)", scalar(k),
				       (unsigned long)kb->start_mark.line + 1);
				bad = -EINVAL;
				break;
			}
		}
	}
	return bad;
}

/* The value of <key> in mapping <map>, or NULL. */
static yaml_node_t *lookup(struct parser *p, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node_at(p, pair->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), key))
			return node_at(p, pair->value);
	}
	return NULL;
}

/* A required scalar field; reports it missing against <map>. */
static yaml_node_t *need_scalar(struct parser *p, yaml_node_t *map, const char *key,
				const char *path)
{
	yaml_node_t *v = lookup(p, map, key);
	char field[256];

	snprintf(field, sizeof(field), "%s.%s", path, key);
	if (!v) {
		report(p, map, path, "missing required key '%s'", key);
		return NULL;
	}
	if (expect(p, v, YAML_SCALAR_NODE, field))
		return NULL;
	return v;
}

static int parse_u32(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* "N", "N-M" or "any" -> inclusive range of ports 1..65535. */
/* A number with one of @units' suffixes (the first entry is the bare
 * number's), at most @max of the smallest unit, into @out. 0 or -EINVAL. */
struct unit {
	const char *suffix;
	unsigned long mult;
};

static int parse_scaled(const char *s, const struct unit *units, unsigned long max,
			unsigned long *out)
{
	const char *suffix;
	unsigned long n;
	char num[24];

	for (suffix = s; isdigit((unsigned char)*suffix); suffix++)
		;
	if (suffix == s || (size_t)(suffix - s) >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, (size_t)(suffix - s));
	num[suffix - s] = '\0';
	for (; units->suffix; units++) {
		if (strcmp(suffix, units->suffix))
			continue;
		if (parse_u32(num, max / units->mult, &n))
			return -EINVAL;
		*out = n * units->mult;
		return 0;
	}
	return -EINVAL;
}

/* The scalar at <key> of <map>, with its field name; NULL (and 0 in <bad>)
 * when absent, NULL and -EINVAL when not a scalar. */
static yaml_node_t *scalar_field(struct parser *p, yaml_node_t *map, const char *key,
				 const char *path, char *field, size_t len, int *bad)
{
	yaml_node_t *v = lookup(p, map, key);

	*bad = 0;
	if (!v)
		return NULL;
	snprintf(field, len, "%s.%s", path, key);
	if (expect(p, v, YAML_SCALAR_NODE, field)) {
		*bad = -EINVAL;
		return NULL;
	}
	return v;
}

/* The value at <key> of <map>: a number with one of <units>, in [min, max]
 * of the smallest unit. <example> and <range> are for the messages. */
static int parse_amount(struct parser *p, yaml_node_t *map, const char *key, const char *path,
			const struct unit *units, const char *example, unsigned long min,
			unsigned long max, const char *range, unsigned long *out)
{
	char field[256];
	unsigned long n;
	yaml_node_t *v;
	int bad;

	v = scalar_field(p, map, key, path, field, sizeof(field), &bad);
	if (!v)
		return bad;
	if (parse_scaled(scalar(v), units, 0xffffffffUL, &n)) {
		report(p, v, field, "'%s' is not %s", scalar(v), example);
		return -EINVAL;
	}
	if (n < min || n > max) {
		report(p, v, field, "'%s' is out of range (%s)", scalar(v), range);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int parse_duration(struct parser *p, yaml_node_t *map, const char *key, const char *path,
			  uint32_t min_ms, uint32_t *out)
{
	static const struct unit ms[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { NULL, 0 },
	};
	unsigned long n = *out;
	char range[32];
	int err;

	snprintf(range, sizeof(range), "%ums to 24h", min_ms);
	err = parse_amount(p, map, key, path, ms, "a duration (e.g. 250ms, 2s, 5m, 1h)", min_ms,
			   86400000UL, range, &n);
	*out = (uint32_t)n;
	return err;
}

/* A size in bytes: a number, or with KiB/MiB/GiB (K, M, G: the same). */
static int parse_size(struct parser *p, yaml_node_t *map, const char *key, const char *path,
		      uint32_t min, uint32_t max, uint32_t *out)
{
	static const struct unit bytes[] = {
		{ "", 1 }, { "B", 1 }, { "K", 1ul << 10 }, { "KiB", 1ul << 10 },
		{ "M", 1ul << 20 }, { "MiB", 1ul << 20 }, { "G", 1ul << 30 }, { "GiB", 1ul << 30 },
		{ NULL, 0 },
	};
	unsigned long n = *out;
	char range[48];
	int err;

	snprintf(range, sizeof(range), "%u KiB to %u MiB", min >> 10, max >> 20);
	err = parse_amount(p, map, key, path, bytes, "a size (e.g. 262144, 256KiB, 4MiB)", min,
			   max, range, &n);
	*out = (uint32_t)n;
	return err;
}

static int parse_count(struct parser *p, yaml_node_t *map, const char *key, const char *path,
		       unsigned long min, unsigned long max, uint32_t *out)
{
	yaml_node_t *v = lookup(p, map, key);
	unsigned long n;
	char field[256];

	if (!v)
		return 0;
	snprintf(field, sizeof(field), "%s.%s", path, key);
	if (expect(p, v, YAML_SCALAR_NODE, field))
		return -EINVAL;
	if (parse_u32(scalar(v), max, &n) || n < min) {
		report(p, v, field, "'%s' is not a whole number in %lu-%lu", scalar(v), min, max);
		return -EINVAL;
	}
	*out = (uint32_t)n;
	return 0;
}

/* A sub-mapping such as "timeouts:"; NULL (no error) when absent. */
static int sub_map(struct parser *p, yaml_node_t *map, const char *key, const char *path,
		   const char *const *keys, yaml_node_t **out, char *field, size_t fieldlen)
{
	yaml_node_t *v = lookup(p, map, key);

	*out = NULL;
	snprintf(field, fieldlen, "%s.%s", path, key);
	if (!v)
		return 0;
	if (expect(p, v, YAML_MAPPING_NODE, field))
		return -EINVAL;
	*out = v;
	return check_keys(p, v, field, keys);
}

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
	struct in6_addr a6;
	struct in_addr a4;
	int is4, i;

	if (!strcmp(s, "any")) {
		memset(r->addr, 0, 16);
		r->prefixlen = 0;
		return 0;
	}
	slash = strchr(s, '/');
	if ((slash ? (size_t)(slash - s) : strlen(s)) >= sizeof(addr))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	is4 = inet_pton(AF_INET, addr, &a4) == 1;
	if (!is4 && inet_pton(AF_INET6, addr, &a6) != 1)
		goto bad;
	max = is4 ? 32 : 128;
	len = max;
	if (slash && (parse_u32(slash + 1, max, &len))) {
		report(p, n, field, "prefix length in '%s' must be 0-%lu", s, max);
		return -EINVAL;
	}
	if (is4) {
		memset(r->addr, 0, 10);
		r->addr[10] = r->addr[11] = 0xff;
		memcpy(r->addr + 12, &a4, 4);
		r->prefixlen = (uint8_t)(96 + len);
	} else {
		memcpy(r->addr, &a6, 16);
		r->prefixlen = (uint8_t)len;
	}
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
static int parse_verdict(struct parser *p, yaml_node_t *map, const char *path,
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

/* Replaces each balance rule by one rule per virtual address and protocol
 * of its service, in place, keeping config order. */
static int expand_balance_rules(const struct cfg *cfg, struct cfg_scope *sc)
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
				cfg_sockaddr_ip6(sa, o->addr, &o->port_lo);
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
		const char *pr = scalar(v);

		if (!strcmp(pr, "tcp")) {
			r->proto = SH_PROTO_TCP;
		} else if (policy && !strcmp(pr, "udp")) {
			r->proto = SH_PROTO_UDP;
		} else if (policy && !strcmp(pr, "icmp")) {
			r->proto = SH_PROTO_ICMP;
		} else if (policy && !strcmp(pr, "any")) {
			r->proto = SH_PROTO_ANY;
		} else if (!policy && (!strcmp(pr, "udp") || !strcmp(pr, "any"))) {
			report(p, v, field, "action %s applies to tcp only, not '%s'",
			       sh_action_name((__u32)a), pr);
			bad = -EINVAL;
		} else {
			report(p, v, field, "unknown protocol '%s' (expected %s)", pr,
			       policy ? "tcp, udp, icmp or any" : "tcp");
			bad = -EINVAL;
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

static int valid_name(const char *s)
{
	if (!*s || strlen(s) >= SH_SCOPE_NAME_LEN)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
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
		 * them: NEL, LRM/RLM, line and paragraph separators, bidi
		 * embeddings, overrides and isolates */
		if ((u[0] == 0xc2 && u[1] == 0x85) ||
		    (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0x8e || u[2] == 0x8f ||
						      (u[2] >= 0xa8 && u[2] <= 0xae))) ||
		    (u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9))
			return "contains an invisible or text-reordering character";
	}
	if (cgroup_key(s, key, sizeof(key)))
		return "contains '..'";
	if (!strcmp(key, "@/"))
		return "names the root of the cgroup2 mount: every process on the machine "
		       "would be in scope";
	return NULL;
}

/* The required "name" of a scope or service into @out. */
static int parse_name(struct parser *p, yaml_node_t *n, const char *path,
		      char out[SH_SCOPE_NAME_LEN])
{
	yaml_node_t *v = need_scalar(p, n, "name", path);
	char field[256];

	if (!v)
		return -EINVAL;
	if (!valid_name(scalar(v))) {
		snprintf(field, sizeof(field), "%s.name", path);
		report(p, v, field, "'%s' is not a valid name (1-%d characters of A-Z a-z 0-9 . _ -)",
		       scalar(v), SH_SCOPE_NAME_LEN - 1);
		return -EINVAL;
	}
	snprintf(out, SH_SCOPE_NAME_LEN, "%s", scalar(v));
	return 0;
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

	v = lookup(p, n, "create");
	snprintf(field, sizeof(field), "%s.create", path);
	if (v && !expect(p, v, YAML_SCALAR_NODE, field)) {
		if (!strcmp(scalar(v), "true")) {
			sc->create = true;
		} else if (!strcmp(scalar(v), "false")) {
			sc->create = false;
		} else {
			report(p, v, field, "expected true or false, found '%s'", scalar(v));
			bad = -EINVAL;
		}
	} else if (v) {
		bad = -EINVAL;
	}

	bad |= parse_verdict(p, n, path, &sc->def);
	sc->accel_buffer = SH_ACCEL_BUFFER_DEFAULT;
	bad |= parse_size(p, n, "accelerate-buffer", path, SH_ACCEL_BUFFER_MIN,
			  SH_ACCEL_BUFFER_MAX, &sc->accel_buffer);

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
static int validate(struct parser *p, struct cfg *cfg, yaml_node_t *list)
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

		snprintf(field, sizeof(field), "scopes[%zu]", i);
		for (j = 0; j < i; j++) {
			struct cfg_scope *b = &cfg->scopes[j];

			if (*a->name && !strcmp(a->name, b->name)) {
				report(p, an, field, "duplicate scope name '%s' (first at line %d)",
				       a->name, b->line);
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

			snprintf(field, sizeof(field), "scopes[%zu].rules", i);
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


/* --- services ------------------------------------------------------------ */

static const char *const algo_names[] = {
	[CFG_ALGO_ROUND_ROBIN] = "round-robin",
	[CFG_ALGO_LEAST_CONN] = "least-conn",
	[CFG_ALGO_MAGLEV] = "maglev",
	[CFG_ALGO_RANDOM_TWO] = "random-two",
};

static const char *const path_names[] = {
	[CFG_PATH_AUTO] = "auto",
	[CFG_PATH_SPLICE] = "splice",
	[CFG_PATH_RELAY] = "relay",
};

const char *cfg_algo_name(enum cfg_algo a)
{
	return (size_t)a < sizeof(algo_names) / sizeof(algo_names[0]) ? algo_names[a] : "?";
}

const char *cfg_path_name(enum cfg_data_path pth)
{
	return (size_t)pth < sizeof(path_names) / sizeof(path_names[0]) ? path_names[pth] : "?";
}

void cfg_sockaddr_ip6(const struct sockaddr_storage *sa, uint8_t out[16], uint16_t *port)
{
	memset(out, 0, 16);
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		out[10] = out[11] = 0xff;
		memcpy(&out[12], &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		memcpy(out, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	}
}

/* Would a connection to backend @be reach listener @l of this very host:
 * the same address and port, or a loopback address and a wildcard
 * listener on that port? */
static bool reaches_listener(const struct cfg_addr *be, const struct cfg_addr *l)
{
	static const uint8_t any[16], v4any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t lo6[16] = { [15] = 1 };
	uint8_t b[16], x[16];
	uint16_t pb, px;

	cfg_sockaddr_ip6(&be->sa, b, &pb);
	cfg_sockaddr_ip6(&l->sa, x, &px);
	if (pb != px)
		return false;
	if (!memcmp(b, x, 16))
		return true;
	return (!memcmp(x, any, 16) || !memcmp(x, v4any, 16)) &&
	       (!memcmp(b, lo6, 16) || (!memcmp(b, v4any, 12) && b[12] == 127));
}

/* Do @a and @b name one address and port (IPv4 and its v4-mapped form
 * alike)? */
static bool same_endpoint(const struct cfg_addr *a, const struct cfg_addr *b)
{
	uint8_t x[16], y[16];
	uint16_t px, py;

	cfg_sockaddr_ip6(&a->sa, x, &px);
	cfg_sockaddr_ip6(&b->sa, y, &py);
	return px == py && !memcmp(x, y, 16);
}

int cfg_parse_sockaddr(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s;
	size_t hlen;
	unsigned long port;

	memset(sa, 0, sizeof(*sa));
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;	/* bare IPv6 needs brackets */
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host) || parse_u32(colon + 1, 65535, &port) || !port)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (*s != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	}
	return 0;
}

static int parse_addr(struct parser *p, yaml_node_t *v, const char *field, struct cfg_addr *a)
{
	if (expect(p, v, YAML_SCALAR_NODE, field))
		return -EINVAL;
	a->line = (int)v->start_mark.line + 1;
	a->col = (int)v->start_mark.column + 1;
	if (strlen(scalar(v)) >= sizeof(a->text) ||
	    cfg_parse_sockaddr(scalar(v), &a->sa, &a->len)) {
		report(p, v, field, "'%s' is not IP:PORT or [IPv6]:PORT (port 1-65535)", scalar(v));
		return -EINVAL;
	}
	snprintf(a->text, sizeof(a->text), "%s", scalar(v));
	return 0;
}

/* "250ms", "2s", "5m", "1h"; a bare number is milliseconds (as HAProxy). */
static int parse_backend(struct parser *p, yaml_node_t *n, const char *path, struct cfg_backend *b)
{
	static const char *const keys[] = { "address", "weight", "backup", NULL };
	yaml_node_t *v;
	char field[256];
	int bad = 0;

	b->weight = 1;
	if (n->type == YAML_SCALAR_NODE)	/* shorthand: "- 127.0.0.1:9001" */
		return parse_addr(p, n, path, &b->addr);
	if (expect(p, n, YAML_MAPPING_NODE, path))
		return -EINVAL;
	bad |= check_keys(p, n, path, keys);
	v = need_scalar(p, n, "address", path);
	snprintf(field, sizeof(field), "%s.address", path);
	if (!v || parse_addr(p, v, field, &b->addr))
		bad = -EINVAL;
	bad |= parse_count(p, n, "weight", path, 1, 256, &b->weight);
	v = lookup(p, n, "backup");
	snprintf(field, sizeof(field), "%s.backup", path);
	if (v && !expect(p, v, YAML_SCALAR_NODE, field)) {
		if (!strcmp(scalar(v), "true"))
			b->backup = true;
		else if (strcmp(scalar(v), "false")) {
			report(p, v, field, "expected true or false, found '%s'", scalar(v));
			bad = -EINVAL;
		}
	} else if (v) {
		bad = -EINVAL;
	}
	return bad;
}

static int parse_named(struct parser *p, yaml_node_t *map, const char *key, const char *path,
		       const char *const *names, size_t nr, int *out)
{
	yaml_node_t *v = lookup(p, map, key);
	char field[256], list[128] = "";
	size_t i, used = 0;

	if (!v)
		return 0;
	snprintf(field, sizeof(field), "%s.%s", path, key);
	if (expect(p, v, YAML_SCALAR_NODE, field))
		return -EINVAL;
	for (i = 0; i < nr; i++) {
		if (!strcmp(scalar(v), names[i])) {
			*out = (int)i;
			return 0;
		}
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
					 names[i]);
	}
	report(p, v, field, "unknown %s '%s' (expected one of: %s)", key, scalar(v), list);
	return -EINVAL;
}

/* A list of 1..@max items: its length, or 0 after reporting what is wrong. */
static size_t list_len(struct parser *p, yaml_node_t *v, const char *field, size_t max,
		       const char *what)
{
	size_t nr;

	if (expect(p, v, YAML_SEQUENCE_NODE, field))
		return 0;
	nr = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (nr == 0 || nr > max) {
		report(p, v, field, "expected 1-%zu %s, found %zu", max, what, nr);
		return 0;
	}
	return nr;
}

/* <key>: one address or a list of at most <max>; absent is fine. */
static int parse_addr_list(struct parser *p, yaml_node_t *n, const char *key, const char *path,
			   size_t max, struct cfg_addr **out, size_t *nr_out)
{
	yaml_node_t *v = lookup(p, n, key);
	yaml_node_item_t *it;
	char field[256];
	int bad = 0;
	size_t i, nr;

	if (!v)
		return 0;
	snprintf(field, sizeof(field), "%s.%s", path, key);
	if (v->type == YAML_SCALAR_NODE) {
		nr = 1;
	} else {
		nr = list_len(p, v, field, max, "addresses");
		if (!nr)
			return -EINVAL;
	}
	*out = calloc(nr, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	*nr_out = nr;
	if (v->type == YAML_SCALAR_NODE)
		return parse_addr(p, v, field, &(*out)[0]);
	for (i = 0, it = v->data.sequence.items.start; i < nr; it++, i++) {
		snprintf(field, sizeof(field), "%s.%s[%zu]", path, key, i);
		bad |= parse_addr(p, node_at(p, *it), field, &(*out)[i]);
	}
	return bad;
}

static int parse_service(struct parser *p, yaml_node_t *n, const char *path, struct cfg_service *sv)
{
	static const char *const keys[] = { "name", "listen", "virtual", "virtual-protocol", "backlog", "backends", "algorithm",
					    "data-path", "health-check", "timeouts", "limits", NULL };
	static const char *const hc_keys[] = { "interval", "timeout", "rise", "fall", NULL };
	static const char *const to_keys[] = { "connect", "idle", "drain", NULL };
	static const char *const lim_keys[] = { "connections", "per-backend", "attempts", NULL };
	yaml_node_item_t *it;
	yaml_node_t *v, *sub;
	char field[256];
	int bad = 0, e;
	size_t i, nr;

	sv->line = (int)n->start_mark.line + 1;
	sv->col = (int)n->start_mark.column + 1;
	sv->backlog = CFG_DEF_BACKLOG;
	sv->connect_timeout_ms = CFG_DEF_CONNECT_MS;
	sv->idle_timeout_ms = CFG_DEF_IDLE_MS;
	sv->drain_timeout_ms = CFG_DEF_DRAIN_MS;
	sv->max_conns = CFG_DEF_MAX_CONNS;
	sv->connect_attempts = CFG_DEF_ATTEMPTS;
	sv->health = (struct cfg_health){ false, CFG_DEF_HC_INTERVAL_MS, CFG_DEF_HC_TIMEOUT_MS,
					  CFG_DEF_HC_RISE, CFG_DEF_HC_FALL };
	if (expect(p, n, YAML_MAPPING_NODE, path))
		return -EINVAL;
	bad |= check_keys(p, n, path, keys);

	bad |= parse_name(p, n, path, sv->name);

	/* listen (the proxy) and virtual (connect-time LB): one address or a
	 * list; a service has at least one of them */
	e = parse_addr_list(p, n, "listen", path, CFG_MAX_LISTEN, &sv->listen, &sv->nr_listen);
	if (e == -ENOMEM)
		return e;
	bad |= e;
	e = parse_addr_list(p, n, "virtual", path, CFG_MAX_VIPS, &sv->vips, &sv->nr_vips);
	if (e == -ENOMEM)
		return e;
	bad |= e;
	if (!lookup(p, n, "listen") && !lookup(p, n, "virtual")) {
		report(p, n, path, "missing required key 'listen' (a proxy address) or 'virtual' "
		       "(a connect-time virtual address)");
		bad = -EINVAL;
	}
	sv->vip_protos = CFG_VIP_TCP;
	v = lookup(p, n, "virtual-protocol");
	snprintf(field, sizeof(field), "%s.virtual-protocol", path);
	if (v && !expect(p, v, YAML_SCALAR_NODE, field)) {
		if (!strcmp(scalar(v), "tcp")) {
			sv->vip_protos = CFG_VIP_TCP;
		} else if (!strcmp(scalar(v), "udp")) {
			sv->vip_protos = CFG_VIP_UDP;
		} else if (!strcmp(scalar(v), "both")) {
			sv->vip_protos = CFG_VIP_TCP | CFG_VIP_UDP;
		} else {
			report(p, v, field, "unknown protocol '%s' (expected tcp, udp or both)",
			       scalar(v));
			bad = -EINVAL;
		}
	} else if (v) {
		bad = -EINVAL;
	}
	bad |= parse_count(p, n, "backlog", path, 1, 65535, &sv->backlog);

	v = lookup(p, n, "backends");
	snprintf(field, sizeof(field), "%s.backends", path);
	if (!v) {
		report(p, n, path, "missing required key 'backends'");
		bad = -EINVAL;
	} else if ((nr = list_len(p, v, field, CFG_MAX_BACKENDS, "backends"))) {
		sv->backends = calloc(nr, sizeof(*sv->backends));
		if (!sv->backends)
			return -ENOMEM;
		sv->nr_backends = nr;
		for (i = 0, it = v->data.sequence.items.start; i < nr; it++, i++) {
			snprintf(field, sizeof(field), "%s.backends[%zu]", path, i);
			bad |= parse_backend(p, node_at(p, *it), field, &sv->backends[i]);
		}
	} else {
		bad = -EINVAL;
	}

	e = (int)sv->algo;
	bad |= parse_named(p, n, "algorithm", path, algo_names, 4, &e);
	sv->algo = (enum cfg_algo)e;
	e = (int)sv->path;
	bad |= parse_named(p, n, "data-path", path, path_names, 3, &e);
	sv->path = (enum cfg_data_path)e;

	bad |= sub_map(p, n, "health-check", path, hc_keys, &sub, field, sizeof(field));
	if (sub) {
		sv->health.enabled = true;
		bad |= parse_duration(p, sub, "interval", field, 10, &sv->health.interval_ms);
		bad |= parse_duration(p, sub, "timeout", field, 10, &sv->health.timeout_ms);
		bad |= parse_count(p, sub, "rise", field, 1, 100, &sv->health.rise);
		bad |= parse_count(p, sub, "fall", field, 1, 100, &sv->health.fall);
		if (sv->health.timeout_ms > sv->health.interval_ms) {
			report(p, sub, field, "timeout (%ums) must not exceed interval (%ums)",
			       sv->health.timeout_ms, sv->health.interval_ms);
			bad = -EINVAL;
		}
	}
	bad |= sub_map(p, n, "timeouts", path, to_keys, &sub, field, sizeof(field));
	if (sub) {
		bad |= parse_duration(p, sub, "connect", field, 1, &sv->connect_timeout_ms);
		bad |= parse_duration(p, sub, "idle", field, 100, &sv->idle_timeout_ms);
		bad |= parse_duration(p, sub, "drain", field, 0, &sv->drain_timeout_ms);
	}
	bad |= sub_map(p, n, "limits", path, lim_keys, &sub, field, sizeof(field));
	if (sub) {
		bad |= parse_count(p, sub, "connections", field, 0, SH_MAX_CONNS, &sv->max_conns);
		bad |= parse_count(p, sub, "per-backend", field, 0, SH_MAX_CONNS,
				   &sv->max_conns_backend);
		bad |= parse_count(p, sub, "attempts", field, 1, 16, &sv->connect_attempts);
	}
	if (sv->max_conns == 0)
		sv->max_conns = SH_MAX_CONNS;
	return bad;
}

static bool same_sockaddr(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->len == b->len && !memcmp(&a->sa, &b->sa, a->len);
}

static int validate_services(struct parser *p, struct cfg *cfg, yaml_node_t *list)
{
	yaml_node_item_t *items = list->data.sequence.items.start;
	int bad = 0;
	size_t i, j, k, l;

	for (i = 0; i < cfg->nr_services; i++) {
		struct cfg_service *a = &cfg->services[i];
		yaml_node_t *an = node_at(p, items[i]);
		char field[64];

		snprintf(field, sizeof(field), "services[%zu]", i);
		for (j = 0; j < i; j++) {
			struct cfg_service *b = &cfg->services[j];

			if (!strcmp(a->name, b->name)) {
				report(p, an, field, "duplicate service name '%s' (first at line %d)",
				       a->name, b->line);
				bad = -EINVAL;
			}
			for (k = 0; k < a->nr_listen; k++)
				for (l = 0; l < b->nr_listen; l++)
					if (same_sockaddr(&a->listen[k], &b->listen[l])) {
						yaml_node_t at = at_addr(&a->listen[k]);

						report(p, &at, field, "listen address %s is already used by service '%s' (line %d)",
						       a->listen[k].text, b->name, b->listen[l].line);
						bad = -EINVAL;
					}
		}
		for (j = 0; j < i; j++) {
			struct cfg_service *b = &cfg->services[j];

			if (!(a->vip_protos & b->vip_protos))
				continue;
			for (k = 0; k < a->nr_vips; k++)
				for (l = 0; l < b->nr_vips; l++)
					if (same_sockaddr(&a->vips[k], &b->vips[l])) {
						yaml_node_t at = at_addr(&a->vips[k]);

						report(p, &at, field, "virtual address %s already belongs to service '%s' (line %d)",
						       a->vips[k].text, b->name, b->vips[l].line);
						bad = -EINVAL;
					}
		}
		/* A backend that is a listener of this daemon loops: each
		 * connection makes another, until the fds run out. */
		for (j = 0; j < cfg->nr_services; j++)
			for (k = 0; k < a->nr_backends; k++)
				for (l = 0; l < cfg->services[j].nr_listen; l++)
					if (reaches_listener(&a->backends[k].addr,
							     &cfg->services[j].listen[l])) {
						yaml_node_t at = at_addr(&a->backends[k].addr);

						report(p, &at, field, "backend %s is the listen address %s of "
						       "service '%s' (line %d): every connection would loop "
						       "through the proxy", a->backends[k].addr.text,
						       cfg->services[j].listen[l].text, cfg->services[j].name,
						       cfg->services[j].listen[l].line);
						bad = -EINVAL;
					}
		/* A connect() to a virtual address never reaches a listener on
		 * it from a scope, and always does from outside one: refuse the
		 * pair rather than leave which one answers to where the client
		 * runs. (A wildcard listener on the port is allowed: README.) */
		for (j = 0; j < cfg->nr_services; j++) {
			struct cfg_service *b = &cfg->services[j];

			if (!(a->vip_protos & CFG_VIP_TCP))
				break;
			for (k = 0; k < a->nr_vips; k++)
				for (l = 0; l < b->nr_listen; l++)
					if (same_endpoint(&a->vips[k], &b->listen[l])) {
						yaml_node_t at = at_addr(&a->vips[k]);

						report(p, &at, field, "virtual address %s is the listen address "
						       "of service '%s' (line %d): connect-time balancing would "
						       "take its connections from scoped clients",
						       a->vips[k].text, b->name, b->listen[l].line);
						bad = -EINVAL;
					}
		}
		/* connect4 can only give an IPv4 socket an IPv4 backend, and an
		 * IPv6 virtual address an IPv6 one: keep the families apart */
		for (k = 0; k < a->nr_vips; k++)
			for (l = 0; l < a->nr_backends; l++)
				if (a->vips[k].sa.ss_family != a->backends[l].addr.sa.ss_family) {
					yaml_node_t at = at_addr(&a->backends[l].addr);

					report(p, &at, field, "backend %s is not of the family of virtual address %s "
					       "(line %d); connect-time balancing keeps IPv4 and IPv6 apart",
					       a->backends[l].addr.text, a->vips[k].text, a->vips[k].line);
					bad = -EINVAL;
				}
		for (k = 0; k < a->nr_backends; k++) {
			bool primary = false;

			for (l = 0; l < k; l++)
				if (same_sockaddr(&a->backends[k].addr, &a->backends[l].addr)) {
					yaml_node_t at = at_addr(&a->backends[k].addr);

					report(p, &at, field, "backend %s is listed twice (first at line %d)",
					       a->backends[k].addr.text, a->backends[l].addr.line);
					bad = -EINVAL;
				}
			for (l = 0; l < a->nr_backends; l++)
				primary |= !a->backends[l].backup;
			if (!primary && k == 0) {
				report(p, an, field, "every backend is a backup; at least one must be a primary");
				bad = -EINVAL;
			}
		}
	}
	return bad;
}

static int parse_services(struct parser *p, struct cfg *cfg, yaml_node_t *list)
{
	yaml_node_item_t *it;
	char field[64];
	int bad = 0, err;
	size_t i, n;

	if (list->type == YAML_SCALAR_NODE && !*scalar(list))
		return 0;
	if (expect(p, list, YAML_SEQUENCE_NODE, "services"))
		return -EINVAL;
	n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	if (n > CFG_MAX_SERVICES) {
		report(p, list, "services", "%zu services, at most %d are supported", n,
		       CFG_MAX_SERVICES);
		return -EINVAL;
	}
	cfg->services = calloc(n ? n : 1, sizeof(*cfg->services));
	if (!cfg->services)
		return -ENOMEM;
	cfg->nr_services = n;
	for (i = 0, it = list->data.sequence.items.start; i < n; it++, i++) {
		snprintf(field, sizeof(field), "services[%zu]", i);
		err = parse_service(p, node_at(p, *it), field, &cfg->services[i]);
		if (err == -ENOMEM)
			return err;
		bad |= err;
	}
	if (bad)
		return -EINVAL;
	return validate_services(p, cfg, list);
}

static int parse_root(struct parser *p, struct cfg *cfg)
{
	static const char *const keys[] = { "scopes", "services", "policy", NULL };
	static const char *const policy_keys[] = { "default", "default-mark", NULL };
	yaml_node_t *root = yaml_document_get_root_node(p->doc), *list, *svcs, *pol;
	yaml_node_item_t *it;
	char field[64];
	int bad = 0, err;
	size_t i, n;

	if (!root || (root->type == YAML_SCALAR_NODE && !*scalar(root))) {
		report(p, NULL, "", "the file is empty (expected a mapping with 'scopes' or 'services')");
		return -EINVAL;
	}
	if (expect(p, root, YAML_MAPPING_NODE, "(top level)"))
		return -EINVAL;
	bad |= check_keys(p, root, "(top level)", keys);

	list = lookup(p, root, "scopes");
	svcs = lookup(p, root, "services");
	if (!list && !svcs) {
		report(p, root, "(top level)", "missing required key 'scopes' or 'services'");
		return -EINVAL;
	}
	cfg->no_scope.action = SH_ACT_ALLOW;
	pol = lookup(p, root, "policy");
	if (pol && expect(p, pol, YAML_MAPPING_NODE, "policy"))
		bad = -EINVAL;
	else if (pol)
		bad |= check_keys(p, pol, "policy", policy_keys) |
		       parse_verdict(p, pol, "policy", &cfg->no_scope);
	if (svcs) {
		err = parse_services(p, cfg, svcs);
		if (err == -ENOMEM)
			return err;
		bad |= err;
	}
	if (!list || (list->type == YAML_SCALAR_NODE && !*scalar(list)))
		return bad;	/* "scopes:" with nothing: a daemon with no scope */
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
	for (i = 0; i < cfg->nr_scopes; i++) {
		err = expand_balance_rules(cfg, &cfg->scopes[i]);
		if (err)
			return err;
	}
	return validate(p, cfg, list);
}

/* A stand-in node at byte @off of @buf: its line and its column counted in
 * characters (UTF-8 continuation bytes are not), as libyaml's marks are. */
static yaml_node_t at_offset(const char *buf, size_t off)
{
	yaml_node_t n = { 0 };
	size_t i;

	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			n.start_mark.line++;
			n.start_mark.column = 0;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			n.start_mark.column++;
		}
	}
	return n;
}

/* Offset of the first byte of @buf that is not well-formed UTF-8 (no
 * overlong forms, no surrogates, nothing past U+10FFFF), or @len. */
static size_t utf8_invalid_at(const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = buf[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		for (k = 1; k <= n; k++) {
			if (i + k >= len || (buf[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (buf[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += n + 1;
	}
	return len;
}

/* A libyaml parse failure as one error line at the place it names. */
static void report_yaml_error(struct parser *p, const yaml_parser_t *parser, const char *buf)
{
	yaml_node_t at = { .start_mark = parser->problem_mark };

	if (parser->error == YAML_READER_ERROR)
		at = at_offset(buf, parser->problem_offset);	/* the reader gives no mark */
	report(p, &at, "", "YAML syntax error: %s%s%s",
	       parser->problem ? parser->problem : "invalid document",
	       parser->context ? " " : "", parser->context ? parser->context : "");
}

/*
 * A first pass over the parser's events, before the document is built:
 * libyaml's cost grows with the square of the nesting depth (40 000 levels
 * of "[" took seconds, and a reload runs in the event loop), and a scalar's
 * NUL ("\0" in double quotes) would cut a C string short unseen. sockhop's
 * schema nests a handful of levels. 0 or -EINVAL, reported.
 */
static int check_events(struct parser *p, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, ret = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && !ret) {
		if (!yaml_parser_parse(&parser, &ev))
			break;	/* the document load reports the syntax error */
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CFG_MAX_DEPTH) {
				yaml_node_t at = { .start_mark = ev.start_mark };

				report(p, &at, "", "nesting deeper than %d levels (the config needs "
				       "a handful)", CFG_MAX_DEPTH);
				ret = -EINVAL;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			if (memchr(ev.data.scalar.value, '\0', ev.data.scalar.length)) {
				yaml_node_t at = { .start_mark = ev.start_mark };

				report(p, &at, "", "a NUL character (\\0) in a value");
				ret = -EINVAL;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return ret;
}

int cfg_parse(const char *file, const char *buf, size_t len, struct cfg **out, char *err,
	      size_t errlen)
{
	struct parser p = { .file = file, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	const char *nul;
	struct cfg *cfg;
	size_t bad;
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	nul = memchr(buf, '\0', len);
	if (nul) {
		yaml_node_t at = at_offset(buf, (size_t)(nul - buf));

		report(&p, &at, "", "the file contains a NUL byte (is it a YAML text file?)");
		return -EINVAL;
	}
	bad = utf8_invalid_at((const unsigned char *)buf, len);
	if (bad < len) {
		yaml_node_t at = at_offset(buf, bad);

		report(&p, &at, "", "invalid UTF-8 (byte 0x%02x): the file must be UTF-8 text",
		       (unsigned char)buf[bad]);
		return -EINVAL;
	}
	ret = check_events(&p, buf, len);
	if (ret)
		return ret;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	snprintf(cfg->file, sizeof(cfg->file), "%s", file);

	if (!yaml_parser_initialize(&parser)) {
		free(cfg);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		report_yaml_error(&p, &parser, buf);
		yaml_parser_delete(&parser);
		free(cfg);
		return -EINVAL;
	}
	/* One document: a second one (after "---"), valid or not, is refused
	 * rather than silently ignored. */
	if (!yaml_parser_load(&parser, &extra)) {
		report_yaml_error(&p, &parser, buf);
		ret = -EINVAL;
		goto out_doc;
	}
	if (yaml_document_get_root_node(&extra)) {
		yaml_node_t at = { .start_mark = extra.start_mark };

		report(&p, &at, "", "a second YAML document starts here; the file must hold "
		       "exactly one (remove this '---' and what follows, or merge them)");
		yaml_document_delete(&extra);
		ret = -EINVAL;
		goto out_doc;
	}
	yaml_document_delete(&extra);
	p.doc = &doc;
	p.cfg = cfg;
	ret = parse_root(&p, cfg);
out_doc:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (ret) {
		cfg_free(cfg);
		return ret;
	}
	*out = cfg;
	return 0;
}

/* What kind of file @m is, for an operator. */
static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" :
	       S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	       "not a regular file";
}

int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, ret;

	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; the type is
	 * checked right after, before any read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1) {
		char target[256];
		ssize_t tl;

		ret = -errno;
		tl = readlink(path, target, sizeof(target) - 1);
		if (ret == -ENOENT && tl >= 0) {
			target[tl] = '\0';
			snprintf(err, errlen, "%s:1:1: cannot open: a symbolic link to '%s', which "
				 "does not exist\n", path, target);
		} else {
			snprintf(err, errlen, "%s:1:1: cannot open: %s\n", path, strerror(-ret));
		}
		return ret;
	}
	if (fstat(fd, &st) == -1) {
		ret = -errno;
		snprintf(err, errlen, "%s:1:1: cannot stat: %s\n", path, strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s:1:1: %s, not a regular file\n", path, file_kind(st.st_mode));
		goto out;
	}
	if (st.st_size > CFG_MAX_FILE_SIZE) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s:1:1: the file is %lld bytes, more than the %d (1 MiB) "
			 "allowed\n", path, (long long)st.st_size, CFG_MAX_FILE_SIZE);
		goto out;
	}
	/* Read to the end, not to st_size: files of /proc say 0 and have more;
	 * one byte past the limit tells a file that grew while read. */
	buf = malloc(CFG_MAX_FILE_SIZE + 2);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got <= CFG_MAX_FILE_SIZE) {
		n = read(fd, buf + got, CFG_MAX_FILE_SIZE + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s:1:1: cannot read: %s\n", path, strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > CFG_MAX_FILE_SIZE) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s:1:1: the file is more than the %d (1 MiB) bytes allowed\n",
			 path, CFG_MAX_FILE_SIZE);
		goto out;
	}
	buf[got] = '\0';
	ret = cfg_parse(path, buf, got, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

void cfg_free(struct cfg *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nr_scopes; i++)
		free(cfg->scopes[i].rules);
	free(cfg->scopes);
	for (i = 0; i < cfg->nr_services; i++) {
		free(cfg->services[i].listen);
		free(cfg->services[i].vips);
		free(cfg->services[i].backends);
	}
	free(cfg->services);
	free(cfg);
}
