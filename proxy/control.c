// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * control.c - see control.h. Requests are tiny and answers are built in
 * memory, so each client is served in one callback; a send timeout keeps a
 * stuck client from holding the loop for more than a second.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "control.h"
#include "log.h"
#include "service.h"
#include "splice.h"

struct control {
	struct ev_loop *loop;
	struct services *ss;
	char path[108];
	int fd;
	ev_io io;
};

struct out {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (o->buf && (size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n + 1) * 2;
		char *nb = realloc(o->buf, cap);

		if (!nb)
			return;	/* the answer is cut short; o->buf is still freed */
		o->buf = nb;
		o->cap = cap;
	}
}

static uint64_t live_splice_bytes(const struct service *svc)
{
	const struct conn *c;
	uint64_t sum = 0;

	for (c = svc->conns; c; c = conn_next(c))
		sum += conn_spliced_bytes(c);
	return sum;
}

static const char *be_state(const struct backend *be)
{
	return be->state == BE_UP ? "UP" : "DOWN";
}

static void services_text(struct control *ctl, struct out *o)
{
	struct services *ss = ctl->ss;
	size_t i, j;
	int f;

	for (i = 0; i < ss->nr; i++) {
		const struct service *svc = &ss->svcs[i];
		const struct service_stats *st = &svc->st;

		put(o, "service %s  (%s, data path %s)\n", svc->cfg->name, cfg_algo_name(svc->cfg->algo),
		    svc->splice ? "splice" : "relay");
		put(o, "  listen:");
		for (j = 0; j < svc->cfg->nr_listen; j++)
			put(o, " %s", svc->cfg->listen[j].text);
		put(o, "\n  connections: active %u, accepted %llu, rejected (limit) %llu, "
		       "no backend %llu, connect failures %llu, retries %llu, idle closed %llu, "
		       "resets %llu, accept paused %llu\n", svc->active, (unsigned long long)st->accepted,
		    (unsigned long long)st->rejected_limit, (unsigned long long)st->no_backend,
		    (unsigned long long)st->connect_fail, (unsigned long long)st->retries,
		    (unsigned long long)st->idle_closed, (unsigned long long)st->resets,
		    (unsigned long long)st->accept_paused);
		put(o, "  splice: %llu connections, %llu bytes    relay: %llu connections, %llu bytes\n",
		    (unsigned long long)st->conns_splice,
		    (unsigned long long)(st->bytes_splice + live_splice_bytes(svc)),
		    (unsigned long long)st->conns_relay, (unsigned long long)st->bytes_relay);
		put(o, "  relayed because:");
		for (f = 0; f < FB_NR; f++)
			put(o, " %s %llu", fallback_name((enum fallback_cause)f),
			    (unsigned long long)st->fallback[f]);
		put(o, "\n  %-28s %-5s %6s %6s %8s %14s %14s %8s %10s\n", "BACKEND", "STATE", "WEIGHT",
		    "ACTIVE", "CONNS", "BYTES-OUT", "BYTES-IN", "FAILS", "CHECKS-OK");
		for (j = 0; j < svc->cfg->nr_backends; j++) {
			const struct backend *be = &svc->backends[j];

			put(o, "  %-28s %-5s %6u %6u %8llu %14llu %14llu %8llu %10llu%s\n",
			    be->cfg->addr.text, be_state(be), be->cfg->weight, be->active,
			    (unsigned long long)be->conns, (unsigned long long)be->bytes_out,
			    (unsigned long long)be->bytes_in,
			    (unsigned long long)(be->connect_fail + be->hc_fail),
			    (unsigned long long)be->hc_ok, be->cfg->backup ? "  backup" : "");
		}
	}
	if (ss->splice) {
		struct sh_splice_stats k;

		if (!splice_stats(ss->splice, &k))
			put(o, "kernel splice: %llu skbs / %llu bytes redirected, %llu skbs / %llu bytes "
			       "handed over by the daemon, %llu without entry, %llu redirect failures\n",
			    (unsigned long long)k.skbs_redirected, (unsigned long long)k.bytes_redirected,
			    (unsigned long long)k.skbs_passed, (unsigned long long)k.bytes_passed,
			    (unsigned long long)k.no_ctl, (unsigned long long)k.redirect_fail);
	} else {
		put(o, "kernel splice: unavailable (%s)\n", fallback_name(ss->no_splice_cause));
	}
}

