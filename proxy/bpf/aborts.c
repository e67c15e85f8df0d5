// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* aborts.c - see aborts.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "aborts.h"
#include "addr.h"
#include "log.h"
#include "sockdiag.h"
#include "sockhop.h"

#define LOG_PER_SECOND	10	/* abort lines a second; the rest are counted */

struct aborts {
	struct ring_buffer *ring;
	int own_diag;			/* diag socket of the daemon's netns */
	uint64_t own_netns;		/* its cookie */
	time_t log_second;		/* rate limit of the log lines */
	unsigned int logged, quiet;
};

/* "a.b.c.d:port" or "[x::y]:port" of a key's address in IPv6 form. */
static void end_text(const __u32 ip[4], __u16 port, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN + 4];

	addr_prefix_text(ip, 128, a, sizeof(a));
	snprintf(out, len, addr_is_v4_mapped(ip) ? "%s:%u" : "[%s]:%u", a, port);
}

/* The peer's socket as inet_diag names it: its own family, tuple, cookie. */
static void diag_id(const struct sh_abort *ev, struct inet_diag_sockid *id)
{
	memset(id, 0, sizeof(*id));
	id->idiag_sport = htons(ev->peer.local_port);
	id->idiag_dport = htons(ev->peer.remote_port);
	if (ev->peer_family == AF_INET) {
		id->idiag_src[0] = ev->peer.local_ip[3];
		id->idiag_dst[0] = ev->peer.remote_ip[3];
	} else {
		memcpy(id->idiag_src, ev->peer.local_ip, 16);
		memcpy(id->idiag_dst, ev->peer.remote_ip, 16);
	}
	id->idiag_cookie[0] = (__u32)ev->peer_cookie;
	id->idiag_cookie[1] = (__u32)(ev->peer_cookie >> 32);
	id->idiag_if = 0;
}

static void say(struct aborts *a, int err, const struct sh_abort *ev)
{
	char local[64], remote[64];
	time_t now = time(NULL);

	if (now != a->log_second) {
		if (a->quiet)
			pr_info("mesh: %u more abort line(s) left out\n", a->quiet);
		a->log_second = now;
		a->logged = a->quiet = 0;
	}
	if (a->logged++ >= LOG_PER_SECOND) {
		a->quiet++;
		return;
	}
	end_text(ev->peer.local_ip, ev->peer.local_port, local, sizeof(local));
	end_text(ev->peer.remote_ip, ev->peer.remote_port, remote, sizeof(remote));
	if (!err)
		pr_info("mesh: aborted %s -> %s: its peer was closed with %u bytes unread, "
			"which plain TCP answers with a reset\n", local, remote, ev->unread);
	else if (err != -ENOENT)
		pr_warn("mesh: cannot abort %s -> %s, whose peer was closed with %u bytes "
			"unread: %s; its sends may wait out TCP's retries\n", local, remote,
			ev->unread, err == -ESRCH ? "its process and netns are gone" :
			strerror(-err));
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct sh_abort *ev = data;
	struct inet_diag_sockid id;
	struct aborts *a = ctx;
	int nl, err;

	if (size < sizeof(*ev))
		return 0;
	if (ev->peer.netns_cookie == a->own_netns || !ev->peer.netns_cookie) {
		nl = a->own_diag;
	} else {
		nl = sockdiag_open_in((pid_t)ev->peer_tgid, ev->peer.netns_cookie);
		if (nl < 0) {
			say(a, nl, ev);
			return 0;
		}
	}
	diag_id(ev, &id);
	err = sockdiag_destroy(nl, (uint8_t)ev->peer_family, &id);
	if (nl != a->own_diag)
		close(nl);
	say(a, err, ev);	/* -ENOENT: it left by itself meanwhile */
	return 0;
}

int aborts_open(int ring_fd, struct aborts **out)
{
	struct aborts *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	a->own_diag = sockdiag_open();
	if (a->own_diag < 0) {
		err = a->own_diag;
		goto fail;
	}
	a->own_netns = sockdiag_netns_cookie(a->own_diag);
	a->ring = ring_buffer__new(ring_fd, on_record, a, NULL);
	if (!a->ring) {
		err = -errno;
		close(a->own_diag);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	free(a);
	return err;
}

int aborts_fd(const struct aborts *a)
{
	return ring_buffer__epoll_fd(a->ring);
}

int aborts_run(struct aborts *a)
{
	return ring_buffer__consume(a->ring);
}

void aborts_close(struct aborts *a)
{
	if (!a)
		return;
	ring_buffer__free(a->ring);
	close(a->own_diag);
	free(a);
}
