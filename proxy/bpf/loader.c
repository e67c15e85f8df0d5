// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loader.c - BPF object lifecycle: pin directory, version check, load,
 * map population, attachment, and teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "accel.skel.h"
#include "balance.skel.h"
#include "policy.skel.h"
#include "canary.h"
#include "cgroup.h"
#include "flaws.h"
#include "loader.h"
#include "log.h"
#include "pins.h"
#include "rules.h"
#include "scope_dirs.h"
#include "vip.h"

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
	char pin_dir[PATH_LEN];
	char cg_mount[PATH_LEN];	/* the cgroup2 mount ("" when no scope needs it) */
	bool adopted;		/* the pin directory held a kept state */
	bool map_progs;		/* sk_msg / sk_skb attached to sock_hash */
	uint32_t flaws;		/* kernel flaws the canary found (flaws.h) */
	bool canary_ran;
	struct loader_scope *scopes;
	size_t nr_scopes;
	struct loader_link *links;
	size_t nr_links;
};

/* The cgroup programs and the attach type each is linked with; the
 * balance ones only when the config has virtual services. */
static const struct {
	const char *name;
	enum bpf_attach_type type;
	bool balance;
} cgroup_progs[] = {
	{ "sock_create", BPF_CGROUP_INET_SOCK_CREATE, false },
	{ "sockops", BPF_CGROUP_SOCK_OPS, false },
	{ "connect4", BPF_CGROUP_INET4_CONNECT, true },
	{ "connect6", BPF_CGROUP_INET6_CONNECT, true },
	{ "sendmsg4", BPF_CGROUP_UDP4_SENDMSG, true },
	{ "sendmsg6", BPF_CGROUP_UDP6_SENDMSG, true },
	{ "recvmsg4", BPF_CGROUP_UDP4_RECVMSG, true },
	{ "recvmsg6", BPF_CGROUP_UDP6_RECVMSG, true },
	{ "getpeername4", BPF_CGROUP_INET4_GETPEERNAME, true },
	{ "getpeername6", BPF_CGROUP_INET6_GETPEERNAME, true },
	{ "balance_sockops", BPF_CGROUP_SOCK_OPS, true },
};
#define NR_CGROUP_PROGS (sizeof(cgroup_progs) / sizeof(cgroup_progs[0]))

static struct bpf_program *prog_of(struct loader *l, size_t i)
{
	struct bpf_program *progs[] = {
		l->skel->progs.sock_create_tag, l->skel->progs.sockops_accel,
		l->bal->progs.balance_connect4, l->bal->progs.balance_connect6,
		l->bal->progs.balance_sendmsg4, l->bal->progs.balance_sendmsg6,
		l->bal->progs.balance_recvmsg4, l->bal->progs.balance_recvmsg6,
		l->bal->progs.balance_getpeername4, l->bal->progs.balance_getpeername6,
		l->bal->progs.balance_sockops,
	};
	_Static_assert(sizeof(progs) / sizeof(progs[0]) == NR_CGROUP_PROGS, "one per entry");

	return progs[i];
}

static int cgroup_prog_fd(struct loader *l, size_t i)
{
	return bpf_program__fd(prog_of(l, i));
}

static bool prog_wanted(const struct loader *l, size_t p)
{
	return !cgroup_progs[p].balance || l->balance;
}

/*
 * Makes sure <dir> can hold pins: its nearest existing ancestor must be on
 * bpffs. A fresh machine has nothing mounted at /sys/fs/bpf; we mount it
 * there, and say how to do it anywhere else.
 */
