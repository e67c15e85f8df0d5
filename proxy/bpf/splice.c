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
#include <stdbool.h>
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
	int socks_fd, flow_fd, handed_fd, stats_fd, hold_fd;
	struct ring_buffer *bulk;	/* splice_bulk's reader */
	splice_bulk_fn *on_bulk;
	void **owner;			/* per pair: splice_insert()'s @owner */
	/* Slot pairs of splice_socks: pair k is slots 2k (client) and 2k+1
	 * (backend). Pairs below "fresh" were used once; freed ones wait on
	 * the stack "free" (malloc'd whole, touched only as far as used). */
	uint32_t npairs, fresh, nfree;
	uint32_t *free;
};

/* One splice_bulk record: the owner of its pair hears of it. A record of
 * a pair released meanwhile finds no owner, or one whose cookies differ. */
static int on_bulk_record(void *ctx, void *data, size_t size)
{
	struct splice *sp = ctx;
	const struct sh_splice_bulk *rec = data;
	uint32_t pair;

	if (size < sizeof(*rec))
		return 0;
	pair = rec->slot / 2;
	if (pair < sp->npairs && sp->owner[pair] && sp->on_bulk)
		sp->on_bulk(sp->owner[pair], (int)(rec->slot & 1), rec->cookie, rec->why);
	return 0;
}

int splice_open(uint32_t map_size, struct splice **out)
{
	struct splice *sp;
	uint32_t size = map_size ? map_size : 2 * SH_MAX_CONNS;
	int err;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->npairs = size / 2;
	sp->free = malloc(sp->npairs * sizeof(*sp->free));
	/* zeroed pages are touched only as far as pairs are used */
	sp->owner = calloc(sp->npairs, sizeof(*sp->owner));
	if (!sp->free || !sp->owner) {
		err = -ENOMEM;
		goto fail;
	}
	sp->skel = splice_bpf__open();
	if (!sp->skel) {
		err = -errno;
		pr_warn("splice: cannot open the sk_skb program: %s\n", strerror(-err));
		goto fail;
	}
	/* --socket-map-size: the proxied sockets (two a connection); a pair
	 * the map cannot take is relayed, counted as map-refused */
	bpf_map__set_max_entries(sp->skel->maps.splice_socks, 2 * sp->npairs);
	bpf_map__set_max_entries(sp->skel->maps.splice_flow, 2 * sp->npairs);
	bpf_map__set_max_entries(sp->skel->maps.splice_handed, 2 * sp->npairs);
	bpf_map__set_max_entries(sp->skel->maps.splice_hold, sp->npairs);
	err = splice_bpf__load(sp->skel);
	if (err) {
		pr_warn("splice: cannot load the sk_skb program: %s\n", strerror(-err));
		goto fail_skel;
	}
	sp->socks_fd = bpf_map__fd(sp->skel->maps.splice_socks);
	sp->flow_fd = bpf_map__fd(sp->skel->maps.splice_flow);
	sp->handed_fd = bpf_map__fd(sp->skel->maps.splice_handed);
	sp->stats_fd = bpf_map__fd(sp->skel->maps.splice_stats);
	sp->hold_fd = bpf_map__fd(sp->skel->maps.splice_hold);
	sp->bulk = ring_buffer__new(bpf_map__fd(sp->skel->maps.splice_bulk), on_bulk_record, sp, NULL);
	if (!sp->bulk) {
		err = -errno;
		pr_warn("splice: cannot read splice_bulk: %s\n", strerror(-err));
		goto fail_skel;
	}
	/* Verdict without a stream parser: each skb as it arrives, no framing. */
	err = bpf_prog_attach(bpf_program__fd(sp->skel->progs.splice_verdict), sp->socks_fd,
			      BPF_SK_SKB_VERDICT, 0);
	if (err) {
		err = -errno;
		pr_warn("splice: cannot attach the sk_skb verdict: %s\n", strerror(-err));
		goto fail_ring;
	}
	*out = sp;
	return 0;
fail_ring:
	ring_buffer__free(sp->bulk);
fail_skel:
	splice_bpf__destroy(sp->skel);
fail:
	free(sp->owner);
	free(sp->free);
	free(sp);
	return err;
}

void splice_close(struct splice *sp)
{
	if (!sp)
		return;
	bpf_prog_detach2(bpf_program__fd(sp->skel->progs.splice_verdict), sp->socks_fd,
			 BPF_SK_SKB_VERDICT);
	ring_buffer__free(sp->bulk);
	splice_bpf__destroy(sp->skel);
	free(sp->owner);
	free(sp->free);
	free(sp);
}

int splice_bulk_fd(struct splice *sp, splice_bulk_fn *fn)
{
	sp->on_bulk = fn;
	return ring_buffer__epoll_fd(sp->bulk);
}

void splice_bulk_run(struct splice *sp)
{
	ring_buffer__consume(sp->bulk);
}

int splice_hold(struct splice *sp, struct splice_pair *p)
{
	uint32_t one = 1;

	if (bpf_map_update_elem(sp->hold_fd, &p->slot, &one, BPF_ANY))
		return -errno;
	p->held = true;
	return 0;
}

static int sock_cookie(int fd, uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);

	return getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len) ? -errno : 0;
}

