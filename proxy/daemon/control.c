// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * control.c - see control.h. Answers are built in memory; every client is
 * read and written without blocking, with a deadline, so no client can hold
 * the loop that carries the proxied connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "ctlproto.h"
#include "emit.h"
#include "log.h"
#include "report.h"
#include "request.h"
#include "service.h"

struct ctl_client;

struct control {
	struct ev_loop *loop;
	struct services *ss;
	struct control_hooks hooks;
	char path[108];
	int fd;
	ev_io io;
	struct ctl_client *clients;	/* connected, answer not yet sent */
	unsigned int nr_clients;
	int spare_fd;			/* /dev/null, held for one client when fds run out */
	bool spare_lent;		/* a client holds the spare's slot */
	ev_timer pause;			/* out of fds, the spare in use: accept again later */
	struct control_stats st;
};

#define CTL_PAUSE_S	0.1	/* level-triggered accept would spin on EMFILE */

/* weight, disable, enable: an operator's word on one backend */
static void backend_command(struct control *ctl, const struct ctl_request *req, struct emit *o)
{
	int enable = req->verb == CTL_WEIGHT ? -1 : req->verb == CTL_ENABLE;
	char why[160];

	if (service_backend_admin(ctl->ss, req->service, req->backend, req->weight, enable,
				  req->kill, why, sizeof(why)))
		emit_text(o, CTL_ERROR_PREFIX " %s\n", why);
	else
		emit_text(o, "ok\n");
}

static void hook_command(struct control *ctl, const char *cmd, struct emit *o)
{
	int (*fn)(void *, char *, size_t) = !strcmp(cmd, "reload") ? ctl->hooks.reload :
					    ctl->hooks.replace_stages;
	char msg[1024] = "";
	int err;

	if (!fn) {
		emit_text(o, CTL_ERROR_PREFIX " %s is not available in this daemon\n", cmd);
		return;
	}
	err = fn(ctl->hooks.ctx, msg, sizeof(msg));
	emit_text(o, "%s%s\n", err ? CTL_ERROR_PREFIX " " : "", msg);
}

/* Answers one request line (@len bytes, room for a NUL after them). */
static void dispatch(struct control *ctl, char *line, size_t len, struct emit *o)
{
	struct ctl_request req;

	if (ctl_request_parse(line, len, &req, o))
		return;
	switch (req.verb) {
	case CTL_SERVICES_JSON:
		o->json = true;
		/* fall through */
	case CTL_SERVICES:
		report_services(ctl->ss, &ctl->st, ctl->nr_clients, o);
		break;
	case CTL_TABLE:
		report_table(ctl->ss, req.service, o);
		break;
	case CTL_EXPLAIN_JSON:
		o->json = true;
		/* fall through */
	case CTL_EXPLAIN:
		report_explain(ctl->ss, req.service, o);
		break;
	case CTL_WEIGHT:
	case CTL_DISABLE:
	case CTL_ENABLE:
		backend_command(ctl, &req, o);
		break;
	case CTL_RELOAD:
		hook_command(ctl, "reload", o);
		break;
	case CTL_TC_REPLACE_STAGES:
		hook_command(ctl, "tc-replace-stages", o);
		break;
	}
}

/* --- one client: read a line, answer, close ------------------------------- */

/*
 * Each client is a small state machine on the loop: READING until a whole
 * line (or EOF) arrived, then WRITING the answer as the socket takes it.
 * Nothing blocks: a client that sends nothing, trickles, floods or never
 * reads costs one fd and a buffer until its deadline, never the loop.
 */
struct ctl_client {
	struct control *ctl;
	int fd;
	ev_io io;
	ev_timer deadline;
	bool writing;
	bool on_spare;		/* holds the descriptor slot of ctl->spare_fd */
	size_t in_len;
	struct emit out;		/* the answer, in memory */
	size_t out_off;
	struct ctl_client *prev, *next;
	char in[CTL_LINE_MAX + 1];
};

/* (Re)opens the reserve, unless a client holds its slot. One that could
 * not be opened (ENFILE: another process took the slot) is tried again at
 * the next accept or pause. */
