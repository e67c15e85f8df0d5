// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * conn.c - the connection state machine (see conn.h).
 *
 * Side 0 is the client, side 1 the backend. "Bytes of side i" are bytes
 * read from side i and owed to the other side. Every socket is registered
 * once in one edge-triggered epoll (conn_ep, itself watched by libev); an
 * event marks a side readable or writable and pump() moves bytes until
 * neither direction can go on (EAGAIN, a short write, EOF). A side has one
 * of two movers:
 *   relay   what is read is written to the other side; a partial write
 *           parks the rest and stops reading this side until the other is
 *           writable again (backpressure, without any epoll_ctl).
 *   splice  the pair is in splice_socks. Until the verdict has taken over
 *           ("go"), bytes it passed up are read and written exactly as in
 *           relay, and the count written is published as "handed" so that
 *           the verdict starts redirecting only after them. Once "go" is
 *           seen the side watches EPOLLRDHUP only: data wake-ups do not
 *           reach this process.
 * data-path auto also goes back: when the verdict tells that a spliced
 * socket carries bulk, the pair is held (the verdict passes every later skb
 * up) and each side is read again, as relay, once what the verdict
 * redirected before is in the other socket (demote_step()).
 * EOF on side i becomes shutdown(other, SHUT_WR) once every byte of side i
 * is in the other socket's send queue: for splice that is checked against
 * the kernel's counters (bytes_acked + SIOCOUTQ of the other socket).
 */
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>	/* tcp_info with tcpi_bytes_acked */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "conn_int.h"
#include "cpuidle.h"
#include "log.h"
#include "service.h"
#include "splice.h"

/*
 * The relay's one read buffer. Measured with iperf3 through the relay
 * (medians of 5, old and new daemons interleaved): with the daemon on its
 * own CPU 16.0 Gbit/s at 32 KiB against 9.5 at 64 KiB (16 KiB 15.6, 8 KiB
 * 14.4; HAProxy, which reads 16 KiB, 14.8-16.4); on one CPU 12.9 against
 * 11.9. Smaller chunks let the receiver on the other CPU start copying
 * sooner; below 32 KiB the extra system calls cost more than that gains.
 */
#define SCRATCH_SIZE	(32 * 1024)

/*
 * pump() rounds per turn of the loop: one read a side (32 KiB), then a pair
 * still ready waits for the next turn behind every other ready one. With 8
 * rounds (~512 KiB a turn) 4 iperf3 streams held a Python ping-pong on the
 * same daemon at 2.2 ms p50; with 1 it is 0.33-0.39 ms (the level-triggered
 * relay before: 0.43 ms) and the streams' throughput is the same.
 */
#define PUMP_ROUNDS	1

static char scratch[SCRATCH_SIZE];
static int conn_ep = -1;		/* every side's socket, edge-triggered */
static ev_io conn_ep_io;		/* libev's watch on conn_ep */
/* Connections whose pump() stopped at PUMP_ROUNDS with bytes still ready:
 * 'now' is being served by on_ready(), 'later' waits for the next turn. */
static struct conn *ready_now, *ready_later;
static ev_timer ready_timer;		/* 0 s: the loop's next turn serves 'later' */
static ev_io splice_bulk_io;		/* the verdict's bulk records (on_splice_bulk()) */

static struct splice *splice_of(const struct conn *c)
{
	return c->svc->all->splice;
}