void splice_remove(struct splice *sp, struct splice_pair *p, uint64_t moved[2])
{
	struct sh_splice_flow f;
	int i;

	/* The state first: a verdict that still runs passes the skb up
	 * (no_ctl) rather than redirecting. The sockets leave splice_socks
	 * when they are closed (sock_map_close), before splice_release(). */
	for (i = 0; i < 2; i++) {
		moved[i] = 0;
		if (!bpf_map_lookup_and_delete_elem(sp->flow_fd, &p->cookie[i], &f))
			moved[i] = f.bytes;
		if (p->handed[i])
			bpf_map_delete_elem(sp->handed_fd, &p->cookie[i]);
		p->handed[i] = false;
	}
}

void splice_release(struct splice *sp, const struct splice_pair *p)
{
	uint32_t zero = 0;

	/* the next pair in this slot starts spliced; should the write fail,
	 * the slot is not reused (its pair would be passed up, never redirected) */
	if (p->held && bpf_map_update_elem(sp->hold_fd, &p->slot, &zero, BPF_ANY)) {
		pr_warn("splice: slot %u stays held (%s); not reused\n", p->slot, strerror(errno));
		sp->owner[p->slot] = NULL;
		return;
	}
	sp->owner[p->slot] = NULL;
	sp->free[sp->nfree++] = p->slot;
}

static int slot_alloc(struct splice *sp, uint32_t *slot)
{
	if (sp->nfree)
		*slot = sp->free[--sp->nfree];
	else if (sp->fresh < sp->npairs)
		*slot = sp->fresh++;
	else
		return -E2BIG;	/* what a full map says */
	return 0;
}

int splice_insert(struct splice *sp, const int fd[2], uint32_t bulk_bytes, void *owner,
		  struct splice_pair *p)
{
	struct sh_splice_flow flow[2] = { { 0 } };
	/* elem_flags 0 (BPF_ANY): a batch update takes no other flag, and a
	 * cookie is never reused while the machine runs */
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t count = 2, key;
	int i, err;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < 2; i++) {
		err = sock_cookie(fd[i], &p->cookie[i]);
		if (err)
			return err;
	}
	err = slot_alloc(sp, &p->slot);
	if (err)
		return err;
	/* both sockets' state in one call, written before either is in the
	 * map: from then on only the verdict writes it */
	flow[0].peer_slot = 2 * p->slot + 1;
	flow[1].peer_slot = 2 * p->slot;
	flow[0].peer_cookie = p->cookie[1];
	flow[1].peer_cookie = p->cookie[0];
	flow[0].bulk_bytes = flow[1].bulk_bytes = bulk_bytes;
	if (bpf_map_update_batch(sp->flow_fd, p->cookie, flow, &count, &opts)) {
		err = -errno;
		for (i = 0; i < (int)count; i++)
			bpf_map_delete_elem(sp->flow_fd, &p->cookie[i]);
		goto fail_slot;
	}
	for (i = 0; i < 2; i++) {
		uint64_t v = (uint64_t)fd[i];

		key = 2 * p->slot + (uint32_t)i;
		if (bpf_map_update_elem(sp->socks_fd, &key, &v, BPF_NOEXIST)) {
			err = -errno;
			goto fail_socks;
		}
	}
	sp->owner[p->slot] = owner;
	return 0;
fail_socks:
	p->partial = i > 0;
	while (i-- > 0) {
		key = 2 * p->slot + (uint32_t)i;
		bpf_map_delete_elem(sp->socks_fd, &key);
	}
	for (i = 0; i < 2; i++)
		bpf_map_delete_elem(sp->flow_fd, &p->cookie[i]);
fail_slot:
	splice_release(sp, p);
	return err;
}

int splice_set_handed(struct splice *sp, struct splice_pair *p, int idx, uint64_t handed)
{
	p->handed[idx] = true;
	return bpf_map_update_elem(sp->handed_fd, &p->cookie[idx], &handed, BPF_ANY) ? -errno : 0;
}

int splice_flow(struct splice *sp, const struct splice_pair *p, int idx,
		struct sh_splice_flow *out)
{
	return bpf_map_lookup_elem(sp->flow_fd, &p->cookie[idx], out) ? -errno : 0;
}

int splice_stats(struct splice *sp, struct sh_splice_stats *out)
{
	uint32_t zero = 0;

	return maps_sum_percpu(sp->stats_fd, &zero, out, sizeof(*out));
}

long splice_entries(struct splice *sp)
{
	return maps_count_keys(sp->flow_fd, sizeof(uint64_t));
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
	socklen_t alen = sizeof(addr);
	struct splice_pair sp_pair;
	bool inserted = false;
	uint64_t moved[2];
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
	err = splice_insert(sp, pair, 0, NULL, &sp_pair);
	if (err)
		goto out;
	inserted = true;
	err = selftest_run(c, b);
	splice_remove(sp, &sp_pair, moved);
	if (!err && (moved[0] != SELFTEST_BYTES || moved[1] != SELFTEST_BYTES))
		err = -EPROTO;	/* bytes arrived but not through the verdict */
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
	if (inserted)	/* the sockets left splice_socks as they closed */
		splice_release(sp, &sp_pair);
	return err;
}
