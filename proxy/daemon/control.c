// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * control.c - see control.h. Answers are built in memory; every client is
 * read and written without blocking, with a deadline, so no client can hold
 * the loop that carries the proxied connections.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
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
#include "balance.h"

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
	struct control_stats st;
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

/* A backend's bytes out (to it) and in (from it): what closed connections
 * left in its books, and what the kernel moved for the live spliced ones. */
static void backend_bytes(const struct service *svc, const struct backend *be,
			  unsigned long long *out, unsigned long long *in)
{
	const struct conn *c;
	uint64_t moved[2];

	*out = be->bytes_out;
	*in = be->bytes_in;
	for (c = svc->conns; c; c = conn_next(c)) {
		if (conn_backend(c) != be)
			continue;
		conn_spliced(c, moved);
		*out += moved[0];
		*in += moved[1];
	}
}

static const char *be_state(const struct backend *be)
{
	return be->disabled ? "MAINT" : be->state == BE_UP ? "UP" : "DOWN";
}

/* Connect-time view of one service: counters summed over CPUs and how many
 * table slots each backend holds. */
struct vip_view {
	bool ok;
	struct sh_vip_stats st;
	uint32_t slots[SH_MAX_SVC_BACKENDS];
	uint32_t empty;			/* slots with no backend */
	struct sh_backend_stats be[SH_MAX_SVC_BACKENDS];
};

static void vip_view(const struct services *ss, const struct service *svc, struct vip_view *v)
{
	uint32_t id0 = balance_backend_id((uint32_t)(svc - ss->svcs), 0), *ids;
	size_t i;

	memset(v, 0, sizeof(*v));
	if (!ss->balance || !svc->cfg->nr_vips)
		return;
	v->ok = !balance_service_stats(ss->balance, (uint32_t)(svc - ss->svcs), &v->st);
	for (i = 0; i < svc->cfg->nr_backends; i++)
		balance_backend_stats(ss->balance, id0 + (uint32_t)i, &v->be[i]);
	ids = malloc(SH_MAGLEV_SLOTS * sizeof(*ids));
	if (ids && !balance_read_table(ss->balance, svc->cfg, ids)) {
		for (i = 0; i < SH_MAGLEV_SLOTS; i++) {
			if (ids[i] >= id0 && ids[i] < id0 + svc->cfg->nr_backends)
				v->slots[ids[i] - id0]++;
			else
				v->empty++;
		}
	}
	free(ids);
}

static const char *vip_proto_name(const struct cfg_service *cs)
{
	return cs->vip_protos == (CFG_VIP_TCP | CFG_VIP_UDP) ? "tcp+udp" :
	       cs->vip_protos == CFG_VIP_UDP ? "udp" : "tcp";
}

static void services_text(struct control *ctl, struct out *o)
{
	struct services *ss = ctl->ss;
	size_t i, j;
	int f;

	for (i = 0; i < ss->nr; i++) {
		const struct service *svc = &ss->svcs[i];
		const struct service_stats *st = &svc->st;

		if (!svc->cfg->nr_listen) {
			/* virtual only: no proxy, the kernel picks in connect() */
			put(o, "service %s  (%s, virtual only: balanced in connect(), no proxy)\n",
			    svc->cfg->name, cfg_algo_name(svc->cfg->algo));
			put(o, "  %-28s %-5s %6s %10s\n", "BACKEND", "STATE", "WEIGHT", "CHECKS-OK");
			for (j = 0; j < svc->cfg->nr_backends; j++)
				put(o, "  %-28s %-5s %6u %10llu%s\n", svc->backends[j].cfg->addr.text,
				    be_state(&svc->backends[j]), svc->backends[j].weight,
				    (unsigned long long)svc->backends[j].hc_ok,
				    svc->backends[j].cfg->backup ? "  backup" : "");
			goto virtual;
		}
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
			unsigned long long out, in;

			backend_bytes(svc, be, &out, &in);
			put(o, "  %-28s %-5s %6u %6u %8llu %14llu %14llu %8llu %10llu%s\n",
			    be->cfg->addr.text, be_state(be), be->weight, backend_active(be),
			    (unsigned long long)be->conns, out, in,
			    (unsigned long long)(be->connect_fail + be->hc_fail),
			    (unsigned long long)be->hc_ok, be->cfg->backup ? "  backup" : "");
		}
virtual:
		if (svc->cfg->nr_vips) {
			struct vip_view *v = malloc(sizeof(*v));

			if (!v)
				continue;
			vip_view(ss, svc, v);
			put(o, "  virtual (%s):", vip_proto_name(svc->cfg));
			for (j = 0; j < svc->cfg->nr_vips; j++)
				put(o, " %s", svc->cfg->vips[j].text);
			put(o, "\n  connect-time: balanced %llu, refused (no backend) %llu, not allowed "
			       "%llu, table swaps %llu (failed %llu), empty slots %u of %u%s\n",
			    (unsigned long long)v->st.balanced, (unsigned long long)v->st.no_backend,
			    (unsigned long long)v->st.not_allowed, (unsigned long long)st->vip_swaps,
			    (unsigned long long)st->vip_swap_fail, v->empty, SH_MAGLEV_SLOTS,
			    ss->balance ? "" : " (inactive: no BPF)");
			put(o, "  %-28s %6s %10s %12s %8s %8s\n", "BACKEND", "SLOTS", "BALANCED",
			    "ESTABLISHED", "FAILED", "KILLED");
			for (j = 0; j < svc->cfg->nr_backends; j++)
				put(o, "  %-28s %6u %10llu %12llu %8llu %8llu\n",
				    svc->backends[j].cfg->addr.text, v->slots[j],
				    (unsigned long long)v->be[j].balanced,
				    (unsigned long long)v->be[j].established,
				    (unsigned long long)v->be[j].failed,
				    (unsigned long long)svc->backends[j].killed);
			free(v);
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
	} else if (ss->nr) {
		put(o, "kernel splice: unavailable (%s)\n", fallback_name(ss->no_splice_cause));
	} else {
		put(o, "kernel splice: not loaded (no services)\n");
	}
	put(o, "control socket: %u clients now, %llu answered, %llu refused (over %d at once), "
	       "%llu timed out, %llu lines too long, %llu dropped (client left first)\n",
	    ctl->nr_clients, ctl->st.served, ctl->st.refused_busy, CTL_MAX_CLIENTS,
	    ctl->st.timed_out, ctl->st.too_long, ctl->st.abandoned);
}