struct conn *conn_next(const struct conn *c)
{
	return c->next;
}

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * What conn_ep reports for side @s: readable until the verdict takes its
 * bytes over (then only the peer's FIN), writable while bytes of the other
 * side can be parked for it.
 */
static uint32_t ep_wanted(const struct side *s)
{
	const struct side *o = &s->c->s[!s->idx];
	uint32_t ev = EPOLLRDHUP | EPOLLET;

	if (!s->spliced)
		ev |= EPOLLIN;
	if (!o->spliced || o->pend_len)
		ev |= EPOLLOUT;
	return ev;
}

int ep_watch(struct side *s)
{
	struct epoll_event ev = { .events = ep_wanted(s), .data.ptr = s };

	if (ev.events == s->ep_events)
		return 0;
	/* ADD and MOD both report what is ready already: no edge is lost */
	if (epoll_ctl(conn_ep, s->ep_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev))
		return -errno;
	s->ep_events = ev.events;
	return 0;
}

static void ready_unlink(struct conn *c)
{
	struct conn **lists[2] = { &ready_now, &ready_later }, **pp;
	int i;

	if (!c->queued)
		return;
	for (i = 0; i < 2; i++)
		for (pp = lists[i]; *pp; pp = &(*pp)->ready_next)
			if (*pp == c) {
				*pp = c->ready_next;
				c->queued = false;
				return;
			}
}

void backend_release(struct conn *c)
{
	struct backend *be = c->be;

	if (!be)
		return;
	service_backend_released(be);
	c->be = NULL;
}

void conn_free(struct conn *c, bool reset)
{
	struct service *svc = c->svc;
	struct ev_loop *loop = loop_of(c);
	bool spliced = c->path == P_SPLICE && c->state == C_OPEN;
	int i;

	ev_timer_stop(loop, &c->timer);
	ev_timer_stop(loop, &c->drain);
	ev_timer_stop(loop, &c->handoff);
	ready_unlink(c);
	if (c->fd_wait_from)
		service_fd_wait(svc, false);
	if (spliced) {
		uint64_t moved[2], handed = 0;

		for (i = 0; i < 2; i++)
			handed += c->s[i].held ? c->s[i].hand_spliced : c->s[i].hand;
		splice_remove(splice_of(c), &c->pair, moved);
		service_spliced_closed(svc, c->be, moved, handed);
		if (c->demote == D_DONE && svc->auto_path)
			service_auto_stayed(svc, c->demote_why == SH_SPLICE_BEHIND ? AS_BEHIND : AS_BULK);
	} else if (c->state == C_OPEN && c->path == P_RELAY) {
		service_auto_stayed(svc, (enum auto_stay)c->stay);	/* AS_NR: not auto */
	}
	for (i = 0; i < 2; i++) {
		struct side *s = &c->s[i];

		free(s->pend);
		if (s->fd < 0)
			continue;
		if (reset) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		/* closing the last reference also leaves conn_ep and
		 * splice_socks: no EPOLL_CTL_DEL, no map delete */
		close(s->fd);
	}
	if (spliced)
		splice_release(splice_of(c), &c->pair);
	backend_release(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		svc->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	service_conn_closed(svc, reset);	/* last: it may end the drain */
}

void conn_reset(struct conn *c)
{
	conn_free(c, true);
}

void conn_spliced(const struct conn *c, uint64_t moved[2])
{
	struct sh_splice_flow f;
	int i;

	for (i = 0; i < 2; i++) {
		moved[i] = 0;
		if (c->path == P_SPLICE && c->state == C_OPEN &&
		    !splice_flow(splice_of(c), &c->pair, i, &f))
			moved[i] = f.bytes;
	}
}

uint64_t conn_spliced_bytes(const struct conn *c)
{
	uint64_t moved[2];

	conn_spliced(c, moved);
	return moved[0] + moved[1];
}

enum conn_where conn_where(const struct conn *c, unsigned int *stay)
{
	*stay = c->state == C_OPEN && c->path == P_RELAY ? c->stay : AS_NR;
	if (c->state != C_OPEN)
		return c->s[1].fd < 0 ? CW_WAIT_FD : CW_CONNECTING;
	if (c->demote == D_DONE) {
		*stay = !c->svc->auto_path ? AS_NR :
			c->demote_why == SH_SPLICE_BEHIND ? AS_BEHIND : AS_BULK;
		return CW_RELAY;
	}
	return c->path == P_SPLICE ? CW_SPLICE : CW_RELAY;
}

void conn_auto_rule(unsigned int *turns, double *look_s, unsigned int *bulk_bytes,
		    unsigned int *bulk_ms)
{
	*turns = PROMOTE_TURNS;
	*look_s = PROMOTE_LOOK_S;
	*bulk_bytes = SPLICE_BULK_BYTES;
	*bulk_ms = (unsigned int)(SH_SPLICE_BULK_WINDOW_NS / 1000000);
}

const struct backend *conn_backend(const struct conn *c)
{
	return c->be;
}

/* Counts bytes user space moved from side @from. */
static void account(struct conn *c, int from, size_t n)
{
	c->last_ev = ev_now(loop_of(c));
	service_bytes(c->svc, c->be, from, n, c->path == P_RELAY || c->s[from].held);
}

/* Return: true when @c was freed (both directions are closed). */
static bool maybe_finish(struct conn *c)
{
	if (c->s[0].eof && c->s[1].eof && c->s[0].shut && c->s[1].shut) {
		conn_free(c, false);
		return true;
	}
	return false;
}

void splice_sndbuf(int fd)
{
	int v = SPLICE_SNDBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/*
 * What this socket was given before the splice: bytes_acked + SIOCOUTQ;
 * @written false (nothing was ever written to it) spares the ioctl, the
 * queue being empty. Return: true when the socket is still ESTABLISHED
 * (the map takes it).
 */
static bool sent_counter(int fd, bool written, uint64_t *base)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq = 0;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    (written && ioctl(fd, SIOCOUTQ, &outq)))
		return false;
	*base = ti.tcpi_bytes_acked + (uint64_t)outq;
	return ti.tcpi_state == TCP_STATE_ESTABLISHED;
}

/*
 * Spliced side @s: is every byte user space wrote and the verdict
 * redirected for it in the other socket, which was given *given since the
 * splice (bytes_acked + unsent/unacked)? @f gets the verdict's counters.
 * Return: 1 yes, 0 not yet, -1 no entry or a broken socket (nothing more
 * can arrive, or the error path takes over).
 */
static int splice_across(struct conn *c, struct side *s, struct sh_splice_flow *f,
			 uint64_t *given)
{
	struct side *o = &c->s[!s->idx];
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq;

	*given = 0;
	if (splice_flow(splice_of(c), &c->pair, s->idx, f))
		return -1;
	/* acked first, queue second: a racing ACK can only make us wait longer */
	if (getsockopt(o->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) || ioctl(o->fd, SIOCOUTQ, &outq))
		return -1;
	*given = ti.tcpi_bytes_acked + (uint64_t)outq - o->sent_base;
	return *given >= s->hand + f->bytes;
}

/*
 * Are all bytes of side @s in the other socket's send queue? For relay,
 * nothing is parked; for splice also what the verdict redirected.
 */
static bool side_drained(struct conn *c, struct side *s)
{
	struct sh_splice_flow f;
	uint64_t given;

	if (s->pend_len)
		return false;
	return c->path != P_SPLICE || splice_across(c, s, &f, &given) != 0;
}

/*
 * A FIN read on spliced side @s before every byte the verdict passed up
 * (before "go", or once held) was read: such an skb can still wait in the
 * psock's queue behind skbs redirected to this socket's egress, and reaches
 * the socket after them.
 */
static bool eof_early(struct conn *c, struct side *s)
{
	struct sh_splice_flow f;

	/* a spliced side's passed bytes were all read before "go" (check_go()) */
	if (c->path != P_SPLICE || s->spliced || splice_flow(splice_of(c), &c->pair, s->idx, &f))
		return false;
	return s->hand + s->pend_len < f.passed + f.held;
}

static bool propagate_eof(struct conn *c, struct side *s);

void on_drain_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	double idle = c->svc->cfg->idle_timeout_ms / 1000.0, since, next;
	uint64_t given, taken = 0;
	bool waiting = false;
	int i;

	(void)revents;
	for (i = 0; i < 2; i++) {
		struct side *s = &c->s[i];
		struct sh_splice_flow f;

		if (!s->eof || c->s[!i].shut)
			continue;
		if (splice_across(c, s, &f, &given)) {
			if (propagate_eof(c, s))
				return;
			continue;
		}
		waiting = true;
		taken += given;
	}
	if (!waiting)
		return;
	/* A slow or paused reader is waited for as TCP and the relay wait
	 * for it: what it takes is activity, and only a peer that takes
	 * nothing for the idle timeout ends the connection (reset: a close
	 * would drop what the kernel still queues and look complete). */
	if (taken != c->drain_given) {
		c->drain_given = taken;
		c->drain_start = ev_now(loop);
	}
	since = ev_now(loop) - c->drain_start;
	if (since >= idle) {
		pr_warn("%s: the peer took no spliced byte for %.0f s (the idle timeout); "
			"resetting the connection\n", c->svc->cfg->name, idle);
		conn_reset(c);
		return;
	}
	/* looked at less often the longer nothing moves, up to every 50 ms */
	next = since / 4 < DRAIN_POLL_S ? DRAIN_POLL_S : since / 4 > 0.05 ? 0.05 : since / 4;
	ev_timer_stop(loop, w);	/* propagate_eof() above may have armed it */
	ev_timer_set(w, next, 0);
	ev_timer_start(loop, w);
}

