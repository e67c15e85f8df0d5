// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * accel.bpf.c - local service-mesh acceleration.
 *
 * A socket learns its scope where it is created (cgroup/sock_create, in the
 * creating task's context), because the passive side's ESTABLISHED callback
 * runs in softirq where "the current cgroup" is whatever task was
 * interrupted. sockops then puts established sockets whose scope has an
 * accelerate rule for the flow into sock_hash, and sk_msg hands every send
 * of such a socket straight to its peer's receive queue.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "kernel_types.bpf.h"
#include "retrans.bpf.h"
#include "sockhop.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define SOCK_DGRAM	2
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define SOL_SOCKET	1
#define SO_RCVBUF	8
#define SOL_TCP		6
#define TCP_NOTSENT_LOWAT	25
#define TCP_ESTABLISHED		1	/* include/net/tcp_states.h */
#define TCP_FIN_WAIT1		4
#ifndef SH_HELD_NOTSENT_LOWAT
#define SH_HELD_NOTSENT_LOWAT	(64 << 10)
#endif

/* Established sockets of accelerated flows, keyed by netns cookie + tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SH_MAX_SOCKETS);
	__type(key, struct sh_sock_key);
	__type(value, __u64);
} sock_hash SEC(".maps");

#include "maps.bpf.h"

/* Each accelerated socket's kernel address and cookie, by its key: how a
 * sender's sk_msg reads its peer's receive queue. LRU, so the entries of
 * closed sockets age out; a stale one fails the cookie check. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SH_MAX_SOCKETS);
	__type(key, struct sh_sock_key);
	__type(value, struct sh_sock_ref);
} sock_peers SEC(".maps");

/* Peers of sockets closed with redirected bytes unread (sh_abort), for the
 * daemon to abort as TCP's reset would. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} closed_unread SEC(".maps");

/* Socket cookie -> where the sk_skb verdict is in that socket's received
 * stream (retransmissions, kern/retrans.bpf.h). LRU: entries of closed
 * sockets age out; an evicted live one starts again at its next skb. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SH_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, struct sh_rcv_seq);
} rcv_seqs SEC(".maps");

/* Per scope slot: the flow control's bound (accelerate-buffer). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SH_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct sh_accel_cfg);
} accel_cfg SEC(".maps");


/* Per-CPU counters, one struct per scope slot plus the global slot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SH_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct sh_stats);
} stats SEC(".maps");

/* Layout version and daemon state of this pin directory (user space only). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sh_meta);
} meta SEC(".maps");

static __always_inline struct sh_stats *stats_of(__u32 slot)
{
	return bpf_map_lookup_elem(&stats, &slot);
}

/* Adds <n> to <field> of the counters <st> (which may be NULL). */
#define COUNT(st, field, n)						\
	do {								\
		struct sh_stats *__st = (st);				\
		if (__st)						\
			__sync_fetch_and_add(&__st->field, (n));	\
	} while (0)

static __always_inline int insert_err_index(long err)
{
	switch (err) {
	case -17: return SH_ERR_EEXIST;
	case -12: return SH_ERR_ENOMEM;
	case -7: return SH_ERR_E2BIG;
	case -95: return SH_ERR_EOPNOTSUPP;
	case -22: return SH_ERR_EINVAL;
	case -16: return SH_ERR_EBUSY;
	default: return SH_ERR_OTHER;
	}
}

/* Tags TCP and UDP sockets created inside a scope with that scope, deepest
 * first: sockops (TCP) and tc ingress (both) read the tag. */
SEC("cgroup/sock_create")
int sock_create_tag(struct bpf_sock *sk)
{
	struct sh_sk_scope *tag;
	__u64 cgid = 0;
	int slot;

	if (sk->family != AF_INET && sk->family != AF_INET6)
		return 1;
	if (!(sk->type == SOCK_STREAM && (!sk->protocol || sk->protocol == IPPROTO_TCP)) &&
	    !(sk->type == SOCK_DGRAM && (!sk->protocol || sk->protocol == IPPROTO_UDP)))
		return 1;
	slot = current_scope_slot(&cgid);
	if (slot < 0)
		return 1;

	tag = bpf_sk_storage_get(&sk_scope, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!tag)
		return 1;	/* no memory: the socket simply is not accelerated */
	tag->cgroup_id = cgid;
	tag->slot = (__u32)slot;
	tag->owner_tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	COUNT(stats_of((__u32)slot), scoped_sockets, 1);
	return 1;
}

/* A load the compiler may neither drop, merge nor move into a branch. */
#define CTX_LOAD(field) (*(volatile __u32 *)&(field))

/*
 * Fills <key> from the context's address fields. Every field is read
 * unconditionally, one load each: when a load sits in both arms of a
 * family branch, clang merges them into one load through a computed
 * pointer, which the verifier refuses for context pointers.
 */
#define KEY_FROM_CTX(ctx, key)						\
	do {								\
		__u32 l4 = CTX_LOAD((ctx)->local_ip4);			\
		__u32 r4 = CTX_LOAD((ctx)->remote_ip4);			\
		__u32 l6[4], r6[4];					\
									\
		l6[0] = CTX_LOAD((ctx)->local_ip6[0]);			\
		l6[1] = CTX_LOAD((ctx)->local_ip6[1]);			\
		l6[2] = CTX_LOAD((ctx)->local_ip6[2]);			\
		l6[3] = CTX_LOAD((ctx)->local_ip6[3]);			\
		r6[0] = CTX_LOAD((ctx)->remote_ip6[0]);			\
		r6[1] = CTX_LOAD((ctx)->remote_ip6[1]);			\
		r6[2] = CTX_LOAD((ctx)->remote_ip6[2]);			\
		r6[3] = CTX_LOAD((ctx)->remote_ip6[3]);			\
		if ((ctx)->family == AF_INET) {				\
			sh_addr_from_ip4((key)->local_ip, l4);		\
			sh_addr_from_ip4((key)->remote_ip, r4);		\
		} else {						\
			sh_addr_from_ip6((key)->local_ip, l6);		\
			sh_addr_from_ip6((key)->remote_ip, r6);		\
		}							\
		(key)->local_port = (__u16)(ctx)->local_port;		\
		(key)->remote_port = (__u16)bpf_ntohl((ctx)->remote_port); \
		(key)->pad = 0;						\
		(key)->netns_cookie = bpf_get_netns_cookie(ctx);	\
	} while (0)

static __always_inline __u32 accel_buffer(__u32 slot)
{
	struct sh_accel_cfg *c = bpf_map_lookup_elem(&accel_cfg, &slot);

	return c && c->buffer ? c->buffer : SH_ACCEL_BUFFER_DEFAULT;
}

/* The action of <slot>'s rules for a TCP flow to <addr>:<port>. */
static __always_inline int scope_action(__u32 slot, const __u32 addr[4], __u16 port)
{
	const struct sh_rule *rule = scope_rule(slot, SH_KINDS_ACCEL, addr, port, SH_PROTO_TCP);

	return rule ? rule->action : SH_ACT_NONE;
}

/*
 * An accelerated socket's state changed. When close() took it from
 * ESTABLISHED with bytes still unread, plain TCP would have reset the
 * connection (tcp_close: data_was_unread). Bytes redirected to it sit in the
 * socket map's queue, which the close does not look at, so a FIN went out
 * instead; a peer held back on TCP then waits on a window that never opens.
 * The socket map's queue is freed later (after an RCU grace period), so the
 * receive memory still counts those bytes here. The daemon is told which
 * peer to abort.
 */
static __always_inline int closed_with_unread(struct bpf_sock_ops *skops)
{
	struct sh_sock_key key = {}, peer = {};
	struct tcp_sock *tp;
	struct sh_sock_ref *ref;
	struct sh_sk_scope *tag;
	struct sh_abort *ev;
	struct sock *me, *psk;
	struct sh_stats *st;
	__u32 slot = SH_SLOT_GLOBAL;
	struct bpf_sock *sk;
	int unread;

	if (skops->args[0] != TCP_ESTABLISHED || skops->args[1] != TCP_FIN_WAIT1)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return 1;
	me = (struct sock *)tp;
	/* close() shuts both ways at once; shutdown(SHUT_WR) only the one */
	if (BPF_CORE_READ(me, sk_shutdown) != SH_SHUTDOWN_MASK)
		return 1;
	unread = BPF_CORE_READ(me, sk_backlog.rmem_alloc.counter);
	if (unread <= 0)
		return 1;
	tag = bpf_sk_storage_get(&sk_scope, sk, 0, 0);
	if (tag && tag->slot < SH_MAX_SCOPES)
		slot = tag->slot;
	st = stats_of(slot);
	COUNT(st, closed_unread, 1);

	KEY_FROM_CTX(skops, &key);
	sh_sock_key_peer(&key, &peer);
	ref = bpf_map_lookup_elem(&sock_peers, &peer);
	if (!ref)
		return 1;
	psk = (struct sock *)(unsigned long)ref->sk;
	if ((__u64)BPF_CORE_READ(psk, __sk_common.skc_cookie.counter) != ref->cookie)
		return 1;	/* the peer is gone already */
	ev = bpf_ringbuf_reserve(&closed_unread, sizeof(*ev), 0);
	if (!ev) {
		COUNT(st, abort_lost, 1);
		return 1;
	}
	ev->peer = peer;
	ev->peer_cookie = ref->cookie;
	ev->unread = (__u32)unread;
	ev->peer_tgid = ref->owner_tgid;
	ev->peer_family = BPF_CORE_READ(psk, __sk_common.skc_family);
	ev->pad = 0;
	ev->slot = slot;
	bpf_ringbuf_submit(ev, 0);
	return 1;
}

/* Puts established sockets of accelerated flows into sock_hash. */
SEC("sockops")
int sockops_accel(struct bpf_sock_ops *skops)
{
	struct sh_sock_ref ref = {};
	int lowat;
	struct sh_sock_key key = {};
	struct sh_sk_scope *tag;
	struct sh_scope *scope;
	struct sh_stats *st;
	struct bpf_sock *sk;
	__u32 op = skops->op;
	int passive, action;
	long err;

	if (op == BPF_SOCK_OPS_STATE_CB)
		return closed_with_unread(skops);
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	tag = bpf_sk_storage_get(&sk_scope, sk, 0, 0);
	if (!tag)
		return 1;	/* created outside every scope, or before we ran */
	scope = bpf_map_lookup_elem(&scopes, &tag->cgroup_id);
	if (!scope)
		return 1;	/* its scope left the config */
	tag->slot = scope->slot;
	st = stats_of(scope->slot);

	KEY_FROM_CTX(skops, &key);
	/* The rule's destination is the service side: remote when we
	 * connected, local when we accepted. */
	passive = op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB;
	action = scope_action(scope->slot, passive ? key.local_ip : key.remote_ip,
			      passive ? key.local_port : key.remote_port);
	if (action == SH_ACT_NO_ACCELERATE) {
		COUNT(st, excluded, 1);
		return 1;
	}
	if (action != SH_ACT_ACCELERATE) {
		COUNT(st, not_matched, 1);
		return 1;
	}

	err = bpf_sock_hash_update(skops, &sock_hash, &key, BPF_NOEXIST);
	if (err) {
		int idx = insert_err_index(err);

		COUNT(st, insert_fail, 1);
		if (st && idx >= 0 && idx < SH_ERR_NR)
			__sync_fetch_and_add(&st->insert_errno[idx], 1);
		return 1;
	}
	COUNT(st, inserts, 1);
	/* where the peer's sends will look at this socket's receive queue */
	ref.sk = (__u64)(unsigned long)sk;
	ref.cookie = bpf_get_socket_cookie(skops);
	ref.owner_tgid = tag->owner_tgid;
	bpf_map_update_elem(&sock_peers, &key, &ref, BPF_ANY);
	/* to see it closed with bytes unread (closed_with_unread) */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
	/*
	 * While its peer is held, TCP carries this socket's bytes; two bounds
	 * keep that short, so the sender blocks, the reader drains and
	 * redirecting resumes soon. As a sender: a short unsent queue
	 * (unless the application chose a low-water mark itself). As a
	 * receiver: a receive buffer of a quarter of the scope's bound, set
	 * and so locked; else TCP grows it to match the redirected bytes it
	 * is charged with, and its open window keeps the queue full.
	 */
	lowat = 0;
	if (!bpf_getsockopt(skops, SOL_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) &&
	    (lowat == 0 || lowat == -1)) {
		lowat = SH_HELD_NOTSENT_LOWAT;
		bpf_setsockopt(skops, SOL_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	}

	/* bytes it sent before now went by TCP: prove the order first */
	tag->flags = SH_SK_F_ACCEL | SH_SK_F_TCP_BEHIND;
	tag->held_since_ns = 0;
	tag->peer_cookie = 0;
	return 1;
}

/* What a sender can see of its peer (sock_peers): the peer's kernel socket,
 * the bytes its receive memory holds, and its receive buffer. */
struct peer_view {
	struct sock *sk;
	int rmem;
	int rcvbuf;
	int rcvbuf_locked;	/* the application set SO_RCVBUF */
};

/* Reads the peer <ref> names; -1 when the address no longer holds it. */
static __always_inline int peer_read(const struct sh_sock_ref *ref, struct peer_view *pv)
{
	struct sock *sk = (struct sock *)(unsigned long)ref->sk;

	if ((__u64)BPF_CORE_READ(sk, __sk_common.skc_cookie.counter) != ref->cookie)
		return -1;
	pv->sk = sk;
	pv->rmem = BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
	pv->rcvbuf = BPF_CORE_READ(sk, sk_rcvbuf);
	pv->rcvbuf_locked = BPF_CORE_READ(sk, sk_userlocks) & SH_SOCK_RCVBUF_LOCK;
	return 0;
}

/*
 * How much the peer may hold unread before <me> is held back: the scope's
 * accelerate-buffer, or less where the application sized a buffer itself
 * (SO_RCVBUF on the peer, SO_SNDBUF on the sender): plain TCP would have
 * held it back at about those. Under TCP memory pressure, nothing more than
 * what is there: TCP shrinks its windows then, and redirected bytes count
 * in the same tcp_mem.
 */
static __always_inline __u32 hold_bound(__u32 slot, struct bpf_sock *me,
					const struct peer_view *pv)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(me);
	struct sock *msk = (struct sock *)tp, *psk = pv->sk;
	unsigned long *pressure, under = 0;
	__u32 bound = accel_buffer(slot);

	if (pv->rcvbuf_locked && (__u32)pv->rcvbuf < bound)
		bound = (__u32)pv->rcvbuf;
	if (msk && (BPF_CORE_READ(msk, sk_userlocks) & SH_SOCK_SNDBUF_LOCK) &&
	    (__u32)BPF_CORE_READ(msk, sk_sndbuf) < bound)
		bound = (__u32)BPF_CORE_READ(msk, sk_sndbuf);
	pressure = BPF_CORE_READ(psk, __sk_common.skc_prot, memory_pressure);
	if (pressure && !bpf_core_read(&under, sizeof(under), pressure) && under)
		bound = 0;
	return bound;
}

/*
 * May a redirect go now without overtaking a byte <me> sent by TCP? The
 * redirect lands in the peer's ingress queue at once, under the peer's
 * lock; TCP's bytes land there when the peer's TCP receives them, under
 * the same lock, its verdict passing each skb to the same queue. So: the
 * peer's TCP has received every byte <me> queued (its rcv_nxt is our
 * write_seq: none waits in our write queue or on the way), none is left in
 * its receive queue or the psock's backlog, and there is room enough that
 * an skb being received right now cannot be sent to the backlog instead.
 */
static __always_inline int peer_in_order(struct bpf_sock *me, const struct peer_view *pv)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(me);
	struct sock *peer = pv->sk;	/* CO-RE reads start from a plain pointer */
	unsigned long psock;
	__u32 backlog = 1;

	if (!tp || BPF_CORE_READ((struct tcp_sock *)peer, rcv_nxt) != tp->write_seq)
		return 0;	/* TCP bytes not yet at the peer */
	if (BPF_CORE_READ(peer, sk_receive_queue.qlen))
		return 0;
	if (pv->rmem > pv->rcvbuf)
		return 0;
	psock = (unsigned long)BPF_CORE_READ(peer, sk_user_data) & SH_SK_USER_DATA_PTRMASK;
	if (!psock || bpf_core_read(&backlog, sizeof(backlog),
				    &((struct sk_psock *)psock)->ingress_skb.qlen))
		return 0;
	return backlog == 0;
}


