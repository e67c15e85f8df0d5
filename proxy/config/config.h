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
#include <sys/socket.h>

#include "sockhop.h"

#define CFG_MAX_FILE_SIZE	(1 << 20)	/* larger files are refused */
#define CFG_MAX_DEPTH		64		/* nesting levels of lists and mappings */
#define CFG_PATH_LEN		512

/* One traffic rule of a scope. Destinations are held in IPv6 form, IPv4
 * prefixes as v4-mapped (::ffff:0:0/96 + n), as the BPF key is. */
struct cfg_rule {
	int line, col;			/* where the rule starts (1-based) */
	uint8_t action;			/* enum sh_action */
	uint8_t proto;			/* enum sh_proto */
	uint8_t prefixlen;		/* 0..128 over addr */
	uint8_t addr[16];
	uint16_t port_lo, port_hi;	/* inclusive; 0-65535 is any */
	uint32_t arg;			/* balance: the service's index; mark: the mark */
	uint16_t index;			/* the rule's place in its scope as written
					 * (a balance rule expands to several) */
};

/* A tc policy default: allow, deny or mark N. */
struct cfg_verdict {
	int line;			/* 0: not written, the built-in allow */
	uint8_t action;			/* SH_ACT_ALLOW, SH_ACT_DENY, SH_ACT_MARK */
	uint32_t mark;
};

struct cfg_scope {
	int line, col;			/* where the scope's entry starts */
	int cgroup_line, cgroup_col;	/* where its cgroup field's value is */
	char name[SH_SCOPE_NAME_LEN];
	char cgroup[CFG_PATH_LEN];	/* as written: absolute or mount-relative */
	bool create;			/* create the cgroup when missing */
	struct cfg_rule *rules;
	size_t nr_rules;
	size_t nr_written;		/* rules as written, before expansion */
	struct cfg_verdict def;		/* tc policy: when no policy rule matches */
	uint32_t accel_buffer;		/* bytes a peer may hold unread before the
					 * sender is held back (accelerate-buffer) */
	int accel_buffer_line, accel_buffer_col;	/* 0: not written */
};

/* A socket address as written in the config: "IP:PORT" or "[IPv6]:PORT". */
struct cfg_addr {
	int line, col;			/* where it is written (1-based) */
	struct sockaddr_storage sa;
	socklen_t len;
	char text[64];			/* as written, for logs and the CLI */
};

struct cfg_backend {
	struct cfg_addr addr;
	uint32_t weight;		/* 1..256, default 1 */
	bool backup;			/* used only while every primary is down */
};

enum cfg_algo {
	CFG_ALGO_ROUND_ROBIN,		/* smooth weighted round-robin */
	CFG_ALGO_LEAST_CONN,		/* fewest active connections per weight */
	CFG_ALGO_MAGLEV,		/* consistent hash of the client address */
	CFG_ALGO_RANDOM_TWO,		/* the less loaded of two random picks */
};

enum cfg_data_path {
	CFG_PATH_AUTO,			/* splice where it applies and pays, else relay */
	CFG_PATH_SPLICE,		/* kernel sk_skb redirect (relay if unavailable) */
	CFG_PATH_RELAY,			/* the libev loop copies the bytes */
};

struct cfg_health {
	bool enabled;			/* active TCP connect checks */
	uint32_t interval_ms, timeout_ms;
	uint32_t rise, fall;		/* consecutive results to change state */
};

/* Where a key's value is written (a reload refusal points there). */
struct cfg_pos {
	int line, col;
};

struct cfg_service {
	int line, col;			/* where the service's entry starts */
	/* where listen, virtual, algorithm, data-path and local-clients are
	 * written; the entry's start when a key is absent */
	struct cfg_pos at_listen, at_virtual, at_algorithm, at_path, at_local;
	char name[SH_SCOPE_NAME_LEN];
	struct cfg_addr *listen;
	size_t nr_listen;
	uint32_t backlog;
	struct cfg_backend *backends;
	size_t nr_backends;
	enum cfg_algo algo;
	enum cfg_data_path path;
	struct cfg_health health;
	uint32_t connect_timeout_ms, idle_timeout_ms, drain_timeout_ms;
	uint32_t max_conns;		/* per service, 0 = unlimited */
	uint32_t max_conns_backend;	/* per backend, 0 = unlimited */
	uint32_t connect_attempts;	/* backends tried per client, >= 1 */
	uint32_t auto_min_idle;		/* data-path auto: % idle the client's CPU needs for a move */
	struct cfg_pos at_auto_min_idle;	/* line 0: not written */
	struct cfg_addr *vips;		/* virtual addresses (connect-time LB) */
	size_t nr_vips;
	uint8_t vip_protos;		/* CFG_VIP_TCP | CFG_VIP_UDP */
	/* local-clients: connect: the listen addresses are virtual addresses
	 * too (appended to vips, after the written ones), so a client in a
	 * scope balancing this service gets a backend in connect() and skips
	 * the proxy; every other client reaches the listener */
	bool local_connect;
	size_t nr_written_vips;		/* vips[0..] as written under 'virtual' */
};

#define CFG_VIP_TCP		(1u << 0)
#define CFG_VIP_UDP		(1u << 1)

struct cfg {
	char file[CFG_PATH_LEN];	/* the name errors are reported against */
	struct cfg_scope *scopes;
	size_t nr_scopes;
	struct cfg_service *services;
	size_t nr_services;
	struct cfg_verdict no_scope;	/* tc policy of traffic of no scope */
};

/* Defaults of a service's optional fields (sockhop.yaml(5), SERVICES). */
#define CFG_DEF_BACKLOG		1024
#define CFG_DEF_CONNECT_MS	2000
#define CFG_DEF_IDLE_MS		300000
#define CFG_DEF_DRAIN_MS	10000
#define CFG_DEF_MAX_CONNS	10000
#define CFG_DEF_ATTEMPTS	3
#define CFG_DEF_AUTO_MIN_IDLE	25
#define CFG_DEF_HC_INTERVAL_MS	2000
#define CFG_DEF_HC_TIMEOUT_MS	1000
#define CFG_DEF_HC_RISE		2
#define CFG_DEF_HC_FALL		3
#define CFG_MAX_BACKENDS	SH_MAX_SVC_BACKENDS
#define CFG_MAX_LISTEN		16
#define CFG_MAX_VIPS		16	/* virtual addresses per service */
#define CFG_MAX_SERVICES	SH_MAX_SERVICES

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

/** cfg_algo_name(), cfg_path_name() - config spellings. */
const char *cfg_algo_name(enum cfg_algo a);
const char *cfg_path_name(enum cfg_data_path p);

/**
 * cfg_parse_sockaddr() - "IP:PORT" or "[IPv6]:PORT" (port 1-65535).
 * Return: 0 or -EINVAL.
 */
int cfg_parse_sockaddr(const char *s, struct sockaddr_storage *sa, socklen_t *len);

/** cfg_same_cgroup() - do two cgroup paths, as written, spell one cgroup
 * ("a", "./a/", "a//." alike)? Absolute and relative ones never match here:
 * only the mount tells (scope_dirs.c compares by identity). */
bool cfg_same_cgroup(const char *a, const char *b);



#endif /* SOCKHOP_CONFIG_H */
