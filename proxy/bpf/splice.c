// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * splice.c - see splice.h. The maps are private to the daemon (not pinned):
 * spliced sockets belong to this process and end with it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "maps.h"
#include "splice.h"
#include "splice.skel.h"

struct splice {
	struct splice_bpf *skel;
	int socks_fd, ctl_fd, flow_fd, stats_fd;
};

int splice_open(uint32_t map_size, struct splice **out)
{
	struct splice *sp;
	int err;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->skel = splice_bpf__open();
	if (!sp->skel) {
		err = -errno;
		pr_warn("splice: cannot open the sk_skb program: %s\n", strerror(-err));
		goto fail;
	}
	/* --socket-map-size: the proxied sockets (two a connection); a pair
	 * the map cannot take is relayed, counted as map-refused */
	if (map_size)
		bpf_map__set_max_entries(sp->skel->maps.splice_socks, map_size);
	err = splice_bpf__load(sp->skel);
	if (err) {
		pr_warn("splice: cannot load the sk_skb program: %s\n", strerror(-err));
		goto fail_skel;
	}
	sp->socks_fd = bpf_map__fd(sp->skel->maps.splice_socks);
	sp->ctl_fd = bpf_map__fd(sp->skel->maps.splice_ctl);
	sp->flow_fd = bpf_map__fd(sp->skel->maps.splice_flow);
	sp->stats_fd = bpf_map__fd(sp->skel->maps.splice_stats);
	/* Verdict without a stream parser: each skb as it arrives, no framing. */
	err = bpf_prog_attach(bpf_program__fd(sp->skel->progs.splice_verdict), sp->socks_fd,
			      BPF_SK_SKB_VERDICT, 0);
	if (err) {
		err = -errno;
		pr_warn("splice: cannot attach the sk_skb verdict: %s\n", strerror(-err));
		goto fail_skel;
	}
	*out = sp;
	return 0;
fail_skel:
	splice_bpf__destroy(sp->skel);
fail:
	free(sp);
	return err;
}

void splice_close(struct splice *sp)
{
	if (!sp)
		return;
	bpf_prog_detach2(bpf_program__fd(sp->skel->progs.splice_verdict), sp->socks_fd,
			 BPF_SK_SKB_VERDICT);
	splice_bpf__destroy(sp->skel);
	free(sp);
}

static int sock_cookie(int fd, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len) ? -errno : 0;
}

void splice_remove(struct splice *sp, const uint64_t cookie[2])
{
	int i;

	/* Control entries first: a verdict that still runs passes the skb up
	 * (no_ctl) rather than redirecting to a socket about to leave. */
	for (i = 0; i < 2; i++) {
		bpf_map_delete_elem(sp->ctl_fd, &cookie[i]);
		bpf_map_delete_elem(sp->socks_fd, &cookie[i]);
		bpf_map_delete_elem(sp->flow_fd, &cookie[i]);
	}
}

int splice_insert(struct splice *sp, const int fd[2], uint64_t cookie[2])
{
	struct sh_splice_flow flow = { 0 };
	struct sh_splice_ctl ctl = { 0 };
	int i, err;

	for (i = 0; i < 2; i++) {
		err = sock_cookie(fd[i], &cookie[i]);
		if (err)
			return err;
	}
	for (i = 0; i < 2; i++) {
		ctl.peer_cookie = cookie[!i];
		if (bpf_map_update_elem(sp->ctl_fd, &cookie[i], &ctl, BPF_ANY) ||
		    bpf_map_update_elem(sp->flow_fd, &cookie[i], &flow, BPF_ANY)) {
			err = -errno;
			goto fail;
		}
	}
	for (i = 0; i < 2; i++) {
		uint64_t v = (uint64_t)fd[i];

		if (bpf_map_update_elem(sp->socks_fd, &cookie[i], &v, BPF_NOEXIST)) {
			err = -errno;
			goto fail;
		}
	}
	return 0;
fail:
	splice_remove(sp, cookie);
	return err;
}

static int update_ctl(struct splice *sp, const uint64_t cookie[2], int idx, int ready,
		      uint64_t handed)
{
	struct sh_splice_ctl ctl = { .peer_cookie = cookie[!idx], .handed = handed,
				     .ready = (uint32_t)ready };

	return bpf_map_update_elem(sp->ctl_fd, &cookie[idx], &ctl, BPF_EXIST) ? -errno : 0;
}

int splice_set_ready(struct splice *sp, const uint64_t cookie[2])
{
	int err = update_ctl(sp, cookie, 0, 1, 0);

	return err ? err : update_ctl(sp, cookie, 1, 1, 0);
}

