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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "conn_int.h"
#include "lb.h"
#include "log.h"
#include "service.h"

/* The client address bytes Maglev hashes: the IP only, not the port. */
static const void *client_key(const struct conn *c, unsigned int *len)
{
	*len = c->client_ip_len;
	return c->client_ip;
}


bool connect_failed(struct conn *c, int err)
{
	struct backend *be = c->be;
	struct side *s = &c->s[1];

	pr_debug("%s: backend %s: connect: %s\n", c->svc->cfg->name, be->cfg->addr.text,
		 strerror(err));
	ev_timer_stop(loop_of(c), &c->timer);
	close(s->fd);	/* leaves conn_ep with it */
	s->fd = -1;
	s->ep_events = 0;
	s->rd_ready = s->wr_ready = s->rdhup = false;
	backend_release(c);
	service_backend_failed(be, c->ntried < c->svc->cfg->connect_attempts &&
				   c->ntried < MAX_TRIES);
	return connect_next(c);
}

bool backend_answered(struct conn *c, uint32_t events)
{
	socklen_t len = sizeof(int);
	int err = 0;

	/* tcp_poll() reports nothing for SYN_SENT, EPOLLOUT once established
	 * and EPOLLERR/EPOLLHUP on failure: only a failure needs SO_ERROR */
	if (events & (EPOLLERR | EPOLLHUP)) {
		if (getsockopt(c->s[1].fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		return connect_failed(c, err ? err : ECONNREFUSED);
	}
	service_backend_connected(c->be);
	return start_data(c);
}

/* Return: true, @c is freed. */
static bool no_backend(struct conn *c)
{
	pr_debug("%s: no usable backend, resetting the client\n", c->svc->cfg->name);
	service_count(c->svc, SVC_NO_BACKEND);
	conn_free(c, true);
	return true;
}

/*
 * The socket to a backend found no descriptor: look again every
 * FD_WAIT_S, as a client in the backlog waits for the listener, for up to
 * the service's idle timeout counted from the first miss (the connect
 * timeout would reset one client every 2 s whenever an odd descriptor is
 * left: each is accepted, finds none for its backend, and waits); then
 * the client is reset, counted as no_fd (the backends did nothing wrong).
 * A client whose FIN came meanwhile has most likely gone, and holds a
 * scarce descriptor, but may only have half-closed after its request
 * (nc -N, HTTP/1.0): it waits up to the connect timeout, not the idle one.
 * Return: true when @c was freed.
 */
#define FD_WAIT_S	0.1
static bool wait_for_fd(struct conn *c)
{
	const struct cfg_service *cfg = c->svc->cfg;
	ev_tstamp now = ev_now(loop_of(c));
	ev_tstamp limit = (c->s[0].rdhup ? cfg->connect_timeout_ms : cfg->idle_timeout_ms) / 1000.0;

	if (!c->fd_wait_from) {
		c->fd_wait_from = now;
		service_fd_wait(c->svc, true);
	} else if (now - c->fd_wait_from >= limit) {
		pr_debug("%s: no descriptor for a backend socket in %.1f s, resetting the client\n",
			 c->svc->cfg->name, limit);
		service_count(c->svc, SVC_NO_FD);
		conn_free(c, true);
		return true;
	}
	ev_timer_stop(loop_of(c), &c->timer);
	ev_timer_set(&c->timer, FD_WAIT_S, 0);
	ev_timer_start(loop_of(c), &c->timer);
	return false;
}

void conn_retry_fd_waiters(struct services *ss)
{
	struct conn *c, *next;
	size_t i;

	for (i = 0; i < ss->nr; i++)
		for (c = ss->svcs[i].conns; c; c = next) {
			next = c->next;	/* connect_next() may free c */
			if (c->state == C_CONNECTING && c->s[1].fd < 0 && c->fd_wait_from) {
				ev_timer_stop(loop_of(c), &c->timer);
				connect_next(c);
			}
		}
}

/* Picks the next backend not tried yet and connects to it.
 * Return: true when @c was freed (none left). */
bool connect_next(struct conn *c)
{
	struct service *svc = c->svc;
	struct side *s = &c->s[1];
	const void *key;
	unsigned int klen;
	struct backend *be;
	int idx, fd, err, one = 1;

	if (c->ntried >= svc->cfg->connect_attempts || c->ntried >= MAX_TRIES)
		return no_backend(c);
	key = client_key(c, &klen);
	idx = lb_pick(&svc->lb, key, klen, c->tried, c->ntried);
	if (idx < 0)
		return no_backend(c);
	c->tried[c->ntried++] = idx;
	be = &svc->backends[idx];
	c->be = be;
	service_backend_taken(be);

	fd = socket(be->cfg->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
		/* Out of descriptors: this client waits for one, as the next
		 * ones wait in the backlog (the listeners pause, once: a
		 * retry is no new pause). Not a try: the backend did nothing
		 * wrong. */
		if (!c->fd_wait_from)
			service_pause(svc, "socket to a backend", errno);
		backend_release(c);
		c->ntried--;
		return wait_for_fd(c);
	}
	if (fd < 0) {
		pr_warn("%s: socket: %s\n", svc->cfg->name, strerror(errno));
		backend_release(c);
		return no_backend(c);
	}
	if (c->fd_wait_from)
		service_fd_wait(svc, false);
	c->fd_wait_from = 0;	/* a later miss (after a failed try) waits anew */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->fd = fd;
	if (connect(fd, (const struct sockaddr *)&be->cfg->addr.sa, be->cfg->addr.len) &&
	    errno != EINPROGRESS)
		return connect_failed(c, errno);
	/* registered after connect(): an unconnected socket polls as EPOLLHUP */
	err = ep_watch(s);
	if (err) {
		pr_warn("%s: epoll: %s\n", svc->cfg->name, strerror(-err));
		close(fd);
		s->fd = -1;
		backend_release(c);
		return no_backend(c);
	}
	ev_timer_set(&c->timer, svc->cfg->connect_timeout_ms / 1000.0, 0);
	ev_timer_start(loop_of(c), &c->timer);
	return false;
}

void conn_start(struct service *svc, int fd, const struct sockaddr_storage *peer,
		socklen_t len)
{
	struct conn *c = calloc(1, sizeof(*c));
	int i, err;

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
	ev_init(&c->timer, on_timer);
	c->timer.data = c;
	ev_init(&c->handoff, on_handoff_timer);	/* both set where started */
	c->handoff.data = c;
	ev_init(&c->drain, on_drain_timer);
	c->drain.data = c;
	c->next = svc->conns;
	if (svc->conns)
		svc->conns->prev = c;
	svc->conns = c;
	service_conn_opened(svc);
	err = ep_watch(&c->s[0]);
	if (err) {
		pr_warn("%s: epoll: %s; resetting the client\n", svc->cfg->name, strerror(-err));
		conn_free(c, true);
		return;
	}
	connect_next(c);
}

