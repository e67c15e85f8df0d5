/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * splice.h - the kernel data path of the proxy: loads kern/splice.bpf.c,
 * attaches its verdict to splice_socks, checks at start-up that this kernel
 * really moves bytes with it, and puts connection pairs in and out.
 */
#ifndef SOCKHOP_SPLICE_H
#define SOCKHOP_SPLICE_H

#include <stdbool.h>
#include <stdint.h>

#include "sockhop.h"

struct splice;

/**
 * splice_open() - load and attach. Return: 0 or -errno (logged); the
 * daemon then relays every connection.
 */
int splice_open(uint32_t map_size, struct splice **out);
void splice_close(struct splice *sp);

/**
 * splice_selftest() - splice two loopback connection pairs and move 1 MiB
 * each way through them, checking every byte. Return: 0 when the kernel
 * path works, else -errno (and the reason logged).
 */
int splice_selftest(struct splice *sp);

/* A spliced pair's place in the maps; the connection owns it. */
struct splice_pair {
	uint64_t cookie[2];	/* the sockets' cookies (splice_flow keys) */
	uint32_t slot;		/* pair index: splice_socks slots 2*slot, 2*slot + 1 */
	bool handed[2];		/* a splice_handed entry was written */
	bool partial;		/* splice_insert() failed after the client socket was in */
	bool held;		/* splice_hold() set: the pair is relayed */
};

/**
 * splice_insert() - put a connected pair (@fd[0] the client) in the maps:
 * its state first, then the sockets. A socket that carries @bulk_bytes
 * within one SH_SPLICE_BULK_WINDOW_NS (0: never) is told to @owner
 * through splice_bulk_fd()'s callback, and so is one the verdict held as
 * its peer's reader fell behind (every pair). Bytes are passed up to user space
 * until every one passed is handed over (splice_set_handed()) and the
 * peer is in. Return: 0, -E2BIG when every slot is taken, or -errno, with
 * nothing left in the maps; then @p->partial says the client socket had
 * been in the map: bytes its verdict passed up may be lost with its psock,
 * so the connection must be reset, not relayed.
 */
int splice_insert(struct splice *sp, const int fd[2], uint32_t bulk_bytes, void *owner,
		  struct splice_pair *p);

/* @owner's pair: its socket @idx (its cookie: @cookie) wants the relay,
 * @why an enum sh_splice_why. */
typedef void splice_bulk_fn(void *owner, int idx, uint64_t cookie, uint32_t why);

/** splice_bulk_fd() - the descriptor to watch for the verdict's records, which
 * splice_bulk_run() hands to @fn. */
int splice_bulk_fd(struct splice *sp, splice_bulk_fn *fn);
void splice_bulk_run(struct splice *sp);

/**
 * splice_hold() - every later skb of the pair is passed up to user space
 * (the sockets stay in the map); bytes redirected before may still be on
 * their way to the peer's socket. Return: 0 or -errno (still spliced).
 */
int splice_hold(struct splice *sp, struct splice_pair *p);

/** splice_set_handed() - user space has written @handed bytes of @idx's. */
int splice_set_handed(struct splice *sp, struct splice_pair *p, int idx, uint64_t handed);

/** splice_flow() - the verdict's counters of socket @idx of the pair. */
int splice_flow(struct splice *sp, const struct splice_pair *p, int idx,
		struct sh_splice_flow *out);

/**
 * splice_remove() - delete the pair's state, reading the bytes the
 * verdict redirected for each socket into @moved. The sockets stay open
 * and in splice_socks until they are closed.
 */
void splice_remove(struct splice *sp, struct splice_pair *p, uint64_t moved[2]);

/** splice_release() - both sockets are closed: the slot pair is free. */
void splice_release(struct splice *sp, const struct splice_pair *p);

/** splice_stats() - the verdict's totals over all CPUs. */
int splice_stats(struct splice *sp, struct sh_splice_stats *out);

/** splice_entries() - sockets with a splice_flow entry (two per pair). */
long splice_entries(struct splice *sp);

#endif /* SOCKHOP_SPLICE_H */