static int ensure_bpffs(const char *dir)
{
	char probe[PATH_LEN];
	struct statfs fs;

	snprintf(probe, sizeof(probe), "%s", dir);
	for (;;) {
		char *slash;

		if (statfs(probe, &fs) == 0)
			break;
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(probe, '/');
		if (!slash || slash == probe)
			return -ENOENT;
		*slash = '\0';
	}
	if (fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (strcmp(probe, SH_BPFFS_ROOT) == 0) {
		if (mount("bpf", SH_BPFFS_ROOT, "bpf", 0, "mode=0700") == -1) {
			pr_err("cannot mount bpffs at %s: %m\n", SH_BPFFS_ROOT);
			return -errno;
		}
		pr_info("mounted bpffs at %s\n", SH_BPFFS_ROOT);
		return 0;
	}
	pr_err("pin directory %s is not on a bpf file system; mount one with "
	       "'mount -t bpf bpf DIR' or pass --pin-dir under %s\n", dir, SH_BPFFS_ROOT);
	return -ENOTSUP;
}

static int mkdir_0700(const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	return chmod(dir, 0700) == -1 ? -errno : 0;
}

/*
 * Checks what an earlier daemon left in <pin_dir>: pins of another layout
 * version are refused (never silently reused), and a live owner too.
 */
static int check_pins(struct loader *l)
{
	struct sh_meta meta;
	int err;

	err = pins_read_meta(l->pin_dir, &meta);
	if (err == -ENOENT)
		return 0;
	if (err) {
		pr_err("cannot read %s/maps/meta: %s\n", l->pin_dir, strerror(-err));
		return err;
	}
	if (meta.layout_version != SH_LAYOUT_VERSION) {
		pr_err("%s holds pins of layout version %u, this sockhopd uses %u; stop the "
		       "programs of the other version and remove the directory (rm -r %s), "
		       "then start again\n", l->pin_dir, meta.layout_version, SH_LAYOUT_VERSION,
		       l->pin_dir);
		return -EPROTO;
	}
	if (meta.daemon_pid != (__u32)getpid() && pins_owner_alive(&meta)) {
		pr_err("%s is in use by a running sockhopd (pid %u)\n", l->pin_dir,
		       meta.daemon_pid);
		return -EBUSY;
	}
	l->adopted = true;
	if (meta.daemon_pid && !meta.kept)
		pr_warn("%s was left by sockhopd pid %u, which died without cleaning up (killed, "
			"OOM or a crash): adopting what matches the config, removing the rest\n",
			l->pin_dir, meta.daemon_pid);
	else
		pr_info("adopting the kernel state kept in %s (version %u)\n", l->pin_dir,
			meta.layout_version);
	return 0;
}

/* Pins every map of @obj under maps/ by name: the first object pins, later
 * ones reuse what is pinned there (maps.bpf.h). */
static int set_pin_paths(struct loader *l, struct bpf_object *obj)
{
	struct bpf_map *map;
	char path[PATH_LEN];
	int err;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = pins_path(path, sizeof(path), l->pin_dir, "maps", bpf_map__name(map));
		if (!err)
			err = bpf_map__set_pin_path(map, path);
		if (err) {
			pr_err("map '%s': cannot set pin path: %s\n", bpf_map__name(map),
			       strerror(-err));
			return err;
		}
	}
	return 0;
}

static int open_and_load(struct loader *l)
{
	int err;

	l->skel = accel_bpf__open();
	l->bal = balance_bpf__open();
	l->pol = policy_bpf__open();
	if (!l->skel || !l->bal || !l->pol) {
		err = -errno;
		pr_err("cannot open the embedded BPF objects: %s\n", strerror(-err));
		return err;
	}
	err = set_pin_paths(l, l->skel->obj);
	if (!err)
		err = set_pin_paths(l, l->bal->obj);
	if (!err)
		err = set_pin_paths(l, l->pol->obj);
	if (err)
		return err;
	/* libbpf reuses a pinned map whose definition matches and pins new
	 * ones; a mismatch with the same layout version is a bug we report. */
	err = accel_bpf__load(l->skel);
	if (!err)
		err = balance_bpf__load(l->bal);
	if (!err)
		err = policy_bpf__load(l->pol);
	if (err) {
		pr_err("cannot load the BPF programs: %s (run with -vv for the verifier log)\n",
		       strerror(-err));
		return err;
	}
	return 0;
}

/* Which known kernel flaws apply here (canary.c), said once at start. */
static void run_canary(struct loader *l)
{
	size_t i;

	if (canary_run(bpf_program__fd(l->skel->progs.skb_verdict_pass), &l->flaws))
		return;
	l->canary_ran = true;
	for (i = 0; i < SH_NR_FLAWS; i++)
		if (l->flaws & sh_flaws[i].bit)
			log_print(sh_flaws[i].avoided ? LOG_INFO : LOG_WARN, "kernel flaw '%s' "
				  "applies here: %s; %s\n", sh_flaws[i].name, sh_flaws[i].what,
				  sh_flaws[i].remedy);
}

static int write_meta(struct loader *l, __u32 pid, __u32 kept, __u32 nr_scopes)
{
	struct sh_meta meta = {
		.layout_version = SH_LAYOUT_VERSION,
		.daemon_pid = pid,
		.kept = kept,
		.nr_scopes = nr_scopes,
		.kernel_flaws = l->flaws,
		.canary_ran = l->canary_ran,
	};
	struct timespec ts;
	__u32 zero = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	meta.started_ns = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.meta), &zero, &meta, BPF_ANY))
		return -errno;
	return 0;
}

/* Resolves each scope's cgroup, creating it when the config says so;
 * refused cgroups are reported with file, line and column. */
