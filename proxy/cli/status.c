// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * status.c - `sockhop status` and `sockhop stats`: what is pinned, who owns
 * it, and the acceleration counters. Both read the pinned maps only, so they
 * answer whether the daemon runs or has left its kernel paths behind.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "emit.h"
#include "flaws.h"
#include "maps.h"
#include "pins.h"

/* Is a link for @cgid pinned (the scope's programs are attached there)? */
static bool attached_at(const char *dir, __u64 cgid)
{
	char links[512], suffix[32];
	struct dirent *de;
	bool found = false;
	DIR *d;

	pins_path(links, sizeof(links), dir, "links", NULL);
	d = opendir(links);
	if (!d)
		return false;
	snprintf(suffix, sizeof(suffix), "-%llu", (unsigned long long)cgid);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), s = strlen(suffix);

		found |= n > s && !strcmp(de->d_name + n - s, suffix);
	}
	closedir(d);
	return found;
}

/* What the status report shows, read once for both forms. */
struct status {
	struct sh_meta meta;
	bool running, died, tc;
	long sockets;			/* in the SOCKHASH, -1 unknown */
	struct scope_row rows[SH_MAX_SCOPES];
	bool attached[SH_MAX_SCOPES];
	size_t nr;
};

static void status_report(const char *dir, const struct status *st, struct emit *e)
{
	const struct sh_meta *m = &st->meta;
	size_t f, i;

	emit_object(e, NULL, NULL);
	emit_str(e, "pin_dir", "pin directory:   %s", dir);
	emit_u64(e, "layout_version", " (layout version %llu)\n", m->layout_version);
	emit_object(e, "daemon", "daemon:          ");
	emit_bool(e, "running", NULL, st->running);
	emit_u64(e, "pid", st->running ? "running, pid %llu\n" : NULL,
		 st->running ? m->daemon_pid : 0);
	emit_bool(e, "died", NULL, st->died);
	if (st->died)
		emit_text(e, "not running: pid %u died without cleaning up (killed, OOM or a "
			  "crash); its kernel paths still run, the next sockhopd start reconciles "
			  "them\n", m->daemon_pid);
	else if (!st->running)
		emit_text(e, "not running%s\n", m->kept ? "; kernel paths kept in place (--keep)" : "");
	emit_end(e, NULL);
	emit_bool(e, "kept", NULL, m->kept);
	emit_s64(e, "accelerated_sockets", "accelerated sockets: %lld\n", st->sockets);
	if (!m->canary_ran) {
		emit_str(e, "kernel_flaws", "kernel flaws:    %s\n",
			 e->json ? NULL : "not tested (the daemon's start-up canary could not run)");
	} else {
		emit_array(e, "kernel_flaws", m->kernel_flaws ? "kernel flaws:\n" :
			   "kernel flaws:    none of the known ones\n");
		for (f = 0; f < SH_NR_FLAWS; f++) {
			if (!(m->kernel_flaws & sh_flaws[f].bit))
				continue;
			emit_str(e, NULL, "  %s: ", sh_flaws[f].name);
			emit_text(e, "%s;\n    %s\n", sh_flaws[f].what, sh_flaws[f].remedy);
		}
		emit_end(e, NULL);
	}
	emit_bool(e, "tc_entries", NULL, st->tc);
	if (st->tc)
		emit_text(e, "tc entries:      pinned; attach with\n"
			  "                   tc filter add dev DEV egress bpf da pinned %s/tc/egress\n"
			  "                   tc filter add dev DEV ingress bpf da pinned %s/tc/ingress\n",
			  dir, dir);
	else
		emit_text(e, "tc entries:      not pinned\n");
	emit_text(e, "scopes:          %zu\n", st->nr);
	emit_array(e, "scopes", NULL);
	for (i = 0; i < st->nr; i++) {
		emit_object(e, NULL, "  ");
		emit_str(e, "name", "%-20s", st->rows[i].s.name);
		emit_u64(e, "slot", " slot %-3llu", st->rows[i].s.slot);
		emit_u64(e, "cgroup_id", " cgroup id %-10llu", st->rows[i].cgid);
		emit_bool(e, "attached_here", NULL, st->attached[i]);
		emit_text(e, " %s", st->attached[i] ? "programs attached here" :
			  "served by an enclosing scope's programs");
		emit_end(e, "\n");
	}
	emit_end(e, NULL);
	emit_end(e, NULL);
}

int cli_status(const char *dir, struct emit *e)
{
	struct status st = { .sockets = -1 };
	char tc_pin[512];
	size_t i;
	int fd, err;

	err = pins_read_meta(dir, &st.meta);
	if (err) {
		cli_err("nothing pinned in %s (%s): is sockhopd running, or was "
			"it stopped without --keep?\n", dir, strerror(-err));
		return 1;
	}
	st.running = pins_owner_alive(&st.meta);
	st.died = !st.running && st.meta.daemon_pid && !st.meta.kept;
	err = pins_read_scopes(dir, st.rows, &st.nr);
	if (err) {
		cli_err("cannot read the scopes of %s: %s\n", dir, strerror(-err));
		return 1;
	}
	for (i = 0; i < st.nr; i++)
		st.attached[i] = attached_at(dir, st.rows[i].cgid);
	fd = pins_open_map(dir, "sock_hash");
	if (fd >= 0) {
		st.sockets = maps_count_keys(fd, sizeof(struct sh_sock_key));
		close(fd);
	}
	pins_path(tc_pin, sizeof(tc_pin), dir, "tc", "egress");
	st.tc = access(tc_pin, F_OK) == 0;
	status_report(dir, &st, e);
	return 0;
}