/*
 * Hands each send of an accelerated socket to its peer's receive queue,
 * with TCP's flow control: a redirect charges the peer's memory but never
 * looks at its receive buffer, so a peer that does not read would take
 * without end. Once the peer holds the scope's accelerate-buffer unread,
 * the sender is held back: its sends go by TCP, whose closed window and
 * full send buffer block it as plain TCP would; it redirects again once
 * the peer has room and every byte TCP carried is in the peer's queue.
 */
SEC("sk_msg")
int sk_msg_redirect(struct sk_msg_md *msg)
{
	struct sh_sock_key key = {}, peer = {};
	struct sh_sk_scope *tag = 0;
	struct sh_sock_ref *ref, kept;
	struct peer_view pv = {};
	__u32 slot = SH_SLOT_GLOBAL;
	struct sh_stats *st;
	struct bpf_sock *sk;
	__u64 size = msg->size, now;

	KEY_FROM_CTX(msg, &key);
	sh_sock_key_peer(&key, &peer);

	sk = msg->sk;
	if (!sk)
		return SK_PASS;
	tag = bpf_sk_storage_get(&sk_scope, sk, 0, 0);
	if (tag && tag->slot < SH_MAX_SCOPES)
		slot = tag->slot;
	st = stats_of(slot);

	if (!tag)
		goto no_peer;
	/* The peer's reference is kept in our own storage after the first
	 * send: one map lookup less per message. The cookie check of
	 * peer_read() says when it no longer holds; then it is looked up anew. */
	kept.sk = tag->peer_sk;
	kept.cookie = tag->peer_cookie;
	if (!kept.cookie || peer_read(&kept, &pv)) {
		ref = bpf_map_lookup_elem(&sock_peers, &peer);
		if (!ref || peer_read(ref, &pv))
			goto no_peer;
		tag->peer_sk = ref->sk;
		tag->peer_cookie = ref->cookie;
	}

	if (tag->flags & SH_SK_F_HELD) {
		now = bpf_ktime_get_ns();
		COUNT(st, held_ns, now - tag->held_since_ns);
		tag->held_since_ns = now;
		/* Back to redirecting once every byte TCP carried is in the
		 * peer's queue and the peer is within its TCP receive buffer;
		 * the bound is checked again on the next message. Waiting for
		 * room under the bound instead would keep a busy writer on TCP
		 * for good: its TCP bytes keep the queue full. */
		if (!peer_in_order(sk, &pv)) {
			COUNT(st, msg_held, 1);
			COUNT(st, bytes_held, size);
			return SK_PASS;
		}
		tag->flags &= ~(SH_SK_F_HELD | SH_SK_F_TCP_BEHIND);
		COUNT(st, resumes, 1);
	} else if (pv.rmem > 0 && pv.rmem + size > hold_bound(slot, sk, &pv)) {
		tag->flags |= SH_SK_F_HELD | SH_SK_F_TCP_BEHIND;
		tag->held_since_ns = bpf_ktime_get_ns();
		COUNT(st, holds, 1);
		COUNT(st, msg_held, 1);
		COUNT(st, bytes_held, size);
		return SK_PASS;
	} else if (tag->flags & SH_SK_F_TCP_BEHIND) {
		/* TCP carried bytes before this one: redirect once they are
		 * all in the peer's queue, as above */
		if (!peer_in_order(sk, &pv)) {
			COUNT(st, msg_ordered, 1);
			COUNT(st, bytes_ordered, size);
			return SK_PASS;
		}
		tag->flags &= ~SH_SK_F_TCP_BEHIND;
	}

	if (bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS) == SK_PASS) {
		COUNT(st, msg_redirected, 1);
		COUNT(st, bytes_redirected, size);
		return SK_PASS;
	}
