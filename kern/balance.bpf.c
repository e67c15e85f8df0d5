// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * balance.bpf.c - connect-time load balancing.
 *
 * A process in a scope whose rules say `balance SERVICE` connects (or, for
 * UDP, sends) to one of the service's virtual addresses: connect4/6 and
 * sendmsg4/6 rewrite the destination to a backend chosen from the
 * service's Maglev table, inside the system call, so no proxy hop ever
 * exists. getpeername4/6 and recvmsg4/6 translate the backend back into
 * the virtual address, so the application sees only what it asked for.
 *
 * The Maglev table of a service is an inner map of vip_tables; the daemon
 * builds a new one and swaps it in with one update, so a connect reads a
 * whole old table or a whole new one, never a partial one.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.bpf.h"

#define AF_INET		2
#define AF_INET6	10
#define SOCK_STREAM	1
#define SOCK_DGRAM	2
#define ECONNREFUSED	111
#define TCP_SYN_SENT	2	/* enum tcp_state values (BPF_TCP_*) */
#define TCP_CLOSE	7

/* Virtual address -> its service id; present while the service exists. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SH_MAX_VIPS);
	__type(key, struct sh_vip_key);
	__type(value, struct sh_vip);
} vip_services SEC(".maps");

/*
 * One service's Maglev lookup table: slot -> backend id (SH_BACKEND_NONE
 * when no backend is healthy). Mmapable so the daemon fills a new table
 * with one memcpy. Sizes, not BTF types (see rule_trie in maps.bpf.h).
 */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SH_MAGLEV_SLOTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
};

/* Virtual address -> the service's current Maglev table; swapped whole. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, SH_MAX_VIPS);
	__type(key, struct sh_vip_key);
	__array(values, struct maglev_table);
} vip_tables SEC(".maps");

/* Backend id -> address, port and service. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SH_MAX_BACKEND_IDS);
	__type(key, __u32);
	__type(value, struct sh_backend);
} backends SEC(".maps");

/* (socket cookie, backend) -> the virtual address it stands for. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SH_MAX_RNAT);
	__type(key, struct sh_rnat_key);
	__type(value, struct sh_rnat);
} rnat SEC(".maps");


/* Per-CPU counters per service id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SH_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sh_vip_stats);
} vip_stats SEC(".maps");

/* Per-CPU counters per backend id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SH_MAX_BACKEND_IDS);
	__type(key, __u32);
	__type(value, struct sh_backend_stats);
} backend_stats SEC(".maps");

#define COUNT(map, idx, type, field)					\
	do {								\
		__u32 __k = (idx);					\
		type *__s = bpf_map_lookup_elem(&(map), &__k);		\
		if (__s)						\
			__sync_fetch_and_add(&__s->field, 1);		\
	} while (0)


/* The sock_addr context's destination in IPv6 form (v4 as v4-mapped). */
static __always_inline void ctx_addr(struct bpf_sock_addr *ctx, int v6, __u32 out[4])
{
	if (v6) {
		out[0] = ctx->user_ip6[0];
		out[1] = ctx->user_ip6[1];
		out[2] = ctx->user_ip6[2];
		out[3] = ctx->user_ip6[3];
	} else {
		sh_addr_from_ip4(out, ctx->user_ip4);
	}
}

static __always_inline int is_v4_mapped(const __u32 a[4])
{
	__u32 m[4];

	sh_addr_from_ip4(m, 0);
	return a[0] == 0 && a[1] == 0 && a[2] == m[2];
}

/*
 * Gives a connect or send to a virtual address a backend. Returns 1 to let
 * the call proceed (rewritten, or untouched when the destination is no
 * virtual address of this scope), 0 with ECONNREFUSED when the service has
 * no healthy backend.
 */
static __always_inline int balance(struct bpf_sock_addr *ctx, int v6)
{
	struct sh_vip_key key = {};
	struct sh_rnat_key rk = {};
	struct sh_rnat rv = {};
	const struct sh_rule *rule;
	struct sh_backend *be;
	struct sh_vip *vip;
	__u32 idx, svc_id, id, *slot_val;
	__u64 cookie;
	void *table;
	int slot;

	if (ctx->type == SOCK_STREAM)
		key.proto = SH_PROTO_TCP;
	else if (ctx->type == SOCK_DGRAM)
		key.proto = SH_PROTO_UDP;
	else
		return 1;
	ctx_addr(ctx, v6, key.addr);
	key.port = bpf_ntohs((__u16)ctx->user_port);
	vip = bpf_map_lookup_elem(&vip_services, &key);
	if (!vip)
		return 1;	/* the common case: not a virtual address */
	svc_id = vip->svc_id;

	slot = current_scope_slot(0);
	rule = slot < 0 ? 0 : scope_rule((__u32)slot, SH_KIND(SH_ACT_BALANCE), key.addr,
					 key.port, key.proto);
	if (!rule || rule->arg != svc_id) {
		COUNT(vip_stats, svc_id, struct sh_vip_stats, not_allowed);
		return 1;
	}

	cookie = bpf_get_socket_cookie(ctx);
	idx = (__u32)(sh_mix64(cookie) % SH_MAGLEV_SLOTS);	/* spread cookies */
	id = SH_BACKEND_NONE;
	table = bpf_map_lookup_elem(&vip_tables, &key);
	if (table) {
		slot_val = bpf_map_lookup_elem(table, &idx);
		if (slot_val)
			id = *slot_val;
	}
	be = id == SH_BACKEND_NONE ? 0 : bpf_map_lookup_elem(&backends, &id);
	/* A v4 socket can only be sent to a v4 backend (the config keeps a
	 * service's backends in its virtual address's family). */
	if (!be || !be->family || (!v6 && !is_v4_mapped(be->addr))) {
		COUNT(vip_stats, svc_id, struct sh_vip_stats, no_backend);
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}

	/* Remember the virtual address before rewriting: replies and
	 * getpeername() translate back through it. */
	rk.cookie = cookie;
	__builtin_memcpy(rk.addr, be->addr, 16);
	rk.port = be->port;
	__builtin_memcpy(rv.addr, key.addr, 16);
	rv.port = key.port;
	rv.backend_id = id;
	bpf_map_update_elem(&rnat, &rk, &rv, BPF_ANY);

	if (v6) {
		ctx->user_ip6[0] = be->addr[0];
		ctx->user_ip6[1] = be->addr[1];
		ctx->user_ip6[2] = be->addr[2];
		ctx->user_ip6[3] = be->addr[3];
	} else {
		ctx->user_ip4 = be->addr[3];
	}
	ctx->user_port = (__u32)bpf_htons(be->port);

	COUNT(vip_stats, svc_id, struct sh_vip_stats, balanced);
	COUNT(backend_stats, id, struct sh_backend_stats, balanced);
	return 1;
}

