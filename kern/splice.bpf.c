// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * splice.bpf.c - the proxy's kernel data path. sockhopd puts the client
 * and backend sockets of a proxied connection into splice_socks; for each
 * skb that arrives on one of them the verdict below sends it out of the
 * other, so no payload byte enters user space. FIN and RST are not carried
 * by a redirect: sockhopd watches both sockets for them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kernel_types.bpf.h"
#include "retrans.bpf.h"
#include "sockhop.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* splice_socks: the proxied sockets, in slot pairs (client 2k, backend 2k+1). */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2 * SH_MAX_CONNS);
	__type(key, __u32);
	__type(value, __u64);
} splice_socks SEC(".maps");

/* splice_flow: cookie -> peer slot and the verdict's per-socket state. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SH_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct sh_splice_flow);
} splice_flow SEC(".maps");

/* splice_handed: cookie -> bytes user space forwarded itself (rare: only
 * bytes passed up before "go"); no entry is 0. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SH_MAX_CONNS);
	__type(key, __u64);
	__type(value, __u64);
} splice_handed SEC(".maps");

/* splice_hold: pair index -> 1 once sockhopd takes the pair back to the
 * relay (only user space writes it; 0 while the pair is spliced). A slot
 * outlives its pair, so the verdict's own hold is per socket (flow->behind). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SH_MAX_CONNS);
	__type(key, __u32);
	__type(value, __u32);
} splice_hold SEC(".maps");

/* splice_bulk: sockets that want the relay: they carried their bulk_bytes
 * in one window, or their peer's reader fell behind (enum sh_splice_why). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} splice_bulk SEC(".maps");

/* splice_stats: per-CPU totals of what the verdict did. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sh_splice_stats);
} splice_stats SEC(".maps");

static int tell(struct sh_splice_stats *st, __u64 cookie, __u32 slot, __u32 why)
{
	struct sh_splice_bulk rec = { .cookie = cookie, .slot = slot, .why = why };

	if (bpf_ringbuf_output(&splice_bulk, &rec, sizeof(rec), 0)) {
		st->bulk_lost++;
		return -1;
	}
	return 0;
}

/* Tells sockhopd, once a window, that this socket carries bulk: with
 * the daemon on another CPU the relay moves it faster (proxy/README.md). */
static void bulk_window(struct sh_splice_flow *flow, struct sh_splice_stats *st,
			__u64 cookie, __u32 len, __u64 now)
{
	if (now - flow->win_ns > SH_SPLICE_BULK_WINDOW_NS) {
		flow->win_ns = now;
		flow->win_bytes = 0;
		flow->told = 0;
	}
	flow->win_bytes += len;
	if (flow->told || flow->win_bytes < flow->bulk_bytes)
		return;
	if (tell(st, cookie, flow->peer_slot ^ 1, SH_SPLICE_BULK))
		return;
	flow->told = 1;
	st->bulk_told++;
}

enum slot_seq { WRITE_SEQ, COPIED_SEQ };

/* TCP's write_seq or copied_seq of the socket in splice_socks slot @slot.
 * 0 or -1 (gone). */
static int slot_seq(__u32 slot, enum slot_seq which, __u32 *seq)
{
	struct bpf_sock *sk = bpf_map_lookup_elem(&splice_socks, &slot);
	struct tcp_sock *tp;
	int err = -1;

	if (!sk)
		return -1;
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		*seq = which == WRITE_SEQ ? tp->write_seq : tp->copied_seq;
		err = 0;
	}
	bpf_sk_release(sk);
	return err;
}

/*
 * Has the peer's reader fallen behind? What was redirected and is not yet
 * in the peer's socket waits in its psock, outside any socket's accounting
 * (sockhop.h, "Flow control"). Past SH_SPLICE_BEHIND_BYTES this socket is
 * held from this skb on, once sockhopd is told; unable to tell, it goes on
 * and asks again at the next skb.
 */
static int peer_behind(struct sh_splice_flow *flow, struct sh_splice_stats *st, __u64 cookie)
{
	__u32 seq;

	if (slot_seq(flow->peer_slot, WRITE_SEQ, &seq) ||
	    (__u32)flow->bytes - (seq - flow->peer_seq0) <= SH_SPLICE_BEHIND_BYTES)
		return 0;
	if (tell(st, cookie, flow->peer_slot ^ 1, SH_SPLICE_BEHIND))
		return 0;
	flow->behind = 1;
	st->behind++;
	return 1;
}

/* The peer socket's splice_flow entry, or NULL (its pair is going away). */
static struct sh_splice_flow *peer_flow(const struct sh_splice_flow *flow)
{
	__u64 key = flow->peer_cookie;

	return bpf_map_lookup_elem(&splice_flow, &key);
}

/*
 * The bytes @peer redirected that are not yet in this socket (its own slot
 * is peer_slot ^ 1): they wait in this socket's psock queue, ahead of
 * anything passed up now (sockhop.h, "Both ways"). <= 0: the egress is clear.
 */
static __s32 egress_queued(const struct sh_splice_flow *flow, const struct sh_splice_flow *peer)
{
	__u32 seq;

	if (!peer || !peer->go || slot_seq(flow->peer_slot ^ 1, WRITE_SEQ, &seq))
		return 0;
	return (__s32)((__u32)peer->bytes - (seq - peer->peer_seq0));
}

/*
 * Passes a held socket's skb up to sockhopd's relay. Behind bytes its peer
 * redirected to this socket's egress, the skb waits charged to no socket
 * (sockhop.h, "Both ways"): past each SH_SPLICE_QUEUED_BYTES passed up so,
 * sockhopd is told to make room for them in this socket's send buffer;
 * past SH_SPLICE_STALL_BYTES it resets the pair, the bound of last resort.
 */
