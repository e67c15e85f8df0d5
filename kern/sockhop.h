/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sockhop.h - the one header shared by the BPF programs (kern/) and user
 * space (proxy/, tests/). Fixed-width types only, no pointers, explicit
 * padding, and a size assertion next to every struct: the layouts below are
 * the ABI of the pinned maps, so changing one means bumping
 * SH_LAYOUT_VERSION (a daemon refuses pins of another version).
 */
#ifndef SOCKHOP_H
#define SOCKHOP_H

#include <linux/types.h>

/* Bump whenever a pinned map's key, value, type or size changes. */
#define SH_LAYOUT_VERSION	6

/* Limits; overridable at build time so tests can shrink them. */
#ifndef SH_MAX_SCOPES
#define SH_MAX_SCOPES		64	/* scopes (cgroups) in one config */
#endif
#ifndef SH_MAX_RULES
#define SH_MAX_RULES		32	/* rules that can apply to one prefix */
#endif
#ifndef SH_MAX_PREFIXES
#define SH_MAX_PREFIXES		256	/* distinct prefixes in one scope */
#endif
#ifndef SH_MAX_SOCKETS
#define SH_MAX_SOCKETS		65536	/* accelerated sockets, all scopes */
#endif
#ifndef SH_MAX_CONNS
#define SH_MAX_CONNS		32768	/* proxied connections (two sockets each) */
#endif
#define SH_MAX_SCOPE_RULES	256	/* rules of one scope (rule_id < this) */
#define SH_MAX_CGROUP_DEPTH	32	/* ancestor levels searched for a scope */
#define SH_SCOPE_NAME_LEN	32	/* scope name, NUL included */

/* Counter slot for events that belong to no scope (e.g. sk_skb verdicts). */
#define SH_SLOT_GLOBAL		SH_MAX_SCOPES
#define SH_STATS_SLOTS		(SH_MAX_SCOPES + 1)

/*
 * Key of the accelerated-socket SOCKHASH. Addresses are always held in
 * IPv6 form, IPv4 as v4-mapped (::ffff:a.b.c.d), so an AF_INET socket and
 * an AF_INET6 socket speaking v4-mapped build the same key for one flow.
 * The network-namespace cookie keeps equal tuples of two namespaces apart.
 * Ports are in host byte order.
 */
struct sh_sock_key {
	__u64 netns_cookie;
	__u32 local_ip[4];	/* network byte order, per 32-bit word */
	__u32 remote_ip[4];
	__u16 local_port;
	__u16 remote_port;
	__u32 pad;		/* always 0: the key is hashed bytewise */
};
_Static_assert(sizeof(struct sh_sock_key) == 48, "sh_sock_key ABI");

/* Value of the scopes map, keyed by the scope's cgroup id (__u64). */
struct sh_scope {
	__u32 slot;		/* index into the stats and scope_rules maps */
	__u32 flags;		/* SH_SCOPE_F_* */
	char name[SH_SCOPE_NAME_LEN];
};
/* sockhopd created the cgroup (and removes it on a full stop, even when the
 * daemon that stops is not the one that created it). */
#define SH_SCOPE_F_CREATED	(1u << 0)
/* bits 8-15: how many levels it made (the cgroup and its missing parents) */
#define SH_SCOPE_F_LEVELS(n)	(((__u32)(n) & 0xff) << 8)
#define SH_SCOPE_CREATED_LEVELS(f)	((((f) >> 8) & 0xff) ? (((f) >> 8) & 0xff) : 1)
_Static_assert(sizeof(struct sh_scope) == 40, "sh_scope ABI");

/* Socket local storage: the scope a socket was created in, and, once it is
 * accelerated, where its sends stand with the peer (kern/accel.bpf.c). */
struct sh_sk_scope {
	__u64 cgroup_id;	/* cgroup id of the scope (not of the socket) */
	__u32 slot;		/* scope slot resolved at the last lookup */
	__u32 flags;		/* SH_SK_F_* */
	__u64 held_since_ns;	/* bpf_ktime_get_ns() when SH_SK_F_HELD was set */
	__u64 peer_sk;		/* the peer's sh_sock_ref, kept from sock_peers */
	__u64 peer_cookie;	/*   (0: not looked up yet) */
	__u32 owner_tgid;	/* the process that created it: where its netns is */
	__u32 pad;
};
_Static_assert(sizeof(struct sh_sk_scope) == 48, "sh_sk_scope ABI");