/* Shows the virtual address in place of the backend (getpeername, recvmsg). */
static __always_inline int translate_back(struct bpf_sock_addr *ctx, int v6)
{
	struct sh_rnat_key rk = {};
	struct sh_rnat *rv;

	rk.cookie = bpf_get_socket_cookie(ctx);
	ctx_addr(ctx, v6, rk.addr);
	rk.port = bpf_ntohs((__u16)ctx->user_port);
	rv = bpf_map_lookup_elem(&rnat, &rk);
	if (!rv)
		return 1;
	if (v6) {
		ctx->user_ip6[0] = rv->addr[0];
		ctx->user_ip6[1] = rv->addr[1];
		ctx->user_ip6[2] = rv->addr[2];
		ctx->user_ip6[3] = rv->addr[3];
	} else {
		ctx->user_ip4 = rv->addr[3];
	}
	ctx->user_port = (__u32)bpf_htons(rv->port);
	return 1;
}

/* TCP and UDP connect() to a virtual IPv4 address. */
SEC("cgroup/connect4")
int balance_connect4(struct bpf_sock_addr *ctx)
{
	return balance(ctx, 0);
}

/* connect() to a virtual IPv6 (or v4-mapped) address. */
SEC("cgroup/connect6")
int balance_connect6(struct bpf_sock_addr *ctx)
{
	return balance(ctx, 1);
}

/* Unconnected UDP sends to a virtual IPv4 address. */
SEC("cgroup/sendmsg4")
int balance_sendmsg4(struct bpf_sock_addr *ctx)
{
	return balance(ctx, 0);
}

/* Unconnected UDP sends to a virtual IPv6 address. */
SEC("cgroup/sendmsg6")
int balance_sendmsg6(struct bpf_sock_addr *ctx)
{
	return balance(ctx, 1);
}

/* UDP replies from a backend appear to come from the virtual address. */
SEC("cgroup/recvmsg4")
int balance_recvmsg4(struct bpf_sock_addr *ctx)
{
	return translate_back(ctx, 0);
}

/* Same, IPv6. */
SEC("cgroup/recvmsg6")
int balance_recvmsg6(struct bpf_sock_addr *ctx)
{
	return translate_back(ctx, 1);
}

/* getpeername() of a balanced socket returns the virtual address. */
SEC("cgroup/getpeername4")
int balance_getpeername4(struct bpf_sock_addr *ctx)
{
	return translate_back(ctx, 0);
}

/* Same, IPv6. */
SEC("cgroup/getpeername6")
int balance_getpeername6(struct bpf_sock_addr *ctx)
{
	return translate_back(ctx, 1);
}

/* The rnat entry of a balanced socket, found from sockops: its cookie and
 * its peer (the backend). NULL for every other socket. Every context field
 * is read unconditionally (see KEY_FROM_CTX in accel.bpf.c). */
static __always_inline struct sh_rnat *rnat_of(struct bpf_sock_ops *skops)
{
	__u32 r4 = *(volatile __u32 *)&skops->remote_ip4, r6[4];
	struct sh_rnat_key rk = {};

	r6[0] = *(volatile __u32 *)&skops->remote_ip6[0];
	r6[1] = *(volatile __u32 *)&skops->remote_ip6[1];
	r6[2] = *(volatile __u32 *)&skops->remote_ip6[2];
	r6[3] = *(volatile __u32 *)&skops->remote_ip6[3];
	if (skops->family == AF_INET)
		sh_addr_from_ip4(rk.addr, r4);
	else
		sh_addr_from_ip6(rk.addr, r6);
	rk.port = (__u16)bpf_ntohl(skops->remote_port);
	rk.cookie = bpf_get_socket_cookie(skops);
	return bpf_map_lookup_elem(&rnat, &rk);
}

/* Counts how balanced TCP connects end: established, or closed in SYN_SENT
 * (refused, timed out, reset) - what a backend's failure counter means.
 * The state callback is on only between connect and the outcome. */
SEC("sockops")
int balance_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	struct sh_rnat *rv;

	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_STATE_CB)
		return 1;
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	if (op == BPF_SOCK_OPS_STATE_CB &&
	    (skops->args[0] != TCP_SYN_SENT || skops->args[1] != TCP_CLOSE))
		return 1;
	rv = rnat_of(skops);
	if (!rv)
		return 1;	/* not a balanced socket */
	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		COUNT(backend_stats, rv->backend_id, struct sh_backend_stats, established);
		/* the outcome is known: no callback for the states still to come */
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags &
					  ~BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		COUNT(backend_stats, rv->backend_id, struct sh_backend_stats, failed);
		break;
	}
	return 1;
}

char _license[] SEC("license") = "Dual BSD/GPL";