static int resolve_scopes(struct loader *l, const struct cfg *cfg, const char *cg_mount)
{
	struct scope_dir *dirs;
	char msg[8192];
	size_t i, j;
	int err;

	l->scopes = calloc(cfg->nr_scopes ? cfg->nr_scopes : 1, sizeof(*l->scopes));
	dirs = calloc(cfg->nr_scopes ? cfg->nr_scopes : 1, sizeof(*dirs));
	if (!l->scopes || !dirs) {
		free(dirs);
		return -ENOMEM;
	}
	l->nr_scopes = cfg->nr_scopes;
	err = scope_dirs_resolve(cfg, cg_mount, true, dirs, msg, sizeof(msg));
	for (i = 0; i < cfg->nr_scopes; i++) {
		snprintf(l->scopes[i].dir, sizeof(l->scopes[i].dir), "%s", dirs[i].dir);
		l->scopes[i].cgid = dirs[i].cgid;
		l->scopes[i].created = dirs[i].created;
		l->scopes[i].created_levels = dirs[i].created_levels;
		if (dirs[i].created && dirs[i].created_levels > 1)
			pr_info("scope '%s': created cgroup %s and %u parent%s\n", cfg->scopes[i].name,
				dirs[i].dir, dirs[i].created_levels - 1,
				dirs[i].created_levels > 2 ? "s" : "");
		else if (dirs[i].created)
			pr_info("scope '%s': created cgroup %s\n", cfg->scopes[i].name, dirs[i].dir);
	}
	free(dirs);
	if (msg[0])
		log_located(msg);
	if (err) {
		pr_err("%s: refusing to start: a scope's cgroup cannot be used (above)\n",
		       cfg->file);
		return err;
	}
	/* Programs attached to a cgroup run for its descendants too, so a scope
	 * nested in another scope is served by the outer one's attachment. */
	for (i = 0; i < l->nr_scopes; i++) {
		size_t len_i = strlen(l->scopes[i].dir);

		l->scopes[i].attach = true;
		for (j = 0; j < l->nr_scopes; j++) {
			size_t len_j = strlen(l->scopes[j].dir);

			if (j != i && len_j < len_i && !strncmp(l->scopes[i].dir, l->scopes[j].dir, len_j) &&
			    l->scopes[i].dir[len_j] == '/')
				l->scopes[i].attach = false;
		}
	}
	return 0;
}

/* Removes @dir, and the @levels - 1 parents made with it while empty. */
static int remove_made(const char *dir, unsigned int levels)
{
	char path[PATH_LEN];
	int err = cg_remove(dir);

	snprintf(path, sizeof(path), "%s", dir);
	while (!err && --levels > 0) {
		char *slash = strrchr(path, '/');

		if (!slash || slash == path)
			break;
		*slash = '\0';
		if (rmdir(path) == -1)
			break;	/* another scope, or something else, lives there */
	}
	return err;
}

/* A scope of an earlier daemon that left the config: the cgroup that
 * daemon created for it goes too (when no process is in it any more). */
static void remove_left_cgroup(struct loader *l, __u64 cgid, const struct sh_scope *gone)
{
	char dir[PATH_LEN];
	int err;

	if (!(gone->flags & SH_SCOPE_F_CREATED) || !l->cg_mount[0])
		return;
	err = cg_path_of_id(l->cg_mount, cgid, dir, sizeof(dir));
	if (err) {
		if (err != -ENOENT)
			pr_warn("scope '%s' left the config; cannot find its cgroup (id %llu) to "
				"remove it: %s\n", gone->name, (unsigned long long)cgid,
				strerror(-err));
		return;
	}
	err = remove_made(dir, SH_SCOPE_CREATED_LEVELS(gone->flags));
	if (err)
		pr_warn("scope '%s' left the config; left the cgroup %s created for it in place: "
			"%s%s; remove it with 'rmdir %s' once it is empty\n", gone->name, dir,
			strerror(-err), err == -EBUSY ? " (a process is still in it)" : "", dir);
	else
		pr_info("scope '%s' left the config: removed the cgroup %s created for it\n",
			gone->name, dir);
}

/* scopes map := the configured scopes; stale keys are removed. */
static int fill_scopes(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->skel->maps.scopes);
	__u64 key, next, *prev = NULL;
	size_t i;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct sh_scope gone;
		bool keep = false;

		for (i = 0; i < l->nr_scopes; i++)
			keep |= l->scopes[i].cgid == next;
		key = next;
		if (!keep && bpf_map_lookup_elem(fd, &key, &gone) == 0 &&
		    bpf_map_delete_elem(fd, &key) == 0) {
			remove_left_cgroup(l, key, &gone);
			continue;	/* deleted: the walk restarts cleanly from key */
		}
		prev = &key;
	}
	for (i = 0; i < l->nr_scopes; i++) {
		struct sh_scope val = { .slot = (__u32)i }, old;

		/* A kept state remembers which cgroups a daemon created. */
		if (bpf_map_lookup_elem(fd, &l->scopes[i].cgid, &old) == 0 &&
		    (old.flags & SH_SCOPE_F_CREATED)) {
			l->scopes[i].created = true;
			l->scopes[i].created_levels = SH_SCOPE_CREATED_LEVELS(old.flags);
		}
		if (l->scopes[i].created)
			val.flags |= SH_SCOPE_F_CREATED |
				     SH_SCOPE_F_LEVELS(l->scopes[i].created_levels);
		snprintf(val.name, sizeof(val.name), "%s", cfg->scopes[i].name);
		if (bpf_map_update_elem(fd, &l->scopes[i].cgid, &val, BPF_ANY)) {
			pr_err("scope '%s': cannot update the scopes map: %m\n", val.name);
			return -errno;
		}
	}
	return 0;
}