/*
 * Side @s has reached EOF: pass it on once its bytes are across.
 * Return: true when @c was freed.
 */
static bool propagate_eof(struct conn *c, struct side *s)
{
	struct side *o = &c->s[!s->idx];

	if (o->shut)
		return false;
	if (!side_drained(c, s)) {
		if (!s->pend_len && !ev_is_active(&c->drain)) {
			c->drain_start = ev_now(loop_of(c));
			c->drain_given = UINT64_MAX;	/* the first look records it */
			ev_timer_set(&c->drain, DRAIN_POLL_S, 0);
			ev_timer_start(loop_of(c), &c->drain);
		}
		return false;	/* parked bytes: flush() comes back here */
	}
	/* the drain timer stays only while the other direction still waits */
	if (!(o->eof && !s->shut))
		ev_timer_stop(loop_of(c), &c->drain);
	/* On the relay the last FIN needs no shutdown(): close() follows at
	 * once and sends it, both receive queues being read to EOF. */
	if (!(c->path == P_RELAY && o->eof && s->shut))
		shutdown(o->fd, SHUT_WR);
	o->shut = true;
	return maybe_finish(c);
}

static bool on_eof(struct conn *c, struct side *s)
{
	s->eof = true;
	return propagate_eof(c, s);
}

/*
 * Splice hand-off: has the verdict taken over side @s? passed == handed
 * alone is not enough: a verdict that read the old handed may be about to
 * pass one more skb up. So unless "go" is already set, the answer waits
 * for a second look HANDOFF_LOOK_S later, by when any such verdict run is
 * long over (its passed count then differs, and its EPOLLIN edge brings the skb).
 */
static int hold_pair(struct conn *c, uint32_t why);

static void check_go(struct conn *c, struct side *s)
{
	struct sh_splice_flow f;

	if (c->path != P_SPLICE || s->spliced || s->held || s->eof || s->pend_len)
		return;
	if (splice_flow(splice_of(c), &c->pair, s->idx, &f) || f.passed != s->hand) {
		s->go_look = 0;
		return;	/* passed bytes wait in the socket: their EPOLLIN edge brings them */
	}
	if (!f.go && s->go_look != 2) {
		s->go_look = 1;
		if (!ev_is_active(&c->handoff)) {
			/* set each time: a one-shot timer restarted as it is fires at once */
			ev_timer_set(&c->handoff, HANDOFF_LOOK_S, 0);
			ev_timer_start(loop_of(c), &c->handoff);
		}
		return;
	}
	/* Every passed byte is across and the peer is ready: the next skb
	 * is redirected, so only EOF and errors concern us from now on. */
	s->spliced = true;
	if (ep_watch(s)) {
		s->spliced = false;	/* stay on reads: correct, only costlier */
		return;
	}
	ep_watch(&c->s[!s->idx]);	/* its writes for @s end (failing: spurious wake-ups) */
	/* an array write at a valid index does not fail; were it to, the pair
	 * would wait for its idle timeout, which resets it (on_timer()) */
	if (c->behind_pending)
		hold_pair(c, SH_SPLICE_BEHIND);
}

static void demote_step(struct conn *c);

void on_handoff_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	int i;

	(void)loop;
	(void)revents;
	if (c->demote != D_NONE) {
		demote_step(c);
		return;
	}
	for (i = 0; i < 2; i++) {
		struct side *s = &c->s[i];

		if (s->go_look != 1)
			continue;
		s->go_look = 2;
		check_go(c, s);
		if (!s->spliced)
			s->go_look = 0;
	}
}

/* Keeps @n bytes of side @s for the other side (flush()). 0 or -ENOMEM. */
static int park(struct side *s, const char *data, size_t n)
{
	s->pend = malloc(n);
	if (!s->pend)
		return -ENOMEM;
	memcpy(s->pend, data, n);
	s->pend_len = n;
	s->pend_off = 0;
	return 0;
}

