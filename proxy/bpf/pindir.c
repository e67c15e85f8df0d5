// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pindir.c - the pin directory: bpffs, its layout version and owner, adoption
 * of what an earlier daemon left, and its removal.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
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

#include "loader_int.h"
#include "log.h"
#include "pins.h"

/*
 * Makes sure <dir> can hold pins: its nearest existing ancestor must be on
 * bpffs. A fresh machine has nothing mounted at /sys/fs/bpf; we mount it
 * there, and say how to do it anywhere else.
 */
int ensure_bpffs(const char *dir)
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

int mkdir_0700(const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -errno;
	return chmod(dir, 0700) == -1 ? -errno : 0;
}

/*
 * Checks what an earlier daemon left in <pin_dir>: pins of another layout
 * version are refused (never silently reused), and a live owner too.
 */
int check_pins(struct loader *l)
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
int set_pin_paths(struct loader *l, struct bpf_object *obj)
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

int write_meta(struct loader *l, __u32 pid, __u32 kept, __u32 nr_scopes)
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
bool unpin_all(struct loader *l)
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
	pins_path(path, sizeof(path), l->pin_dir, "iter", "sockets");
	unlink(path);
	pins_path(path, sizeof(path), l->pin_dir, "iter", NULL);
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