/*
 * Builds scope <slot>'s rule trie in a new inner map, then swaps it in with
 * one update of the outer map: readers see the old set or the new, whole.
 */
static int fill_rules(struct loader *l, const struct cfg_scope *sc, __u32 slot)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	struct rules_entry *ents = NULL;
	size_t i, nr = 0;
	const struct cfg_rule *over;
	int inner, err;

	err = rules_compile(sc, &ents, &nr, &over);
	if (err)
		return err;	/* validated already: only -ENOMEM gets here */
	inner = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "sh_rules", sizeof(struct sh_lpm_key),
			       sizeof(struct sh_rule_set), SH_MAX_PREFIXES, &opts);
	if (inner < 0) {
		err = -errno;
		pr_err("scope '%s': cannot create its rule table: %s\n", sc->name, strerror(-err));
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (bpf_map_update_elem(inner, &ents[i].key, &ents[i].set, BPF_ANY)) {
			err = -errno;
			pr_err("scope '%s': cannot fill its rule table: %s\n", sc->name,
			       strerror(-err));
			goto out_close;
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.scope_rules), &slot, &inner, BPF_ANY)) {
		err = -errno;
		pr_err("scope '%s': cannot install its rule table: %s\n", sc->name, strerror(-err));
	}
out_close:
	close(inner);	/* the outer map holds the reference now */
out:
	free(ents);
	return err;
}

static int fill_all_rules(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->skel->maps.scope_rules);
	__u32 slot;
	size_t i;
	int err;

	for (i = 0; i < cfg->nr_scopes; i++) {
		err = fill_rules(l, &cfg->scopes[i], (__u32)i);
		if (err)
			return err;
	}
	for (slot = (__u32)cfg->nr_scopes; slot < SH_MAX_SCOPES; slot++)
		bpf_map_delete_elem(fd, &slot);	/* ENOENT is the usual answer */
	return 0;
}

/* accel_cfg := each scope's flow-control bound; slots of no scope get the
 * default, so a socket whose scope left keeps a bound. */
static int fill_accel_cfg(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->skel->maps.accel_cfg);
	__u32 slot;

	for (slot = 0; slot < SH_STATS_SLOTS; slot++) {
		struct sh_accel_cfg c = {
			.buffer = slot < cfg->nr_scopes ? cfg->scopes[slot].accel_buffer :
				  SH_ACCEL_BUFFER_DEFAULT,
		};

		if (bpf_map_update_elem(fd, &slot, &c, BPF_ANY)) {
			pr_err("cannot fill accel_cfg: %m\n");
			return -errno;
		}
	}
	return 0;
}

/* --- tc policy ------------------------------------------------------------ */

static int cgroup_depth(const char *dir)
{
	int d = 0;

	for (; *dir; dir++)
		d += *dir == '/';
	return d;
}

static int fill_policy_defaults(struct loader *l, const struct cfg *cfg);

/*
 * tc_cgroups[slot] := the scope's cgroup; tc_order := the slots deepest
 * cgroup first, so a packet of a nested scope's process gets the nested
 * scope's policy; tc_defaults := each scope's default verdict and, at
 * SH_SLOT_GLOBAL, the one of traffic of no scope.
 */