static int pass_held(struct sh_splice_flow *flow, struct sh_splice_stats *st, __u64 cookie,
		     __u32 len, int pair_held)
{
	struct sh_splice_flow *peer;
	__u32 why;

	flow->held += len;
	flow->last_ns = bpf_ktime_get_ns();
	st->skbs_held++;
	st->bytes_held += len;
	if (flow->egress_done)
		return SK_PASS;
	peer = peer_flow(flow);
	if (egress_queued(flow, peer) <= 0) {
		flow->stall = 0;
		flow->stall_told = 0;
		/* the peer passes up too: nothing is redirected to this
		 * socket again, and once the relay writes to it, write_seq
		 * runs past the peer's frozen "bytes" (the difference would
		 * wrap after 2 GiB) */
		if (pair_held || (peer && peer->behind))
			flow->egress_done = 1;
		return SK_PASS;
	}
	flow->stall += len;
	if (flow->stall > SH_SPLICE_STALL_BYTES)
		why = SH_SPLICE_STALLED;
	else if (flow->stall > (flow->stall_told + 1) * SH_SPLICE_QUEUED_BYTES)
		why = SH_SPLICE_QUEUED;
	else
		return SK_PASS;
	if (flow->stall_told == SH_SPLICE_TOLD_STALLED ||
	    tell(st, cookie, flow->peer_slot ^ 1, why))
		return SK_PASS;
	if (why == SH_SPLICE_STALLED) {
		flow->stall_told = SH_SPLICE_TOLD_STALLED;
		st->stalled++;
	} else {
		flow->stall_told++;
		st->queued_told++;
	}
	return SK_PASS;
}

/* Sends each skb to the peer socket's egress, or passes it up to user
 * space while the hand-off of earlier bytes is not complete or once the
 * pair is held for the relay. */
/* Plain "sk_skb": libbpf 1.1 has no section for BPF_SK_SKB_VERDICT; the
 * daemon attaches it with that type (verdict only, no stream parser). */
SEC("sk_skb")
int splice_verdict(struct __sk_buff *skb)
{
	struct sh_splice_stats *st;
	struct sh_splice_flow *flow;
	__u32 zero = 0, len = skb->len, pair, *hold, first = 0, cut;
	int cut_len;
	__u64 cookie, *handed, now;

	st = bpf_map_lookup_elem(&splice_stats, &zero);
	if (!st)
		return SK_PASS;
	/* The skb of a bare FIN reaches the verdict with no payload. Sent on,
	 * the peer's psock worker would fail it with EPIPE and break that
	 * socket; the FIN itself is already recorded on this socket (EOF),
	 * which sockhopd passes on with shutdown() once the bytes are across. */
	if (!len) {
		st->empty_skbs++;
		return SK_DROP;
	}
	cookie = bpf_get_socket_cookie(skb);
	flow = bpf_map_lookup_elem(&splice_flow, &cookie);
	if (!flow) {
		st->no_ctl++;
		return SK_PASS;	/* never drop what we cannot place */
	}
	/* everything before the first skb was read by user space */
	if (!flow->rcv.known && slot_seq(flow->peer_slot ^ 1, COPIED_SEQ, &first))
		cut_len = sh_cut_retransmitted(skb, &flow->rcv, NULL, &cut);
	else
		cut_len = sh_cut_retransmitted(skb, &flow->rcv, &first, &cut);
	if (cut) {
		st->old_skbs++;
		st->old_bytes += cut;
	}
	if (cut_len < 0) {
		st->overlap_reset++;
		tell(st, cookie, flow->peer_slot ^ 1, SH_SPLICE_OVERLAP);
	}
	if (cut_len <= 0)
		return SK_DROP;	/* only bytes already sent on or passed up */
	len = (__u32)cut_len;
	/* Held, the pair by sockhopd or this socket by its peer's slow reader:
	 * sockhopd relays it now, and reads these skbs once what was
	 * redirected before is in the peer's socket. */
	pair = flow->peer_slot >> 1;
	hold = bpf_map_lookup_elem(&splice_hold, &pair);
	if ((hold && *hold) || flow->behind || (flow->go && peer_behind(flow, st, cookie)))
		return pass_held(flow, st, cookie, len, hold && *hold);
	if (!flow->go) {
		/* Redirect only once user space has handed every passed byte
		 * over and the peer is in the map; a failed redirect sets
		 * nothing, so the skb can still be passed up. */
		handed = bpf_map_lookup_elem(&splice_handed, &cookie);
		if (flow->passed != (handed ? *handed : 0) ||
		    slot_seq(flow->peer_slot, WRITE_SEQ, &flow->peer_seq0) ||
		    bpf_sk_redirect_map(skb, &splice_socks, flow->peer_slot, 0) != SK_PASS) {
			flow->passed += len;
			st->skbs_passed++;
			st->bytes_passed += len;
			return SK_PASS;
		}
		flow->go = 1;
	} else if (bpf_sk_redirect_map(skb, &splice_socks, flow->peer_slot, 0) != SK_PASS) {
		st->redirect_fail++;
		return SK_DROP;	/* the peer is gone: its connection is being reset */
	}
	now = bpf_ktime_get_ns();
	flow->bytes += len;
	flow->last_ns = now;
	if (flow->bulk_bytes)
		bulk_window(flow, st, cookie, len, now);
	st->skbs_redirected++;
	st->bytes_redirected += len;
	return SK_PASS;
}
