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
	/* tcp_bpf_recvmsg_parser() returns what the socket map's queue holds
	 * and never loops for MSG_WAITALL. */
	SH_FLAW_NO_WAITALL = 1u << 2,
	/* sk_msg_is_readable() and the socket map's recvmsg ignore
	 * SO_RCVLOWAT: poll reports readable, recv returns, below it. */
	SH_FLAW_NO_RCVLOWAT = 1u << 3,
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
	{ SH_FLAW_NO_WAITALL, "no-waitall",
	  "recv() with MSG_WAITALL on an accelerated socket returns what has arrived instead "
	  "of waiting for the whole length",
	  "programs that read fixed-size records with MSG_WAITALL and do not loop on short "
	  "reads break; exclude their ports or prefixes with a no-accelerate rule", 0 },
	{ SH_FLAW_NO_RCVLOWAT, "no-rcvlowat",
	  "SO_RCVLOWAT is not honoured on an accelerated socket: poll() and select() report it "
	  "readable, and recv() returns, with fewer bytes than the low-water mark",
	  "programs that rely on SO_RCVLOWAT get more wakeups and shorter reads; exclude them "
	  "with a no-accelerate rule if they cannot take a short read", 0 },
};
#define SH_NR_FLAWS (sizeof(sh_flaws) / sizeof(sh_flaws[0]))

#endif /* SOCKHOP_FLAWS_H */
