/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * config.h - the configuration model and its parser. Parsing and validation
 * are pure (the file is read, nothing else): the whole file is checked before
 * anything touches the kernel, and every error names file, line, column and
 * field.
 */
#ifndef SOCKHOP_CONFIG_H
#define SOCKHOP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockhop.h"

#define CFG_MAX_FILE_SIZE	(1 << 20)	/* larger files are refused */
#define CFG_PATH_LEN		512

/* One traffic rule of a scope. Destinations are held in IPv6 form, IPv4
 * prefixes as v4-mapped (::ffff:0:0/96 + n), as the BPF key is. */
struct cfg_rule {
	int line;			/* 1-based line of the rule */
	uint8_t action;			/* enum sh_action */
	uint8_t proto;			/* enum sh_proto */
	uint8_t prefixlen;		/* 0..128 over addr */
	uint8_t addr[16];
	uint16_t port_lo, port_hi;	/* inclusive; 0-65535 is any */
};

struct cfg_scope {
	int line;			/* line of the scope's entry */
	int cgroup_line;		/* line of its cgroup field */
	char name[SH_SCOPE_NAME_LEN];
	char cgroup[CFG_PATH_LEN];	/* as written: absolute or mount-relative */
	bool create;			/* create the cgroup when missing */
	struct cfg_rule *rules;
	size_t nr_rules;
};

struct cfg {
	char file[CFG_PATH_LEN];	/* the name errors are reported against */
	struct cfg_scope *scopes;
	size_t nr_scopes;
};

/**
 * cfg_parse() - parse and validate a configuration held in memory.
 * @file: name used in error messages
 * @buf, @len: the YAML text
 * @out: receives the configuration (free with cfg_free()) on success
 * @err, @errlen: receive the error lines, one per problem, on failure
 *
 * Return: 0, -EINVAL for an invalid configuration, -ENOMEM.
 */
int cfg_parse(const char *file, const char *buf, size_t len, struct cfg **out, char *err,
	      size_t errlen);

/** cfg_load() - read @path and cfg_parse() it; -errno of the read as well. */
int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen);

void cfg_free(struct cfg *cfg);

/** cfg_action_name() - the config spelling of an enum sh_action. */
const char *cfg_action_name(int action);

#endif /* SOCKHOP_CONFIG_H */