static void spare_refill(struct control *ctl)
{
	if (ctl->spare_fd < 0 && !ctl->spare_lent)
		ctl->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void client_close(struct ctl_client *c)
{
	struct control *ctl = c->ctl;

	ev_io_stop(ctl->loop, &c->io);
	ev_timer_stop(ctl->loop, &c->deadline);
	close(c->fd);
	if (c->on_spare) {	/* take the slot back before anything else can */
		ctl->spare_lent = false;
		spare_refill(ctl);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nr_clients--;
	emit_free(&c->out);
	free(c);
}

/* Writes what the socket takes; closes once the whole answer is out. */
static void client_flush(struct ctl_client *c)
{
	struct control *ctl = c->ctl;

	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* the deadline counts from the last progress */
			ev_timer_stop(ctl->loop, &c->deadline);
			ev_timer_set(&c->deadline, CTL_WRITE_TIMEOUT, 0.);
			ev_timer_start(ctl->loop, &c->deadline);
			return;
		}
		if (n <= 0)
			break;	/* the client left: nothing more to do for it */
		c->out_off += (size_t)n;
	}
	client_close(c);
}

static void client_refuse(struct ctl_client *c, const char *why)
{
	emit_text(&c->out, CTL_ERROR_PREFIX " %s\n", why);
	c->writing = true;
	ev_io_stop(c->ctl->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(c->ctl->loop, &c->io);
	client_flush(c);
}

/* Has the client closed its socket altogether (not just its write side)?
 * Then nobody reads the answer: a CLI that gave up waiting (the daemon was
 * stopped, say) must not find its command run later behind its back. */
static bool client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* The request is complete (@len bytes of c->in): answer it. */
static void client_answer(struct ctl_client *c, size_t len)
{
	struct control *ctl = c->ctl;

	c->in[len] = '\0';
	if (client_gone(c->fd)) {
		struct emit cmd;

		ctl->st.abandoned++;
		emit_to_memory(&cmd, false);
		ctl_put_escaped(&cmd, c->in, len, 64);
		pr_info("control: a client left before its command was read; not running '%s'\n",
			cmd.len ? cmd.buf : "");
		emit_free(&cmd);
		client_close(c);
		return;
	}
	dispatch(ctl, c->in, len, &c->out);
	ctl->st.served++;
	c->writing = true;
	ev_io_stop(ctl->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(ctl->loop, &c->io);
	client_flush(c);
}

static void on_client_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *c = w->data;
	char *nl;
	ssize_t n;

	(void)loop;
	(void)revents;
	if (c->writing) {
		client_flush(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, CTL_LINE_MAX - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && c->in_len == 0)) {
		client_close(c);	/* an error, or a client that left silent */
		return;
	}
	if (n == 0) {		/* EOF ends a line that lacks its newline */
		client_answer(c, c->in_len);
		return;
	}
	nl = memchr(c->in + c->in_len, '\n', (size_t)n);
	c->in_len += (size_t)n;
	if (nl) {
		client_answer(c, (size_t)(nl - c->in));	/* anything after it is ignored */
		return;
	}
	if (c->in_len == CTL_LINE_MAX) {
		c->ctl->st.too_long++;
		client_refuse(c, "command longer than " CTL_LINE_MAX_TEXT " bytes");
	}
}

static void on_client_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_client *c = w->data;

	(void)loop;
	(void)revents;
	c->ctl->st.timed_out++;
	if (c->writing) {
		client_close(c);	/* it stopped reading its answer */
		return;
	}
	client_refuse(c, c->on_spare ? "no complete command within " CTL_SPARE_READ_TIMEOUT_TEXT
		      " second (out of descriptors, the reserved one serves one client at a time)" :
		      "no complete command within " CTL_READ_TIMEOUT_TEXT " seconds");
}