static int fill_policy(struct loader *l, const struct cfg *cfg)
{
	int cgs = bpf_map__fd(l->pol->maps.tc_cgroups);
	int order = bpf_map__fd(l->pol->maps.tc_order);
	__u32 slots[SH_MAX_SCOPES], i, j, n = (__u32)l->nr_scopes, none = 0xffffffffu;
	__u32 zero = 0, gen;
	int err;

	for (i = 0; i < n; i++) {
		int fd = cg_open(l->scopes[i].dir);

		if (fd < 0) {
			pr_err("scope '%s': cannot open cgroup %s: %s\n", cfg->scopes[i].name,
			       l->scopes[i].dir, strerror(-fd));
			return fd;
		}
		err = bpf_map_update_elem(cgs, &i, &fd, BPF_ANY) ? -errno : 0;
		close(fd);
		if (err) {
			pr_err("scope '%s': cannot store its cgroup in tc_cgroups: %s\n",
			       cfg->scopes[i].name, strerror(-err));
			return err;
		}
		/* insertion sort by depth, deepest first; config order on ties */
		for (j = i; j > 0 && cgroup_depth(l->scopes[slots[j - 1]].dir) <
					 cgroup_depth(l->scopes[i].dir); j--)
			slots[j] = slots[j - 1];
		slots[j] = i;
	}
	for (i = n; i < SH_MAX_SCOPES; i++)
		bpf_map_delete_elem(cgs, &i);	/* slots of scopes that left */
	/* the end marker first, then the list: a reader sees either order */
	for (i = SH_MAX_SCOPES; i-- > 0;) {
		if (bpf_map_update_elem(order, &i, i < n ? &slots[i] : &none, BPF_ANY)) {
			pr_err("cannot fill tc_order: %m\n");
			return -errno;
		}
	}
	/* a new generation voids what the egress entry cached per socket */
	if (bpf_map_lookup_elem(bpf_map__fd(l->pol->maps.tc_generation), &zero, &gen))
		gen = 0;
	gen = gen + 1 ? gen + 1 : 1;
	if (bpf_map_update_elem(bpf_map__fd(l->pol->maps.tc_generation), &zero, &gen, BPF_ANY)) {
		pr_err("cannot update tc_generation: %m\n");
		return -errno;
	}
	return fill_policy_defaults(l, cfg);
}

/* tc_defaults := @cfg's default verdicts. */
static int fill_policy_defaults(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->pol->maps.tc_defaults);
	__u32 slot;

	for (slot = 0; slot < SH_STATS_SLOTS; slot++) {
		const struct cfg_verdict *v = slot < cfg->nr_scopes ? &cfg->scopes[slot].def :
					      &cfg->no_scope;
		struct sh_tc_default d = { .action = v->action, .mark = v->mark };

		if (bpf_map_update_elem(fd, &slot, &d, BPF_ANY)) {
			pr_err("cannot fill tc_defaults: %m\n");
			return -errno;
		}
	}
	return 0;
}

/* Puts @pol's stage programs in the tc_stages slots (the ABI's numbers). */
static int fill_stages(struct policy_bpf *pol)
{
	struct bpf_program *stages[SH_TC_STAGES] = {
		[SH_TC_STAGE_PARSE] = pol->progs.tc_stage_parse,
		[SH_TC_STAGE_RULES] = pol->progs.tc_stage_rules,
		[SH_TC_STAGE_ACTION] = pol->progs.tc_stage_action,
	};
	int map = bpf_map__fd(pol->maps.tc_stages);
	__u32 i;

	for (i = 0; i < SH_TC_STAGES; i++) {
		int fd = bpf_program__fd(stages[i]);

		if (bpf_map_update_elem(map, &i, &fd, BPF_ANY)) {
			pr_err("cannot put tc stage %u in tc_stages: %m\n", i);
			return -errno;
		}
	}
	return 0;
}

/* Pins @pol's entry programs at PIN_DIR/tc/{egress,ingress}, replacing what
 * is there in one rename: `tc filter ... pinned PATH` never misses. */
static int pin_entries(struct loader *l, struct policy_bpf *pol)
{
	struct bpf_program *entry[2] = { pol->progs.tc_egress, pol->progs.tc_ingress };
	static const char *const name[2] = { "egress", "ingress" };
	char dir[PATH_LEN], path[PATH_LEN], tmp[PATH_LEN];
	int i, err;

	pins_path(dir, sizeof(dir), l->pin_dir, "tc", NULL);
	err = mkdir_0700(dir);
	for (i = 0; i < 2 && !err; i++) {
		pins_path(path, sizeof(path), dir, NULL, name[i]);
		snprintf(tmp, sizeof(tmp), "%s-new", path);
		unlink(tmp);
		if (bpf_obj_pin(bpf_program__fd(entry[i]), tmp) || rename(tmp, path)) {
			err = -errno;
			unlink(tmp);
		}
	}
	if (err)
		pr_err("cannot pin the tc entry programs in %s: %s\n", dir, strerror(-err));
	return err;
}

int loader_replace_stages(struct loader *l)
{
	struct policy_bpf *pol;
	int err;

	pol = policy_bpf__open();
	if (!pol)
		return -errno;
	err = set_pin_paths(l, pol->obj);	/* the same maps, reused */
	if (!err)
		err = policy_bpf__load(pol);
	/* the new entries reach the stages in place, of the same ABI */
	if (!err)
		err = pin_entries(l, pol);
	if (err) {
		pr_err("replacing the tc stages failed (%s); the running ones stay\n",
		       strerror(-err));
		policy_bpf__destroy(pol);
		return err;
	}
	err = fill_stages(pol);
	if (err) {
		/* slots taken so far hold new stages: same ABI, both work */
		pr_err("replacing the tc stages stopped halfway (%s): some slots hold the new "
		       "stages, the others the old\n", strerror(-err));
		policy_bpf__destroy(pol);
		return err;
	}
	/* the old stage programs leave once nothing refers to them */
	policy_bpf__destroy(l->pol);
	l->pol = pol;
	l->stage_generation++;
	pr_info("tc stages replaced (generation %u)\n", l->stage_generation);
	return 0;
}

