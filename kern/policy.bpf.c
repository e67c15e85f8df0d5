// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy.bpf.c - cgroup-scoped traffic policy at tc.
 *
 * Operators attach the entry programs themselves (`tc filter add dev DEV
 * egress bpf da pinned PIN_DIR/tc/egress`); the daemon pins them only after
 * every stage slot of tc_stages is filled. An entry finds the packet's
 * scope, then the stages run through tail calls:
 *
 *   tc_egress:  scope by bpf_skb_under_cgroup over tc_cgroups, deepest
 *               scope first -> PARSE -> RULES -> ACTION
 *   tc_ingress: PARSE (which also finds the local socket the packet is for,
 *               and its scope) -> RULES -> ACTION
 *
 * The daemon replaces a stage by updating its slot: the operator's filter
 * keeps running the same entry program, which reaches the new stage on the
 * next packet. Whatever cannot be decided (no socket, an empty cgroup slot,
 * a missing stage, a truncated header) is counted by reason in tc_errors and
 * takes a configured default, never a silent pass. The stage ABI (slots and
 * skb->cb layout) is in sockhop.h.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "maps.bpf.h"

#define ENOENT		2
#define EAGAIN		11
#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100
#define ETH_P_8021AD	0x88A8
#define IPPROTO_ICMPV6	58
#define SLOT_NONE	0xffffffffu

/* Scope slot -> that scope's cgroup (the daemon stores the directory fd). */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, SH_MAX_SCOPES);
	__type(key, __u32);
	__type(value, __u32);
} tc_cgroups SEC(".maps");

/* Scope slots in the order egress tries them, deepest cgroup first;
 * SLOT_NONE ends the list. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SH_MAX_SCOPES);
	__type(key, __u32);
	__type(value, __u32);
} tc_order SEC(".maps");

/* Stage slot -> stage program (enum sh_tc_stage); pinned, so it keeps its
 * programs while the daemon is away. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SH_TC_STAGES);
	__type(key, __u32);
	__type(value, __u32);
} tc_stages SEC(".maps");

/* The generation of tc_cgroups + tc_order: the daemon bumps it after
 * filling them, which voids every tc_sk_cache entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tc_generation SEC(".maps");

/* Per socket: the slot the egress scan found, and for which generation. A
 * socket's cgroup is fixed when it is created, so the answer holds for
 * every later packet of that socket until the slots change. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sh_tc_sk_cache);
} tc_sk_cache SEC(".maps");

/* Scope slot (SH_SLOT_GLOBAL: no scope) -> its default verdict. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SH_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct sh_tc_default);
} tc_defaults SEC(".maps");

/* Packets and bytes per scope, direction and action taken. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SH_TC_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct sh_tc_count);
} tc_stats SEC(".maps");

/* Packets and bytes per scope and rule that matched them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SH_TC_RULE_SLOTS);
	__type(key, __u32);
	__type(value, struct sh_tc_count);
} tc_rule_stats SEC(".maps");

/* Packets per reason a default was taken or policy did not apply. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SH_TC_ERR_NR);
	__type(key, __u32);
	__type(value, __u64);
} tc_errors SEC(".maps");

static __always_inline void count_error(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&tc_errors, &reason);

	if (v)
		*v += 1;
}

static __always_inline void count_add(void *map, __u32 idx, __u32 len)
{
	struct sh_tc_count *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets += 1;
		c->bytes += len;
	}
}

/* Counts the packet under (slot, dir, action) and applies the action. */
static __always_inline int finish(struct __sk_buff *skb, __u32 slot, __u32 dir, __u32 action,
				  __u32 mark)
{
	if (slot >= SH_STATS_SLOTS)
		slot = SH_SLOT_GLOBAL;
	if (action != SH_ACT_DENY && action != SH_ACT_MARK)
		action = SH_ACT_ALLOW;
	count_add(&tc_stats, SH_TC_STATS_IDX(slot, dir & 1, action), skb->len);
	if (action == SH_ACT_DENY)
		return TC_ACT_SHOT;
	if (action == SH_ACT_MARK)
		skb->mark = mark;
	return TC_ACT_OK;
}

