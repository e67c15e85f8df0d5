// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* emit.c - see emit.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

void emit_to_file(struct emit *e, FILE *f, bool json)
{
	memset(e, 0, sizeof(*e));
	e->file = f;
	e->json = json;
}

void emit_to_memory(struct emit *e, bool json)
{
	memset(e, 0, sizeof(*e));
	e->json = json;
}

void emit_free(struct emit *e)
{
	free(e->buf);
	e->buf = NULL;
	e->len = e->cap = 0;
}

static bool reserve(struct emit *e, size_t more)
{
	size_t cap;
	char *nb;

	if (e->len + more < e->cap)
		return true;
	cap = (e->cap + more + 1) * 2;
	nb = e->cut ? NULL : realloc(e->buf, cap);
	if (!nb) {
		e->cut = true;	/* cut short; what is there is still freed */
		return false;
	}
	e->buf = nb;
	e->cap = cap;
	return true;
}

static void put(struct emit *e, const char *s, size_t n)
{
	if (e->file) {
		fwrite(s, 1, n, e->file);
		return;
	}
	if (!reserve(e, n))
		return;
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	e->buf[e->len] = '\0';
}

static void vprint(struct emit *e, const char *fmt, va_list ap)
{
	char small[256], *big;
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= 0 && (size_t)n < sizeof(small)) {
		put(e, small, (size_t)n);
	} else if (n > 0 && (big = malloc((size_t)n + 1))) {
		vsnprintf(big, (size_t)n + 1, fmt, again);
		put(e, big, (size_t)n);
		free(big);
	} else if (n > 0) {
		e->cut = true;
	}
	va_end(again);
}

__attribute__((format(printf, 2, 3)))
static void print(struct emit *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(e, fmt, ap);
	va_end(ap);
}

void emit_text(struct emit *e, const char *fmt, ...)
{
	va_list ap;

	if (e->json)
		return;
	va_start(ap, fmt);
	vprint(e, fmt, ap);
	va_end(ap);
}

/*
 * The one conversion of a field's text format, checked against the type it
 * is given: 's' for a string, or "ll" and one of d i u x X for a number.
 * Flags, width and precision are free; "%%" is no conversion. Anything else
 * (none, two, a '*' that would read an argument) is refused.
 */
static bool takes(const char *fmt, char type)
{
	int convs = 0;
	const char *p;

	for (p = fmt; (p = strchr(p, '%')); p++) {
		bool ll;

		if (p[1] == '%') {
			p++;
			continue;
		}
		p += strspn(p + 1, "-+ #0") + 1;
		p += strspn(p, "0123456789");
		if (*p == '.')
			p += strspn(p + 1, "0123456789") + 1;
		ll = p[0] == 'l' && p[1] == 'l';
		p += ll ? 2 : 0;
		if (type == 's' ? (ll || *p != 's') : (!ll || !*p || !strchr("diuxX", *p)))
			return false;
		convs++;
	}
	return convs == 1;
}

/* Length of the valid UTF-8 sequence at @s (0: not one). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0, i;

	if (!n || s[0] > 0xf4 || (n == 2 && s[0] < 0xc2))
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;	/* overlong, a surrogate, or past U+10FFFF */
	return n;
}

/* @s as a JSON string: quotes, backslashes and control bytes escaped, and
 * bytes that are not UTF-8 (a path can hold any) as U+FFFD, so a reader's
 * parser never fails on what a user named. */
static void quoted(struct emit *e, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	size_t n;

	put(e, "\"", 1);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p++;
			put(e, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p++);
			put(e, esc, 6);
		} else if (*p < 0x80) {
			put(e, (const char *)p++, 1);
		} else if ((n = utf8_len(p))) {
			put(e, (const char *)p, n);
			p += n;
		} else {
			put(e, "\\ufffd", 6);
			p++;
		}
	}
	put(e, "\"", 1);
}

/* JSON: the comma before a member, when its level holds one already, and
 * its key. */
static void member(struct emit *e, const char *key)
{
	uint32_t bit = 1u << e->depth;

	if (e->members & bit)
		put(e, ",", 1);
	e->members |= bit;
	if (key) {
		quoted(e, key);
		put(e, ":", 1);
	}
}

void emit_u64(struct emit *e, const char *key, const char *fmt, unsigned long long v)
{
	if (e->json) {
		member(e, key);
		print(e, "%llu", v);
	} else if (fmt) {
		if (takes(fmt, 'u'))
			print(e, fmt, v);
		else
			put(e, "?", 1);
	}
}

void emit_s64(struct emit *e, const char *key, const char *fmt, long long v)
{
	if (e->json) {
		member(e, key);
		print(e, "%lld", v);
	} else if (fmt) {
		if (takes(fmt, 'd'))
			print(e, fmt, v);
		else
			put(e, "?", 1);
	}
}

void emit_str(struct emit *e, const char *key, const char *fmt, const char *s)
{
	if (e->json) {
		member(e, key);
		if (s)
			quoted(e, s);
		else
			put(e, "null", 4);
	} else if (fmt) {
		if (takes(fmt, 's'))
			print(e, fmt, s ? s : "-");
		else
			put(e, "?", 1);
	}
}

void emit_bool(struct emit *e, const char *key, const char *fmt, bool v)
{
	if (e->json) {
		member(e, key);
		put(e, v ? "true" : "false", v ? 4 : 5);
	} else if (fmt) {
		emit_str(e, NULL, fmt, v ? "yes" : "no");
	}
}

static void open_level(struct emit *e, const char *key, const char *fmt, bool array)
{
	if (!e->json) {
		if (fmt)
			print(e, "%s", fmt);
		return;
	}
	member(e, key);
	put(e, array ? "[" : "{", 1);
	if (e->depth + 1 >= EMIT_MAX_DEPTH)
		return;	/* deeper than any report: a bug, kept from the bitmaps */
	e->depth++;
	e->members &= ~(1u << e->depth);
	if (array)
		e->arrays |= 1u << e->depth;
	else
		e->arrays &= ~(1u << e->depth);
}

void emit_object(struct emit *e, const char *key, const char *fmt)
{
	open_level(e, key, fmt, false);
}

void emit_array(struct emit *e, const char *key, const char *fmt)
{
	open_level(e, key, fmt, true);
}

void emit_end(struct emit *e, const char *fmt)
{
	if (!e->json) {
		if (fmt)
			print(e, "%s", fmt);
		return;
	}
	if (!e->depth)
		return;
	put(e, e->arrays & (1u << e->depth) ? "]" : "}", 1);
	if (--e->depth == 0) {
		put(e, "\n", 1);
		e->members = 0;
	}
}
