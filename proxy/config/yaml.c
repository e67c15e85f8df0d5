// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * yaml.c - the config parser's node helpers (parse.h): errors that name
 * file, line, column and field; each field read by one helper (bool, count,
 * duration, size, name); and the first pass over the text (UTF-8, NUL
 * bytes, nesting depth) before libyaml builds the document.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

void report(struct parser *p, const yaml_node_t *node, const char *field,
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
yaml_node_t at_addr(const struct cfg_addr *a)
{
	yaml_node_t n = { .start_mark = { .line = (size_t)a->line - 1,
					  .column = (size_t)a->col - 1 } };

	return n;
}

yaml_node_t *node_at(struct parser *p, int idx)
{
	return yaml_document_get_node(p->doc, idx);
}

const char *type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

int expect(struct parser *p, const yaml_node_t *n, yaml_node_type_t type,
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

const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/*
 * Checks that every key of mapping <map> is a scalar listed in <allowed>
 * and appears once. Unknown keys are errors: a typo must not silently turn
 * into a default.
 */
int check_keys(struct parser *p, yaml_node_t *map, const char *path,
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
yaml_node_t *lookup(struct parser *p, yaml_node_t *map, const char *key)
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
yaml_node_t *need_scalar(struct parser *p, yaml_node_t *map, const char *key,
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

int parse_u32(const char *s, unsigned long max, unsigned long *out)
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

int parse_scaled(const char *s, const struct unit *units, unsigned long max,
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
			return -ERANGE;	/* digits and a unit: only too large */
		*out = n * units->mult;
		return 0;
	}
	return -EINVAL;
}

/* The scalar at <key> of <map>, with its field name; NULL (and 0 in <bad>)
 * when absent, NULL and -EINVAL when not a scalar. */
yaml_node_t *scalar_field(struct parser *p, yaml_node_t *map, const char *key,
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
int parse_amount(struct parser *p, yaml_node_t *map, const char *key, const char *path,
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
	bad = parse_scaled(scalar(v), units, 0xffffffffUL, &n);
	if (bad == -EINVAL) {
		report(p, v, field, "'%s' is not %s", scalar(v), example);
		return -EINVAL;
	}
	if (bad || n < min || n > max) {
		report(p, v, field, "'%s' is out of range (%s)", scalar(v), range);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int parse_duration(struct parser *p, yaml_node_t *map, const char *key, const char *path,
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
int parse_size(struct parser *p, yaml_node_t *map, const char *key, const char *path,
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

/* "true" or "false": the one spelling of a boolean in the config. */
int parse_bool(struct parser *p, yaml_node_t *map, const char *key, const char *path, bool *out)
{
	char field[256];
	yaml_node_t *v;
	int bad;

	v = scalar_field(p, map, key, path, field, sizeof(field), &bad);
	if (!v)
		return bad;
	if (strcmp(scalar(v), "true") && strcmp(scalar(v), "false")) {
		report(p, v, field, "expected true or false, found '%s'", scalar(v));
		return -EINVAL;
	}
	*out = !strcmp(scalar(v), "true");
	return 0;
}

int parse_count(struct parser *p, yaml_node_t *map, const char *key, const char *path,
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
int sub_map(struct parser *p, yaml_node_t *map, const char *key, const char *path,
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

/* A list of 1..@max items: its length, or 0 after reporting what is wrong. */
size_t list_len(struct parser *p, yaml_node_t *v, const char *field, size_t max,
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

int valid_name(const char *s)
{
	if (!*s || strlen(s) >= SH_SCOPE_NAME_LEN)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/* The required "name" of a scope or service into @out. */
int parse_name(struct parser *p, yaml_node_t *n, const char *path,
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

/* A stand-in node at byte @off of @buf: its line and its column counted in
 * characters (UTF-8 continuation bytes are not), as libyaml's marks are. */
yaml_node_t at_offset(const char *buf, size_t off)
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
size_t utf8_invalid_at(const unsigned char *buf, size_t len)
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
void report_yaml_error(struct parser *p, const yaml_parser_t *parser, const char *buf)
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
int check_events(struct parser *p, const char *buf, size_t len)
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