/* Held back: the peer held the scope's accelerate-buffer unread, so sends go
 * by TCP, whose window and send buffer hold the sender back. */
#define SH_SK_F_HELD		(1u << 0)
/* This socket's TCP bytes may not all be in the peer's receive queue yet
 * (sent before it was accelerated, or while held): redirecting now could
 * overtake them, so the order is proven before the next redirect. */
#define SH_SK_F_TCP_BEHIND	(1u << 1)
/* In sock_hash: accelerated (set where sockops inserts it). */
#define SH_SK_F_ACCEL		(1u << 2)

/* Value of sock_peers, keyed by the socket's sh_sock_key: where the sender's
 * sk_msg program reads its peer's receive queue. The cookie proves the
 * address still holds that socket (an address alone may have been reused). */
struct sh_sock_ref {
	__u64 sk;		/* the kernel's struct sock * */
	__u64 cookie;		/* its socket cookie */
	__u32 owner_tgid;	/* sh_sk_scope.owner_tgid */
	__u32 pad;
};
_Static_assert(sizeof(struct sh_sock_ref) == 24, "sh_sock_ref ABI");

/*
 * Record of the closed_unread ring buffer: an accelerated socket was closed
 * with bytes redirected to it still unread. Plain TCP answers such a close
 * with a reset, which fails the peer's next send or wakes a send blocked on
 * a full window; here the bytes sat in the socket map's queue, so the close
 * sent a FIN, and a peer held back on TCP would wait out its retries. The
 * daemon aborts that peer (SOCK_DESTROY) in its stead.
 */
struct sh_abort {
	struct sh_sock_key peer;	/* the peer's own key: its local end first */
	__u64 peer_cookie;
	__u32 unread;			/* bytes the closed socket left unread */
	__u32 peer_tgid;		/* a process of the peer's netns */
	__u16 peer_family;		/* AF_INET or AF_INET6: the peer's own */
	__u16 pad;
	__u32 slot;			/* the closed socket's scope slot */
};
_Static_assert(sizeof(struct sh_abort) == 72, "sh_abort ABI");

/* What `sockhop sockets` shows of one accelerated socket: one record per
 * accelerated TCP socket of the reader's netns, written by
 * kern/accel.bpf.c's iterator (key.netns_cookie is 0 there). */
struct sh_sock_view {
	struct sh_sock_key key;
	__u64 cookie;
	__u64 held_since_ns;	/* 0: not held back */
	__u64 now_ns;		/* bpf_ktime_get_ns() when the record was made */
	__u32 unread;		/* receive memory: unread bytes, redirected and TCP */
	__u32 rcvbuf;
	__u32 slot;		/* its scope's slot, SH_SLOT_GLOBAL when none */
	__u32 flags;		/* SH_SK_F_* */
	__u8 state;		/* TCP state (include/net/tcp_states.h) */
	__u8 pad[7];
};
_Static_assert(sizeof(struct sh_sock_view) == 96, "sh_sock_view ABI");

/* Value of accel_cfg, indexed by scope slot: the flow control's bound. */
struct sh_accel_cfg {
	__u32 buffer;		/* bytes a peer may hold unread before the sender
				 * is held back (accelerate-buffer) */
	__u32 pad;
};
_Static_assert(sizeof(struct sh_accel_cfg) == 8, "sh_accel_cfg ABI");
#define SH_ACCEL_BUFFER_DEFAULT	(1u << 20)	/* 1 MiB */
#define SH_ACCEL_BUFFER_MIN	(64u << 10)
#define SH_ACCEL_BUFFER_MAX	(256u << 20)

/* Key of a scope's rule trie: the destination prefix, IPv6 form. */
struct sh_lpm_key {
	__u32 prefixlen;	/* IPv4 /n is stored as 96 + n */
	__u8 addr[16];
};
_Static_assert(sizeof(struct sh_lpm_key) == 20, "sh_lpm_key ABI");

enum sh_proto {
	SH_PROTO_ANY = 0,
	SH_PROTO_ICMP = 1,	/* ICMP, and ICMPv6 (58) for IPv6 packets */
	SH_PROTO_TCP = 6,
	SH_PROTO_UDP = 17,
};