int loader_check_cgroups(const struct loader *l, char *msg, size_t len)
{
	size_t i;

	for (i = 0; i < l->nr_scopes; i++) {
		uint64_t id = 0;
		int err = cg_id(l->scopes[i].dir, &id);

		if (err || id != l->scopes[i].cgid) {
			snprintf(msg, len, "the cgroup %s of scope %zu %s since the start (id %llu "
				 "then, %s now): its programs stay on the old one; restart sockhopd "
				 "to attach to it", l->scopes[i].dir, i,
				 err ? "is gone" : "was removed and made again",
				 (unsigned long long)l->scopes[i].cgid, err ? "none" : "another");
			return -ESTALE;
		}
	}
	return 0;
}

int loader_reload(struct loader *l, const struct cfg *cfg)
{
	int err = fill_all_rules(l, cfg);

	if (!err)
		err = fill_accel_cfg(l, cfg);
	if (!err)
		err = fill_policy_defaults(l, cfg);
	return err;
}

static int attach_map_progs(struct loader *l)
{
	int map = bpf_map__fd(l->skel->maps.sock_hash);

	/* The verdict program goes first: a socket must never sit in the map
	 * without one (this kernel then stalls its epoll wakeups). */
	if (bpf_prog_attach(bpf_program__fd(l->skel->progs.skb_verdict_pass), map,
			    BPF_SK_SKB_STREAM_VERDICT, 0)) {
		pr_err("cannot attach the sk_skb verdict program to sock_hash: %m\n");
		return -errno;
	}
	if (bpf_prog_attach(bpf_program__fd(l->skel->progs.sk_msg_redirect), map,
			    BPF_SK_MSG_VERDICT, 0)) {
		pr_err("cannot attach the sk_msg program to sock_hash: %m\n");
		bpf_prog_detach2(bpf_program__fd(l->skel->progs.skb_verdict_pass), map,
				 BPF_SK_SKB_STREAM_VERDICT);
		return -errno;
	}
	l->map_progs = true;
	return 0;
}

static void detach_map_progs(struct loader *l)
{
	int map = bpf_map__fd(l->skel->maps.sock_hash);

	if (!l->map_progs)
		return;
	bpf_prog_detach2(bpf_program__fd(l->skel->progs.sk_msg_redirect), map, BPF_SK_MSG_VERDICT);
	bpf_prog_detach2(bpf_program__fd(l->skel->progs.skb_verdict_pass), map,
			 BPF_SK_SKB_STREAM_VERDICT);
	l->map_progs = false;
}

/* Is "<prog>-<cgid>" one of the links the current scopes want? */
static bool link_wanted(struct loader *l, const char *name)
{
	char want[64];
	size_t i, p;

	for (i = 0; i < l->nr_scopes; i++) {
		if (!l->scopes[i].attach)
			continue;
		for (p = 0; p < NR_CGROUP_PROGS; p++) {
			if (!prog_wanted(l, p))
				continue;
			snprintf(want, sizeof(want), "%s-%llu", cgroup_progs[p].name,
				 (unsigned long long)l->scopes[i].cgid);
			if (!strcmp(want, name))
				return true;
		}
	}
	return false;
}

/* Detaches and unpins the pinned links no scope wants any more (every
 * link, with <all>). */
static int prune_links(struct loader *l, bool all)
{
	char dir[PATH_LEN], path[PATH_LEN];
	struct dirent *de;
	DIR *d;

	pins_path(dir, sizeof(dir), l->pin_dir, "links", NULL);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		int fd;

		if (de->d_name[0] == '.' || (!all && link_wanted(l, de->d_name)))
			continue;
		pins_path(path, sizeof(path), dir, NULL, de->d_name);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(path);
		if (!all)
			pr_info("detached %s (its scope left the config)\n", de->d_name);
	}
	closedir(d);
	return 0;
}

/*
 * Before a new link: does cgroup <cg> carry program <p> of sockhop already,
 * which no pin here accounts for? Then another sockhopd serves it (another
 * pin directory, or one whose pins were deleted under it), and a second
 * attachment would run every hook twice. -EBUSY, reported, or 0.
 */
