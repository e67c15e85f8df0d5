/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * maps.bpf.h - maps that more than one BPF object uses: the scopes and
 * their rule tables. Each object declares them identically and the loader
 * pins them under maps/, so libbpf makes every later object reuse the
 * first one's maps (same name, type and sizes) instead of creating its own.
 */
#ifndef SOCKHOP_MAPS_BPF_H
#define SOCKHOP_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sockhop.h"

/* The configured scopes: cgroup id -> slot and name. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SH_MAX_SCOPES);
	__type(key, __u64);
	__type(value, struct sh_scope);
} scopes SEC(".maps");

/*
 * One scope's rules: destination prefix -> the rules that may apply.
 * Sizes rather than BTF types: clang 14 emits the structs of an inner map
 * template only as forward declarations, which libbpf cannot size.
 */
struct rule_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SH_MAX_PREFIXES);
	__uint(key_size, sizeof(struct sh_lpm_key));
	__uint(value_size, sizeof(struct sh_rule_set));
};

/* Scope slot -> that scope's rule trie; one update swaps a whole rule set. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, SH_MAX_SCOPES);
	__type(key, __u32);
	__array(values, struct rule_trie);
} scope_rules SEC(".maps");

/* Per-socket scope tag, set at creation (cgroup/sock_create) and cloned
 * to accepted children. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sh_sk_scope);
} sk_scope SEC(".maps");

/*
 * The slot of the scope the current task is in: the deepest ancestor cgroup
 * that is a configured scope. Only valid in task context (sock_create,
 * connect, sendmsg), never in softirq. -1 when the task is in no scope.
 */
static __always_inline int current_scope_slot(__u64 *cgid_out)
{
	struct sh_scope *scope;
	__u64 cgid;
	int level;

	/* the common case first: the task sits in the scope's own cgroup */
	cgid = bpf_get_current_cgroup_id();
	scope = bpf_map_lookup_elem(&scopes, &cgid);
	if (scope) {
		if (cgid_out)
			*cgid_out = cgid;
		return (int)scope->slot;
	}
	for (level = SH_MAX_CGROUP_DEPTH - 1; level >= 0; level--) {
		cgid = bpf_get_current_ancestor_cgroup_id(level);
		if (!cgid)
			continue;
		scope = bpf_map_lookup_elem(&scopes, &cgid);
		if (scope) {
			if (cgid_out)
				*cgid_out = cgid;
			return (int)scope->slot;
		}
	}
	return -1;
}

/* The first rule of a kind in <kinds> of scope <slot> matching a flow to
 * <addr>:<port>/<proto>. */
static __always_inline const struct sh_rule *scope_rule(__u32 slot, __u32 kinds,
							const __u32 addr[4], __u16 port,
							__u8 proto)
{
	struct sh_lpm_key lk = { .prefixlen = 128 };
	const struct sh_rule_set *rs;
	void *trie;

	trie = bpf_map_lookup_elem(&scope_rules, &slot);
	if (!trie)
		return 0;
	__builtin_memcpy(lk.addr, addr, 16);
	rs = bpf_map_lookup_elem(trie, &lk);
	if (!rs)
		return 0;
	return sh_rule_match(rs, kinds, proto, port);
}

#endif /* SOCKHOP_MAPS_BPF_H */