enum sh_action {
	SH_ACT_NONE = 0,	/* no rule matched */
	SH_ACT_ACCELERATE = 1,	/* put the socket in the SOCKHASH */
	SH_ACT_BALANCE = 2,	/* connect-time LB; arg: the service id */
	SH_ACT_ALLOW = 3,	/* tc policy: let the packet through */
	SH_ACT_DENY = 4,	/* tc policy: drop it */
	SH_ACT_COUNT = 5,	/* tc policy: count it, then the next rule decides */
	SH_ACT_MARK = 6,	/* tc policy: set skb->mark to arg and let it through */
	SH_ACT_NO_ACCELERATE = 7,	/* leave the flow to TCP (an exclusion) */
	SH_ACT_NR = 8,
};

#ifndef __bpf__
/* The config spelling of an action; user space only (config, CLI). */
static inline const char *sh_action_name(__u32 a)
{
	static const char *const names[SH_ACT_NR] = {
		"none", "accelerate", "balance", "allow", "deny", "count", "mark",
		"no-accelerate",
	};

	return a < SH_ACT_NR ? names[a] : "none";
}
#endif

/*
 * Each hook takes the first rule of its own kind: sockops looks only at
 * accelerate rules, connect at balance rules, tc at policy rules. One rule
 * table per scope thus serves every hook, and rules of one kind never hide
 * rules of another.
 */
#define SH_KIND(a)		(1u << (a))
#define SH_KINDS_POLICY		(SH_KIND(SH_ACT_ALLOW) | SH_KIND(SH_ACT_DENY) | \
				 SH_KIND(SH_ACT_COUNT) | SH_KIND(SH_ACT_MARK))
/* sockops: an accelerate rule, or the no-accelerate rule that excludes a
 * flow from those after it */
#define SH_KINDS_ACCEL		(SH_KIND(SH_ACT_ACCELERATE) | SH_KIND(SH_ACT_NO_ACCELERATE))

/* One rule; the trie value lists them in config order, first match wins. */
struct sh_rule {
	__u8 proto;		/* enum sh_proto */
	__u8 action;		/* enum sh_action */
	__u16 rule_id;		/* index of the rule in its scope (config order) */
	__u16 port_lo;		/* destination port range, host order, inclusive */
	__u16 port_hi;
	__u32 arg;		/* action argument, 0 for accelerate */
};
_Static_assert(sizeof(struct sh_rule) == 12, "sh_rule ABI");

/*
 * Value of a scope's rule trie. User space compiles the config so that the
 * entry of prefix P holds every rule whose prefix contains P, in config
 * order: the longest-prefix match then yields all rules that can apply.
 */
struct sh_rule_set {
	__u32 count;
	__u32 pad;
	struct sh_rule rules[SH_MAX_RULES];
};
_Static_assert(sizeof(struct sh_rule_set) == 8 + 12 * SH_MAX_RULES, "sh_rule_set ABI");

/* Insert failures are counted by errno; these are the ones worth a slot. */
enum sh_insert_err {
	SH_ERR_EEXIST,		/* key taken: a tuple collision */
	SH_ERR_ENOMEM,		/* map full or no memory */
	SH_ERR_E2BIG,		/* map full */
	SH_ERR_EOPNOTSUPP,	/* socket not in a state the map accepts */
	SH_ERR_EINVAL,
	SH_ERR_EBUSY,		/* socket has another ULP (e.g. kTLS) */
	SH_ERR_OTHER,
	SH_ERR_NR,
};

/* Per-CPU, per-scope counters; user space sums over CPUs. */
struct sh_stats {
	__u64 msg_redirected;	/* sk_msg sends handed to the peer socket */
	__u64 bytes_redirected;
	__u64 msg_no_peer;	/* sk_msg sends passed to TCP: no peer in map */
	__u64 bytes_no_peer;
	__u64 inserts;		/* sockets put in the SOCKHASH */
	__u64 insert_fail;	/* sum of insert_errno[] */
	__u64 not_matched;	/* established sockets no rule accelerated */
	__u64 skb_verdict;	/* skbs seen by the sk_skb verdict program */
	__u64 scoped_sockets;	/* TCP and UDP sockets tagged with a scope at creation */
	__u64 insert_errno[SH_ERR_NR];
	/* flow control (sk_msg): held back while the peer holds a full buffer */
	__u64 holds;		/* times a socket was held back */
	__u64 resumes;		/* times a held socket went back to redirecting */
	__u64 held_ns;		/* time held, summed (to the resume, or to the
				 * socket's last send while held) */
	__u64 msg_held;		/* sends TCP carried while held back */
	__u64 bytes_held;
	__u64 msg_ordered;	/* sends TCP carried because earlier TCP bytes of
				 * the socket were not yet in the peer's queue */
	__u64 bytes_ordered;
	__u64 excluded;		/* established sockets a no-accelerate rule left to TCP */
	__u64 closed_unread;	/* closed with redirected bytes unread: peer to abort */
	__u64 abort_lost;	/*   of those, not told to the daemon (ring full) */
	/* the sk_skb verdict: retransmissions (see "Retransmissions" below) */
	__u64 old_skbs;		/* skbs that began before bytes already queued */
	__u64 old_bytes;	/* those old bytes, cut (never queued twice) */
	__u64 old_dropped;	/* old heads too long to cut: skb dropped */
};
_Static_assert(sizeof(struct sh_stats) == 8 * (9 + SH_ERR_NR + 13), "sh_stats ABI");