int splice_set_handed(struct splice *sp, const uint64_t cookie[2], int idx, uint64_t handed)
{
	return update_ctl(sp, cookie, idx, 1, handed);
}

int splice_flow(struct splice *sp, uint64_t cookie, struct sh_splice_flow *out)
{
	return bpf_map_lookup_elem(sp->flow_fd, &cookie, out) ? -errno : 0;
}

int splice_stats(struct splice *sp, struct sh_splice_stats *out)
{
	uint32_t zero = 0;

	return maps_sum_percpu(sp->stats_fd, &zero, out, sizeof(*out));
}

long splice_entries(struct splice *sp)
{
	return maps_count_keys(sp->ctl_fd, sizeof(uint64_t));
}

/* --- start-up self-test --------------------------------------------------- */

#define SELFTEST_BYTES	(1 << 20)

/* A connected loopback pair: *a the connecting end, *b the accepted one. */
static int loopback_pair(int lfd, const struct sockaddr_in *addr, int *a, int *b)
{
	int one = 1;

	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0)
		return -errno;
	if (connect(*a, (const struct sockaddr *)addr, sizeof(*addr))) {
		close(*a);
		return -errno;
	}
	*b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*b < 0) {
		close(*a);
		return -errno;
	}
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static unsigned char pattern(size_t i, int dir)
{
	return (unsigned char)((i * 131 + (i >> 12) + (size_t)dir * 77) & 0xff);
}

/*
 * client <-> [proxy_c | proxy_b] <-> backend: the two middle sockets are
 * spliced; the ends exchange SELFTEST_BYTES each way at once, with poll.
 */
static int selftest_run(int client, int backend)
{
	size_t sent[2] = { 0 }, got[2] = { 0 };
	int fds[2] = { client, backend };
	unsigned char buf[16384];
	int i, spins = 0;

	while (got[0] < SELFTEST_BYTES || got[1] < SELFTEST_BYTES) {
		struct pollfd pfd[2];
		int n;

		for (i = 0; i < 2; i++) {
			pfd[i].fd = fds[i];
			pfd[i].events = POLLIN | (sent[i] < SELFTEST_BYTES ? POLLOUT : 0);
		}
		n = poll(pfd, 2, 2000);
		if (n <= 0)
			return n ? -errno : -ETIMEDOUT;
		if (++spins > 100000)
			return -ETIMEDOUT;
		for (i = 0; i < 2; i++) {
			ssize_t r;
			size_t k;

			if ((pfd[i].revents & POLLOUT) && sent[i] < SELFTEST_BYTES) {
				size_t len = SELFTEST_BYTES - sent[i];

				if (len > sizeof(buf))
					len = sizeof(buf);
				for (k = 0; k < len; k++)
					buf[k] = pattern(sent[i] + k, i);
				r = send(fds[i], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (r < 0 && errno != EAGAIN)
					return -errno;
				if (r > 0)
					sent[i] += (size_t)r;
			}
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) {
				r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);
				if (r == 0)
					return -ECONNRESET;
				if (r < 0 && errno != EAGAIN)
					return -errno;
				/* fds[i] receives what the other end sent */
				for (k = 0; r > 0 && k < (size_t)r; k++)
					if (buf[k] != pattern(got[i] + k, !i))
						return -EILSEQ;
				if (r > 0)
					got[i] += (size_t)r;
			}
		}
	}
	return 0;
}

int splice_selftest(struct splice *sp)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int lfd, c = -1, pc = -1, pb = -1, b = -1, err;
	struct sh_splice_flow f0, f1;
	socklen_t alen = sizeof(addr);
	uint64_t cookie[2] = { 0, 0 };
	int pair[2];

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
		err = -errno;
		goto out;
	}
	err = loopback_pair(lfd, &addr, &c, &pc);
	if (!err)
		err = loopback_pair(lfd, &addr, &pb, &b);
	if (err)
		goto out;
	pair[0] = pc;
	pair[1] = pb;
	err = splice_insert(sp, pair, cookie);
	if (!err)
		err = splice_set_ready(sp, cookie);
	if (err)
		goto out_rm;
	err = selftest_run(c, b);
	if (err)
		goto out_rm;
	if (splice_flow(sp, cookie[0], &f0) || splice_flow(sp, cookie[1], &f1) ||
	    f0.bytes != SELFTEST_BYTES || f1.bytes != SELFTEST_BYTES)
		err = -EPROTO;	/* bytes arrived but not through the verdict */
out_rm:
	splice_remove(sp, cookie);
out:
	if (b >= 0)
		close(b);
	if (pb >= 0)
		close(pb);
	if (pc >= 0)
		close(pc);
	if (c >= 0)
		close(c);
	close(lfd);
	return err;
}