/* Writes bytes of side @s to the other side; parks what does not fit. */
static int forward(struct conn *c, struct side *s, const char *data, size_t n)
{
	struct side *o = &c->s[!s->idx];
	ssize_t w = send(o->fd, data, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (w < 0) {
		if (errno != EAGAIN)
			return -errno;
		w = 0;
	}
	account(c, s->idx, (size_t)w);
	if ((size_t)w == n) {
		s->hand += n;
		if (c->path == P_SPLICE && !s->held)
			splice_set_handed(splice_of(c), &c->pair, s->idx, s->hand);
		return 0;
	}
	if (park(s, data + w, n - (size_t)w))
		return -ENOMEM;
	s->hand += (size_t)w;
	/* a short write: the next EPOLLOUT edge of @o says when to go on */
	o->wr_ready = false;
	return ep_watch(o);
}

/* Resets both ends. Return: true (@c is freed), for the callers' returns. */
static bool on_error(struct conn *c, int err, const char *what)
{
	pr_debug("%s: %s: %s; resetting the connection\n", c->svc->cfg->name, what,
		 strerror(err));
	conn_reset(c);
	return true;
}

static bool maybe_promote(struct conn *c, struct side *s);

/* The way back looks again soon (demote_step()): less often the longer
 * it has waited, up to every 50 ms. */
static void demote_poll(struct conn *c)
{
	double wait = (ev_now(loop_of(c)) - c->demote_start) / 4;

	if (ev_is_active(&c->handoff))
		return;
	ev_timer_set(&c->handoff, wait < DRAIN_POLL_S ? DRAIN_POLL_S : wait > 0.05 ? 0.05 : wait, 0);
	ev_timer_start(loop_of(c), &c->handoff);
}

/*
 * The first @n bytes read (in scratch) from side @s after it was held
 * while the verdict had passed nothing up yet: now it has (these bytes),
 * so every run that read the hold unset is over and its count final. Were
 * more redirected after demote_step() looked, the bytes wait for them.
 * Return: 0 forward them, 1 parked, -1 @c was freed.
 */
static int verify_held(struct conn *c, struct side *s, size_t n)
{
	struct sh_splice_flow f;
	uint64_t given;

	if (splice_across(c, s, &f, &given)) {
		s->verify = false;
		return 0;
	}
	if (park(s, scratch, n)) {
		on_error(c, ENOMEM, "park");
		return -1;
	}
	demote_poll(c);
	return 1;
}

/*
 * One read on side @s, forwarded to the other side. A spliced side is read
 * only once its peer's FIN was reported: "no data" then means EOF (the
 * verdict took the queue). Return: true when @c was freed.
 */
/*
 * How much spliced side @s may read (*@want, at most) once the verdict
 * held it as its peer's reader fell behind: only what it passed up before
 * "go" and its hand-off has not read yet. What it passes up from then on
 * follows bytes still queued for the peer; the way back reads it. A side
 * read for its FIN (or in its hand-off) can meet the hold before its
 * record: the pair is held here then. Return: false when nothing may be
 * read now.
 */
static bool behind_room(struct conn *c, struct side *s, size_t *want)
{
	struct sh_splice_flow f;

	if (splice_flow(splice_of(c), &c->pair, s->idx, &f) || !f.behind)
		return true;
	if (f.passed > s->hand) {
		if (f.passed - s->hand < *want)
			*want = (size_t)(f.passed - s->hand);
		return true;
	}
	/* an array write at a valid index does not fail; were it to, the pair
	 * would wait for its idle timeout, which resets it (on_timer()) */
	if (c->demote == D_NONE && hold_pair(c, SH_SPLICE_BEHIND) == -EAGAIN)
		c->behind_pending = true;
	return false;
}

static bool read_side(struct conn *c, struct side *s)
{
	size_t want = sizeof(scratch);
	ssize_t n;
	int err;

	if (c->path == P_SPLICE && !s->held && !behind_room(c, s, &want)) {
		s->rd_ready = false;	/* the way back reads it (demote_step()) */
		check_go(c, s);
		return false;
	}
	n = recv(s->fd, scratch, want, MSG_DONTWAIT);
	if (n > 0) {
		if (s->verify) {
			int v = verify_held(c, s, (size_t)n);

			if (v)	/* parked until the redirected bytes are across, or freed */
				return v < 0;
		}
		err = forward(c, s, scratch, (size_t)n);
		if (err)
			return on_error(c, -err, "write");
		if (c->path == P_RELAY)
			return maybe_promote(c, s);
		check_go(c, s);
		return false;
	}
	if (n == 0 || (s->spliced && errno == EAGAIN)) {
		if (eof_early(c, s)) {
			/* the worker's delivery raises the next edge; a held side
			 * is looked at by demote_step() too */
			s->rd_ready = false;
			if (s->held)
				demote_poll(c);
			return false;
		}
		return on_eof(c, s);
	}
	if (errno == EAGAIN) {
		s->rd_ready = false;
		check_go(c, s);
		return false;
	}
	if (errno == EINTR)
		return false;
	return on_error(c, errno, "read");
}

/*
 * The other side has taken (part of) the bytes of @s parked for it.
 * Return: true when @c was freed.
 */
static bool flush(struct conn *c, struct side *s)
{
	struct side *o = &c->s[!s->idx];
	ssize_t n;

	if (s->verify)
		return false;	/* demote_step() lets them go */
	n = send(o->fd, s->pend + s->pend_off, s->pend_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN) {
			o->wr_ready = false;
			return false;
		}
		return errno == EINTR ? false : on_error(c, errno, "write");
	}
	account(c, s->idx, (size_t)n);
	s->pend_off += (size_t)n;
	s->pend_len -= (size_t)n;
	s->hand += (size_t)n;
	if (s->pend_len) {
		o->wr_ready = false;
		return false;
	}
	free(s->pend);
	s->pend = NULL;
	s->pend_off = 0;
	ep_watch(o);	/* may stop watching @o's writes (both spliced) */
	if (c->path == P_SPLICE && !s->held)
		splice_set_handed(splice_of(c), &c->pair, s->idx, s->hand);
	if (s->eof)
		return propagate_eof(c, s);
	check_go(c, s);
	return false;
}