static const char *const errno_names[SH_ERR_NR] = {
	[SH_ERR_EEXIST] = "EEXIST", [SH_ERR_ENOMEM] = "ENOMEM", [SH_ERR_E2BIG] = "E2BIG",
	[SH_ERR_EOPNOTSUPP] = "EOPNOTSUPP", [SH_ERR_EINVAL] = "EINVAL", [SH_ERR_EBUSY] = "EBUSY",
	[SH_ERR_OTHER] = "other",
};

/* One scope's counters; @key names it in JSON (NULL: in the array). */
static void stats_report(const char *key, const char *name, const struct sh_stats *s,
			 struct emit *e)
{
	int i;

	emit_object(e, key, NULL);
	emit_str(e, "scope", "%s\n", name);
	emit_u64(e, "scoped_sockets", "  sockets tagged %llu", s->scoped_sockets);
	emit_u64(e, "inserts", ", inserted %llu", s->inserts);
	emit_u64(e, "insert_fail", ", insert failures %llu", s->insert_fail);
	emit_u64(e, "not_matched", ", not matched %llu\n", s->not_matched);
	emit_u64(e, "msg_redirected", "  redirected     %llu msgs", s->msg_redirected);
	emit_u64(e, "bytes_redirected", ", %llu bytes\n", s->bytes_redirected);
	emit_u64(e, "msg_no_peer", "  passed to TCP  %llu msgs", s->msg_no_peer);
	emit_u64(e, "bytes_no_peer", ", %llu bytes (no peer socket)\n", s->bytes_no_peer);
	emit_u64(e, "holds", "  held back      %llu times", s->holds);
	emit_u64(e, "held_ns", NULL, s->held_ns);
	/* the kernel adds a hold's time at its resume (or the held socket's
	 * next send): a socket held right now is in `sockhop sockets` */
	emit_text(e, ", %.3f s in all (counted at each resume)", (double)s->held_ns / 1e9);
	emit_u64(e, "resumes", ", resumed %llu", s->resumes);
	emit_u64(e, "msg_held", "; TCP carried %llu msgs", s->msg_held);
	emit_u64(e, "bytes_held", ", %llu bytes while held", s->bytes_held);
	emit_u64(e, "msg_ordered", " and %llu msgs", s->msg_ordered);
	emit_u64(e, "bytes_ordered", ", %llu bytes to keep the order\n", s->bytes_ordered);
	emit_u64(e, "excluded", s->excluded ? "  excluded       %llu sockets (a no-accelerate "
		 "rule)\n" : NULL, s->excluded);
	emit_u64(e, "skb_verdict", s->skb_verdict ? "  sk_skb verdicts %llu (skbs of "
		 "accelerated sockets that came by TCP, queued for the reader in order)\n" : NULL,
		 s->skb_verdict);
	emit_u64(e, "old_skbs", s->old_skbs ? "  retransmitted  %llu skbs began before bytes already "
		 "queued" : NULL, s->old_skbs);
	emit_u64(e, "old_bytes", s->old_skbs ? ": %llu old bytes cut" : NULL, s->old_bytes);
	emit_u64(e, "old_dropped", s->old_skbs ? ", %llu skbs too old to cut dropped\n" : NULL,
		 s->old_dropped);
	emit_u64(e, "closed_unread", s->closed_unread ? "  closed unread  %llu sockets (their "
		 "peers aborted, as TCP's reset would)\n" : NULL, s->closed_unread);
	emit_u64(e, "abort_lost", s->abort_lost ? "  aborts lost    %llu (the daemon's ring "
		 "was full)\n" : NULL, s->abort_lost);
	emit_object(e, "insert_errno", NULL);
	for (i = 0; i < SH_ERR_NR; i++) {
		if (s->insert_errno[i])
			emit_text(e, "  insert failed with %s: ", errno_names[i]);
		emit_u64(e, errno_names[i], s->insert_errno[i] ? "%llu\n" : NULL,
			 s->insert_errno[i]);
	}
	emit_end(e, NULL);
	emit_end(e, NULL);
}

int cli_stats(const char *dir, struct emit *e)
{
	struct scope_row rows[SH_MAX_SCOPES];
	struct sh_stats s[SH_MAX_SCOPES], global;
	size_t nr = 0, i;
	int fd, err;

	err = pins_read_scopes(dir, rows, &nr);
	fd = err ? err : pins_open_map(dir, "stats");
	if (fd < 0) {
		cli_err("cannot read the maps pinned in %s (%s): is sockhopd "
			"running, or was it stopped without --keep?\n", dir, strerror(-fd));
		return 1;
	}
	/* all read before anything is printed: a failure prints no half report */
	for (i = 0; i < nr && !err; i++)
		err = pins_sum_stats(fd, rows[i].s.slot, &s[i]);
	if (!err)
		err = pins_sum_stats(fd, SH_SLOT_GLOBAL, &global);
	close(fd);
	if (err) {
		cli_err("cannot read counters: %s\n", strerror(-err));
		return 1;
	}
	emit_object(e, NULL, NULL);
	emit_array(e, "scopes", NULL);
	for (i = 0; i < nr; i++)
		stats_report(NULL, rows[i].s.name, &s[i], e);
	emit_end(e, NULL);
	stats_report("global", e->json ? "(global)" : "(no scope / global)", &global, e);
	emit_end(e, NULL);
	return 0;
}