/* The meta map's single value: who pinned this directory and how. */
struct sh_meta {
	__u32 layout_version;	/* SH_LAYOUT_VERSION of the pinning build */
	__u32 daemon_pid;	/* 0 once the daemon has left */
	__u64 started_ns;	/* CLOCK_REALTIME of the last start */
	__u32 kept;		/* 1: the last daemon left the kernel path on */
	__u32 nr_scopes;
	__u32 kernel_flaws;	/* the start-up canary's findings (proxy/common/flaws.h) */
	__u32 canary_ran;	/* 1: kernel_flaws was tested, 0: not known */
};
_Static_assert(sizeof(struct sh_meta) == 32, "sh_meta ABI");

/*
 * Connect-time load balancing (kern/balance.bpf.c). A service id is the
 * service's index in the config; a backend id is
 * service id * SH_MAX_SVC_BACKENDS + the backend's index in its service.
 */
#define SH_MAX_SERVICES		64
#define SH_MAX_SVC_BACKENDS	256
#define SH_MAX_BACKEND_IDS	(SH_MAX_SERVICES * SH_MAX_SVC_BACKENDS)
#define SH_MAX_VIPS		256	/* virtual address:port:protocol entries */
#define SH_MAGLEV_SLOTS		16381	/* prime; 64 slots per backend at 256 */
#define SH_BACKEND_NONE		0xffffffffu	/* a table slot with no backend */
#ifndef SH_MAX_RNAT
#define SH_MAX_RNAT		65536	/* balanced sockets remembered for replies */
#endif

/* A virtual address: key of vip_services and of the vip_tables outer map. */
struct sh_vip_key {
	__u32 addr[4];		/* IPv6 form, IPv4 v4-mapped */
	__u16 port;		/* host order */
	__u8 proto;		/* SH_PROTO_TCP or SH_PROTO_UDP */
	__u8 pad;
};
_Static_assert(sizeof(struct sh_vip_key) == 20, "sh_vip_key ABI");

struct sh_vip {
	__u32 svc_id;
	__u32 pad;
};
_Static_assert(sizeof(struct sh_vip) == 8, "sh_vip ABI");

/* Value of the backends array, indexed by backend id. */
struct sh_backend {
	__u32 addr[4];		/* IPv6 form, IPv4 v4-mapped */
	__u16 port;		/* host order */
	__u16 family;		/* AF_INET or AF_INET6; 0: slot unused */
	__u32 svc_id;
};
_Static_assert(sizeof(struct sh_backend) == 24, "sh_backend ABI");

/* Reverse translation: (socket, backend address) -> the virtual address the
 * application asked for, read by getpeername and recvmsg. */
struct sh_rnat_key {
	__u64 cookie;		/* socket cookie */
	__u32 addr[4];		/* backend, IPv6 form */
	__u16 port;		/* backend port, host order */
	__u16 pad;
	__u32 pad2;
};
_Static_assert(sizeof(struct sh_rnat_key) == 32, "sh_rnat_key ABI");

struct sh_rnat {
	__u32 addr[4];		/* the virtual address, IPv6 form */
	__u16 port;		/* host order */
	__u16 pad;
	__u32 backend_id;	/* for the connect outcome counters (sockops) */
};
_Static_assert(sizeof(struct sh_rnat) == 24, "sh_rnat ABI");