/* Is side @s to be read: open, not at EOF, nothing parked (backpressure),
 * and, once spliced, only for the FIN; not at all on the way back to the
 * relay until it is held (what is passed up must wait for the redirected). */
static bool wants_read(const struct side *s)
{
	return s->c->state == C_OPEN && !s->eof && !s->pend_len &&
	       (!s->spliced || (s->rdhup && s->c->demote == D_NONE));
}

static bool has_work(const struct conn *c)
{
	int i;

	for (i = 0; i < 2; i++) {
		const struct side *s = &c->s[i];

		if ((s->pend_len && !s->verify && c->s[!i].wr_ready) || (s->rd_ready && wants_read(s)))
			return true;
	}
	return false;
}

static void ready_queue(struct conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	c->ready_next = ready_later;
	ready_later = c;
	if (!ev_is_active(&ready_timer)) {
		ev_timer_set(&ready_timer, 0, 0);
		ev_timer_start(loop_of(c), &ready_timer);
	}
}

/*
 * Moves what is ready: parked bytes to a writable side, reads from a
 * readable one, until nothing can go on or PUMP_ROUNDS are done (then the
 * rest waits for the loop's next turn, so one fast pair does not hold up
 * the others). Return: true when @c was freed.
 */
static bool pump(struct conn *c)
{
	int round, i;

	for (round = 0; round < PUMP_ROUNDS; round++) {
		if (!has_work(c))
			return false;
		for (i = 0; i < 2; i++) {
			struct side *s = &c->s[i];

			if (s->pend_len && c->s[!i].wr_ready && flush(c, s))
				return true;
			if (s->rd_ready && wants_read(s) && read_side(c, s))
				return true;
		}
	}
	if (has_work(c))
		ready_queue(c);
	return false;
}

static void on_ready(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c;

	(void)loop;
	(void)w;
	(void)revents;
	ready_now = ready_later;
	ready_later = NULL;
	/* one at a time from the list head: a pump may free any of them */
	while ((c = ready_now)) {
		ready_now = c->ready_next;
		c->queued = false;
		pump(c);
	}
}

/* One event of conn_ep on side @s. Return: true when @c was freed. */
static bool side_event(struct side *s, uint32_t events)
{
	struct conn *c = s->c;

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		s->rd_ready = true;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		s->wr_ready = true;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		s->rdhup = true;
	if (c->state == C_CONNECTING) {
		/* a client reset while it waits for its backend: nothing to
		 * carry (a FIN only shortens a wait for a descriptor, wait_for_fd()) */
		if (s->idx == 0 && (events & (EPOLLERR | EPOLLHUP))) {
			conn_free(c, true);
			return true;
		}
		/* the client's bytes wait in its socket until the backend answers */
		if (s->idx != 1 || !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return false;
		if (backend_answered(c, events))
			return true;
		if (c->state == C_CONNECTING)
			return false;	/* trying the next backend */
	} else if (s->spliced && (events & EPOLLERR)) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		return on_error(c, err ? err : ECONNRESET, "peer");
	}
	return pump(c);
}

/* After @c was freed (or its backend socket replaced), later events of
 * the same batch for it must not be applied. */
static void forget_events(struct epoll_event *evs, int from, int n, const void *a,
			  const void *b)
{
	int j;

	for (j = from; j < n; j++)
		if (evs[j].data.ptr == a || evs[j].data.ptr == b)
			evs[j].data.ptr = NULL;
}

static void on_conn_events(struct ev_loop *loop, ev_io *w, int revents)
{
	struct epoll_event evs[64];
	int n, i;

	(void)loop;
	(void)w;
	(void)revents;
	n = epoll_wait(conn_ep, evs, 64, 0);
	for (i = 0; i < n; i++) {
		struct side *s = evs[i].data.ptr;
		struct conn *c;
		int fd1;

		if (!s)
			continue;	/* freed earlier in this batch */
		c = s->c;
		fd1 = c->s[1].fd;
		if (side_event(s, evs[i].events))
			forget_events(evs, i + 1, n, &c->s[0], &c->s[1]);
		else if (c->s[1].fd != fd1)
			forget_events(evs, i + 1, n, &c->s[1], NULL);
	}
}

static void start_relay(struct conn *c)
{
	c->path = P_RELAY;
	service_count(c->svc, SVC_RELAYED);
}

/*
 * Puts the open pair in the splice maps and hands it to the verdict, at
 * the start (@promoted false) or from the relay (no byte parked on either
 * side). A pair the map refuses stays on (or goes to) the relay.
 * Return: true when @c was freed.
 */
static bool start_splice(struct conn *c, bool promoted)
{
	struct service *svc = c->svc;
	int fds[2] = { c->s[0].fd, c->s[1].fd };
	int i, err = 0;

	/* A socket the map would refuse (a client that already closed) is
	 * relayed: an insert that fails after its peer went in could lose
	 * what the verdict already passed up to that peer. */
	for (i = 0; i < 2; i++)
		if (!sent_counter(c->s[i].fd, promoted, &c->s[i].sent_base))
			err = -EOPNOTSUPP;
	if (!err)
		err = splice_insert(splice_of(c), fds, svc->auto_path ? SPLICE_BULK_BYTES : 0, c,
				    &c->pair);
	if (err && c->pair.partial) {
		pr_warn("%s: the splice map took one socket of a pair and refused the other (%s); "
			"resetting it\n", svc->cfg->name, strerror(-err));
		conn_reset(c);
		return true;
	}
	if (err) {
		pr_debug("%s: splice refused the pair: %s\n", svc->cfg->name, strerror(-err));
		/* a refused move stays relayed: counted as it closes (auto_stayed) */
		if (!promoted) {
			service_fallback(svc, FB_MAP_REFUSED);
			start_relay(c);
		}
		return false;
	}
	c->path = P_SPLICE;
	c->stay = AS_NR;
	service_count(svc, promoted ? SVC_PROMOTED : SVC_SPLICED);
	/* what user space writes from now on is what the verdict waits for */
	for (i = 0; i < 2; i++)
		c->s[i].hand = 0;
	/* the client's socket has it from the listener (inherited at accept) */
	splice_sndbuf(c->s[1].fd);
	/* The caller's pump() reads each side: that kicks bytes queued before
	 * insertion into the verdict, or hands over what it passed up. */
	for (i = 0; i < 2; i++)
		c->s[i].rd_ready = true;
	return false;
}

