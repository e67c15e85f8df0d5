/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * conn.h - one proxied connection: backend choice and non-blocking connect
 * with retries, then the bytes move by the kernel (splice) or by this
 * process (relay). Both movers share one state machine: EOF on a side is
 * passed on as SHUT_WR once that side's bytes have reached the other, an
 * RST resets the other side, and the idle timeout holds for both.
 */
#ifndef SOCKHOP_CONN_H
#define SOCKHOP_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <ev.h>

struct services;
struct splice;

struct service;
struct conn;

/** conn_module_init() - the edge-triggered epoll of every proxied socket,
 * and the watch on @splice's bulk records (NULL: no kernel path). 0 or -errno. */
int conn_module_init(struct ev_loop *loop, struct splice *splice);
void conn_module_fini(struct ev_loop *loop);

/** conn_start() - take over accepted client socket @fd of @svc. */
void conn_start(struct service *svc, int fd, const struct sockaddr_storage *peer,
		socklen_t len);

/**
 * splice_sndbuf() - the send buffer of a spliced socket (SPLICE_SNDBUF
 * with CAP_NET_ADMIN, else as much as net.core.wmem_max allows; failing
 * both, the autotuned one). Set on a listener, accepted sockets inherit it.
 */
void splice_sndbuf(int fd);

/** conn_retry_fd_waiters() - every client waiting for a backend
 * descriptor tries again now (a listener is about to accept again). */
void conn_retry_fd_waiters(struct services *ss);
/** conn_reset() - reset both ends now and free @c. */
void conn_reset(struct conn *c);

/** conn_idle_changed() - the service's idle timeout changed (a reload):
 * an open @c re-judges its idleness at once. */
void conn_idle_changed(struct conn *c);

/** conn_next() - walk a service's connection list. */
struct conn *conn_next(const struct conn *c);

/** conn_spliced() - bytes the kernel has moved for @c so far, from the
 * client [0] and from the backend [1]; 0 when relayed. */
void conn_spliced(const struct conn *c, uint64_t moved[2]);

/** conn_spliced_bytes() - both of conn_spliced(), summed. */
uint64_t conn_spliced_bytes(const struct conn *c);

struct backend;

/** conn_backend() - the backend @c is connected to, or NULL. */
const struct backend *conn_backend(const struct conn *c);

/* Where a connection's bytes go now, for the reports (CW_WAIT_FD: no
 * descriptor was left for the socket to its backend). */
enum conn_where { CW_CONNECTING, CW_WAIT_FD, CW_RELAY, CW_SPLICE, CW_NR };

/** conn_where() - where @c is; @stay: on the relay under data-path auto,
 * why it has not moved (enum auto_stay), else AS_NR. */
enum conn_where conn_where(const struct conn *c, unsigned int *stay);

/** conn_auto_rule() - data-path auto's rule, for the reports: the changes
 * of direction before a move, the least span of a connection's life its
 * client's CPU is judged over, and the bytes within a window (ms) of one
 * way that move it back. */
void conn_auto_rule(unsigned int *turns, double *look_s, unsigned int *bulk_bytes,
		    unsigned int *bulk_ms);

#endif /* SOCKHOP_CONN_H */
