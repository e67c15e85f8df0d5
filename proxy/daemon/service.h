/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * service.h - the proxy's runtime model: a service (listeners, backends,
 * algorithm, counters) and the set of services the daemon runs. Built from
 * the config's services; connections (conn.h) refer back to both.
 */
#ifndef SOCKHOP_SERVICE_H
#define SOCKHOP_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <ev.h>

#include "config.h"
#include "lb.h"

struct splice;
struct service;
struct balance;

enum be_state { BE_UP, BE_DOWN };

/* Why a connection was relayed instead of spliced; counted per service. */
enum fallback_cause {
	FB_CONFIGURED,		/* data-path: relay */
	FB_AUTO,		/* data-path: auto started it on the relay (proxy/README.md) */
	FB_NO_BPF,		/* the splice program could not be loaded */
	FB_SELFTEST,		/* the kernel failed the start-up self-test */
	FB_MAP_REFUSED,		/* splice_socks refused a socket */
	FB_NR,
};

/*
 * data-path auto: why a connection that closed on the relay never moved to
 * the kernel path (its last reason; conn.c's maybe_promote()). Counted per
 * service at the close, for `sockhop explain SERVICE`.
 */
enum auto_stay {
	AS_FEW_TURNS,		/* its bytes changed direction too few times (one request, a stream) */
	AS_SAME_CPU,		/* its client ran on the one CPU a pinned daemon has */
	AS_CLIENT_BUSY,		/* its client's CPU was idle less than auto-min-idle */
	AS_TOO_YOUNG,		/* less than 50 ms of its relayed life was sampled */
	AS_IN_FLIGHT,		/* bytes parked or a half-close each time it could move */
	AS_REFUSED,		/* the splice map refused its sockets */
	AS_BULK,		/* moved back from the kernel path: it carried bulk */
	AS_BEHIND,		/* moved back from the kernel path: its reader fell behind */
	AS_NR,			/* none: not an auto connection, or moved */
};

struct backend {
	struct service *svc;
	unsigned int idx;
	const struct cfg_backend *cfg;
	enum be_state state;
	bool disabled;			/* by the operator (sockhop disable) */
	uint32_t weight;		/* live weight (sockhop weight), from the config */
	unsigned int rise_count, fall_count;	/* consecutive health results */
	/* active health check */
	int hc_fd;
	ev_timer hc_timer;
	ev_io hc_io;
	/* counters (its open connections: the balancer member's active) */
	uint64_t conns, bytes_in, bytes_out;	/* in: from the backend */
	uint64_t connect_fail, hc_ok, hc_fail, transitions;
	/* terminating the connect-time balanced connections of a disabled
	 * backend, a batch per tick so that clients do not reconnect at once */
	ev_timer kill_timer;
	uint64_t killed;
};

struct listener {
	struct service *svc;
	const struct cfg_addr *addr;
	int fd;
	ev_io io;
	ev_timer pause;		/* accept hit a resource limit: retry in a while */
};

struct service_stats {
	uint64_t accepted, accept_paused, rejected_limit, no_backend, connect_fail, retries;
	uint64_t no_fd;			/* reset: no descriptor for its backend within the idle timeout */
	uint64_t conns_splice, conns_relay;
	uint64_t conns_promoted;	/* of conns_splice: moved there from the relay */
	uint64_t conns_demoted;		/* of conns_splice: moved back to the relay */
	uint64_t demote_behind;		/* of conns_demoted: as a reader fell behind (not bulk) */
	uint64_t demote_waited;		/* of conns_demoted: waited for queued redirected bytes */
	uint64_t promote_busy;		/* connections auto kept relayed a while: client CPU busy */
	uint64_t bytes_splice, bytes_relay;	/* of closed connections */
	uint64_t fallback[FB_NR];
	uint64_t auto_stayed[AS_NR];	/* closed on the relay under auto, by last reason */
	uint64_t idle_closed, resets, drained;
	uint64_t stalled;		/* of resets: what a spliced socket passed up could not move */
	uint64_t vip_swaps, vip_swap_fail;	/* connect-time table rebuilds */
};

struct conn;

struct service {
	struct services *all;
	const struct cfg_service *cfg;
	struct listener *listeners;
	size_t nr_listeners;
	struct backend *backends;
	size_t nr_backends;
	struct lb lb;
	bool splice;			/* this service's connections try the kernel path */
	bool auto_path;			/* data-path auto: each connection asks auto_splices() */
	enum fallback_cause relay_cause;	/* when !splice */
	uint32_t active;
	struct service_stats st;
	struct conn *conns;		/* active connections, a list */
	ev_timer drain_timer;		/* graceful stop: this service's deadline */
	bool fb_logged[FB_NR];		/* each fallback cause is logged once */
};

struct services {
	struct ev_loop *loop;
	const char *file;		/* the config file, for messages */
	struct service *svcs;
	size_t nr;
	struct splice *splice;		/* NULL: the kernel path is unavailable */
	const struct balance *balance;	/* NULL: no connect-time balancing */
	enum fallback_cause no_splice_cause;
	bool stopping;
	unsigned int fd_waiters;	/* accepted clients waiting for a backend descriptor */
	void (*on_drained)(struct services *ss);	/* set while draining */
	void (*on_drained_user)(struct services *ss);
};

/**
 * services_start() - open every service's listeners and start its health
 * checks. @sp may be NULL (no kernel path: every connection is relayed for
 * @no_splice_cause). Return: 0 or -errno, logged with the address.
 */
