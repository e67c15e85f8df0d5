/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * aborts.h - what the daemon does for TCP where the socket map hides unread
 * bytes from close(). kern/accel.bpf.c records each accelerated socket that
 * was closed with bytes redirected to it unread (closed_unread); plain TCP
 * resets such a connection, so that the peer's next send fails and a send
 * blocked on a full window wakes. Here the close sent a FIN, so this module
 * aborts the peer (SOCK_DESTROY, in the peer's own network namespace): its
 * calls fail with ECONNABORTED where plain TCP gives ECONNRESET.
 */
#ifndef SOCKHOP_ABORTS_H
#define SOCKHOP_ABORTS_H

#include <stdint.h>

struct aborts;

/** aborts_open() - read the closed_unread ring buffer @ring_fd. 0 or -errno. */
int aborts_open(int ring_fd, struct aborts **out);

/** aborts_fd() - readable when records wait: for the daemon's event loop. */
int aborts_fd(const struct aborts *a);

/** aborts_run() - abort the peer of every record waiting; how many records
 * were read, or -errno. */
int aborts_run(struct aborts *a);

void aborts_close(struct aborts *a);

#endif /* SOCKHOP_ABORTS_H */
