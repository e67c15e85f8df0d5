// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* scope_dirs.c - see scope_dirs.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "scope_dirs.h"

struct out {
	char *buf;
	size_t len, used;
};

/* Appends "FILE:LINE:COL: scopes[i].cgroup: <fmt>\n" for scope @i. */
__attribute__((format(printf, 4, 5)))
static void say(struct out *o, const struct cfg *cfg, size_t i, const char *fmt, ...)
{
	const struct cfg_scope *sc = &cfg->scopes[i];
	va_list ap;
	int n;

	if (o->used + 1 >= o->len)
		return;
	n = snprintf(o->buf + o->used, o->len - o->used, "%s:%d:%d: scopes[%zu].cgroup: ",
		     cfg->file, sc->cgroup_line, sc->cgroup_col, i);
	if (n < 0 || (size_t)n >= o->len - o->used)
		goto full;
	o->used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 >= o->len - o->used)
		goto full;
	o->used += (size_t)n;
	o->buf[o->used++] = '\n';
	o->buf[o->used] = '\0';
	return;
full:
	o->used = o->len - 1;
	o->buf[o->used] = '\0';
}

/* How many components of @dir, from the leaf up, do not exist below the
 * mount: the levels a create makes (and a stop may remove again). */
static unsigned int missing_levels(const char *mount, const char *dir)
{
	char path[SCOPE_DIR_LEN];
	unsigned int n = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s", dir);
	while (strlen(path) > strlen(mount) && stat(path, &st) == -1 && errno == ENOENT) {
		char *slash = strrchr(path, '/');

		n++;
		if (!slash)
			break;
		*slash = '\0';
	}
	return n ? n : 1;
}

/* One scope: resolve, create when asked and allowed, check identity. */
static int resolve_one(const struct cfg *cfg, size_t i, const char *mount, bool create,
		       struct scope_dir *d, struct out *o)
{
	const struct cfg_scope *sc = &cfg->scopes[i];
	int err;

	err = cg_resolve(mount, sc->cgroup, d->dir, sizeof(d->dir));
	if (err == -ENAMETOOLONG) {
		say(o, cfg, i, "'%s' under %s is too long a path", sc->cgroup, mount);
		return -EINVAL;
	}
	if (err) {
		say(o, cfg, i, "'%s' is not a path under the cgroup2 mount %s", sc->cgroup, mount);
		return -EINVAL;
	}
	err = cg_check_dir(mount, d->dir, &d->cgid);
	if (err == -ENOENT && sc->create && create) {
		d->created_levels = missing_levels(mount, d->dir);
		err = cg_create(d->dir);
		if (err) {
			say(o, cfg, i, "cannot create %s: %s", d->dir, strerror(-err));
			return err;
		}
		d->created = true;
		err = cg_check_dir(mount, d->dir, &d->cgid);
	}
	switch (err) {
	case 0:
		return 0;
	case -ENOENT:
		if (sc->create) {
			d->missing = true;
			return 0;	/* --check: a warning, the start creates it */
		}
		say(o, cfg, i, "cgroup %s does not exist (create it, or set 'create: true')", d->dir);
		return -EINVAL;
	case -EPERM:
		say(o, cfg, i, "refusing the root cgroup %s ('%s' names it): every process on the "
		    "machine would be in scope '%s'", mount, sc->cgroup, sc->name);
		return -EINVAL;
	case -EXDEV:
		say(o, cfg, i, "%s is not on the cgroup2 file system mounted at %s", d->dir, mount);
		return -EINVAL;
	case -ENOTDIR:
		say(o, cfg, i, "%s is not a directory", d->dir);
		return -EINVAL;
	default:
		say(o, cfg, i, "%s: %s", d->dir, strerror(-err));
		return -EINVAL;
	}
}

int scope_dirs_resolve(const struct cfg *cfg, const char *mount, bool create,
		       struct scope_dir *dirs, char *msg, size_t len)
{
	struct out o = { .buf = msg, .len = len };
	int ret = 0, err;
	size_t i, j;

	if (len)
		msg[0] = '\0';
	for (i = 0; i < cfg->nr_scopes; i++) {
		memset(&dirs[i], 0, sizeof(dirs[i]));
		err = resolve_one(cfg, i, mount, create, &dirs[i], &o);
		if (err && !ret)
			ret = err;
	}
	/* Two spellings, or two paths to one directory, are one cgroup. */
	for (i = 0; i < cfg->nr_scopes; i++) {
		for (j = 0; j < i; j++) {
			if (!dirs[i].dir[0] || !dirs[j].dir[0])
				continue;
			if (strcmp(dirs[i].dir, dirs[j].dir) &&
			    (!dirs[i].cgid || dirs[i].cgid != dirs[j].cgid))
				continue;
			say(&o, cfg, i, "cgroup %s is already the scope '%s' (line %d)", dirs[i].dir,
			    cfg->scopes[j].name, cfg->scopes[j].cgroup_line);
			if (!ret)
				ret = -EINVAL;
			break;
		}
	}
	for (i = 0; i < cfg->nr_scopes; i++)
		if (dirs[i].missing)
			say(&o, cfg, i, "warning: cgroup %s does not exist yet; sockhopd creates it "
			    "at start (create: true)", dirs[i].dir);
	return ret;
}
