// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup.c - cgroup v2 discovery, ids, create/join/remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "cgroup.h"

/* Decodes mountinfo's octal escapes (\040 for a space) of <in> into <out>. */
static int unescape(const char *in, char *out, size_t len)
{
	size_t n = 0;

	while (*in) {
		char c = *in++;

		if (c == '\\' && in[0] >= '0' && in[0] <= '3' && in[1] >= '0' && in[1] <= '7' &&
		    in[2] >= '0' && in[2] <= '7') {
			c = (char)((in[0] - '0') * 64 + (in[1] - '0') * 8 + (in[2] - '0'));
			in += 3;
		}
		if (n + 1 >= len)
			return -ENAMETOOLONG;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/*
 * One mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] -
 * FSTYPE SOURCE SUPEROPTS". The optional fields vary in number, so the file
 * system type is the field after the lone "-".
 */
static int line_is_cgroup2(char *line, char **mountpoint)
{
	char *save = NULL, *tok;
	int field = 0, after_sep = 0;

	*mountpoint = NULL;
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		field++;
		if (field == 5)
			*mountpoint = tok;
		if (after_sep)
			return *mountpoint && strcmp(tok, "cgroup2") == 0;
		if (field > 6 && strcmp(tok, "-") == 0)
			after_sep = 1;
	}
	return 0;
}

int cg_find_mount(const char *mountinfo, char *out, size_t len)
{
	char *line = NULL, *mp;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f;

	f = fopen(mountinfo, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) != -1) {
		if (line_is_cgroup2(line, &mp)) {
			err = unescape(mp, out, len);
			break;
		}
	}
	free(line);
	fclose(f);
	return err;
}

int cg_resolve(const char *mount, const char *path, char *out, size_t len)
{
	size_t mlen = strlen(mount), n;
	const char *rel = path, *p;

	if (!*path)
		return -EINVAL;
	while (mlen > 0 && mount[mlen - 1] == '/')
		mlen--;	/* "/" becomes "": every absolute path lies under it */
	if (path[0] == '/') {
		if (strncmp(path, mount, mlen) != 0 || (path[mlen] != '/' && path[mlen] != '\0'))
			return -EINVAL;
		rel = path + mlen;
	}
	if (mlen + 1 >= len)
		return -ENAMETOOLONG;
	memcpy(out, mount, mlen);
	n = mlen;
	/* One component at a time: "" and "." name the directory itself and
	 * are dropped, so every spelling of one cgroup gives one string; ".."
	 * is refused, a scope may not climb out of the hierarchy. */
	for (p = rel; *p; ) {
		const char *end = strchrnul(p, '/');
		size_t clen = (size_t)(end - p);

		if (clen == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (clen && !(clen == 1 && p[0] == '.')) {
			if (n + 1 + clen >= len)
				return -ENAMETOOLONG;
			out[n++] = '/';
			memcpy(out + n, p, clen);
			n += clen;
		}
		p = *end ? end + 1 : end;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

int cg_check_dir(const char *mount, const char *dir, uint64_t *id)
{
	struct stat st, root;
	struct statfs fs;

	if (stat(dir, &st) == -1)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statfs(dir, &fs) == -1)
		return -errno;
	if (fs.f_type != CGROUP2_SUPER_MAGIC)
		return -EXDEV;
	if (stat(mount, &root) == -1)
		return -errno;
	/* Identity, not spelling: a symlink, a bind mount or "x/." of the
	 * root all lead to the root's inode on the root's device. */
	if (st.st_dev == root.st_dev && st.st_ino == root.st_ino)
		return -EPERM;
	if (id)
		*id = (uint64_t)st.st_ino;
	return 0;
}

int cg_open(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd == -1 ? -errno : fd;
}

int cg_id(const char *dir, uint64_t *id)
{
	/* The cgroup id is the kernfs inode number of the directory, which is
	 * also what name_to_handle_at() returns as the handle; stat is enough. */
	struct stat st;

	if (stat(dir, &st) == -1)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (uint64_t)st.st_ino;
	return 0;
}

int cg_path_of_id(const char *mount, uint64_t id, char *out, size_t len)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = 0xfe } };
	char link[64];
	ssize_t n;
	int mfd, fd, err = 0;

	/* A cgroup's id is its kernfs handle (type FILEID_KERNFS, 0xfe). */
	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd == -1)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		err = errno == ESTALE ? -ENOENT : -errno;
		goto out;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	if (n < 0)
		err = -errno;
	else if ((size_t)n >= len - 1)
		err = -ENAMETOOLONG;
	else
		out[n] = '\0';
	close(fd);
out:
	close(mfd);
	return err;
}

int cg_create(const char *dir)
{
	char buf[4096];
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -errno;
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

int cg_join(const char *dir, pid_t pid)
{
	char path[4096], val[32];
	int fd, n, err = 0;

	n = snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	n = snprintf(val, sizeof(val), "%d\n", pid ? (int)pid : (int)getpid());
	if (write(fd, val, (size_t)n) != n)
		err = -errno;
	close(fd);
	return err;
}

int cg_remove(const char *dir)
{
	struct dirent *de;
	char child[4096];
	int err = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int n;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n = snprintf(child, sizeof(child), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(child)) {
			err = -ENAMETOOLONG;
			break;
		}
		err = cg_remove(child);
		if (err)
			break;
	}
	closedir(d);
	if (!err && rmdir(dir) == -1)
		err = -errno;
	return err;
}