static void services_json(struct control *ctl, struct out *o)
{
	struct services *ss = ctl->ss;
	struct sh_splice_stats k = { 0 };
	size_t i, j;
	int f;

	put(o, "{\"services\":[");
	for (i = 0; i < ss->nr; i++) {
		const struct service *svc = &ss->svcs[i];
		const struct service_stats *st = &svc->st;

		put(o, "%s{\"name\":\"%s\",\"algorithm\":\"%s\",\"data_path\":\"%s\",\"active\":%u,"
		       "\"accepted\":%llu,\"rejected_limit\":%llu,\"no_backend\":%llu,"
		       "\"connect_fail\":%llu,\"retries\":%llu,\"idle_closed\":%llu,\"resets\":%llu,"
		       "\"accept_paused\":%llu,\"conns_splice\":%llu,\"bytes_splice\":%llu,\"conns_relay\":%llu,"
		       "\"bytes_relay\":%llu,\"fallback\":{",
		    i ? "," : "", svc->cfg->name, cfg_algo_name(svc->cfg->algo),
		    svc->splice ? "splice" : "relay", svc->active, (unsigned long long)st->accepted,
		    (unsigned long long)st->rejected_limit, (unsigned long long)st->no_backend,
		    (unsigned long long)st->connect_fail, (unsigned long long)st->retries,
		    (unsigned long long)st->idle_closed, (unsigned long long)st->resets,
		    (unsigned long long)st->accept_paused, (unsigned long long)st->conns_splice,
		    (unsigned long long)(st->bytes_splice + live_splice_bytes(svc)),
		    (unsigned long long)st->conns_relay, (unsigned long long)st->bytes_relay);
		for (f = 0; f < FB_NR; f++)
			put(o, "%s\"%s\":%llu", f ? "," : "", fallback_name((enum fallback_cause)f),
			    (unsigned long long)st->fallback[f]);
		put(o, "},\"backends\":[");
		for (j = 0; j < svc->cfg->nr_backends; j++) {
			const struct backend *be = &svc->backends[j];

			put(o, "%s{\"address\":\"%s\",\"state\":\"%s\",\"weight\":%u,\"backup\":%s,"
			       "\"active\":%u,\"conns\":%llu,\"bytes_out\":%llu,\"bytes_in\":%llu,"
			       "\"connect_fail\":%llu,\"check_ok\":%llu,\"check_fail\":%llu,"
			       "\"transitions\":%llu}",
			    j ? "," : "", be->cfg->addr.text, be_state(be), be->cfg->weight,
			    be->cfg->backup ? "true" : "false", be->active,
			    (unsigned long long)be->conns, (unsigned long long)be->bytes_out,
			    (unsigned long long)be->bytes_in, (unsigned long long)be->connect_fail,
			    (unsigned long long)be->hc_ok, (unsigned long long)be->hc_fail,
			    (unsigned long long)be->transitions);
		}
		put(o, "]}");
	}
	if (ss->splice)
		splice_stats(ss->splice, &k);
	put(o, "],\"splice\":{\"available\":%s,\"entries\":%ld,\"skbs_redirected\":%llu,"
	       "\"bytes_redirected\":%llu,\"skbs_passed\":%llu,\"bytes_passed\":%llu,"
	       "\"no_ctl\":%llu,\"redirect_fail\":%llu,\"empty_skbs\":%llu}}\n",
	    ss->splice ? "true" : "false", ss->splice ? splice_entries(ss->splice) : 0L,
	    (unsigned long long)k.skbs_redirected,
	    (unsigned long long)k.bytes_redirected, (unsigned long long)k.skbs_passed,
	    (unsigned long long)k.bytes_passed, (unsigned long long)k.no_ctl,
	    (unsigned long long)k.redirect_fail, (unsigned long long)k.empty_skbs);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	struct timeval tv = { .tv_sec = 1 };
	struct out o = { 0 };
	char cmd[64];
	ssize_t n;
	size_t off = 0;
	int fd;

	(void)loop;
	(void)revents;
	fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, cmd, sizeof(cmd) - 1, 0);
	if (n <= 0) {
		close(fd);
		return;
	}
	cmd[n] = '\0';
	cmd[strcspn(cmd, "\r\n")] = '\0';
	if (!strcmp(cmd, "services"))
		services_text(ctl, &o);
	else if (!strcmp(cmd, "services-json"))
		services_json(ctl, &o);
	else
		put(&o, "error: unknown command '%s' (expected services or services-json)\n", cmd);
	while (o.buf && off < o.len) {
		n = send(fd, o.buf + off, o.len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(o.buf);
	close(fd);
}

int control_open(struct ev_loop *loop, const char *path, struct services *ss,
		 struct control **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct control *ctl;
	int err;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->loop = loop;
	ctl->ss = ss;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = -errno;
		goto fail;
	}
	/* A socket that answers belongs to a live daemon (one with another pin
	 * directory): refuse. One that does not was left by a daemon that died. */
	if (!connect(ctl->fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -EADDRINUSE;
		close(ctl->fd);
		goto fail;
	}
	close(ctl->fd);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = -errno;
		goto fail;
	}
	unlink(path);
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(path, 0600) ||
	    listen(ctl->fd, 16)) {
		err = -errno;
		close(ctl->fd);
		goto fail;
	}
	ev_io_init(&ctl->io, on_client, ctl->fd, EV_READ);
	ctl->io.data = ctl;
	ev_io_start(loop, &ctl->io);
	*out = ctl;
	return 0;
fail:
	free(ctl);
	return err;
}

void control_close(struct control *ctl)
{
	if (!ctl)
		return;
	ev_io_stop(ctl->loop, &ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
