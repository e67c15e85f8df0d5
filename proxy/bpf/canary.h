/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * canary.h - a start-up test of the socket-map paths on the running kernel:
 * which of the known flaws (flaws.h) apply here. It uses a loopback socket
 * pair and throwaway SOCKMAPs of its own, and takes a few milliseconds.
 */
#ifndef SOCKHOP_CANARY_H
#define SOCKHOP_CANARY_H

#include <stdint.h>

/**
 * canary_run() - test the running kernel for each known flaw.
 * @verdict_fd: an sk_skb stream-verdict program that passes every skb
 * @flaws: receives the SH_FLAW_* bits that apply
 *
 * Return: 0, or -errno when the test could not run (no loopback here, say);
 * @flaws is then 0 and means "not known".
 */
int canary_run(int verdict_fd, uint32_t *flaws);

#endif /* SOCKHOP_CANARY_H */