/* <slot>'s default verdict (allow when unset). */
static __always_inline struct sh_tc_default default_of(__u32 slot)
{
	struct sh_tc_default *d = bpf_map_lookup_elem(&tc_defaults, &slot);

	return d ? *d : (struct sh_tc_default){ .action = SH_ACT_ALLOW };
}

/* Applies <slot>'s default verdict here, counted like ACTION counts. */
static __always_inline int finish_default(struct __sk_buff *skb, __u32 slot, __u32 dir)
{
	struct sh_tc_default d;

	if (slot >= SH_STATS_SLOTS)
		slot = SH_SLOT_GLOBAL;
	d = default_of(slot);
	return finish(skb, slot, dir, d.action, d.mark);
}

/* Hands the packet to ACTION with <action>. When that stage is missing the
 * scope's default verdict applies, as for every missing stage. */
static __always_inline int to_action(struct __sk_buff *skb, __u32 slot, __u32 dir,
				     __u32 action, __u32 mark, __u32 rule)
{
	skb->cb[0] = SH_TC_CB0(slot, dir, 0, 0);
	skb->cb[1] = action;
	skb->cb[2] = mark;
	skb->cb[3] = rule;
	bpf_tail_call(skb, &tc_stages, SH_TC_STAGE_ACTION);
	count_error(SH_TC_ERR_NO_STAGE + SH_TC_STAGE_ACTION);
	return finish_default(skb, slot, dir);
}

/* The default verdict of <slot>, through ACTION. */
static __always_inline int to_default(struct __sk_buff *skb, __u32 slot, __u32 dir)
{
	struct sh_tc_default d;

	if (slot >= SH_STATS_SLOTS)
		slot = SH_SLOT_GLOBAL;
	d = default_of(slot);
	return to_action(skb, slot, dir, d.action, d.mark, 0);
}

/* A stage that could not be reached: count it and take the default. */
static __always_inline int stage_missing(struct __sk_buff *skb, __u32 stage, __u32 slot,
					 __u32 dir)
{
	count_error(SH_TC_ERR_NO_STAGE + stage);
	return to_default(skb, slot, dir);
}

static __always_inline int is_ip(struct __sk_buff *skb)
{
	__u32 p = skb->protocol;

	return p == bpf_htons(ETH_P_IP) || p == bpf_htons(ETH_P_IPV6) ||
	       p == bpf_htons(ETH_P_8021Q) || p == bpf_htons(ETH_P_8021AD);
}

/* Egress entry: the packet's socket tells its scope. The scan of the
 * cgroup slots runs on a socket's first packet; its answer is kept in the
 * socket's storage for the next ones. */
SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	struct sh_tc_sk_cache *cache = 0;
	__u32 i, slot = SH_SLOT_GLOBAL, zero = 0, *gen;
	struct bpf_sock *sk;

	if (!is_ip(skb)) {
		count_error(SH_TC_ERR_NOT_IP);
		return TC_ACT_OK;
	}
	gen = bpf_map_lookup_elem(&tc_generation, &zero);
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk && gen && *gen) {
		cache = bpf_sk_storage_get(&tc_sk_cache, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (cache && cache->gen == *gen) {
			slot = cache->slot;
			goto found;
		}
	}
	for (i = 0; i < SH_MAX_SCOPES; i++) {
		__u32 *sp = bpf_map_lookup_elem(&tc_order, &i);
		long ret;

		if (!sp || *sp >= SH_MAX_SCOPES)
			break;
		ret = bpf_skb_under_cgroup(skb, &tc_cgroups, *sp);
		if (ret == 1) {
			slot = *sp;
			break;
		}
		if (ret == 0)
			continue;
		/* not "not a member": we cannot tell, so count why */
		count_error(ret == -ENOENT ? SH_TC_ERR_NO_SOCKET :
			    ret == -EAGAIN ? SH_TC_ERR_EMPTY_SLOT : SH_TC_ERR_BAD_SLOT);
		return to_default(skb, SH_SLOT_GLOBAL, SH_TC_EGRESS);
	}
	if (cache && gen) {
		cache->slot = slot;
		cache->gen = *gen;
	}
found:
	if (slot >= SH_MAX_SCOPES)
		return to_default(skb, SH_SLOT_GLOBAL, SH_TC_EGRESS);
	skb->cb[0] = SH_TC_CB0(slot, SH_TC_EGRESS, 0, 0);
	bpf_tail_call(skb, &tc_stages, SH_TC_STAGE_PARSE);
	return stage_missing(skb, SH_TC_STAGE_PARSE, slot, SH_TC_EGRESS);
}