/* Per-CPU counters per service id. */
struct sh_vip_stats {
	__u64 balanced;		/* connects and sends given a backend */
	__u64 no_backend;	/* refused with ECONNREFUSED: no healthy backend */
	__u64 not_allowed;	/* from a scope without a balance rule for it */
	__u64 pad;
};
_Static_assert(sizeof(struct sh_vip_stats) == 32, "sh_vip_stats ABI");

/* Per-CPU counters per backend id. */
struct sh_backend_stats {
	__u64 balanced;		/* connects and sends given this backend */
	__u64 established;	/* TCP connects that completed */
	__u64 failed;		/* TCP connects that ended before ESTABLISHED */
	__u64 pad;
};
_Static_assert(sizeof(struct sh_backend_stats) == 32, "sh_backend_stats ABI");

/*
 * Traffic policy at tc (kern/policy.bpf.c): the entry programs operators
 * attach, and the stages they tail-call through the pinned tc_stages
 * PROG_ARRAY. The slot numbers, the skb->cb layout between stages and the
 * structs below are the stage ABI (kern/README.md, "Traffic policy at tc"): a stage
 * built for another SH_TC_ABI_VERSION must never be put in a slot.
 */
#define SH_TC_ABI_VERSION	1

enum sh_tc_stage {
	SH_TC_STAGE_PARSE = 0,		/* headers -> protocol, remote address, port;
					 * ingress: the local socket's scope */
	SH_TC_STAGE_RULES = 1,		/* the scope's rules -> action */
	SH_TC_STAGE_ACTION = 2,		/* counters, mark, verdict */
	SH_TC_STAGES = 3,
};

enum sh_tc_dir {
	SH_TC_EGRESS = 0,
	SH_TC_INGRESS = 1,
	SH_TC_DIRS = 2,
};

/*
 * skb->cb between stages (five __u32, written by the entry and the stages):
 *   cb[0]  bits 0-6 scope slot (SH_SLOT_GLOBAL: no scope), bit 7 direction,
 *          bits 8-15 protocol (enum sh_proto), bits 16-31 remote port
 *   cb[1..4]  remote address, IPv6 form (after PARSE)
 *   after RULES: cb[1] action, cb[2] mark, cb[3] rule id + 1 (0: default)
 */
#define SH_TC_CB_SLOT(c)	((c) & 0x7f)
#define SH_TC_CB_DIR(c)		(((c) >> 7) & 1)
#define SH_TC_CB_PROTO(c)	(((c) >> 8) & 0xff)
#define SH_TC_CB_PORT(c)	((c) >> 16)
#define SH_TC_CB0(slot, dir, proto, port) \
	((__u32)(slot) | ((__u32)(dir) << 7) | ((__u32)(proto) << 8) | ((__u32)(port) << 16))
_Static_assert(SH_STATS_SLOTS <= 128, "the scope slot fits in 7 bits of cb[0]");

/* Value of tc_defaults, indexed by scope slot (SH_SLOT_GLOBAL: traffic of
 * no scope, and packets whose scope cannot be known). */
struct sh_tc_default {
	__u32 action;		/* SH_ACT_ALLOW, SH_ACT_DENY or SH_ACT_MARK */
	__u32 mark;		/* for SH_ACT_MARK */
};
_Static_assert(sizeof(struct sh_tc_default) == 8, "sh_tc_default ABI");

/* Socket storage of the egress entry: the scope slot its scan found for
 * this socket, valid while tc_gen holds <gen>. */
struct sh_tc_sk_cache {
	__u32 gen;
	__u32 slot;
};
_Static_assert(sizeof(struct sh_tc_sk_cache) == 8, "sh_tc_sk_cache ABI");

/* Per-CPU packet and byte counts: tc_stats is indexed by
 * SH_TC_STATS_IDX(slot, dir, action), tc_rule_stats by
 * slot * SH_MAX_SCOPE_RULES + rule id. */
struct sh_tc_count {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct sh_tc_count) == 16, "sh_tc_count ABI");
#define SH_TC_STATS_IDX(slot, dir, act)	(((slot) * SH_TC_DIRS + (dir)) * SH_ACT_NR + (act))
#define SH_TC_STATS_SLOTS	(SH_STATS_SLOTS * SH_TC_DIRS * SH_ACT_NR)
#define SH_TC_RULE_SLOTS	(SH_MAX_SCOPES * SH_MAX_SCOPE_RULES)

/* Why a packet took a default verdict, or was not looked at: tc_errors,
 * per-CPU __u64 per reason. */
