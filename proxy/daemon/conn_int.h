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
#define TCP_STATE_ESTABLISHED	1	/* tcpi_state values (include/net/tcp_states.h) */
#define TCP_STATE_CLOSE		7
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
/*
 * ... and only if the client's CPU was idle at least the service's
 * auto-min-idle (default 25%) over PROMOTE_LOOK_S or more of this
 * connection's own relayed life (cpuidle.c): the redirect's work lands on
 * the sender's CPU. Relayed with the daemon on CPU 1, sockperf's ping-pong
 * left CPU 0 87% idle (splicing it cuts its round trip to a fifth), wrk
 * over 8 keep-alive connections 8% (spliced it ran at half the relay's
 * rate). A busy CPU keeps the connection relayed; it is asked again over
 * the next PROMOTE_LOOK_S.
 */
#define PROMOTE_LOOK_S	0.05
/*
 * ... and a spliced auto connection goes back to the relay once one of its
 * sockets carries this much within one SH_SPLICE_BULK_WINDOW_NS (100 ms,
 * 40 MiB/s): bulk. With the daemon on its own CPU the relay moved 13-15
 * Gbit/s of iperf3 against the splice's 6.4-7.5 (tests/bench/RESULTS.md),
 * most of the splice's time going to the sender's copy into cold pages.
 * A chatty RPC of small messages stays far below it.
 */
#define SPLICE_BULK_BYTES	(4u << 20)


/*
 * A side's socket is registered once in conn.c's edge-triggered epoll
 * (conn_ep); its events only set rd_ready / wr_ready, and conn.c's pump()
 * moves bytes while a side is ready and wanted. Nothing is re-armed when a
 * side parks bytes or stops reading: no epoll_ctl per backpressure event.
 */
struct side {
	struct conn *c;
	int idx;		/* 0 client, 1 backend */
	int fd;
	uint32_t ep_events;	/* what conn_ep watches on fd; 0: not registered */
	bool rd_ready;		/* reported readable, no EAGAIN read since */
	bool wr_ready;		/* writable: no short write since reported so */
	bool rdhup;		/* the peer's FIN (or a hang-up) was reported */
	bool eof;		/* EOF read from this side */
	bool shut;		/* SHUT_WR sent to this side */
	bool spliced;		/* the verdict redirects this side's bytes */
	bool held;		/* moved back: the relay reads what the verdict passes up */
	bool verify;		/* held before the verdict's count was known final (verify_held()) */
	uint8_t go_look;	/* check_go(): 1 waiting for the second look, 2 taking it */
	char *pend;		/* bytes of this side not yet written to the other */
	size_t pend_len, pend_off;
	uint64_t hand;		/* bytes of this side written by user space */
	uint64_t sent_base;	/* bytes_acked + SIOCOUTQ at splice time (the SYN counts) */
	uint64_t hand_spliced;	/* held: what hand was then (the rest is the relay's);
				 * before: what the other socket had taken at the last look */
	int sndbuf_saved;	/* SO_SNDBUF before make_room() raised it; 0: untouched */
};

enum conn_state { C_CONNECTING, C_OPEN };
enum conn_path { P_RELAY, P_SPLICE };
/* A spliced pair's way back to the relay (on_splice_bulk(), demote_step()). */
enum conn_demote { D_NONE, D_WAIT, D_DONE };

struct conn {
	struct conn *next, *prev;
	struct conn *ready_next;	/* on conn.c's list of pumps cut short */
	struct service *svc;
	struct backend *be;
	enum conn_state state;
	enum conn_path path;
	struct side s[2];
	ev_timer timer;		/* connect timeout (or descriptor retry), then idle timeout */
	ev_timer drain;		/* splice half-close: waiting for the queue */
	ev_timer handoff;	/* the splice hand-off's second look; the way back's polls */
	ev_tstamp drain_start;	/* the last look at which the peer had taken more */
	uint64_t drain_given;	/* what the peers had taken then (on_drain_timer()) */
	ev_tstamp demote_start;	/* D_WAIT since then */
	ev_tstamp last_ev;	/* last byte user space moved */
	ev_tstamp look_from;	/* auto: the client CPU's idle share counts from here */
	ev_tstamp next_ask;	/* auto: not before then (the next CPU sample) */
	ev_tstamp fd_wait_from;	/* connecting: no descriptor for the backend since then */
	int tried[MAX_TRIES];
	uint8_t ntried;		/* of tried[], at most MAX_TRIES */
	uint8_t client_ip[16];	/* what Maglev hashes: the client's address, */
	uint8_t client_ip_len;	/* 4 or 16 bytes (not the whole sockaddr) */
	bool queued;		/* on the list of pumps cut short */
	bool promote_done;	/* auto: the move to the kernel path was decided */
	bool promote_busy;	/* auto: a move was put off (counted once) */
	uint8_t stay;		/* auto: enum auto_stay, why it is still relayed */
	uint8_t demote;		/* enum conn_demote */
	bool demote_waited;	/* the way back found redirected bytes still queued */
	uint8_t demote_why;	/* enum sh_splice_why: bulk, or a reader fell behind */
	bool behind_pending;	/* a side held as its reader fell behind, the pair
				 * not yet: a side was in its hand-off (check_go()) */
	struct splice_pair pair;	/* P_SPLICE: its place in the splice maps */
	unsigned int turns;	/* auto: changes of direction seen by the relay */
	int last_from;		/* auto: the side the relay read from last */
};

static inline struct ev_loop *loop_of(const struct conn *c)
{
	return c->svc->all->loop;
}

/* --- conn.c --------------------------------------------------------------- */
void backend_release(struct conn *c);
void conn_free(struct conn *c, bool reset);
/** ep_watch() - register side @s in conn_ep, or update what it watches. 0 or -errno. */
int ep_watch(struct side *s);
/** start_data() - the backend answered: move bytes, by splice or relay.
 * Return: true when @c was freed. */
bool start_data(struct conn *c);
void on_drain_timer(struct ev_loop *loop, ev_timer *w, int revents);
void on_handoff_timer(struct ev_loop *loop, ev_timer *w, int revents);
/** on_timer() - the connect timeout (or the retry of a wait for a
 * descriptor), then the idle timeout. */
void on_timer(struct ev_loop *loop, ev_timer *w, int revents);

/* --- connect.c ------------------------------------------------------------ */
/** connect_failed() - the backend tried did not answer (@err): the next one.
 * Return: true when @c was freed (no backend left). */
bool connect_failed(struct conn *c, int err);
/** backend_answered() - conn_ep reported the connecting socket (@events):
 * connected or failed. Return: true when @c was freed. */
bool backend_answered(struct conn *c, uint32_t events);
/** connect_next() - connect to the next backend not tried yet; also what
 * the connect timer does for a client that waits for a descriptor.
 * Return: true when @c was freed (none left, or waited too long). */
bool connect_next(struct conn *c);

#endif /* SOCKHOP_CONN_INT_H */