/*
 * Before a relayed pair enters the maps, each receive queue is read to the
 * end (EAGAIN) and forwarded: a recv() that filled its buffer may have
 * left part of an skb queued, and once in the map tcp_read_skb() hands the
 * verdict whole skbs, the bytes already read included (duplicated bytes;
 * test_proxy_auto's duplex streams found it). skbs that arrive after the
 * EAGAIN are whole. At most DRAIN_READS reads a side, so a sender that
 * keeps the queue full only delays the move to a later turn.
 * Return: 0 drained, 1 not now (bytes parked, EOF, a busy sender), -1 @c
 * was freed.
 */
#define DRAIN_READS	16
static int drain_for_splice(struct conn *c)
{
	int i, k;

	for (i = 0; i < 2; i++) {
		struct side *s = &c->s[i];

		for (k = 0;; k++) {
			ssize_t n;
			int err;

			if (k == DRAIN_READS)
				return 1;
			n = recv(s->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
			if (n > 0) {
				err = forward(c, s, scratch, (size_t)n);
				if (err) {
					on_error(c, -err, "write");
					return -1;
				}
				if (s->pend_len)
					return 1;
				continue;
			}
			if (n == 0)
				return on_eof(c, s) ? -1 : 1;
			if (errno == EAGAIN) {
				s->rd_ready = false;
				break;
			}
			if (errno != EINTR) {
				on_error(c, errno, "read");
				return -1;
			}
		}
	}
	return 0;
}

/*
 * data-path auto, after the relay moved bytes of side @s: a connection
 * that has turned PROMOTE_TURNS times goes to the kernel path, unless its
 * placement says the relay is as fast (auto_splices(), asked again later).
 * Return: true when @c was freed.
 */
static bool maybe_promote(struct conn *c, struct side *s)
{
	double idle;
	int drained, cpu;

	if (!c->svc->auto_path || c->promote_done)
		return false;
	/* asked only when bytes turn: a chatty start followed by a one-way
	 * download is not moved in the middle of the download */
	if (s->idx == c->last_from)
		return false;
	c->last_from = s->idx;
	if (++c->turns < PROMOTE_TURNS)
		return false;
	/* parked bytes (a slow peer) or a half-close: ask again next turn */
	if (c->s[0].pend_len || c->s[1].pend_len || c->s[0].eof || c->s[1].eof) {
		if (c->stay != AS_CLIENT_BUSY)	/* the CPU's answer stays the news */
			c->stay = AS_IN_FLIGHT;
		return false;
	}
	/* waiting for the client CPU's answer: nothing new before the next
	 * sample, so no system call a turn (wrk turns 10 000 times a second) */
	if (ev_now(loop_of(c)) < c->next_ask)
		return false;
	if (!auto_splices(c->s[0].fd, &cpu)) {
		/* Not final: SO_INCOMING_CPU is the CPU of the client's last
		 * packet, and on loopback the client's ACKs to the daemon's
		 * writes are handled on the daemon's CPU; a client elsewhere
		 * shows it at a later turn (asked at most every PROMOTE_LOOK_S). */
		c->stay = AS_SAME_CPU;
		c->next_ask = ev_now(loop_of(c)) + PROMOTE_LOOK_S;
		return false;
	}
	if (c->svc->cfg->auto_min_idle) {
		idle = cpuidle_since(loop_of(c), cpu, c->look_from, PROMOTE_LOOK_S);
		c->next_ask = ev_now(loop_of(c)) + CPUIDLE_PERIOD_S;
		if (idle < 0) {
			/* not enough of its life sampled yet; after a busy
			 * answer, of the fresh span: busy is still the news */
			c->stay = c->promote_busy ? AS_CLIENT_BUSY : AS_TOO_YOUNG;
			return false;
		}
		if (idle * 100 < c->svc->cfg->auto_min_idle) {
			c->stay = AS_CLIENT_BUSY;
			if (!c->promote_busy)
				service_count(c->svc, SVC_PROMOTE_BUSY);
			c->promote_busy = true;
			c->look_from = ev_now(loop_of(c));	/* ask again over a fresh span */
			return false;
		}
	}
	drained = drain_for_splice(c);
	if (drained) {
		if (drained > 0)
			c->stay = AS_IN_FLIGHT;
		return drained < 0;
	}
	c->promote_done = true;
	c->stay = AS_REFUSED;	/* what stays true unless start_splice() moves it */
	return start_splice(c, true);
}

/* Is this TCP socket still open both ways or half-closed (not reset)? */
static bool sock_open(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
	       ti.tcpi_state != TCP_STATE_CLOSE;
}

/*
 * Side @s was told SH_SPLICE_QUEUED: what it passes up waits, charged to
 * no socket, behind bytes its peer redirected to it that its reader has
 * not made room for (sockhop.h, "Both ways"). Raising its send buffer by
 * them lets the psock worker move them there, charged as on the relay, and
 * what @s passes up next is charged to @s. The psock worker sends while
 * the socket's memory is under half its buffer (sock_writeable()), the
 * kernel doubles what is asked, and SO_SNDBUFFORCE passes net.core.wmem_max.
 */
#define ROOM_SLACK	(256 << 10)
static void make_room(struct conn *c, struct side *s)
{
	struct side *p = &c->s[!s->idx];
	struct sh_splice_flow f;
	uint64_t given, want;
	socklen_t len = sizeof(int);
	int cur, val;

	if (splice_across(c, p, &f, &given) || getsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &cur, &len))
		return;	/* all across already, or the error path takes over */
	if (!s->sndbuf_saved)
		s->sndbuf_saved = cur;
	want = 2 * ((uint64_t)s->sndbuf_saved + 2 * (p->hand + f.bytes - given) + ROOM_SLACK);
	if ((uint64_t)cur >= want || want > INT_MAX / 2)
		return;
	val = (int)(want / 2);
	if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &val, sizeof(val)))
		pr_debug("%s: SO_SNDBUFFORCE: %s\n", c->svc->cfg->name, strerror(errno));
}

