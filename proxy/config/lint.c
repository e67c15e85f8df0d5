// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* lint.c - see lint.h (pure code). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "lint.h"

struct lint {
	char *out;
	size_t len, used;
	size_t count;
	const char *file;
};

__attribute__((format(printf, 5, 6)))
static void warn(struct lint *l, int line, int col, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	l->count++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(NULL, 0, "%s:%d:%d: %s: %s\n", l->file, line, col, field, msg);
	if (n < 0 || l->used + (size_t)n >= l->len)
		return;	/* whole lines only */
	snprintf(l->out + l->used, l->len - l->used, "%s:%d:%d: %s: %s\n", l->file, line, col,
		 field, msg);
	l->used += (size_t)n;
}

/* Which hook takes the rule, as the first of its kind (sockhop.h). */
static unsigned int kinds_of(uint8_t action)
{
	unsigned int k = SH_KIND(action);

	return k & SH_KINDS_ACCEL ? SH_KINDS_ACCEL : k & SH_KINDS_POLICY ? SH_KINDS_POLICY : k;
}

/* Does @a match every flow @b matches? */
static bool covers(const struct cfg_rule *a, const struct cfg_rule *b)
{
	return (a->proto == SH_PROTO_ANY || a->proto == b->proto) &&
	       a->port_lo <= b->port_lo && a->port_hi >= b->port_hi &&
	       addr_prefix_contains(a->addr, a->prefixlen, b->addr, b->prefixlen);
}

/* The earlier rule that its hook takes first (a count rule goes on, so it
 * never hides one) and that covers rule @j of @sc, or NULL. */
static const struct cfg_rule *covered_by(const struct cfg_scope *sc, size_t j)
{
	const struct cfg_rule *r = &sc->rules[j];
	size_t i;

	for (i = 0; i < j; i++) {
		const struct cfg_rule *e = &sc->rules[i];

		if (e->index != r->index && kinds_of(e->action) == kinds_of(r->action) &&
		    e->action != SH_ACT_COUNT && covers(e, r))
			return e;
	}
	return NULL;
}

/* Rule @first (the first entry of its index) is reached by no flow when
 * every entry of that index is covered: a balance rule stands for one entry
 * per virtual address and protocol. */
static const struct cfg_rule *shadowed_by(const struct cfg_scope *sc, size_t first)
{
	const struct cfg_rule *by = NULL;
	size_t j;

	for (j = first; j < sc->nr_rules && sc->rules[j].index == sc->rules[first].index; j++) {
		const struct cfg_rule *e = covered_by(sc, j);

		if (!e)
			return NULL;
		by = by ? by : e;
	}
	return by;
}

static void lint_scope(struct lint *l, const struct cfg_scope *sc, size_t s)
{
	bool accelerates = false;
	char field[96];
	size_t i;

	for (i = 0; i < sc->nr_rules; i++)
		accelerates |= sc->rules[i].action == SH_ACT_ACCELERATE;
	for (i = 0; i < sc->nr_rules; i++) {
		const struct cfg_rule *r = &sc->rules[i], *by;

		if (i && sc->rules[i - 1].index == r->index)
			continue;	/* one more entry of the same rule */
		snprintf(field, sizeof(field), "scopes[%zu].rules[%u]", s, r->index);
		by = shadowed_by(sc, i);
		if (by)
			warn(l, r->line, r->col, field, "no flow reaches this %s rule: rules[%u] "
			     "(line %d) comes first and covers every flow it names",
			     sh_action_name(r->action), by->index, by->line);
		else if (r->action == SH_ACT_NO_ACCELERATE && !accelerates)
			warn(l, r->line, r->col, field, "this no-accelerate rule changes nothing: "
			     "the scope has no accelerate rule");
	}
	if (sc->accel_buffer_line && !accelerates) {
		snprintf(field, sizeof(field), "scopes[%zu].accelerate-buffer", s);
		warn(l, sc->accel_buffer_line, sc->accel_buffer_col, field, "has no effect: the "
		     "scope has no accelerate rule");
	}
}

size_t cfg_lint(const struct cfg *cfg, char *out, size_t len)
{
	struct lint l = { .out = out, .len = len, .file = cfg->file };
	size_t s;

	if (len)
		out[0] = '\0';
	for (s = 0; s < cfg->nr_scopes; s++)
		lint_scope(&l, &cfg->scopes[s], s);
	for (s = 0; s < cfg->nr_services; s++) {
		const struct cfg_service *sv = &cfg->services[s];
		char field[64];

		if (!sv->at_auto_min_idle.line || sv->path == CFG_PATH_AUTO)
			continue;
		snprintf(field, sizeof(field), "services[%zu].auto-min-idle", s);
		warn(&l, sv->at_auto_min_idle.line, sv->at_auto_min_idle.col, field, "has no effect: "
		     "the service's data path is %s, not auto",
		     sv->path == CFG_PATH_RELAY ? "relay" : "splice");
	}
	return l.count;
}