static int refuse_foreign(struct loader *l, int cg, size_t p, const char *dir)
{
	const char *want = bpf_program__name(prog_of(l, p));
	__u32 ids[64], cnt = 64, flags = 0, i;

	if (bpf_prog_query(cg, cgroup_progs[p].type, 0, &flags, ids, &cnt))
		return 0;	/* cannot tell: attach as before */
	for (i = 0; i < cnt; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strncmp(info.name, want, sizeof(info.name) - 1)) {
			close(fd);
			pr_err("cgroup %s already runs sockhop's %s (program id %u), which no pin in "
			       "%s accounts for: another sockhopd serves it (another --pin-dir, or "
			       "its pins were deleted); stop that one first\n", dir, want, ids[i],
			       l->pin_dir);
			return -EBUSY;
		}
		close(fd);
	}
	return 0;
}

/*
 * Attaches each cgroup program to each outermost scope cgroup. A link kept
 * by an earlier daemon is updated in place to our program (no moment
 * without a program); otherwise a new link is created and pinned.
 */
static int attach_cgroups(struct loader *l)
{
	char dir[PATH_LEN];
	size_t i, p;
	int err;

	pins_path(dir, sizeof(dir), l->pin_dir, "links", NULL);
	err = mkdir_0700(dir);
	if (err)
		return err;
	l->links = calloc(l->nr_scopes * NR_CGROUP_PROGS + 1, sizeof(*l->links));
	if (!l->links)
		return -ENOMEM;
	for (i = 0; i < l->nr_scopes; i++) {
		struct loader_scope *ls = &l->scopes[i];

		if (!ls->attach)
			continue;
		for (p = 0; p < NR_CGROUP_PROGS; p++) {
			struct loader_link *lk = &l->links[l->nr_links];
			char name[64];
			int cg, fd;

			if (!prog_wanted(l, p))
				continue;
			snprintf(name, sizeof(name), "%s-%llu", cgroup_progs[p].name,
				 (unsigned long long)ls->cgid);
			pins_path(lk->pin, sizeof(lk->pin), dir, NULL, name);
			fd = bpf_obj_get(lk->pin);
			if (fd >= 0) {
				if (bpf_link_update(fd, cgroup_prog_fd(l, p), NULL)) {
					err = -errno;
					pr_err("cannot update the kept link %s: %s\n", lk->pin,
					       strerror(-err));
					close(fd);
					return err;
				}
				lk->fd = fd;
				l->nr_links++;
				continue;
			}
			cg = cg_open(ls->dir);
			if (cg < 0) {
				pr_err("cannot open cgroup %s: %s\n", ls->dir, strerror(-cg));
				return cg;
			}
			err = refuse_foreign(l, cg, p, ls->dir);
			if (err) {
				close(cg);
				return err;
			}
			fd = bpf_link_create(cgroup_prog_fd(l, p), cg, cgroup_progs[p].type, NULL);
			err = fd < 0 ? -errno : 0;
			close(cg);
			if (err) {
				pr_err("cannot attach %s to cgroup %s: %s\n", cgroup_progs[p].name,
				       ls->dir, strerror(-err));
				return err;
			}
			lk->fd = fd;
			l->nr_links++;
			if (bpf_obj_pin(fd, lk->pin)) {
				err = -errno;
				pr_err("cannot pin %s: %s\n", lk->pin, strerror(-err));
				return err;
			}
			pr_debug("attached %s to %s\n", cgroup_progs[p].name, ls->dir);
		}
	}
	return 0;
}

/* Unlinks the pins of @obj's maps; shared ones gone already are ENOENT. */
static void unlink_map_pins(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
		if (bpf_map__pin_path(map))
			unlink(bpf_map__pin_path(map));
}

/* Removes every pin and directory of the pin directory; false when the
 * directory stays (something else is pinned there). */
static bool unpin_all(struct loader *l)
{
	char path[PATH_LEN];
	size_t i;

	for (i = 0; i < l->nr_links; i++) {
		bpf_link_detach(l->links[i].fd);
		unlink(l->links[i].pin);
	}
	prune_links(l, true);	/* anything else left in links/ */
	if (l->skel)
		unlink_map_pins(l->skel->obj);
	if (l->bal)
		unlink_map_pins(l->bal->obj);
	if (l->pol)
		unlink_map_pins(l->pol->obj);
	for (i = 0; i < 2; i++) {
		pins_path(path, sizeof(path), l->pin_dir, "tc", i ? "ingress" : "egress");
		unlink(path);
	}
	pins_path(path, sizeof(path), l->pin_dir, "tc", NULL);
	rmdir(path);
	pins_path(path, sizeof(path), l->pin_dir, "links", NULL);
	rmdir(path);
	pins_path(path, sizeof(path), l->pin_dir, "maps", NULL);
	rmdir(path);
	if (rmdir(l->pin_dir) == -1 && errno != ENOENT) {
		pr_warn("left %s in place: %m (it holds pins sockhopd did not make)\n", l->pin_dir);
		return false;
	}
	return true;
}