no_peer:
	/* No peer in the map: SK_DROP came back, and TCP carries it. */
	if (tag)
		tag->flags |= SH_SK_F_TCP_BEHIND;
	COUNT(st, msg_no_peer, 1);
	COUNT(st, bytes_no_peer, size);
	return SK_PASS;
}

/*
 * Passes every skb to its own socket. It is here because this kernel stops
 * FIONREAD and epoll read wakeups on sockets that sit in a socket map with
 * no verdict program (see DESIGN.md); it also keeps bytes that arrive by TCP
 * in order with redirected ones, both landing in the psock's queue.
 */
SEC("sk_skb/stream_verdict")
int skb_verdict_pass(struct __sk_buff *skb)
{
	struct sh_stats *st = stats_of(SH_SLOT_GLOBAL);
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct sh_rcv_seq fresh = {}, *rs;
	__u32 cut;
	int len;

	COUNT(st, skb_verdict, 1);
	if (!skb->len)
		return SK_PASS;	/* a bare FIN: TCP has recorded it */
	rs = bpf_map_lookup_elem(&rcv_seqs, &cookie);
	if (!rs) {
		bpf_map_update_elem(&rcv_seqs, &cookie, &fresh, BPF_NOEXIST);
		rs = bpf_map_lookup_elem(&rcv_seqs, &cookie);
		if (!rs)
			return SK_PASS;	/* unguarded, as TCP would be without us */
	}
	/* inserted when established: its first skb starts the stream */
	len = sh_cut_retransmitted(skb, rs, NULL, &cut);
	if (cut) {
		COUNT(st, old_skbs, 1);
		COUNT(st, old_bytes, cut);
	}
	if (len < 0)
		COUNT(st, old_dropped, 1);
	return len > 0 ? SK_PASS : SK_DROP;
}