static void services_json(struct control *ctl, struct out *o)
{
	struct services *ss = ctl->ss;
	struct sh_splice_stats k = { 0 };
	struct vip_view *v;
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
		v = malloc(sizeof(*v));
		if (!v)
			return;
		vip_view(ss, svc, v);
		for (j = 0; j < svc->cfg->nr_backends; j++) {
			const struct backend *be = &svc->backends[j];
			unsigned long long out, in;

			backend_bytes(svc, be, &out, &in);
			put(o, "%s{\"address\":\"%s\",\"state\":\"%s\",\"weight\":%u,\"backup\":%s,"
			       "\"active\":%u,\"conns\":%llu,\"bytes_out\":%llu,\"bytes_in\":%llu,"
			       "\"connect_fail\":%llu,\"check_ok\":%llu,\"check_fail\":%llu,"
			       "\"transitions\":%llu,\"slots\":%u,\"vip_balanced\":%llu,"
			       "\"vip_established\":%llu,\"vip_failed\":%llu,\"killed\":%llu}",
			    j ? "," : "", be->cfg->addr.text, be_state(be), be->weight,
			    be->cfg->backup ? "true" : "false", backend_active(be),
			    (unsigned long long)be->conns, out, in, (unsigned long long)be->connect_fail,
			    (unsigned long long)be->hc_ok, (unsigned long long)be->hc_fail,
			    (unsigned long long)be->transitions, v->slots[j],
			    (unsigned long long)v->be[j].balanced,
			    (unsigned long long)v->be[j].established,
			    (unsigned long long)v->be[j].failed, (unsigned long long)be->killed);
		}
		put(o, "],\"virtual\":[");
		for (j = 0; j < svc->cfg->nr_vips; j++)
			put(o, "%s\"%s\"", j ? "," : "", svc->cfg->vips[j].text);
		put(o, "],\"vip\":{\"protocols\":\"%s\",\"balanced\":%llu,\"no_backend\":%llu,"
		       "\"not_allowed\":%llu,\"swaps\":%llu,\"swap_fail\":%llu,\"empty_slots\":%u}}",
		    vip_proto_name(svc->cfg), (unsigned long long)v->st.balanced,
		    (unsigned long long)v->st.no_backend, (unsigned long long)v->st.not_allowed,
		    (unsigned long long)st->vip_swaps, (unsigned long long)st->vip_swap_fail,
		    svc->cfg->nr_vips ? v->empty : 0);
		free(v);
	}
	if (ss->splice)
		splice_stats(ss->splice, &k);
	put(o, "],\"splice\":{\"available\":%s,\"entries\":%ld,\"skbs_redirected\":%llu,"
	       "\"bytes_redirected\":%llu,\"skbs_passed\":%llu,\"bytes_passed\":%llu,"
	       "\"no_ctl\":%llu,\"redirect_fail\":%llu,\"empty_skbs\":%llu}",
	    ss->splice ? "true" : "false", ss->splice ? splice_entries(ss->splice) : 0L,
	    (unsigned long long)k.skbs_redirected,
	    (unsigned long long)k.bytes_redirected, (unsigned long long)k.skbs_passed,
	    (unsigned long long)k.bytes_passed, (unsigned long long)k.no_ctl,
	    (unsigned long long)k.redirect_fail, (unsigned long long)k.empty_skbs);
	put(o, ",\"control\":{\"clients\":%u,\"accepted\":%llu,\"served\":%llu,"
	       "\"refused_busy\":%llu,\"timed_out\":%llu,\"too_long\":%llu,\"abandoned\":%llu}}\n",
	    ctl->nr_clients, ctl->st.accepted, ctl->st.served, ctl->st.refused_busy,
	    ctl->st.timed_out, ctl->st.too_long, ctl->st.abandoned);
}