static void release(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->nr_links; i++)
		close(l->links[i].fd);
	policy_bpf__destroy(l->pol);
	balance_bpf__destroy(l->bal);
	accel_bpf__destroy(l->skel);
	free(l->links);
	free(l->scopes);
	free(l);
}

static void remove_created_cgroups(struct loader *l)
{
	size_t i;

	for (i = l->nr_scopes; i-- > 0;) {
		struct loader_scope *ls = &l->scopes[i];
		uint64_t id = 0;
		int err;

		if (!ls->created)
			continue;
		/* only the cgroup we made: not one made again under that name */
		if (cg_id(ls->dir, &id) || id != ls->cgid) {
			pr_warn("left cgroup %s in place: it is not the one sockhopd created (that "
				"one was removed)\n", ls->dir);
			continue;
		}
		err = remove_made(ls->dir, ls->created_levels);
		if (err)
			pr_warn("left cgroup %s in place: %s%s\n", ls->dir, strerror(-err),
				err == -EBUSY ? " (a process is still in it)" : "");
	}
}

int loader_start(const struct cfg *cfg, const char *pin_dir, const char *cg_mount,
		 struct loader **out)
{
	char path[PATH_LEN];
	struct loader *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", pin_dir);
	snprintf(l->cg_mount, sizeof(l->cg_mount), "%s", cg_mount);
	for (size_t i = 0; i < cfg->nr_services; i++)
		l->balance |= cfg->services[i].nr_vips > 0;

	err = ensure_bpffs(pin_dir);
	if (err)
		goto err_free;
	err = check_pins(l);
	if (err)
		goto err_free;
	err = mkdir_0700(pin_dir);
	if (!err) {
		pins_path(path, sizeof(path), pin_dir, "maps", NULL);
		err = mkdir_0700(path);
	}
	if (err) {
		pr_err("cannot create pin directory %s: %s\n", pin_dir, strerror(-err));
		goto err_unpin;
	}
	err = open_and_load(l);
	if (err)
		goto err_unpin;
	run_canary(l);
	err = write_meta(l, (__u32)getpid(), 0, (__u32)cfg->nr_scopes);
	if (err)
		goto err_unpin;
	err = resolve_scopes(l, cfg, cg_mount);
	if (!err)
		err = fill_scopes(l, cfg);
	if (!err)
		err = fill_all_rules(l, cfg);
	if (!err)
		err = fill_accel_cfg(l, cfg);
	if (!err) {
		struct vip_maps vm;

		loader_vip_maps(l, &vm);
		err = vip_fill(&vm, cfg);
	}
	/* every tc stage is in its slot before an entry is pinned for tc */
	if (!err)
		err = fill_policy(l, cfg);
	if (!err)
		err = fill_stages(l->pol);
	if (!err)
		err = pin_entries(l, l->pol);
	if (err)
		goto err_unpin;
	/* Attach only once every table is full. */
	err = attach_map_progs(l);
	if (err)
		goto err_unpin;
	err = prune_links(l, false);
	if (!err)
		err = attach_cgroups(l);
	if (err)
		goto err_detach;
	*out = l;
	return 0;

err_detach:
	if (!l->adopted)
		detach_map_progs(l);
err_unpin:
	/* A state an earlier daemon kept stays, kept, for the next attempt. */
	if (l->adopted && l->skel) {
		write_meta(l, 0, 1, (__u32)cfg->nr_scopes);
	} else if (!l->adopted) {
		unpin_all(l);
		remove_created_cgroups(l);
	}
err_free:
	release(l);
	return err;
}

void loader_stop(struct loader *l, bool keep)
{
	if (!l)
		return;
	if (keep) {
		write_meta(l, 0, 1, (__u32)l->nr_scopes);
		pr_info("left the kernel paths attached and pinned in %s\n", l->pin_dir);
	} else {
		bool removed = unpin_all(l);

		detach_map_progs(l);
		remove_created_cgroups(l);
		pr_info("detached every program%s%s\n", removed ? " and removed " : "",
			removed ? l->pin_dir : "");
	}
	release(l);
}

bool loader_adopted(const struct loader *l)
{
	return l->adopted;
}

void loader_vip_maps(const struct loader *l, struct vip_maps *m)
{
	m->services = bpf_map__fd(l->bal->maps.vip_services);
	m->tables = bpf_map__fd(l->bal->maps.vip_tables);
	m->backends = bpf_map__fd(l->bal->maps.backends);
	m->rnat = bpf_map__fd(l->bal->maps.rnat);
	m->vip_stats = bpf_map__fd(l->bal->maps.vip_stats);
	m->backend_stats = bpf_map__fd(l->bal->maps.backend_stats);
}