enum sh_tc_err {
	SH_TC_ERR_NO_SOCKET,	/* egress: no full socket on the skb (forwarded,
				 * or sent by the kernel itself) */
	SH_TC_ERR_EMPTY_SLOT,	/* a scope's CGROUP_ARRAY slot is empty */
	SH_TC_ERR_BAD_SLOT,	/* any other bpf_skb_under_cgroup error */
	SH_TC_ERR_NO_STAGE,	/* a tail call failed: its slot is empty; + stage */
	SH_TC_ERR_NO_STAGE_LAST = SH_TC_ERR_NO_STAGE + SH_TC_STAGES - 1,
	SH_TC_ERR_NOT_IP,	/* not IPv4 or IPv6 (ARP...): passed, no policy */
	SH_TC_ERR_TRUNCATED,	/* a header ends past the packet */
	SH_TC_ERR_MALFORMED,	/* bad version, header length or total length */
	SH_TC_ERR_FRAGMENT,	/* a later fragment: no ports, port rules miss */
	SH_TC_ERR_NO_LOCAL,	/* ingress: no local socket for the packet */
	SH_TC_ERR_NO_RULES,	/* the scope has no rule table */
	SH_TC_ERR_NR,
};

/*
 * The splice data path (kern/splice.bpf.c). Its maps belong to one daemon
 * and are not pinned: the proxied sockets die with the daemon anyway.
 *
 * splice_socks is a SOCKMAP of slots the daemon allocates in pairs: the
 * client socket in slot 2k, the backend socket in 2k+1, so a socket's peer
 * is its slot ^ 1 and no key is hashed on the data path. splice_flow,
 * keyed by socket cookie (what the verdict can name its socket by), is
 * written by user space once, before the socket enters splice_socks, and
 * from then on only by the verdict (per socket, under the socket's lock).
 * splice_handed is written only by user space, and only when it had to
 * forward bytes itself. Until "go" is set, skbs are passed up to user space
 * and counted in "passed": the first skb that finds every passed byte
 * handed over and the peer in splice_socks sets "go", and from then on
 * everything is redirected. That rule is what keeps bytes in order across
 * the hand-off (proxy/README.md, "Two data paths").
 *
 * The way back (data-path auto): where sockhopd set bulk_bytes, a socket
 * whose redirected bytes reach it within one SH_SPLICE_BULK_WINDOW_NS is
 * told in splice_bulk, once a window. sockhopd may then set the pair's
 * splice_hold entry (written only by user space): every later skb of both
 * sockets is passed up, and sockhopd relays them once what was redirected
 * before is in the peer's socket. "held" counts them: once it is not 0,
 * every verdict run that read the hold unset is over (a socket's runs are
 * serialised), so "bytes" is final; and a FIN read before "held" bytes
 * were all read is early (a passed skb can wait in the psock's queue
 * behind skbs redirected to this socket's egress). The sockets stay in
 * splice_socks: taking them out would free their psocks with the queues
 * (sk_psock_destroy()).
 *
 * Flow control (every spliced pair): a redirected skb leaves its socket's
 * accounting at once (tcp_read_skb() orphans it), so TCP never holds the
 * sender back, and what the peer's reader does not take waits in the
 * peer's psock without limit. The verdict keeps the peer's write_seq from
 * "go" on: redirected bytes not yet in the peer's socket are "bytes" less
 * what write_seq moved since. Past SH_SPLICE_BEHIND_BYTES the verdict holds
 * its own socket ("behind", set only by the verdict, with a splice_bulk
 * record): its skbs are passed up, charged to it, and its receive window
 * closes as on the relay. sockhopd then holds the pair and takes it back to
 * the relay as for bulk.
 *
 * Both ways: one psock queue (ingress_skb) holds the skbs redirected to a
 * socket's egress and, behind them, its own skbs passed up while it is not
 * empty (sk_psock_verdict_apply()); those are charged to no socket until
 * the worker has sent everything ahead of them, so while that socket's
 * reader does not read, its writer is not held back at all. A held socket
 * whose skbs pass up behind its peer's redirected bytes ("bytes" not yet
 * in its write_seq) is told to sockhopd (SH_SPLICE_QUEUED, again at each
 * SH_SPLICE_QUEUED_BYTES): sockhopd raises that socket's send buffer by
 * what is queued, the worker moves it there (charged, as on the relay),
 * and what is passed up next is charged to the socket and closes its
 * window. Should that not clear it by SH_SPLICE_STALL_BYTES, sockhopd
 * resets the pair (SH_SPLICE_STALLED). Once its egress is clear with the
 * peer passed up too (egress_done), nothing can queue there again and the
 * check stops: the relay's writes then move write_seq past the peer's
 * frozen "bytes", and the difference would wrap after 2 GiB.
 */