/* Side @s's egress is clear again (its peer's redirected bytes are all in
 * it): its send buffer goes back to what it was before make_room(). */
static void room_restore(struct side *s)
{
	int val = s->sndbuf_saved / 2;

	if (!s->sndbuf_saved)
		return;
	s->sndbuf_saved = 0;
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &val, sizeof(val));
}

/*
 * The way back, once the pair is held: each side goes to the relay when
 * every byte the verdict redirected for it is in the other socket
 * (splice_across()); what the verdict passed up meanwhile waits in the
 * side's socket, as wants_read() is false until then. The first look is
 * HANDOFF_LOOK_S after the hold; a side whose verdict had passed nothing
 * up by then checks again with its first bytes (verify_held()), as a run
 * that read the hold unset could still be under way. A peer that drains
 * slowly is looked at less often (demote_poll()); what it takes counts as
 * activity for the idle timeout. A held side whose FIN came early (before
 * every passed byte, eof_early()) is read again at each look.
 */
static void demote_step(struct conn *c)
{
	bool waiting = false, moved = false;
	int i;

	for (i = 0; i < 2; i++) {
		struct side *s = &c->s[i];
		struct sh_splice_flow f = { 0 };
		uint64_t given;
		int r;

		if (s->held) {
			if (s->verify && s->pend_len) {
				r = splice_across(c, s, &f, &given);
				if (!r) {
					waiting = true;
					continue;
				}
				s->verify = false;
				moved = true;	/* pump() flushes them */
			} else if (s->rdhup && !s->eof && !s->pend_len) {
				s->rd_ready = true;
				moved = waiting = true;
			}
			continue;
		}
		r = s->eof ? 1 : splice_across(c, s, &f, &given);
		if (!r) {
			if (given != s->hand_spliced) {	/* the peer took more: not idle */
				s->hand_spliced = given;
				c->last_ev = ev_now(loop_of(c));
			}
			c->demote_waited = true;
			waiting = true;
			continue;
		}
		s->held = true;
		s->spliced = false;
		s->hand_spliced = s->hand;
		if (!s->eof)	/* at EOF it is held before its bytes are across */
			room_restore(&c->s[!i]);	/* what @s redirected is in it now */
		s->verify = r > 0 && !s->eof && !f.held;
		s->rd_ready = true;	/* bytes passed up meanwhile raised no edge we took */
		/* reads again, and writes for the other side */
		if (ep_watch(s) || ep_watch(&c->s[!i])) {
			on_error(c, errno, "epoll");
			return;
		}
		moved = true;
	}
	if (c->demote == D_WAIT && c->s[0].held && c->s[1].held) {
		c->demote = D_DONE;
		service_count(c->svc, SVC_DEMOTED);
		if (c->demote_why == SH_SPLICE_BEHIND)
			service_count(c->svc, SVC_DEMOTE_BEHIND);
		if (c->demote_waited)
			service_count(c->svc, SVC_DEMOTE_WAITED);
	}
	if (waiting)
		demote_poll(c);
	if (moved)
		pump(c);
}

/*
 * Holds spliced pair @c for the way back (demote_step()), the first look
 * HANDOFF_LOOK_S from now. Not while a side is still in its hand-off: it
 * reads what is passed up as its own. Return: 0, -EAGAIN (a side in its
 * hand-off) or -errno of the map.
 */
static int hold_pair(struct conn *c, uint32_t why)
{
	int i, err;

	for (i = 0; i < 2; i++)
		if (!c->s[i].spliced && !c->s[i].eof)
			return -EAGAIN;
	err = splice_hold(splice_of(c), &c->pair);
	if (err)
		return err;
	c->demote = D_WAIT;
	c->demote_why = (uint8_t)why;
	c->behind_pending = false;
	c->demote_start = ev_now(loop_of(c));
	ev_timer_stop(loop_of(c), &c->handoff);
	ev_timer_set(&c->handoff, HANDOFF_LOOK_S, 0);
	ev_timer_start(loop_of(c), &c->handoff);
	return 0;
}

/*
 * The verdict says socket @idx of @owner's pair wants the relay. Bulk
 * (auto only: SPLICE_BULK_BYTES): a side still in its hand-off lets the
 * next window tell again; a hold the map refuses leaves the pair spliced
 * (correct, slower). Behind (every spliced pair): the verdict already
 * passes that socket's skbs up, and only this process reads them, so the
 * pair must go back: after the hand-off (check_go()) if one is under
 * way; a refused hold resets it, as its bytes could never move again.
 * Queued: make room for the bytes ahead of what it passes up (make_room()).
 * Stalled (that room did not clear them within 32 MiB): reset, the bound of
 * last resort. Overlap (a retransmission too old to cut, sockhop.h): reset.
 */
