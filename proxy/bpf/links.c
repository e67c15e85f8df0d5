// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * links.c - the cgroup programs' attachments: one pinned bpf_link per program
 * and outermost scope cgroup, kept links updated in place, links of scopes
 * that left removed, and no second sockhop on a cgroup.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "loader_int.h"
#include "log.h"
#include "pins.h"

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
int prune_links(struct loader *l, bool all)
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
int attach_cgroups(struct loader *l)
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
