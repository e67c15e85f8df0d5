// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * connect.c - the way from an accepted client to a backend: pick one the
 * balancer offers and that this client has not tried, connect without
 * blocking, try the next on failure or timeout, and reset the client when
 * none is left. Once one answers, conn.c moves the bytes.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "conn_int.h"
#include "lb.h"
#include "log.h"
#include "service.h"

static void connect_next(struct conn *c);

/* The client address bytes Maglev hashes: the IP only, not the port. */
static const void *client_key(const struct conn *c, unsigned int *len)
{
	*len = c->client_ip_len;
	return c->client_ip;
}


void connect_failed(struct conn *c, int err)
{
	struct backend *be = c->be;

	pr_debug("%s: backend %s: connect: %s\n", c->svc->cfg->name, be->cfg->addr.text,
		 strerror(err));
	ev_io_stop(loop_of(c), &c->s[1].wio);
	ev_timer_stop(loop_of(c), &c->timer);
	close(c->s[1].fd);
	c->s[1].fd = -1;
	backend_release(c);
	service_backend_failed(be, c->ntried < c->svc->cfg->connect_attempts &&
				   c->ntried < MAX_TRIES);
	connect_next(c);
}

static void on_connected(struct ev_loop *loop, ev_io *w, int revents)
{
	struct side *s = w->data;
	struct conn *c = s->c;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)revents;
	ev_io_stop(loop, w);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err) {
		connect_failed(c, err);
		return;
	}
	service_backend_connected(c->be);
	ev_io_init(&s->wio, on_writable, s->fd, EV_WRITE);
	s->wio.data = s;
	start_data(c);
}

static void no_backend(struct conn *c)
{
	pr_debug("%s: no usable backend, resetting the client\n", c->svc->cfg->name);
	service_count(c->svc, SVC_NO_BACKEND);
	conn_free(c, true);
}

/* Picks the next backend not tried yet and connects to it. */
static void connect_next(struct conn *c)
{
	struct service *svc = c->svc;
	const void *key;
	unsigned int klen;
	struct backend *be;
	int idx, fd, one = 1;

	if (c->ntried >= svc->cfg->connect_attempts || c->ntried >= MAX_TRIES) {
		no_backend(c);
		return;
	}
	key = client_key(c, &klen);
	idx = lb_pick(&svc->lb, key, klen, c->tried, c->ntried);
	if (idx < 0) {
		no_backend(c);
		return;
	}
	c->tried[c->ntried++] = idx;
	be = &svc->backends[idx];
	c->be = be;
	service_backend_taken(be);

	fd = socket(be->cfg->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_warn("%s: socket: %s\n", svc->cfg->name, strerror(errno));
		backend_release(c);
		no_backend(c);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->s[1].fd = fd;
	ev_io_init(&c->s[1].wio, on_connected, fd, EV_WRITE);
	ev_io_init(&c->s[1].rio, on_readable, fd, EV_READ);
	c->s[1].wio.data = c->s[1].rio.data = &c->s[1];
	if (connect(fd, (const struct sockaddr *)&be->cfg->addr.sa, be->cfg->addr.len) &&
	    errno != EINPROGRESS) {
		connect_failed(c, errno);
		return;
	}
	ev_timer_set(&c->timer, svc->cfg->connect_timeout_ms / 1000.0, 0);
	ev_timer_start(loop_of(c), &c->timer);
	ev_io_start(loop_of(c), &c->s[1].wio);
}

void conn_start(struct service *svc, int fd, const struct sockaddr_storage *peer,
		socklen_t len)
{
	struct conn *c = calloc(1, sizeof(*c));
	int i;

	if (!c) {
		close(fd);
		return;
	}
	/* TCP_NODELAY and the send buffer come from the listener */
	c->svc = svc;
	if (peer->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		memcpy(c->client_ip, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
		c->client_ip_len = 16;
	} else {
		memcpy(c->client_ip, &((const struct sockaddr_in *)peer)->sin_addr, 4);
		c->client_ip_len = 4;
	}
	c->state = C_CONNECTING;
	for (i = 0; i < 2; i++) {
		c->s[i].c = c;
		c->s[i].idx = i;
		c->s[i].fd = -1;
	}
	c->s[0].fd = fd;
	ev_io_init(&c->s[0].rio, on_readable, fd, EV_READ);
	ev_io_init(&c->s[0].wio, on_writable, fd, EV_WRITE);
	c->s[0].rio.data = c->s[0].wio.data = &c->s[0];
	ev_init(&c->timer, on_timer);
	c->timer.data = c;
	ev_timer_init(&c->handoff, on_handoff_timer, HANDOFF_LOOK_S, 0);
	c->handoff.data = c;
	ev_init(&c->drain, on_drain_timer);
	ev_timer_set(&c->drain, DRAIN_POLL_S, DRAIN_POLL_S);
	c->drain.data = c;
	c->next = svc->conns;
	if (svc->conns)
		svc->conns->prev = c;
	svc->conns = c;
	service_conn_opened(svc);
	connect_next(c);
}

