/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * conn_int.h - a proxied connection's state, inside proxy/daemon/ only: the
 * data paths (conn.c) and the way to a backend (connect.c) share it.
 */
#ifndef SOCKHOP_CONN_INT_H
#define SOCKHOP_CONN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <ev.h>

#include "service.h"
#include "splice.h"

#define MAX_TRIES	16
#define DRAIN_POLL_S	0.001	/* how often a splice half-close re-checks the queue */
#define HANDOFF_LOOK_S	0.001	/* the splice hand-off's second look (check_go()) */
#define TCP_STATE_ESTABLISHED	1	/* tcpi_state value (include/net/tcp_states.h) */
/*
 * Send buffer of a spliced socket. The verdict queues each skb to the
 * peer's psock, whose backlog worker sends it; when the peer's send buffer
 * is full the worker backs off for a jiffy (sk_psock_backlog, -EAGAIN).
 * Under the autotuned cap (tcp_wmem[2], 4 MiB) those stalls halved bulk
 * throughput on one CPU: 4.2 Gbit/s, against 7.2 with this value, 8.6 with
 * 16 MiB (tests/bench/RESULTS.md, "Where the time goes"). The kernel doubles it; what a
 * stalled reader's connection holds grows with it (about 2x this value),
 * so the larger gain is left for a later per-service setting.
 */
#define SPLICE_SNDBUF	(4 * 1024 * 1024)
/*
 * data-path auto: a connection starts on the relay, whose set-up costs
 * least, and is moved to the kernel path once its bytes have changed
 * direction this many times (4 round trips): a chatty connection, whose
 * round trips the splice makes faster when the daemon runs on another CPU
 * than the client. A bulk stream or a one-request connection stays on the
 * relay, which carries those as fast or faster (tests/bench/RESULTS.md).
 */
#define PROMOTE_TURNS	8


struct side {
	struct conn *c;
	int idx;		/* 0 client, 1 backend */
	int fd;
	ev_io rio;		/* EV_READ on this side */
	ev_io wio;		/* EV_WRITE on this side (parked bytes of the other) */
	bool eof;		/* EOF read from this side */
	bool shut;		/* SHUT_WR sent to this side */
	bool spliced;		/* the verdict redirects this side's bytes */
	bool in_ep;		/* registered in the splice epoll */
	int go_look;		/* check_go(): 1 waiting for the second look, 2 taking it */
	char *pend;		/* bytes of this side not yet written to the other */
	size_t pend_len, pend_off;
	uint64_t hand;		/* bytes of this side written by user space */
	uint64_t sent_base;	/* bytes_acked + SIOCOUTQ at splice time (the SYN counts) */
};

enum conn_state { C_CONNECTING, C_OPEN };
enum conn_path { P_RELAY, P_SPLICE };

struct conn {
	struct conn *next, *prev;
	struct service *svc;
	struct backend *be;
	enum conn_state state;
	enum conn_path path;
	struct side s[2];
	ev_timer timer;		/* connect timeout, then idle timeout */
	ev_timer drain;		/* splice half-close: waiting for the queue */
	ev_timer handoff;	/* the splice hand-off's second look */
	ev_tstamp drain_start;
	ev_tstamp last_ev;	/* last byte user space moved */
	int tried[MAX_TRIES];
	unsigned int ntried;
	uint8_t client_ip[16];	/* what Maglev hashes: the client's address, */
	uint8_t client_ip_len;	/* 4 or 16 bytes (not the whole sockaddr) */
	struct splice_pair pair;	/* P_SPLICE: its place in the splice maps */
	unsigned int turns;	/* auto: changes of direction seen by the relay */
	int last_from;		/* auto: the side the relay read from last */
	bool promote_done;	/* auto: the move to the kernel path was decided */
};

static inline struct ev_loop *loop_of(const struct conn *c)
{
	return c->svc->all->loop;
}

/* --- conn.c --------------------------------------------------------------- */
void backend_release(struct conn *c);
void conn_free(struct conn *c, bool reset);
/** start_data() - the backend answered: move bytes, by splice or relay. */
void start_data(struct conn *c);
void on_readable(struct ev_loop *loop, ev_io *w, int revents);
void on_writable(struct ev_loop *loop, ev_io *w, int revents);
void on_drain_timer(struct ev_loop *loop, ev_timer *w, int revents);
void on_handoff_timer(struct ev_loop *loop, ev_timer *w, int revents);
/** on_timer() - the connect timeout, then the idle timeout. */
void on_timer(struct ev_loop *loop, ev_timer *w, int revents);

/* --- connect.c ------------------------------------------------------------ */
/** connect_failed() - the backend tried did not answer (@err): the next one. */
void connect_failed(struct conn *c, int err);

#endif /* SOCKHOP_CONN_INT_H */