/* "table SVC": the backend of each slot of the service's connect-time
 * Maglev table, one line per slot ("-" for none), for operators and tests. */
static void table_command(struct control *ctl, const char *name, struct out *o)
{
	struct services *ss = ctl->ss;
	uint32_t *ids, id0, i;
	size_t k;

	if (!*name || strchr(name, ' ')) {
		put(o, "error: usage: table SERVICE\n");
		return;
	}
	for (k = 0; k < ss->nr && strcmp(ss->svcs[k].cfg->name, name); k++)
		;
	if (k == ss->nr || !ss->svcs[k].cfg->nr_vips || !ss->balance) {
		put(o, "error: no active virtual service named '%s'\n", name);
		return;
	}
	ids = malloc(SH_MAGLEV_SLOTS * sizeof(*ids));
	if (!ids || balance_read_table(ss->balance, ss->svcs[k].cfg, ids)) {
		put(o, "error: cannot read the table of '%s'\n", name);
		free(ids);
		return;
	}
	id0 = balance_backend_id((uint32_t)k, 0);
	for (i = 0; i < SH_MAGLEV_SLOTS; i++)
		put(o, "%u %s\n", i, ids[i] >= id0 && ids[i] < id0 + ss->svcs[k].cfg->nr_backends ?
				     ss->svcs[k].backends[ids[i] - id0].cfg->addr.text : "-");
	free(ids);
}

/* "weight SVC ADDR N", "disable SVC ADDR [kill]", "enable SVC ADDR" */
static void backend_command(struct control *ctl, char *cmd, struct out *o)
{
	char *verb, *svc, *addr, *arg, *save = NULL, why[160];
	unsigned long w = 0;
	int enable = -1;
	bool kill = false;

	char *extra;

	verb = strtok_r(cmd, " ", &save);
	svc = strtok_r(NULL, " ", &save);
	addr = strtok_r(NULL, " ", &save);
	arg = strtok_r(NULL, " ", &save);
	extra = strtok_r(NULL, " ", &save);
	if (!svc || !addr || extra || (arg && !strcmp(verb, "enable"))) {
		put(o, "error: usage: %s SERVICE BACKEND%s\n", verb,
		    !strcmp(verb, "weight") ? " N" : !strcmp(verb, "disable") ? " [kill]" : "");
		return;
	}
	if (!strcmp(verb, "weight")) {
		char *end;

		w = arg ? strtoul(arg, &end, 10) : 0;
		if (!arg || *end || w < 1 || w > 256) {
			put(o, "error: weight: expected 1-256, found '%s'\n", arg ? arg : "");
			return;
		}
	} else if (!strcmp(verb, "disable")) {
		enable = 0;
		kill = arg && !strcmp(arg, "kill");
		if (arg && !kill) {
			put(o, "error: disable: unknown argument '%s' (expected kill)\n", arg);
			return;
		}
	} else {
		enable = 1;
	}
	if (service_backend_admin(ctl->ss, svc, addr, (uint32_t)w, enable, kill, why, sizeof(why)))
		put(o, "error: %s\n", why);
	else
		put(o, "ok\n");
}

static void hook_command(struct control *ctl, const char *cmd, struct out *o)
{
	int (*fn)(void *, char *, size_t) = !strcmp(cmd, "reload") ? ctl->hooks.reload :
					    ctl->hooks.replace_stages;
	char msg[1024] = "";
	int err;

	if (!fn) {
		put(o, "error: %s is not available in this daemon\n", cmd);
		return;
	}
	err = fn(ctl->hooks.ctx, msg, sizeof(msg));
	put(o, "%s%s\n", err ? "error: " : "", msg);
}

/* --- the verbs ----------------------------------------------------------- */

static void verb_services(struct control *ctl, char *args, struct out *o)
{
	(void)args;
	services_text(ctl, o);
}

static void verb_services_json(struct control *ctl, char *args, struct out *o)
{
	(void)args;
	services_json(ctl, o);
}