#define SH_SPLICE_BULK_WINDOW_NS	(100ULL * 1000 * 1000)
/* about what TCP lets a stalled reader's sender queue on the relay (tcp_wmem) */
#define SH_SPLICE_BEHIND_BYTES		(4U << 20)
/* passed up behind queued egress bytes: tell sockhopd at each, reset past */
#define SH_SPLICE_QUEUED_BYTES		(1U << 20)
#define SH_SPLICE_STALL_BYTES		(32U << 20)
#define SH_SPLICE_TOLD_STALLED		0xffffffffU
/*
 * Retransmissions (both sk_skb verdicts, kern/retrans.bpf.h): TCP queues a
 * segment that starts before bytes it already has and ends after them
 * whole ("partial packet" in tcp_data_queue()); tcp_recvmsg() skips its old
 * head by copied_seq, but tcp_read_skb(), which runs the verdict, hands the
 * skb over whole, so the head would be sent or passed up a second time
 * (test_proxy_demote saw 64 KiB repeated after zero-window retransmits).
 * Each verdict keeps the next sequence number it has not seen and cuts what
 * an skb has before it, SH_CUT_STEP bytes a helper call (the bound of
 * bpf_skb_adjust_room()), at most SH_CUT_STEPS calls (4 MiB); an skb with a
 * longer old head is dropped, and a spliced pair reset (SH_SPLICE_OVERLAP).
 */
#define SH_CUT_STEP		4095U
#define SH_CUT_STEPS		1024

/* A verdict's place in one socket's received stream. */
struct sh_rcv_seq {
	__u32 next;		/* the sequence number of the next byte not yet seen */
	__u32 known;		/* 1: next is set */
};
_Static_assert(sizeof(struct sh_rcv_seq) == 8, "sh_rcv_seq ABI");

struct sh_splice_flow {
	__u64 bytes;		/* redirected to the peer's egress */
	__u64 passed;		/* passed up to user space before "go" */
	__u64 held;		/* passed up under splice_hold (the relay's from then) */
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last skb (idle timeout) */
	__u64 win_ns;		/* start of the current bulk window */
	__u32 go;		/* 1: redirecting */
	__u32 peer_slot;	/* splice_socks slot of the socket bytes are sent from */
	__u32 win_bytes;	/* redirected in the current window */
	__u32 bulk_bytes;	/* set by sockhopd: tell at this many a window (0: never) */
	__u32 told;		/* 1: told in the current window */
	__u32 peer_seq0;	/* the peer's write_seq at "go" (flow control) */
	__u32 behind;		/* 1: the peer's reader fell behind; passed up since */
	__u32 stall;		/* passed up behind queued egress bytes (see "Both ways") */
	__u64 peer_cookie;	/* set by sockhopd: the peer socket's splice_flow key */
	__u32 stall_told;	/* SH_SPLICE_QUEUED records for this stall, or SH_SPLICE_TOLD_STALLED */
	__u32 egress_done;	/* 1: egress clear with the peer passed up: it cannot refill */
	struct sh_rcv_seq rcv;	/* retransmissions: from copied_seq at the first skb */
};
_Static_assert(sizeof(struct sh_splice_flow) == 96, "sh_splice_flow ABI");

enum sh_splice_why {
	SH_SPLICE_BULK,		/* carried bulk_bytes in one window */
	SH_SPLICE_BEHIND,	/* its peer's reader fell SH_SPLICE_BEHIND_BYTES behind */
	SH_SPLICE_QUEUED,	/* passed up behind its egress: sockhopd makes room for that */
	SH_SPLICE_STALLED,	/* still so past SH_SPLICE_STALL_BYTES: sockhopd resets the pair */
	SH_SPLICE_OVERLAP,	/* a retransmission's old head too long to cut: sockhopd resets */
};

/* A record of splice_bulk: this socket wants the relay, and why. */
struct sh_splice_bulk {
	__u64 cookie;		/* the socket's cookie (a reused slot has another) */
	__u32 slot;		/* its splice_socks slot */
	__u32 why;		/* enum sh_splice_why */
};
_Static_assert(sizeof(struct sh_splice_bulk) == 16, "sh_splice_bulk ABI");