static void on_splice_bulk(void *owner, int idx, uint64_t cookie, uint32_t why)
{
	struct conn *c = owner;
	int err;

	if (c->state != C_OPEN || c->path != P_SPLICE || c->pair.cookie[idx] != cookie)
		return;
	if (why == SH_SPLICE_QUEUED) {
		make_room(c, &c->s[idx]);
		return;
	}
	if (why == SH_SPLICE_STALLED) {
		/* make_room() did not clear it: the kernel would hold what the
		 * writer sends, charged to no socket, for as long as it writes.
		 * A socket its peer reset can send nothing: an ordinary reset. */
		if (!sock_open(c->s[0].fd) || !sock_open(c->s[1].fd)) {
			on_error(c, ECONNRESET, "peer");
			return;
		}
		pr_warn("%s: %u MiB passed up behind bytes the kernel splice could not send; "
			"resetting the connection\n", c->svc->cfg->name, SH_SPLICE_STALL_BYTES >> 20);
		service_count(c->svc, SVC_STALLED);
		conn_reset(c);
		return;
	}
	if (why == SH_SPLICE_OVERLAP) {
		/* the verdict dropped an skb it could not cut: this direction
		 * cannot go on whole (counted overlap_reset by the verdict) */
		pr_warn("%s: a retransmission began more than %u KiB before the bytes "
			"already sent on; resetting the connection\n", c->svc->cfg->name,
			SH_CUT_STEP * SH_CUT_STEPS >> 10);
		conn_reset(c);
		return;
	}
	if (c->demote != D_NONE)
		return;
	err = hold_pair(c, why);
	if (why != SH_SPLICE_BEHIND || !err)
		return;
	if (err == -EAGAIN)
		c->behind_pending = true;
	else
		on_error(c, -err, "splice hold");
}

static void on_splice_bulk_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	splice_bulk_run(w->data);
}

bool start_data(struct conn *c)
{
	struct service *svc = c->svc;

	c->state = C_OPEN;
	c->last_ev = ev_now(loop_of(c));
	c->last_from = 1;	/* the client's first bytes are not a turn */
	c->look_from = c->last_ev;
	c->stay = svc->auto_path ? AS_FEW_TURNS : AS_NR;
	ev_timer_stop(loop_of(c), &c->timer);
	ev_timer_set(&c->timer, svc->cfg->idle_timeout_ms / 1000.0, 0);
	ev_timer_start(loop_of(c), &c->timer);

	/* auto starts every connection on the relay (maybe_promote()) */
	if (!svc->splice || svc->auto_path) {
		service_fallback(svc, svc->relay_cause);
		start_relay(c);
		return false;
	}
	return start_splice(c, false);
}

void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	double idle = c->svc->cfg->idle_timeout_ms / 1000.0, ago;
	uint64_t now_ns, last_ns = 0;
	int i;

	(void)revents;
	if (c->state == C_CONNECTING) {
		if (c->s[1].fd < 0)
			connect_next(c);	/* it waits for a descriptor */
		else
			connect_failed(c, ETIMEDOUT);
		return;
	}
	/* Idle: the latest of user space's and the verdict's activity. */
	ago = ev_now(loop) - c->last_ev;
	if (c->path == P_SPLICE) {
		now_ns = now_mono_ns();
		for (i = 0; i < 2; i++) {
			struct sh_splice_flow f;

			if (!splice_flow(splice_of(c), &c->pair, i, &f) && f.last_ns > last_ns)
				last_ns = f.last_ns;
		}
		if (last_ns && (double)(now_ns - last_ns) / 1e9 < ago)
			ago = (double)(now_ns - last_ns) / 1e9;
	}
	if (ago >= idle) {
		pr_debug("%s: idle for %.1fs, closing\n", c->svc->cfg->name, ago);
		service_count(c->svc, SVC_IDLE_CLOSED);
		/* on the way back with bytes the kernel still queues, which the
		 * close would drop (or held by the verdict and not yet by us):
		 * a reset, not an end that looks complete */
		conn_free(c, c->demote == D_WAIT || c->behind_pending);
		return;
	}
	ev_timer_set(w, idle - ago + 0.01, 0);
	ev_timer_start(loop, w);
}

void conn_idle_changed(struct conn *c)
{
	if (c->state != C_OPEN)
		return;	/* its timer is the connect timeout (or the descriptor retry) */
	/* on_timer() closes it or re-arms for what is left of the new one */
	ev_timer_stop(loop_of(c), &c->timer);
	ev_timer_set(&c->timer, 0, 0);
	ev_timer_start(loop_of(c), &c->timer);
}

int conn_module_init(struct ev_loop *loop, struct splice *splice)
{
	conn_ep = epoll_create1(EPOLL_CLOEXEC);
	if (conn_ep < 0)
		return -errno;
	ev_io_init(&conn_ep_io, on_conn_events, conn_ep, EV_READ);
	ev_io_start(loop, &conn_ep_io);
	ev_init(&ready_timer, on_ready);
	if (splice) {
		ev_io_init(&splice_bulk_io, on_splice_bulk_io, splice_bulk_fd(splice, on_splice_bulk),
			   EV_READ);
		splice_bulk_io.data = splice;
		ev_io_start(loop, &splice_bulk_io);
	}
	return 0;
}

void conn_module_fini(struct ev_loop *loop)
{
	if (conn_ep < 0)
		return;
	ev_timer_stop(loop, &ready_timer);
	ev_io_stop(loop, &splice_bulk_io);	/* stopping one never started is a no-op */
	cpuidle_stop(loop);
	ev_io_stop(loop, &conn_ep_io);
	close(conn_ep);
	conn_ep = -1;
}