/* A client over the cap: told so at once, without waiting on it. */
static void refuse_busy(struct control *ctl, int fd)
{
	static const char msg[] = CTL_ERROR_PREFIX " too many control clients (" CTL_MAX_CLIENTS_TEXT
				  " at once); try again\n";

	ctl->st.refused_busy++;
	if (send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pr_debug("control: a refused client left first: %m\n");
	close(fd);
}

static void on_pause_end(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *ctl = w->data;

	(void)revents;
	spare_refill(ctl);
	ev_io_start(loop, &ctl->io);
}

/*
 * Out of descriptors (the proxy's clients took them all): the operator
 * must still reach the daemon, so one descriptor is held in reserve. It is
 * given up for one control client and taken back when that client closes;
 * while it is in use the listener pauses, as the services' do.
 * Return: the client's fd, or -1 (errno) with the listener paused.
 */
static int accept_on_spare(struct control *ctl, bool *on_spare)
{
	int fd = -1, err = errno;

	if (ctl->spare_fd >= 0) {
		close(ctl->spare_fd);
		ctl->spare_fd = -1;
		fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		err = errno;
		if (fd >= 0) {
			*on_spare = true;
			ctl->spare_lent = true;
			ctl->st.on_spare++;
			return fd;
		}
		spare_refill(ctl);
	}
	ev_io_stop(ctl->loop, &ctl->io);
	ev_timer_set(&ctl->pause, CTL_PAUSE_S, 0.);
	ev_timer_start(ctl->loop, &ctl->pause);
	errno = err;
	return -1;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	int i;

	(void)revents;
	spare_refill(ctl);
	/* a bounded batch: a flood of connects cannot hold the loop either */
	for (i = 0; i < 64; i++) {
		struct ctl_client *c;
		bool on_spare = false;
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			fd = accept_on_spare(ctl, &on_spare);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				pr_debug("control: accept: %m\n");
			return;
		}
		c = NULL;
		if (ctl->nr_clients >= CTL_MAX_CLIENTS)
			refuse_busy(ctl, fd);
		else if (!(c = calloc(1, sizeof(*c))))
			close(fd);
		if (!c) {
			if (on_spare) {
				ctl->spare_lent = false;
				spare_refill(ctl);
			}
			continue;
		}
		c->ctl = ctl;
		c->on_spare = on_spare;
		c->fd = fd;
		emit_to_memory(&c->out, false);
		ev_io_init(&c->io, on_client_io, fd, EV_READ);
		c->io.data = c;
		/* the reserve serves one client at a time: a silent one
		 * holds it 1 s, not 5 (sockhop sends its line at once) */
		ev_timer_init(&c->deadline, on_client_deadline,
			      on_spare ? CTL_SPARE_READ_TIMEOUT : CTL_READ_TIMEOUT, 0.);
		c->deadline.data = c;
		ev_io_start(loop, &c->io);
		ev_timer_start(loop, &c->deadline);
		c->next = ctl->clients;
		if (c->next)
			c->next->prev = c;
		ctl->clients = c;
		ctl->nr_clients++;
		ctl->st.accepted++;
	}
}

void control_stats(const struct control *ctl, struct control_stats *st, unsigned int *now)
{
	*st = ctl->st;
	*now = ctl->nr_clients;
}

/* Only a socket may be replaced: any other file at @path is someone's. */
static int not_a_socket(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && !S_ISSOCK(st.st_mode) ? -EEXIST : 0;
}

int control_probe(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err = 0;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	if (not_a_socket(path))
		return -EEXIST;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun)))
		err = -EADDRINUSE;
	close(fd);
	return err;
}

int control_open(struct ev_loop *loop, const char *path, struct services *ss,
		 const struct control_hooks *hooks, struct control **out)
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
	if (hooks)
		ctl->hooks = *hooks;
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
	err = not_a_socket(path);
	if (err)
		goto fail;
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = -errno;
		goto fail;
	}
	unlink(path);	/* a socket left by a daemon that died */
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(path, 0600) ||
	    listen(ctl->fd, 128)) {
		err = -errno;
		close(ctl->fd);
		goto fail;
	}
	ctl->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (ctl->spare_fd < 0) {
		err = -errno;
		close(ctl->fd);
		goto fail;
	}
	ev_io_init(&ctl->io, on_accept, ctl->fd, EV_READ);
	ctl->io.data = ctl;
	ev_timer_init(&ctl->pause, on_pause_end, CTL_PAUSE_S, 0.);
	ctl->pause.data = ctl;
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
	while (ctl->clients)
		client_close(ctl->clients);
	ev_io_stop(ctl->loop, &ctl->io);
	ev_timer_stop(ctl->loop, &ctl->pause);
	if (ctl->spare_fd >= 0)
		close(ctl->spare_fd);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