/* Per-CPU counters of the splice verdict; user space sums over CPUs. */
struct sh_splice_stats {
	__u64 skbs_redirected;
	__u64 bytes_redirected;
	__u64 skbs_passed;	/* before "go": user space forwards them */
	__u64 bytes_passed;
	__u64 no_ctl;		/* skb of a socket with no splice_flow entry */
	__u64 redirect_fail;	/* peer no longer in splice_socks: skb dropped */
	__u64 empty_skbs;	/* zero-length skbs (a FIN): dropped, see the verdict */
	__u64 bulk_told;	/* records written to splice_bulk */
	__u64 skbs_held;	/* passed up under splice_hold: the relay carries them */
	__u64 bytes_held;
	__u64 bulk_lost;	/* splice_bulk was full: tried again at the next skb */
	__u64 behind;		/* sockets held as their peer's reader fell behind */
	__u64 queued_told;	/* SH_SPLICE_QUEUED records written */
	__u64 stalled;		/* SH_SPLICE_STALLED records written */
	__u64 old_skbs;		/* skbs that began before bytes already seen (retransmissions) */
	__u64 old_bytes;	/* those old bytes, cut (never sent or passed up twice) */
	__u64 overlap_reset;	/* old heads too long to cut: skb dropped, SH_SPLICE_OVERLAP */
};
_Static_assert(sizeof(struct sh_splice_stats) == 136, "sh_splice_stats ABI");

/*
 * Key building, shared so that user space (tests, the CLI) builds exactly
 * the keys the programs build. ip4 is in network order; ip6 are four
 * network-order words as the BPF context exposes them.
 */
static inline void sh_addr_from_ip4(__u32 out[4], __u32 ip4)
{
	out[0] = 0;
	out[1] = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	out[2] = 0xffff0000;	/* the bytes 00 00 ff ff */
#else
	out[2] = 0x0000ffff;
#endif
	out[3] = ip4;
}

static inline void sh_addr_from_ip6(__u32 out[4], const __u32 in[4])
{
	out[0] = in[0];
	out[1] = in[1];
	out[2] = in[2];
	out[3] = in[3];
}

/* SplitMix64's finaliser: cheap and well distributed. Maglev's table
 * building (user space) and the connect-time slot choice (BPF) use it. */
static inline __u64 sh_mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Builds the key of the flow seen from the peer's side: swap the ends. */
static inline void sh_sock_key_peer(const struct sh_sock_key *k, struct sh_sock_key *peer)
{
	peer->netns_cookie = k->netns_cookie;
	sh_addr_from_ip6(peer->local_ip, k->remote_ip);
	sh_addr_from_ip6(peer->remote_ip, k->local_ip);
	peer->local_port = k->remote_port;
	peer->remote_port = k->local_port;
	peer->pad = 0;
}

/* Is <r> of a kind in <kinds>, for <proto> and destination port <port>? */
static inline int sh_rule_matches(const struct sh_rule *r, __u32 kinds, __u8 proto, __u16 port)
{
	if (!(kinds & SH_KIND(r->action & 31)))
		return 0;
	if (r->proto != SH_PROTO_ANY && r->proto != proto)
		return 0;
	return port >= r->port_lo && port <= r->port_hi;
}

/*
 * Index of the first rule of <rs>, from <from> on, whose action is one of
 * <kinds> (SH_KIND bits) and that matches <proto> and port <port>; -1 when
 * none does. The loop is bounded by SH_MAX_RULES for the verifier.
 */
static inline int sh_rule_find(const struct sh_rule_set *rs, __u32 from, __u32 kinds,
			       __u8 proto, __u16 port)
{
	__u32 i;

	for (i = 0; i < SH_MAX_RULES; i++) {
		if (i >= rs->count)
			break;
		if (i >= from && sh_rule_matches(&rs->rules[i], kinds, proto, port))
			return (int)i;
	}
	return -1;
}

/* The first rule of <rs> of a kind in <kinds> matching <proto>/<port>. */
static inline const struct sh_rule *sh_rule_match(const struct sh_rule_set *rs, __u32 kinds,
						  __u8 proto, __u16 port)
{
	int i = sh_rule_find(rs, 0, kinds, proto, port);

	if (i < 0 || i >= SH_MAX_RULES)
		return 0;
	return &rs->rules[i];
}

#endif /* SOCKHOP_H */
