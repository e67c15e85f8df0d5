// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sockets.c - `sockhop sockets`: each accelerated socket, its scope, the
 * bytes it holds unread and whether the flow control holds its sends back.
 * ss cannot tell: bytes redirected to a socket are in the socket map's
 * queue, not its receive queue, so its Recv-Q shows none of them. The
 * records come from the iterator the daemon pins at PIN_DIR/iter/sockets.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "addr.h"
#include "cli.h"
#include "emit.h"
#include "pins.h"

static const char *state_name(unsigned int s)
{
	static const char *const names[] = {
		"?", "ESTABLISHED", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2",
		"TIME-WAIT", "CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING",
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* "a.b.c.d:port" or "[x::y]:port". */
static void end_text(const __u32 ip[4], __u16 port, char *out, size_t len)
{
	char a[64];

	addr_prefix_text(ip, 128, a, sizeof(a));
	snprintf(out, len, addr_is_v4_mapped(ip) ? "%s:%u" : "[%s]:%u", a, port);
}

static const char *scope_name(const struct scope_row *rows, size_t nr, __u32 slot)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (rows[i].s.slot == slot)
			return rows[i].s.name;
	return "(none)";
}

static void socket_report(const struct sh_sock_view *v, const struct scope_row *rows, size_t nr,
			  struct emit *e)
{
	char local[80], remote[80];
	bool held = v->flags & SH_SK_F_HELD;

	end_text(v->key.local_ip, v->key.local_port, local, sizeof(local));
	end_text(v->key.remote_ip, v->key.remote_port, remote, sizeof(remote));
	emit_object(e, NULL, NULL);
	emit_str(e, "local", "%-24s", local);
	emit_str(e, "remote", " %-24s", remote);
	emit_str(e, "scope", " %-16s", scope_name(rows, nr, v->slot));
	emit_str(e, "state", " %-11s", state_name(v->state));
	emit_u64(e, "unread", " %10llu", v->unread);
	emit_u64(e, "rcvbuf", NULL, v->rcvbuf);
	emit_bool(e, "held", " %s", held);
	emit_u64(e, "held_ms", held ? ", %llu ms" : NULL,
		 held && v->now_ns > v->held_since_ns ? (v->now_ns - v->held_since_ns) / 1000000 : 0);
	emit_u64(e, "cookie", NULL, v->cookie);
	emit_u64(e, "netns_cookie", NULL, v->key.netns_cookie);
	emit_end(e, "\n");
}

int cli_sockets(const char *dir, struct emit *e)
{
	struct scope_row rows[SH_MAX_SCOPES];
	static char buf[64 * sizeof(struct sh_sock_view)];
	size_t nr = 0, have = 0, off;
	char path[512];
	int link, it, err;
	ssize_t n;

	pins_path(path, sizeof(path), dir, "iter", "sockets");
	link = bpf_obj_get(path);
	if (link < 0) {
		cli_err("cannot open %s (%s): is sockhopd running, or was it "
			"stopped without --keep?\n", path, strerror(errno));
		return 1;
	}
	it = bpf_iter_create(link);
	close(link);
	if (it < 0) {
		cli_err("cannot read the sockets of %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	err = pins_read_scopes(dir, rows, &nr);
	if (err)
		nr = 0;	/* the scope names are a nicety */
	emit_object(e, NULL, NULL);
	emit_text(e, "%-24s %-24s %-16s %-11s %10s %s\n", "LOCAL", "REMOTE", "SCOPE", "STATE",
		  "UNREAD", "HELD");
	emit_array(e, "sockets", NULL);
	/* a read may end inside a record: the rest comes with the next one */
	while ((n = read(it, buf + have, sizeof(buf) - have)) > 0) {
		have += (size_t)n;
		for (off = 0; have - off >= sizeof(struct sh_sock_view);
		     off += sizeof(struct sh_sock_view)) {
			struct sh_sock_view v;

			memcpy(&v, buf + off, sizeof(v));
			socket_report(&v, rows, nr, e);
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	emit_end(e, NULL);
	emit_end(e, NULL);
	close(it);
	if (n < 0) {
		cli_err("reading the sockets of %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}
