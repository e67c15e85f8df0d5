/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroup.h - cgroup v2 discovery and management. The v2 hierarchy is not
 * always at /sys/fs/cgroup (hybrid layouts put it at .../unified), so it is
 * found in mountinfo, never assumed. Every function returns 0 or -errno.
 */
#ifndef SOCKHOP_CGROUP_H
#define SOCKHOP_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * cg_find_mount() - find the cgroup2 mount point in a mountinfo file.
 * @mountinfo: path of the file, normally "/proc/self/mountinfo"
 * @out: receives the mount point (octal escapes decoded)
 * @len: size of @out
 *
 * Return: 0, -ENOENT when no cgroup2 file system is mounted, -ENAMETOOLONG,
 * or the -errno of opening the file.
 */
int cg_find_mount(const char *mountinfo, char *out, size_t len);

/**
 * cg_resolve() - turn a scope's cgroup path into an absolute directory path.
 * @mount: the cgroup2 mount point
 * @path: absolute (must lie under @mount) or relative to @mount
 * @out: receives the absolute path, without a trailing slash
 * @len: size of @out
 *
 * Pure string work, no system call. Empty and "." components are dropped,
 * so "a/./b//" and "a/b" give one string and "." gives @mount itself.
 * Return: 0, -EINVAL for an empty path, a ".." component or an absolute
 * path outside @mount, -ENAMETOOLONG.
 */
int cg_resolve(const char *mount, const char *path, char *out, size_t len);

/**
 * cg_check_dir() - is @dir a cgroup a scope may use?
 * @mount: the cgroup2 mount point
 * @dir: a path from cg_resolve()
 * @id: receives the cgroup id when @dir qualifies (may be NULL)
 *
 * Compares by identity (device and inode), never by spelling.
 * Return: 0; -ENOENT when @dir does not exist; -ENOTDIR; -EXDEV when it is
 * not on a cgroup2 file system; -EPERM when it is the mount's root cgroup
 * (every process of the mount's view would be in scope); other -errno of
 * stat/statfs.
 */
int cg_check_dir(const char *mount, const char *dir, uint64_t *id);

/** cg_open() - open a cgroup directory (O_RDONLY|O_DIRECTORY); fd or -errno. */
int cg_open(const char *dir);

/** cg_id() - the cgroup id (the kernfs node id of the directory) of @dir. */
int cg_id(const char *dir, uint64_t *id);

/**
 * cg_path_of_id() - the directory of the cgroup whose id is @id, as this
 * process sees it (needs CAP_DAC_READ_SEARCH). Return: 0, -ENOENT when no
 * cgroup has that id any more, or -errno.
 */
int cg_path_of_id(const char *mount, uint64_t id, char *out, size_t len);

/** cg_create() - create @dir and its missing parents (mode 0755). */
int cg_create(const char *dir);

/** cg_join() - move process @pid (0: the caller) into cgroup @dir. */
int cg_join(const char *dir, pid_t pid);

/**
 * cg_remove() - remove @dir and every cgroup below it, deepest first.
 * Cgroups that still hold processes make it fail with -EBUSY.
 */
int cg_remove(const char *dir);

#endif /* SOCKHOP_CGROUP_H */