/*
 * One sh_sock_view per accelerated TCP socket of the netns that reads the
 * iterator, for `sockhop sockets` (the daemon pins its link at
 * PIN_DIR/iter/sockets): what ss cannot show, since the bytes redirected to
 * a socket are not in its receive queue, and whether the flow control holds
 * it back. (An iterator over sock_hash itself is refused by this kernel.)
 */
SEC("iter/tcp")
int dump_sockets(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct sh_sock_view v = {};
	struct sh_sk_scope *tag;
	struct tcp_sock *tp;
	struct sock *sk;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);	/* full sockets only */
	if (!tp)
		return 0;
	tag = bpf_sk_storage_get(&sk_scope, tp, 0, 0);
	if (!tag || !(tag->flags & SH_SK_F_ACCEL))
		return 0;
	sk = (struct sock *)tp;
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET) {
		sh_addr_from_ip4(v.key.local_ip, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		sh_addr_from_ip4(v.key.remote_ip, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else {
		BPF_CORE_READ_INTO(&v.key.local_ip, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&v.key.remote_ip, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	}
	v.key.local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	v.key.remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	v.cookie = (__u64)BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	v.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	v.unread = (__u32)BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter);
	v.rcvbuf = (__u32)BPF_CORE_READ(sk, sk_rcvbuf);
	v.now_ns = bpf_ktime_get_ns();
	v.slot = tag->slot;
	v.flags = tag->flags;
	v.held_since_ns = tag->flags & SH_SK_F_HELD ? tag->held_since_ns : 0;
	bpf_seq_write(ctx->meta->seq, &v, sizeof(v));
	return 0;
}

char _license[] SEC("license") = "Dual BSD/GPL";
