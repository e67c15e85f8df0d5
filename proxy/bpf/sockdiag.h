/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sockdiag.h - TCP sockets through NETLINK_SOCK_DIAG: list them, and
 * destroy one (SOCK_DESTROY: the kernel aborts it, its owner's calls fail
 * with ECONNABORTED and a reset goes to the other end). A netlink socket
 * sees the sockets of the network namespace it was created in.
 */
#ifndef SOCKHOP_SOCKDIAG_H
#define SOCKHOP_SOCKDIAG_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/inet_diag.h>

/** sockdiag_open() - a diag socket in this thread's netns; fd or -errno. */
int sockdiag_open(void);

/**
 * sockdiag_open_in() - a diag socket in the network namespace of process
 * @pid, which must be the one of cookie @netns_cookie (a pid reused since is
 * refused). The namespace is entered by a short-lived thread: the daemon's
 * own thread never leaves its own. Return: fd or -errno (-ESRCH: no such
 * process, -ENOENT: not that namespace).
 */
int sockdiag_open_in(pid_t pid, uint64_t netns_cookie);

/** sockdiag_netns_cookie() - the cookie of the netns of socket @fd. */
uint64_t sockdiag_netns_cookie(int fd);

/**
 * sockdiag_dump() - @fn(msg, @ctx) for each live TCP socket of @family (all
 * states but TIME_WAIT and CLOSE); a negative return of @fn stops the walk.
 * Return: 0 or -errno.
 */
int sockdiag_dump(int nl, uint8_t family, int (*fn)(const struct inet_diag_msg *d, void *ctx),
		  void *ctx);

/**
 * sockdiag_destroy() - SOCK_DESTROY of the TCP socket of @family named by
 * @id (tuple and cookie) and wait for the kernel's answer.
 * Return: 0, -ENOENT when it is gone already, or -errno.
 */
int sockdiag_destroy(int nl, uint8_t family, const struct inet_diag_sockid *id);

#endif /* SOCKHOP_SOCKDIAG_H */
