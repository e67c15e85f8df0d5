/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * flaws.h - the kernel flaws sockhop knows of in the socket-map paths: the
 * daemon's start-up canary (canary.c) tests which apply to the running
 * kernel and records them in the meta map; `sockhop status` names them.
 */
#ifndef SOCKHOP_FLAWS_H
#define SOCKHOP_FLAWS_H

#include <stdint.h>

enum sh_flaw {
	/* tcp_bpf_recvmsg_parser() sleeps once and returns EAGAIN on any
	 * wakeup that brought no data: another thread's shutdown(SHUT_WR) of
	 * the same socket wakes it (sock_def_wakeup), so does a state change.
	 * No program or socket option of ours is on that path. */
	SH_FLAW_RECV_EAGAIN = 1u << 0,
	/* A socket in a socket map with no sk_skb verdict loses FIONREAD and
	 * epoll read wakeups; sockhop attaches a verdict to every map it fills. */
	SH_FLAW_NO_VERDICT_READ = 1u << 1,
};

struct sh_flaw_info {
	uint32_t bit;
	const char *name;
	const char *what;	/* what breaks, for the operator */
	const char *remedy;	/* what sockhop does or the operator can do */
	int avoided;		/* sockhop steers clear of it by itself */
};

static const struct sh_flaw_info sh_flaws[] = {
	{ SH_FLAW_RECV_EAGAIN, "recv-eagain",
	  "a thread blocked in recv() on an accelerated socket gets EAGAIN when another "
	  "thread calls shutdown(SHUT_WR) on that socket (or any wakeup brings no data)",
	  "programs with a reader thread and a writer thread on one socket (full duplex) "
	  "break; exclude their ports or prefixes with a no-accelerate rule", 0 },
	{ SH_FLAW_NO_VERDICT_READ, "no-verdict-fionread",
	  "a socket in a socket map without an sk_skb verdict loses FIONREAD and epoll "
	  "read wakeups",
	  "avoided: sockhop attaches a verdict program to every socket map it fills", 1 },
};
#define SH_NR_FLAWS (sizeof(sh_flaws) / sizeof(sh_flaws[0]))

#endif /* SOCKHOP_FLAWS_H */
