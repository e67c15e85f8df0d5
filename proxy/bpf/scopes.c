// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * scopes.c - the scopes: their cgroups (resolved, created, removed), the
 * scopes map, and each scope's rule trie swapped in whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "loader.h"
#include "loader_int.h"
#include "log.h"
#include "maps.h"
#include "rules.h"
#include "scope_dirs.h"

/* Resolves each scope's cgroup, creating it when the config says so;
 * refused cgroups are reported with file, line and column. */
int resolve_scopes(struct loader *l, const struct cfg *cfg, const char *cg_mount)
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
		else if (cfg->scopes[i].create)
			pr_info("scope '%s': cgroup %s exists already; unless a kept or dead "
				"sockhopd's pins say it made it, the stop leaves it\n",
				cfg->scopes[i].name, dirs[i].dir);
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

/* One key of the scopes map: deleted (and its cgroup with it, if a daemon
 * made it) unless a configured scope has that cgroup. */
static int prune_scope(int fd, const void *key, void *ctx)
{
	struct loader *l = ctx;
	__u64 cgid = *(const __u64 *)key;
	struct sh_scope gone;
	size_t i;

	for (i = 0; i < l->nr_scopes; i++)
		if (l->scopes[i].cgid == cgid)
			return MAPS_NEXT;
	if (bpf_map_lookup_elem(fd, &cgid, &gone) || bpf_map_delete_elem(fd, &cgid))
		return MAPS_NEXT;
	remove_left_cgroup(l, cgid, &gone);
	return MAPS_DELETED;
}

/* scopes map := the configured scopes; stale keys are removed. */
int fill_scopes(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->skel->maps.scopes), err;
	size_t i;

	err = maps_walk(fd, sizeof(__u64), prune_scope, l);
	if (err) {
		pr_err("cannot walk the scopes map: %s\n", strerror(-err));
		return err;
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

int fill_all_rules(struct loader *l, const struct cfg *cfg)
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

void remove_created_cgroups(struct loader *l)
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
		/* once the pins are gone nothing remembers who made it: say so */
		if (err)
			pr_warn("left cgroup %s in place: %s%s; remove it with 'rmdir %s' once it "
				"is empty (the next sockhopd finds it made and will not remove it)\n",
				ls->dir, strerror(-err),
				err == -EBUSY ? " (a process is still in it)" : "", ls->dir);
	}
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
