/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * loader_int.h - the loader's state and its parts, inside proxy/bpf/ only:
 * the pin directory and adoption (pindir.c), the cgroup attachments
 * (links.c), the scopes' cgroups and rule tables (scopes.c), the mesh's
 * own maps and map programs (accel.c), the tc policy (policy.c). loader.c
 * orders them; only it is seen from outside (loader.h).
 */
#ifndef SOCKHOP_LOADER_INT_H
#define SOCKHOP_LOADER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel.skel.h"
#include "balance.skel.h"
#include "policy.skel.h"
#include "balance.h"
#include "config.h"

#define PATH_LEN 512

struct loader_scope {
	char dir[PATH_LEN];	/* absolute cgroup directory */
	uint64_t cgid;
	bool created;		/* we made the directory */
	unsigned int created_levels;	/* it and the parents made with it */
	bool attach;		/* outermost: its programs are attached here */
};

/* One program attached to one cgroup through a pinned bpf_link. */
struct loader_link {
	int fd;
	char pin[PATH_LEN];
};

struct loader {
	struct accel_bpf *skel;
	struct balance_bpf *bal;	/* connect-time balancing */
	struct policy_bpf *pol;		/* tc policy: entries and stages */
	unsigned int stage_generation;	/* stage sets loaded so far */
	bool balance;		/* the config has virtual services: attach bal */
	struct balance balance_maps;	/* bal's maps, for balance.c alone to write */
	char pin_dir[PATH_LEN];
	char cg_mount[PATH_LEN];	/* the cgroup2 mount ("" when no scope needs it) */
	bool adopted;		/* the pin directory held a kept state */
	bool map_progs;		/* sk_msg / sk_skb attached to sock_hash */
	uint32_t map_size;	/* sock_hash's capacity; 0: as compiled */
	struct bpf_link *sockets_iter;	/* pinned at PIN_DIR/iter/sockets */
	uint32_t flaws;		/* kernel flaws the canary found (flaws.h) */
	bool canary_ran;
	struct loader_scope *scopes;
	size_t nr_scopes;
	struct loader_link *links;
	size_t nr_links;
};

/* --- pindir.c ------------------------------------------------------------- */

/** ensure_bpffs() - @dir can hold pins (mounting bpffs at /sys/fs/bpf). */
int ensure_bpffs(const char *dir);
int mkdir_0700(const char *dir);
/** check_pins() - refuse pins of another layout or a live owner; adopt. */
int check_pins(struct loader *l);
/** set_pin_paths() - every map of @obj under maps/, by name. */
int set_pin_paths(struct loader *l, struct bpf_object *obj);
/** write_meta() - who owns the pin directory and how. */
int write_meta(struct loader *l, __u32 pid, __u32 kept, __u32 nr_scopes);
/** unpin_all() - every pin and directory; false when the directory stays. */
bool unpin_all(struct loader *l);

/* --- links.c -------------------------------------------------------------- */

/** attach_cgroups() - each cgroup program on each outermost scope cgroup. */
int attach_cgroups(struct loader *l);
/** prune_links() - detach and unpin links no scope wants (all with @all). */
int prune_links(struct loader *l, bool all);

/* --- scopes.c ------------------------------------------------------------- */

/** resolve_scopes() - each scope's cgroup, created when configured so. */
int resolve_scopes(struct loader *l, const struct cfg *cfg, const char *cg_mount);
/** fill_scopes() - the scopes map; scopes that left it are removed. */
int fill_scopes(struct loader *l, const struct cfg *cfg);
/** fill_all_rules() - every scope's rule trie, swapped in whole. */
int fill_all_rules(struct loader *l, const struct cfg *cfg);
/** remove_created_cgroups() - the cgroups this loader made, when empty. */
void remove_created_cgroups(struct loader *l);

/* --- accel.c -------------------------------------------------------------- */

/** fill_accel_cfg() - each scope's flow-control bound. */
int fill_accel_cfg(struct loader *l, const struct cfg *cfg);
/** attach_map_progs(), detach_map_progs() - sk_skb and sk_msg on sock_hash. */
int attach_map_progs(struct loader *l);
void detach_map_progs(struct loader *l);
/** run_canary() - which known kernel flaws apply here; logged once. */
void run_canary(struct loader *l);
/** pin_sockets_iter() - the iterator `sockhop sockets` reads, at
 * PIN_DIR/iter/sockets (replacing a kept one). */
int pin_sockets_iter(struct loader *l);

/* --- policy.c ------------------------------------------------------------- */

/** fill_policy() - tc_cgroups, tc_order, the generation and the defaults. */
int fill_policy(struct loader *l, const struct cfg *cfg);
/** fill_policy_defaults() - tc_defaults alone (a reload). */
int fill_policy_defaults(struct loader *l, const struct cfg *cfg);
/** fill_stages() - @pol's stages in the tc_stages slots. */
int fill_stages(struct policy_bpf *pol);
/** pin_entries() - @pol's entry programs at PIN_DIR/tc/{egress,ingress}. */
int pin_entries(struct loader *l, struct policy_bpf *pol);

#endif /* SOCKHOP_LOADER_INT_H */
