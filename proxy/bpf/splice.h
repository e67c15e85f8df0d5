/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * splice.h - the kernel data path of the proxy: loads kern/splice.bpf.c,
 * attaches its verdict to splice_socks, checks at start-up that this kernel
 * really moves bytes with it, and puts connection pairs in and out.
 */
#ifndef SOCKHOP_SPLICE_H
#define SOCKHOP_SPLICE_H

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

/**
 * splice_insert() - put a connected pair in the map: @cookie[i] receive
 * the socket cookies. Both start "not ready" (bytes are passed up) until
 * splice_set_ready(). Return: 0 or -errno with nothing left in the maps.
 */
int splice_insert(struct splice *sp, const int fd[2], uint64_t cookie[2]);

/** splice_set_ready() - both sockets are in: let the verdicts redirect. */
int splice_set_ready(struct splice *sp, const uint64_t cookie[2]);

/** splice_set_handed() - user space has written @handed bytes of @idx's. */
int splice_set_handed(struct splice *sp, const uint64_t cookie[2], int idx, uint64_t handed);

/** splice_flow() - the verdict's counters of one socket. */
int splice_flow(struct splice *sp, uint64_t cookie, struct sh_splice_flow *out);

/** splice_remove() - delete every entry of the pair (sockets stay open). */
void splice_remove(struct splice *sp, const uint64_t cookie[2]);

/** splice_stats() - the verdict's totals over all CPUs. */
int splice_stats(struct splice *sp, struct sh_splice_stats *out);

/** splice_entries() - sockets with a splice_ctl entry (two per pair). */
long splice_entries(struct splice *sp);

#endif /* SOCKHOP_SPLICE_H */