static void verb_table(struct control *ctl, char *args, struct out *o)
{
	table_command(ctl, args, o);
}

static void verb_reload(struct control *ctl, char *args, struct out *o)
{
	(void)args;
	hook_command(ctl, "reload", o);
}

static void verb_replace_stages(struct control *ctl, char *args, struct out *o)
{
	(void)args;
	hook_command(ctl, "tc-replace-stages", o);
}

/* What the daemon answers: the first word of the line picks the verb; a
 * verb without arguments refuses any. */
static const struct verb {
	const char *name;
	void (*fn)(struct control *ctl, char *args, struct out *o);
	bool args;		/* takes arguments */
} verbs[] = {
	{ "services", verb_services, false },
	{ "services-json", verb_services_json, false },
	{ "table", verb_table, true },
	{ "weight", NULL, true },	/* backend_command, which reads the verb */
	{ "disable", NULL, true },
	{ "enable", NULL, true },
	{ "reload", verb_reload, false },
	{ "tc-replace-stages", verb_replace_stages, false },
};

/* Appends @s to @o with everything but printable ASCII escaped, at most
 * @max bytes of it: a client's bytes never reach an operator raw. */
static void put_escaped(struct out *o, const char *s, size_t len, size_t max)
{
	size_t i;

	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			put(o, "%c", c);
		else
			put(o, "\\x%02x", c);
	}
	if (len > max)
		put(o, "...");
}

static void dispatch(struct control *ctl, char *line, struct out *o)
{
	size_t n = strcspn(line, " "), i;
	char *args = line[n] ? line + n + 1 : line + n;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].name) != n || strncmp(verbs[i].name, line, n))
			continue;
		if (!verbs[i].args && *args) {
			put(o, "error: %s takes no arguments, found '", verbs[i].name);
			put_escaped(o, args, strlen(args), 64);
			put(o, "'\n");
		} else if (verbs[i].fn) {
			verbs[i].fn(ctl, args, o);
		} else {
			backend_command(ctl, line, o);
		}
		return;
	}
	put(o, "error: unknown command '");
	put_escaped(o, line, strlen(line), 64);
	put(o, "' (expected services, services-json, weight, table, disable, enable, reload "
	       "or tc-replace-stages)\n");
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
	size_t in_len;
	struct out out;
	size_t out_off;
	struct ctl_client *prev, *next;
	char in[CTL_LINE_MAX + 1];
};

static void client_close(struct ctl_client *c)
{
	struct control *ctl = c->ctl;

	ev_io_stop(ctl->loop, &c->io);
	ev_timer_stop(ctl->loop, &c->deadline);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nr_clients--;
	free(c->out.buf);
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
	put(&c->out, "error: %s\n", why);
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
	if (len && c->in[len - 1] == '\r')
		c->in[--len] = '\0';
	if (client_gone(c->fd)) {
		ctl->st.abandoned++;
		pr_info("control: a client left before its command was read; not running '%.64s'\n",
			c->in);
		client_close(c);
		return;
	}
	if (memchr(c->in, '\0', len)) {
		client_refuse(c, "a NUL byte in the command");
		return;
	}
	dispatch(ctl, c->in, &c->out);
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
	client_refuse(c, "no complete command within " CTL_READ_TIMEOUT_TEXT " seconds");
}

/* A client over the cap: told so at once, without waiting on it. */
static void refuse_busy(struct control *ctl, int fd)
{
	static const char msg[] = "error: too many control clients (" CTL_MAX_CLIENTS_TEXT
				  " at once); try again\n";

	ctl->st.refused_busy++;
	if (send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pr_debug("control: a refused client left first: %m\n");
	close(fd);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = w->data;
	int i;

	(void)revents;
	/* a bounded batch: a flood of connects cannot hold the loop either */
	for (i = 0; i < 64; i++) {
		struct ctl_client *c;
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				pr_debug("control: accept: %m\n");
			return;
		}
		if (ctl->nr_clients >= CTL_MAX_CLIENTS) {
			refuse_busy(ctl, fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->fd = fd;
		ev_io_init(&c->io, on_client_io, fd, EV_READ);
		c->io.data = c;
		ev_timer_init(&c->deadline, on_client_deadline, CTL_READ_TIMEOUT, 0.);
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

int control_probe(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, err = 0;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
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
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		err = -errno;
		goto fail;
	}
	unlink(path);
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) || chmod(path, 0600) ||
	    listen(ctl->fd, 128)) {
		err = -errno;
		close(ctl->fd);
		goto fail;
	}
	ev_io_init(&ctl->io, on_accept, ctl->fd, EV_READ);
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
	while (ctl->clients)
		client_close(ctl->clients);
	ev_io_stop(ctl->loop, &ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
}
