/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * parse.h - what the parts of the config parser share, inside proxy/config/
 * only: the parser's state and error report (yaml.c), the node helpers that
 * read one field each (yaml.c), and the sections of the document (scopes.c,
 * services.c), which config.c puts together.
 */
#ifndef SOCKHOP_CONFIG_PARSE_H
#define SOCKHOP_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "config.h"

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

/* --- yaml.c: where, and what went wrong --------------------------------- */

/** report() - one error line "FILE:LINE:COL: FIELD: MESSAGE" at @node (1:1
 * when NULL); at most MAX_REPORTED_ERRORS are kept. */
__attribute__((format(printf, 4, 5)))
void report(struct parser *p, const yaml_node_t *node, const char *field, const char *fmt, ...);

/** at_addr(), at_offset() - stand-in nodes: where an address was written,
 * and byte @off of @buf (line, and column in characters, as libyaml's). */
yaml_node_t at_addr(const struct cfg_addr *a);
yaml_node_t at_offset(const char *buf, size_t off);

/** check_events() - the first pass over the events: nesting depth and NULs. */
int check_events(struct parser *p, const char *buf, size_t len);
/** utf8_invalid_at() - the offset of the first byte that is not UTF-8, or @len. */
size_t utf8_invalid_at(const unsigned char *buf, size_t len);
/** report_yaml_error() - a libyaml failure as one error line. */
void report_yaml_error(struct parser *p, const yaml_parser_t *parser, const char *buf);

/* --- yaml.c: nodes and fields ------------------------------------------- */

yaml_node_t *node_at(struct parser *p, int idx);
const char *type_name(const yaml_node_t *n);
const char *scalar(const yaml_node_t *n);
/** expect() - 0 when @n is of @type, else reported and -EINVAL. */
int expect(struct parser *p, const yaml_node_t *n, yaml_node_type_t type, const char *field);
/** check_keys() - every key of @map is one of @allowed, and appears once. */
int check_keys(struct parser *p, yaml_node_t *map, const char *path, const char *const *allowed);
/** lookup() - the value of @key in @map, or NULL. */
yaml_node_t *lookup(struct parser *p, yaml_node_t *map, const char *key);
/** need_scalar() - the scalar value of a required @key, or NULL (reported). */
yaml_node_t *need_scalar(struct parser *p, yaml_node_t *map, const char *key, const char *path);
/** sub_map() - the mapping at @key (NULL when absent), its keys checked. */
int sub_map(struct parser *p, yaml_node_t *map, const char *key, const char *path,
	    const char *const *keys, yaml_node_t **out, char *field, size_t fieldlen);
/** list_len() - the length of the list @v, 1-@max of @what; 0 when not
 * (reported). */
size_t list_len(struct parser *p, yaml_node_t *v, const char *field, size_t max, const char *what);
/** valid_name() - 1-31 of A-Z a-z 0-9 . _ - */
int valid_name(const char *s);

/** parse_u32() - a decimal at most @max, into @out. 0 or -EINVAL. */
int parse_u32(const char *s, unsigned long max, unsigned long *out);
/* The fields of a mapping @map at @key, each 0 when absent (@out keeps its
 * default) or reported: */
int parse_bool(struct parser *p, yaml_node_t *map, const char *key, const char *path, bool *out);
int parse_count(struct parser *p, yaml_node_t *map, const char *key, const char *path,
		unsigned long min, unsigned long max, uint32_t *out);
int parse_duration(struct parser *p, yaml_node_t *map, const char *key, const char *path,
		   uint32_t min_ms, uint32_t *out);
int parse_size(struct parser *p, yaml_node_t *map, const char *key, const char *path,
	       uint32_t min, uint32_t max, uint32_t *out);
/** parse_name() - the required "name" of a scope or service. */
int parse_name(struct parser *p, yaml_node_t *n, const char *path, char out[SH_SCOPE_NAME_LEN]);

/* --- the sections ---------------------------------------------------------- */

/** parse_scopes() - the "scopes" list, then its whole-model checks (scopes.c). */
int parse_scopes(struct parser *p, struct cfg *cfg, yaml_node_t *list);
/** parse_verdict() - a tc default: "default" and "default-mark" (scopes.c). */
int parse_verdict(struct parser *p, yaml_node_t *map, const char *path, struct cfg_verdict *out);
/** parse_services() - the "services" list and its checks (services.c). */
int parse_services(struct parser *p, struct cfg *cfg, yaml_node_t *list);

#endif /* SOCKHOP_CONFIG_PARSE_H */