/* Ingress entry: no socket is attached yet; PARSE looks the local one up. */
SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	if (!is_ip(skb)) {
		count_error(SH_TC_ERR_NOT_IP);
		return TC_ACT_OK;
	}
	skb->cb[0] = SH_TC_CB0(SH_SLOT_GLOBAL, SH_TC_INGRESS, 0, 0);
	bpf_tail_call(skb, &tc_stages, SH_TC_STAGE_PARSE);
	return stage_missing(skb, SH_TC_STAGE_PARSE, SH_SLOT_GLOBAL, SH_TC_INGRESS);
}

/* What PARSE learns of a packet. */
struct flow {
	struct bpf_sock_tuple tuple;	/* as the local socket sees it, for ingress */
	__u32 remote[4];		/* IPv6 form */
	__u16 port;			/* remote port, host order; 0 without ports */
	__u8 proto;			/* enum sh_proto, or the IP protocol number */
	__u8 v6;
	__u8 ports;			/* the packet carries ports */
};

/* IPv4 at <off>. 0, or the tc_errors reason the packet is undecidable for. */
static __always_inline int parse_ip4(struct __sk_buff *skb, __u32 off, __u32 dir, struct flow *f)
{
	struct {
		__u8 vihl, tos;
		__u16 tot_len, id, frag_off;
		__u8 ttl, protocol;
		__u16 check;
		__u32 saddr, daddr;
	} ip;
	__u16 ports[2];
	__u32 hlen;

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return SH_TC_ERR_TRUNCATED;
	hlen = (ip.vihl & 0xf) * 4;
	if ((ip.vihl >> 4) != 4 || hlen < sizeof(ip) || bpf_ntohs(ip.tot_len) < hlen)
		return SH_TC_ERR_MALFORMED;
	if (off + bpf_ntohs(ip.tot_len) > skb->len)
		return SH_TC_ERR_TRUNCATED;
	sh_addr_from_ip4(f->remote, dir == SH_TC_EGRESS ? ip.daddr : ip.saddr);
	f->tuple.ipv4.saddr = ip.saddr;
	f->tuple.ipv4.daddr = ip.daddr;
	f->proto = ip.protocol;
	if (ip.protocol != SH_PROTO_TCP && ip.protocol != SH_PROTO_UDP)
		return 0;
	if (bpf_ntohs(ip.frag_off) & 0x1fff)
		return SH_TC_ERR_FRAGMENT;	/* the ports are in the first fragment */
	if (bpf_skb_load_bytes(skb, off + hlen, ports, sizeof(ports)))
		return SH_TC_ERR_TRUNCATED;
	f->tuple.ipv4.sport = ports[0];
	f->tuple.ipv4.dport = ports[1];
	f->port = bpf_ntohs(dir == SH_TC_EGRESS ? ports[1] : ports[0]);
	f->ports = 1;
	return 0;
}

