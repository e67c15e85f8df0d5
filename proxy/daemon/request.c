// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * request.c - see request.h. A request is words separated by spaces:
 * the verb, then its arguments. The verb table says how many each takes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "request.h"

#define ARGS_MAX 3

static const struct verb {
	const char *name;
	enum ctl_verb verb;
	unsigned int min_args, max_args;
	const char *usage;
} verbs[] = {
	{ "services", CTL_SERVICES, 0, 0, "services" },
	{ "services-json", CTL_SERVICES_JSON, 0, 0, "services-json" },
	{ "table", CTL_TABLE, 1, 1, "table SERVICE" },
	{ "explain", CTL_EXPLAIN, 1, 1, "explain SERVICE" },
	{ "explain-json", CTL_EXPLAIN_JSON, 1, 1, "explain-json SERVICE" },
	{ "weight", CTL_WEIGHT, 3, 3, "weight SERVICE BACKEND N" },
	{ "disable", CTL_DISABLE, 2, 3, "disable SERVICE BACKEND [kill]" },
	{ "enable", CTL_ENABLE, 2, 2, "enable SERVICE BACKEND" },
	{ "reload", CTL_RELOAD, 0, 0, "reload" },
	{ "tc-replace-stages", CTL_TC_REPLACE_STAGES, 0, 0, "tc-replace-stages" },
};

void ctl_put_escaped(struct emit *o, const char *s, size_t len, size_t max)
{
	size_t i;

	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			emit_text(o, "%c", c);
		else
			emit_text(o, "\\x%02x", c);
	}
	if (len > max)
		emit_text(o, "...");
}

static bool printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;	/* space (0x20) is the one separator */
	return true;
}

static int refuse(struct emit *err, const char *what, const char *s, size_t len)
{
	emit_text(err, CTL_ERROR_PREFIX " %s '", what);
	ctl_put_escaped(err, s, len, 64);
	emit_text(err, "'\n");
	return -EINVAL;
}

static int parse_args(const struct verb *v, char **args, unsigned int n,
		      struct ctl_request *req, struct emit *err)
{
	char *end;
	unsigned long w;

	if (n < v->min_args || n > v->max_args) {
		emit_text(err, CTL_ERROR_PREFIX " usage: %s\n", v->usage);
		return -EINVAL;
	}
	req->service = n > 0 ? args[0] : NULL;
	req->backend = n > 1 ? args[1] : NULL;
	switch (v->verb) {
	case CTL_WEIGHT:
		errno = 0;
		w = strtoul(args[2], &end, 10);
		if (*end || args[2][0] == '-' || args[2][0] == '+' || errno || w < 1 || w > 256)
			return refuse(err, "weight: expected 1-256, found", args[2], strlen(args[2]));
		req->weight = (uint32_t)w;
		break;
	case CTL_DISABLE:
		if (n == 3 && strcmp(args[2], "kill"))
			return refuse(err, "disable: expected kill, found", args[2], strlen(args[2]));
		req->kill = n == 3;
		break;
	default:
		break;
	}
	return 0;
}

int ctl_request_parse(char *line, size_t len, struct ctl_request *req, struct emit *err)
{
	char *args[ARGS_MAX + 1], *p, *verb, *save = NULL;
	unsigned int n = 0;
	size_t i;

	memset(req, 0, sizeof(*req));
	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (memchr(line, '\0', len)) {
		emit_text(err, CTL_ERROR_PREFIX " a NUL byte in the command\n");
		return -EINVAL;
	}
	if (!printable(line, len))
		return refuse(err, "a byte that is not printable ASCII in the command", line, len);
	/* words split by runs of spaces, as a shell would */
	verb = strtok_r(line, " ", &save);
	if (!verb)
		verb = line;
	while (n < ARGS_MAX + 1 && (p = strtok_r(NULL, " ", &save)))
		args[n++] = p;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, verb))
			continue;
		req->verb = verbs[i].verb;
		if (n > verbs[i].max_args && verbs[i].max_args == 0) {
			emit_text(err, CTL_ERROR_PREFIX " %s takes no arguments, found '", verb);
			ctl_put_escaped(err, args[0], strlen(args[0]), 64);
			emit_text(err, "'\n");
			return -EINVAL;
		}
		return parse_args(&verbs[i], args, n, req, err);
	}
	emit_text(err, CTL_ERROR_PREFIX " unknown command '");
	ctl_put_escaped(err, verb, strlen(verb), 64);
	emit_text(err, "' (expected services, services-json, explain, explain-json, weight, "
		  "table, disable, enable, reload or tc-replace-stages)\n");
	return -EINVAL;
}
