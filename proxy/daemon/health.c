// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * health.c - see health.h. One check in flight per backend: the timer
 * either starts a check (no socket open) or judges it timed out (socket
 * open); the socket's EV_WRITE judges it done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "service.h"

static struct ev_loop *loop_of(const struct backend *be)
{
	return be->svc->all->loop;
}

static void finish(struct backend *be, bool ok)
{
	const struct cfg_health *h = &be->svc->cfg->health;
	struct ev_loop *loop = loop_of(be);

	ev_io_stop(loop, &be->hc_io);
	if (be->hc_fd >= 0) {
		/* a check leaves no half-open connection behind: reset it */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(be->hc_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(be->hc_fd);
		be->hc_fd = -1;
	}
	if (ok) {
		be->hc_ok++;
		be->fall_count = 0;
		if (be->state == BE_DOWN && ++be->rise_count >= h->rise)
			backend_set_state(be, BE_UP, "health check passed");
	} else {
		be->hc_fail++;
		be->rise_count = 0;
		if (be->state == BE_UP && ++be->fall_count >= h->fall)
			backend_set_state(be, BE_DOWN, "health check failed");
	}
	/* next check one interval after this one started */
	ev_timer_stop(loop, &be->hc_timer);
	ev_timer_set(&be->hc_timer, h->interval_ms / 1000.0, 0);
	ev_timer_start(loop, &be->hc_timer);
}

void health_passive(struct backend *be, bool ok)
{
	const struct cfg_health *h = &be->svc->cfg->health;

	if (ok) {
		be->fall_count = 0;
		return;
	}
	if (h->enabled && be->state == BE_UP && ++be->fall_count >= h->fall)
		backend_set_state(be, BE_DOWN, "connections failed");
}

static void on_check_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct backend *be = w->data;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)loop;
	(void)revents;
	if (getsockopt(be->hc_fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		pr_debug("%s: health check of %s: %s\n", be->svc->cfg->name, be->cfg->addr.text,
			 strerror(err));
	finish(be, err == 0);
}

static void start_check(struct backend *be)
{
	const struct cfg_health *h = &be->svc->cfg->health;
	struct ev_loop *loop = loop_of(be);
	int fd;

	fd = socket(be->cfg->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pr_warn("%s: health check socket: %s\n", be->svc->cfg->name, strerror(errno));
		finish(be, false);
		return;
	}
	be->hc_fd = fd;
	if (connect(fd, (const struct sockaddr *)&be->cfg->addr.sa, be->cfg->addr.len) &&
	    errno != EINPROGRESS) {
		finish(be, false);
		return;
	}
	ev_io_set(&be->hc_io, fd, EV_WRITE);
	ev_io_start(loop, &be->hc_io);
	ev_timer_set(&be->hc_timer, h->timeout_ms / 1000.0, 0);
	ev_timer_start(loop, &be->hc_timer);
}

static void on_check_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct backend *be = w->data;

	(void)loop;
	(void)revents;
	if (be->hc_fd >= 0) {
		pr_debug("%s: health check of %s timed out\n", be->svc->cfg->name,
			 be->cfg->addr.text);
		finish(be, false);
		return;
	}
	start_check(be);
}

void health_start(struct backend *be)
{
	be->hc_fd = -1;
	ev_init(&be->hc_io, on_check_io);
	be->hc_io.data = be;
	ev_init(&be->hc_timer, on_check_timer);
	be->hc_timer.data = be;
	if (!be->svc->cfg->health.enabled)
		return;
	/* spread the first checks over a tenth of the interval */
	ev_timer_set(&be->hc_timer,
		     0.001 + (be->idx % 10) * be->svc->cfg->health.interval_ms / 100000.0, 0);
	ev_timer_start(loop_of(be), &be->hc_timer);
}

void health_stop(struct backend *be)
{
	ev_timer_stop(loop_of(be), &be->hc_timer);
	ev_io_stop(loop_of(be), &be->hc_io);
	if (be->hc_fd >= 0) {
		close(be->hc_fd);
		be->hc_fd = -1;
	}
}
