// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * services.c - the "services" section: listen and virtual addresses,
 * backends, algorithm, data path, health checks, timeouts and limits, and
 * the checks across services (names, addresses that clash or loop).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "parse.h"

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

static const char *const local_names[] = { "proxy", "connect" };

/*
 * local-clients: connect: appends the listen addresses to the virtual ones
 * (connect-time balancing is TCP here: the proxy is). A wildcard listen
 * address is no address a client connects to, so it cannot be one.
 */
static int local_clients_vips(struct parser *p, yaml_node_t *n, const char *path,
			      struct cfg_service *sv)
{
	static const uint8_t any[16], v4any[16] = { [10] = 0xff, [11] = 0xff };
	yaml_node_t *v = lookup(p, n, "local-clients");
	struct cfg_addr *all;
	char field[256];
	uint8_t ip[16];
	uint16_t port;
	size_t i;

	snprintf(field, sizeof(field), "%s.local-clients", path);
	if (!sv->nr_listen) {
		report(p, v, field, "'connect' gives local clients the backends of the listen "
		       "addresses, and this service has none");
		return -EINVAL;
	}
	if (sv->vip_protos != CFG_VIP_TCP) {
		report(p, v, field, "'connect' balances TCP connects to the listen addresses; "
		       "virtual-protocol must be tcp (the default)");
		return -EINVAL;
	}
	if (sv->nr_vips + sv->nr_listen > CFG_MAX_VIPS) {
		report(p, v, field, "the %zu listen and %zu virtual addresses are more than %d "
		       "virtual addresses", sv->nr_listen, sv->nr_vips, CFG_MAX_VIPS);
		return -EINVAL;
	}
	for (i = 0; i < sv->nr_listen; i++) {
		yaml_node_t at = at_addr(&sv->listen[i]);
		size_t b;

		snprintf(field, sizeof(field), "%s.listen", path);
		addr_ip6(&sv->listen[i].sa, ip, &port);
		if (!memcmp(ip, any, 16) || !memcmp(ip, v4any, 16)) {
			report(p, &at, field, "local-clients: connect needs the address clients "
			       "connect to, not the wildcard %s", sv->listen[i].text);
			return -EINVAL;
		}
		/* connect4 gives an IPv4 socket an IPv4 backend, connect6 an IPv6 one */
		for (b = 0; b < sv->nr_backends; b++)
			if (sv->backends[b].addr.sa.ss_family != sv->listen[i].sa.ss_family) {
				report(p, &at, field, "local-clients: connect gives a client of %s a "
				       "backend of its family, and backend %s is not (one family "
				       "per service)", sv->listen[i].text, sv->backends[b].addr.text);
				return -EINVAL;
			}
	}
	all = realloc(sv->vips, (sv->nr_vips + sv->nr_listen) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	memcpy(all + sv->nr_vips, sv->listen, sv->nr_listen * sizeof(*all));
	sv->vips = all;
	sv->nr_vips += sv->nr_listen;
	return 0;
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

	addr_ip6(&be->sa, b, &pb);
	addr_ip6(&l->sa, x, &px);
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

	addr_ip6(&a->sa, x, &px);
	addr_ip6(&b->sa, y, &py);
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
	return bad | parse_bool(p, n, "backup", path, &b->backup);
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

/* Where @key's value is written in mapping @n; the entry's start if absent. */
static struct cfg_pos key_pos(struct parser *p, yaml_node_t *n, const char *key,
			      const struct cfg_service *sv)
{
	yaml_node_t *v = lookup(p, n, key);

	if (!v)
		return (struct cfg_pos){ sv->line, sv->col };
	return (struct cfg_pos){ (int)v->start_mark.line + 1, (int)v->start_mark.column + 1 };
}

static int parse_service(struct parser *p, yaml_node_t *n, const char *path, struct cfg_service *sv)
{
	static const char *const keys[] = { "name", "listen", "virtual", "virtual-protocol",
					    "backlog", "backends", "algorithm", "data-path",
					    "local-clients", "health-check", "timeouts", "limits",
					    "auto-min-idle", NULL };
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
	sv->at_listen = key_pos(p, n, "listen", sv);
	sv->at_virtual = key_pos(p, n, "virtual", sv);
	sv->at_algorithm = key_pos(p, n, "algorithm", sv);
	sv->at_path = key_pos(p, n, "data-path", sv);
	sv->at_local = key_pos(p, n, "local-clients", sv);
	sv->backlog = CFG_DEF_BACKLOG;
	sv->connect_timeout_ms = CFG_DEF_CONNECT_MS;
	sv->idle_timeout_ms = CFG_DEF_IDLE_MS;
	sv->drain_timeout_ms = CFG_DEF_DRAIN_MS;
	sv->max_conns = CFG_DEF_MAX_CONNS;
	sv->connect_attempts = CFG_DEF_ATTEMPTS;
	sv->auto_min_idle = CFG_DEF_AUTO_MIN_IDLE;
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
	sv->nr_written_vips = sv->nr_vips;
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
	bad |= parse_count(p, n, "auto-min-idle", path, 0, 100, &sv->auto_min_idle);
	if (lookup(p, n, "auto-min-idle"))	/* --check warns of it on a service not auto */
		sv->at_auto_min_idle = key_pos(p, n, "auto-min-idle", sv);
	e = 0;
	bad |= parse_named(p, n, "local-clients", path, local_names, 2, &e);
	sv->local_connect = e == 1;
	if (sv->local_connect && !bad)
		bad |= local_clients_vips(p, n, path, sv);

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

		bool named_twice = false;

		snprintf(field, sizeof(field), "services[%zu]", i);
		for (j = 0; j < i; j++) {
			struct cfg_service *b = &cfg->services[j];

			if (!strcmp(a->name, b->name) && !named_twice) {
				char nf[72];

				snprintf(nf, sizeof(nf), "%s.name", field);
				report(p, an, nf, "duplicate service name '%s' (first at line %d)",
				       a->name, b->line);
				named_twice = true;	/* said once, of the first */
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
		 * runs. (A wildcard listener on the port is allowed: sockhop.yaml(5).) */
		for (j = 0; j < cfg->nr_services; j++) {
			struct cfg_service *b = &cfg->services[j];

			if (!(a->vip_protos & CFG_VIP_TCP))
				break;
			/* local-clients: connect means exactly that pair */
			for (k = 0; k < (b == a ? a->nr_written_vips : a->nr_vips); k++)
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

int parse_services(struct parser *p, struct cfg *cfg, yaml_node_t *list)
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

