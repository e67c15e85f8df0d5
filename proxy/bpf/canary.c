// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* canary.c - see canary.h. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "canary.h"
#include "flaws.h"
#include "log.h"

#define CANARY_WAIT_MS	200	/* how long a condition is polled for */

static void pause_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A connected TCP pair on 127.0.0.1: @fds[0] accepted, @fds[1] connecting. */
static int make_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int lfd, err = 0;

	fds[0] = fds[1] = -1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len)) {
		err = -errno;
		goto out;
	}
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		goto out;
	}
	fds[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		err = -errno;
out:
	close(lfd);
	if (err) {
		if (fds[1] >= 0)
			close(fds[1]);
		fds[0] = fds[1] = -1;
	}
	return err;
}

static void close_pair(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

/* A SOCKMAP of one slot holding @fd, with @verdict_fd (or none) attached
 * first; its fd, or -errno. */
static int map_with(int fd, int verdict_fd)
{
	int map = bpf_map_create(BPF_MAP_TYPE_SOCKMAP, "sh_canary", 4, 4, 1, NULL);
	__u32 zero = 0, val = (__u32)fd;
	int err;

	if (map < 0)
		return -errno;
	if ((verdict_fd >= 0 && bpf_prog_attach(verdict_fd, map, BPF_SK_SKB_STREAM_VERDICT, 0)) ||
	    bpf_map_update_elem(map, &zero, &val, BPF_ANY)) {
		err = -errno;
		close(map);
		return err;
	}
	return map;
}

/* Does a socket in a map without a verdict hide the bytes that arrived
 * from FIONREAD? 1 yes, 0 no, or -errno. */
static int test_no_verdict_read(void)
{
	int fds[2], map, n = 0, i, ret;
	char c = 'x';

	ret = make_pair(fds);
	if (ret)
		return ret;
	map = map_with(fds[0], -1);
	if (map < 0) {
		ret = map;
		goto out;
	}
	if (send(fds[1], &c, 1, MSG_NOSIGNAL) != 1) {
		ret = -errno;
		goto out_map;
	}
	/* the byte arrives in a moment; a kernel without the flaw reports it */
	for (i = 0; i < CANARY_WAIT_MS && n == 0; i++) {
		if (ioctl(fds[0], FIONREAD, &n))
			n = 0;
		if (!n)
			pause_ms(1);
	}
	ret = n == 0 && recv(fds[0], &c, 1, MSG_DONTWAIT | MSG_PEEK) == 1;
out_map:
	close(map);
out:
	close_pair(fds);
	return ret;
}

struct reader {
	int fd;
	atomic_int tid;		/* set once the thread runs */
	atomic_int done;	/* 1 once recv() returned */
	ssize_t ret;
	int err;
};

static void *blocked_reader(void *arg)
{
	struct reader *r = arg;
	char c;

	atomic_store(&r->tid, (int)gettid());
	r->ret = recv(r->fd, &c, 1, 0);
	r->err = errno;
	atomic_store(&r->done, 1);
	return NULL;
}

/* Is thread @tid of this process asleep (state S)? */
static int thread_sleeping(int tid)
{
	char path[64], buf[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;	/* the name may hold spaces */
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Does a blocking recv() on a mapped socket return EAGAIN when another
 * thread shuts the socket's write side? 1 yes, 0 no, or -errno. */
static int test_recv_eagain(int verdict_fd)
{
	struct reader r = { .fd = -1 };
	int fds[2], map, i, ret;
	pthread_t t;
	char c = 'x';

	ret = make_pair(fds);
	if (ret)
		return ret;
	map = map_with(fds[0], verdict_fd);
	if (map < 0) {
		ret = map;
		goto out;
	}
	r.fd = fds[0];
	if (pthread_create(&t, NULL, blocked_reader, &r)) {
		ret = -EAGAIN;
		goto out_map;
	}
	for (i = 0; i < 1000 && !(atomic_load(&r.tid) && thread_sleeping(atomic_load(&r.tid))); i++)
		pause_ms(1);
	shutdown(fds[0], SHUT_WR);
	for (i = 0; i < CANARY_WAIT_MS && !atomic_load(&r.done); i++)
		pause_ms(1);
	ret = atomic_load(&r.done) && r.ret < 0 && r.err == EAGAIN;
	if (!atomic_load(&r.done))	/* still blocked, as it should be: free it */
		send(fds[1], &c, 1, MSG_NOSIGNAL);
	pthread_join(t, NULL);
out_map:
	close(map);
out:
	close_pair(fds);
	return ret;
}

/* A pair in a map with @verdict_fd, @fds[0] holding one byte sent from
 * @fds[1] (FIONREAD says so); 0 or -errno. */
static int pair_with_byte(int verdict_fd, int fds[2], int *map)
{
	char c = 'x';
	int i, n = 0, ret;

	ret = make_pair(fds);
	if (ret)
		return ret;
	*map = map_with(fds[0], verdict_fd);
	if (*map < 0) {
		ret = *map;
		close_pair(fds);
		return ret;
	}
	if (send(fds[1], &c, 1, MSG_NOSIGNAL) != 1) {
		ret = -errno;
		goto fail;
	}
	for (i = 0; i < CANARY_WAIT_MS && n == 0; i++) {
		if (ioctl(fds[0], FIONREAD, &n))
			n = 0;
		if (!n)
			pause_ms(1);
	}
	if (n)
		return 0;
	ret = -ETIMEDOUT;
fail:
	close(*map);
	close_pair(fds);
	return ret;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Does recv(2 bytes, MSG_WAITALL) return the one byte there at once? Plain
 * TCP waits for the second until the receive timeout; so "at once" is far
 * under it. 1 yes, 0 no, or -errno. */
static int test_no_waitall(int verdict_fd)
{
	struct timeval tv = { .tv_usec = 100 * 1000 };
	struct timespec t0;
	int fds[2], map, ret;
	char buf[2];
	ssize_t n;

	ret = pair_with_byte(verdict_fd, fds, &map);
	if (ret)
		return ret;
	if (setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		ret = -errno;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = recv(fds[0], buf, sizeof(buf), MSG_WAITALL);
	ret = n == 1 && elapsed_ms(&t0) < 50;
out:
	close(map);
	close_pair(fds);
	return ret;
}

/* Does poll() report readable with one byte under a low-water mark of two?
 * 1 yes, 0 no, or -errno. */
static int test_no_rcvlowat(int verdict_fd)
{
	int fds[2], map, ret, lowat = 2;
	struct pollfd p;

	ret = pair_with_byte(verdict_fd, fds, &map);
	if (ret)
		return ret;
	if (setsockopt(fds[0], SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat))) {
		ret = -errno;
		goto out;
	}
	p.fd = fds[0];
	p.events = POLLIN;
	p.revents = 0;
	ret = poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
out:
	close(map);
	close_pair(fds);
	return ret;
}

int canary_run(int verdict_fd, uint32_t *flaws)
{
	const struct {
		uint32_t flaw;
		int ret;
	} tests[] = {
		{ SH_FLAW_RECV_EAGAIN, test_recv_eagain(verdict_fd) },
		{ SH_FLAW_NO_VERDICT_READ, test_no_verdict_read() },
		{ SH_FLAW_NO_WAITALL, test_no_waitall(verdict_fd) },
		{ SH_FLAW_NO_RCVLOWAT, test_no_rcvlowat(verdict_fd) },
	};
	size_t i;

	*flaws = 0;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (tests[i].ret < 0) {
			pr_debug("canary: could not test the socket-map paths here: %s\n",
				 strerror(-tests[i].ret));
			*flaws = 0;
			return tests[i].ret;
		}
		if (tests[i].ret)
			*flaws |= tests[i].flaw;
	}
	return 0;
}
