// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* reload.c - the reload compatibility rules (pure code, see reload.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "reload.h"

__attribute__((format(printf, 6, 7)))
static int refuse(char *why, size_t len, const struct cfg *next, int line, int col,
		  const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(why, len, "%s:%d:%d: ", next->file, line, col);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		n += vsnprintf(why + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < len)
		snprintf(why + n, len - (size_t)n, "; a reload cannot change that, restart sockhopd");
	return -EINVAL;
}

static int same_addrs(const struct cfg_addr *a, size_t na, const struct cfg_addr *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].text, b[i].text))
			return 0;
	return 1;
}

static int check_service(const struct cfg *next, size_t i, const struct cfg_service *c,
			 const struct cfg_service *n, char *why, size_t len)
{
	size_t j;

	if (strcmp(c->name, n->name))
		return refuse(why, len, next, n->line, n->col, "services[%zu]: service '%s' took the "
			      "place of '%s'", i, n->name, c->name);
	if (!same_addrs(c->listen, c->nr_listen, n->listen, n->nr_listen))
		return refuse(why, len, next, n->at_listen.line, n->at_listen.col,
			      "services[%zu].listen: the listen "
			      "addresses of '%s' changed", i, n->name);
	/* before the virtual addresses, which local-clients: connect extends */
	if (c->local_connect != n->local_connect)
		return refuse(why, len, next, n->at_local.line, n->at_local.col,
			      "services[%zu].local-clients: '%s' "
			      "changed from %s to %s", i, n->name,
			      c->local_connect ? "connect" : "proxy",
			      n->local_connect ? "connect" : "proxy");
	if (!same_addrs(c->vips, c->nr_vips, n->vips, n->nr_vips) ||
	    c->vip_protos != n->vip_protos)
		return refuse(why, len, next, n->at_virtual.line, n->at_virtual.col,
			      "services[%zu].virtual: the virtual "
			      "addresses of '%s' changed", i, n->name);
	if (c->algo != n->algo)
		return refuse(why, len, next, n->at_algorithm.line, n->at_algorithm.col,
			      "services[%zu].algorithm: '%s' changed "
			      "its algorithm", i, n->name);
	if (c->path != n->path)
		return refuse(why, len, next, n->at_path.line, n->at_path.col,
			      "services[%zu].data-path: '%s' changed "
			      "its data path", i, n->name);
	if (c->nr_backends != n->nr_backends)
		return refuse(why, len, next, n->line, n->col, "services[%zu].backends: '%s' has %zu "
			      "backends instead of %zu", i, n->name, n->nr_backends,
			      c->nr_backends);
	for (j = 0; j < n->nr_backends; j++)
		if (strcmp(c->backends[j].addr.text, n->backends[j].addr.text))
			return refuse(why, len, next, n->backends[j].addr.line,
				      n->backends[j].addr.col,
				      "services[%zu].backends[%zu]: '%s' took the place of '%s'",
				      i, j, n->backends[j].addr.text, c->backends[j].addr.text);
	return 0;
}

int reload_check(const struct cfg *cur, const struct cfg *next, char *why, size_t len)
{
	size_t i;
	int err;

	if (cur->nr_scopes != next->nr_scopes)
		return refuse(why, len, next, next->nr_scopes ? next->scopes[0].line : 1,
			      next->nr_scopes ? next->scopes[0].col : 1,
			      "scopes: %zu scopes instead of %zu", next->nr_scopes,
			      cur->nr_scopes);
	for (i = 0; i < next->nr_scopes; i++) {
		const struct cfg_scope *c = &cur->scopes[i], *n = &next->scopes[i];

		if (strcmp(c->name, n->name) || !cfg_same_cgroup(c->cgroup, n->cgroup) ||
		    c->create != n->create)
			return refuse(why, len, next, n->line, n->col, "scopes[%zu]: scope '%s' (cgroup "
				      "%s%s) was '%s' (cgroup %s%s) in the running config; a reload "
				      "cannot rename, move or re-create a scope", i, n->name,
				      n->cgroup, n->create ? ", create" : "", c->name, c->cgroup,
				      c->create ? ", create" : "");
	}
	if (cur->nr_services != next->nr_services)
		return refuse(why, len, next, next->nr_services ? next->services[0].line : 1,
			      next->nr_services ? next->services[0].col : 1,
			      "services: %zu services instead of %zu", next->nr_services,
			      cur->nr_services);
	for (i = 0; i < next->nr_services; i++) {
		err = check_service(next, i, &cur->services[i], &next->services[i], why, len);
		if (err)
			return err;
	}
	return 0;
}