int services_start(struct ev_loop *loop, const struct cfg *cfg, struct splice *sp,
		   enum fallback_cause no_splice_cause, const struct balance *balance,
		   struct services **out);

/**
 * service_backend_admin() - the operator's backend commands: @weight
 * (1-256, or 0 to leave it), @enable (1), @disable (0, or -1 to leave it);
 * @kill terminates, paced, the connect-time balanced connections a
 * disabled backend still has. Rebuilds the tables that depend on it.
 * Return: 0, or -ENOENT (no such service or backend, @why says which).
 */
int service_backend_admin(struct services *ss, const char *svc, const char *addr,
			  uint32_t weight, int enable, bool kill, char *why, size_t whylen);

/**
 * services_reload() - run on @cfg from now on: the caller has checked with
 * reload_check() that only what may change in place did. Weights (the
 * file's, replacing `sockhop weight`), backup flags, limits, timeouts and
 * health checks take effect; each service's connect-time table is rebuilt
 * and swapped once. Connections stay.
 */
void services_reload(struct services *ss, const struct cfg *cfg);

/**
 * services_drain() - stop accepting; let each service's connections finish
 * for up to its drain timeout, then reset what is left; call @done when
 * the last connection is gone.
 */
void services_drain(struct services *ss, void (*done)(struct services *ss));

/** services_free() - reset every connection and release everything. */
void services_free(struct services *ss);

/* Health checks report a backend's change of state here. */
void backend_set_state(struct backend *be, enum be_state st, const char *why);

/**
 * service_pause() - a descriptor or memory limit (@err) hit @what: stop
 * accepting on every listener of @svc for ACCEPT_PAUSE_S, so that clients
 * wait in the backlog instead of being accepted and reset; counted
 * (accept_paused) and logged once per 100.
 */
void service_pause(struct service *svc, const char *what, int err);
/** service_fd_wait() - a client of @svc starts (@waits) or stops waiting
 * for a backend descriptor: while any does, a listener that resumes lets
 * them try first (conn_retry_fd_waiters()). */
void service_fd_wait(struct service *svc, bool waits);

/** service_fallback() - count, and log once per cause, a relayed connection. */
void service_fallback(struct service *svc, enum fallback_cause c);

const char *fallback_name(enum fallback_cause c);
/** auto_stay_name() - "few-turns", "same-cpu", ...: enum auto_stay as the
 * reports spell it. */
const char *auto_stay_name(enum auto_stay why);

/**
 * auto_splices() - does data-path "auto" splice the connection of
 * @client_fd? Yes, unless the daemon may run on one CPU only and the
 * client's packets arrive on that CPU (SO_INCOMING_CPU): the rule and the
 * measurements behind it are in proxy/README.md ("Two data paths").
 * @client_cpu: that CPU, or -1 when the kernel does not say.
 */
bool auto_splices(int client_fd, int *client_cpu);

/** service_path_name() - "splice", "relay" or "auto": what @svc does. */
const char *service_path_name(const struct service *svc);

/* --- the books: service.c keeps them, its connections (conn.c) report --- */

enum service_event {
	SVC_RELAYED,		/* a connection went to the relay */
	SVC_SPLICED,		/* a connection went to the kernel path */
	SVC_PROMOTED,		/* auto moved a relayed connection to the kernel path */
	SVC_DEMOTED,		/* a spliced connection moved back to the relay */
	SVC_DEMOTE_BEHIND,	/* ... as a reader fell behind (the verdict held it) */
	SVC_DEMOTE_WAITED,	/* ... after waiting for bytes the kernel still queued */
	SVC_PROMOTE_BUSY,	/* auto put a connection's move off: its client's CPU was busy */
	SVC_IDLE_CLOSED,	/* closed by the idle timeout */
	SVC_NO_BACKEND,		/* reset: no usable backend */
	SVC_NO_FD,		/* reset: no descriptor for its backend socket in time */
	SVC_STALLED,		/* reset: the verdict said SH_SPLICE_STALLED */
};

void service_conn_opened(struct service *svc);
/** service_conn_closed() - the connection is gone (@reset: by an RST); it
 * may complete a drain, so it is reported last. */
void service_conn_closed(struct service *svc, bool reset);
/** service_backend_taken(), _released() - a connection holds @be. */
void service_backend_taken(struct backend *be);
void service_backend_released(struct backend *be);
/** service_backend_connected(), _failed() - a connect's outcome (also a
 * passive health result); @retry: another backend is tried next. */
void service_backend_connected(struct backend *be);
void service_backend_failed(struct backend *be, bool retry);
/** service_bytes() - @n bytes the daemon moved from side @from (0: the
 * client, to @be). */
void service_bytes(struct service *svc, struct backend *be, int from, size_t n, bool relayed);
/** service_auto_stayed() - an auto connection closed on the relay (@why). */
void service_auto_stayed(struct service *svc, enum auto_stay why);
/** service_spliced_closed() - a spliced connection's bytes at its close:
 * what the kernel moved each way, and what the daemon handed over. */
void service_spliced_closed(struct service *svc, struct backend *be, const uint64_t moved[2],
			    uint64_t handed);
void service_count(struct service *svc, enum service_event ev);

/** backend_active() - @be's open connections. */
static inline uint32_t backend_active(const struct backend *be)
{
	return be->svc->lb.m[be->idx].active;
}

/** services_active() - the open connections of every service. */
uint32_t services_active(const struct services *ss);

#endif /* SOCKHOP_SERVICE_H */