/* IPv6 at <off>, through up to four extension headers. */
static __always_inline int parse_ip6(struct __sk_buff *skb, __u32 off, __u32 dir, struct flow *f)
{
	struct {
		__u32 vtcfl;
		__u16 payload_len;
		__u8 nexthdr, hop_limit;
		__u32 saddr[4], daddr[4];
	} ip;
	__u8 ext[2], nh;
	__u16 ports[2], frag;
	int i;

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return SH_TC_ERR_TRUNCATED;
	if ((bpf_ntohl(ip.vtcfl) >> 28) != 6)
		return SH_TC_ERR_MALFORMED;
	if (off + sizeof(ip) + bpf_ntohs(ip.payload_len) > skb->len)
		return SH_TC_ERR_TRUNCATED;
	sh_addr_from_ip6(f->remote, dir == SH_TC_EGRESS ? ip.daddr : ip.saddr);
	__builtin_memcpy(f->tuple.ipv6.saddr, ip.saddr, 16);
	__builtin_memcpy(f->tuple.ipv6.daddr, ip.daddr, 16);
	f->v6 = 1;
	nh = ip.nexthdr;
	off += sizeof(ip);
	for (i = 0; i < 4; i++) {
		if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
			break;		/* not hop-by-hop, routing, fragment, dstopts, AH */
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return SH_TC_ERR_TRUNCATED;
		if (nh == 44) {
			if (bpf_skb_load_bytes(skb, off + 2, &frag, sizeof(frag)))
				return SH_TC_ERR_TRUNCATED;
			if (bpf_ntohs(frag) & 0xfff8) {
				f->proto = ext[0] == IPPROTO_ICMPV6 ? SH_PROTO_ICMP : ext[0];
				return SH_TC_ERR_FRAGMENT;
			}
			off += 8;
		} else {
			off += nh == 51 ? (ext[1] + 2) * 4 : (ext[1] + 1) * 8;
		}
		nh = ext[0];
	}
	f->proto = nh == IPPROTO_ICMPV6 ? SH_PROTO_ICMP : nh;
	if (nh != SH_PROTO_TCP && nh != SH_PROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return SH_TC_ERR_TRUNCATED;
	f->tuple.ipv6.sport = ports[0];
	f->tuple.ipv6.dport = ports[1];
	f->port = bpf_ntohs(dir == SH_TC_EGRESS ? ports[1] : ports[0]);
	f->ports = 1;
	return 0;
}

/* The slot of the scope <sk> was created in, from the tag sock_create put
 * on it (tc may not read a socket's cgroup). Untagged: no scope. */
static __always_inline __u32 sock_scope(struct bpf_sock *sk)
{
	struct sh_sk_scope *tag = bpf_sk_storage_get(&sk_scope, sk, 0, 0);
	struct sh_scope *scope;

	if (!tag)
		return SH_SLOT_GLOBAL;
	/* the tag's cgroup, not its slot: slots belong to one config */
	scope = bpf_map_lookup_elem(&scopes, &tag->cgroup_id);
	if (!scope || scope->slot >= SH_MAX_SCOPES)
		return SH_SLOT_GLOBAL;
	return scope->slot;
}

/*
 * Ingress: the local socket the packet is addressed to (the listener for a
 * SYN), looked up in the device's namespace. No socket (ICMP, a closed
 * port, a packet routed onwards) means no scope.
 */
static __always_inline __u32 ingress_scope(struct __sk_buff *skb, struct flow *f)
{
	__u32 size = f->v6 ? sizeof(f->tuple.ipv6) : sizeof(f->tuple.ipv4);
	struct bpf_sock *sk;
	__u32 slot;

	if (!f->ports) {
		count_error(SH_TC_ERR_NO_LOCAL);
		return SH_SLOT_GLOBAL;
	}
	if (f->proto == SH_PROTO_TCP)
		sk = bpf_sk_lookup_tcp(skb, &f->tuple, size, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(skb, &f->tuple, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk) {
		count_error(SH_TC_ERR_NO_LOCAL);
		return SH_SLOT_GLOBAL;
	}
	slot = sock_scope(sk);
	bpf_sk_release(sk);
	return slot;
}

/* Stage PARSE: Ethernet (and up to two VLAN tags), IPv4 or IPv6, ports. */
SEC("tc")
int tc_stage_parse(struct __sk_buff *skb)
{
	__u32 cb0 = skb->cb[0], dir = SH_TC_CB_DIR(cb0), slot = SH_TC_CB_SLOT(cb0);
	struct flow f = {};
	__u32 off = ETH_HLEN - 2;
	__u16 proto;
	int err, i;

	for (i = 0; i < 3; i++) {
		if (bpf_skb_load_bytes(skb, off, &proto, sizeof(proto))) {
			err = SH_TC_ERR_TRUNCATED;
			goto undecided;
		}
		off += 2;
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		off += 2;	/* the tag's TCI; the next type follows it */
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		err = parse_ip4(skb, off, dir, &f);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		err = parse_ip6(skb, off, dir, &f);
	} else {
		count_error(SH_TC_ERR_NOT_IP);	/* e.g. ARP inside a VLAN */
		return TC_ACT_OK;
	}
	if (err && err != SH_TC_ERR_FRAGMENT)
		goto undecided;
	if (err)
		count_error(err);	/* decided on protocol and address alone */
	if (dir == SH_TC_INGRESS)
		slot = ingress_scope(skb, &f);
	if (slot >= SH_MAX_SCOPES)
		return to_default(skb, SH_SLOT_GLOBAL, dir);

	skb->cb[0] = SH_TC_CB0(slot, dir, f.proto, f.port);
	skb->cb[1] = f.remote[0];
	skb->cb[2] = f.remote[1];
	skb->cb[3] = f.remote[2];
	skb->cb[4] = f.remote[3];
	bpf_tail_call(skb, &tc_stages, SH_TC_STAGE_RULES);
	return stage_missing(skb, SH_TC_STAGE_RULES, slot, dir);

undecided:
	count_error(err);
	return to_default(skb, dir == SH_TC_INGRESS ? SH_SLOT_GLOBAL : slot, dir);
}

/* Stage RULES: the scope's first matching policy rule; count rules are
 * counted on the way and let the search go on. */
SEC("tc")
int tc_stage_rules(struct __sk_buff *skb)
{
	__u32 cb0 = skb->cb[0], slot = SH_TC_CB_SLOT(cb0), dir = SH_TC_CB_DIR(cb0);
	__u8 proto = (__u8)SH_TC_CB_PROTO(cb0);
	__u16 port = (__u16)SH_TC_CB_PORT(cb0);
	struct sh_lpm_key key = { .prefixlen = 128 };
	const struct sh_rule_set *rs;
	__u32 i, addr[4];
	void *trie;

	if (slot >= SH_MAX_SCOPES)
		return to_default(skb, SH_SLOT_GLOBAL, dir);
	trie = bpf_map_lookup_elem(&scope_rules, &slot);
	if (!trie) {
		count_error(SH_TC_ERR_NO_RULES);
		return to_default(skb, slot, dir);
	}
	/* cb[1..4] hold the address as four words; ctx fields are read one
	 * by one (the verifier allows no pointer into the context) */
	addr[0] = skb->cb[1];
	addr[1] = skb->cb[2];
	addr[2] = skb->cb[3];
	addr[3] = skb->cb[4];
	__builtin_memcpy(key.addr, addr, 16);
	rs = bpf_map_lookup_elem(trie, &key);
	if (!rs)
		return to_default(skb, slot, dir);
	for (i = 0; i < SH_MAX_RULES; i++) {
		const struct sh_rule *r = &rs->rules[i];
		__u32 id;

		if (i >= rs->count)
			break;
		if (!sh_rule_matches(r, SH_KINDS_POLICY, proto, port))
			continue;
		id = r->rule_id;
		if (id < SH_MAX_SCOPE_RULES)
			count_add(&tc_rule_stats, slot * SH_MAX_SCOPE_RULES + id, skb->len);
		if (r->action == SH_ACT_COUNT)
			continue;
		return to_action(skb, slot, dir, r->action, r->arg, id + 1);
	}
	return to_default(skb, slot, dir);
}

/* Stage ACTION: count, mark, verdict. */
SEC("tc")
int tc_stage_action(struct __sk_buff *skb)
{
	__u32 cb0 = skb->cb[0];

	return finish(skb, SH_TC_CB_SLOT(cb0), SH_TC_CB_DIR(cb0), skb->cb[1], skb->cb[2]);
}

char _license[] SEC("license") = "Dual BSD/GPL";
