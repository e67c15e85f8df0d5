// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * report.c - see report.h. Live spliced connections are counted where they
 * are, so the bytes a report shows include what the kernel moves now, not
 * only what closed connections left in the books.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "conn.h"
#include "control.h"
#include "ctlproto.h"
#include "emit.h"
#include "report.h"
#include "request.h"
#include "service.h"
#include "splice.h"

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

/* A text format only where the text shows the field. */
#define IF(cond, fmt) ((cond) ? (fmt) : NULL)

/*
 * One backend: a row of the service's table. Which columns the text shows
 * depends on what the service is (a proxy, virtual addresses, or both);
 * JSON always has every field.
 */
static void backend_report(const struct service *svc, const struct backend *be,
			   const struct vip_view *v, size_t j, struct emit *e)
{
	bool px = svc->cfg->nr_listen, vip = svc->cfg->nr_vips;
	unsigned long long out, in;

	backend_bytes(svc, be, &out, &in);
	emit_object(e, NULL, "  ");
	emit_str(e, "address", "%-28s", be->cfg->addr.text);
	emit_str(e, "state", " %-5s", be_state(be));
	emit_u64(e, "weight", " %6llu", be->weight);
	emit_u64(e, "active", IF(px, " %6llu"), backend_active(be));
	emit_u64(e, "conns", IF(px, " %8llu"), be->conns);
	emit_u64(e, "bytes_out", IF(px, " %14llu"), out);
	emit_u64(e, "bytes_in", IF(px, " %14llu"), in);
	emit_u64(e, "connect_fail", NULL, be->connect_fail);
	emit_u64(e, "check_fail", NULL, be->hc_fail);
	if (px)	/* the text's one column of failures */
		emit_text(e, " %8llu", (unsigned long long)(be->connect_fail + be->hc_fail));
	emit_u64(e, "check_ok", " %10llu", be->hc_ok);
	emit_u64(e, "transitions", NULL, be->transitions);
	emit_u64(e, "slots", IF(vip, " %6llu"), v->slots[j]);
	emit_u64(e, "vip_balanced", IF(vip, " %10llu"), v->be[j].balanced);
	emit_u64(e, "vip_established", IF(vip, " %12llu"), v->be[j].established);
	emit_u64(e, "vip_failed", IF(vip, " %8llu"), v->be[j].failed);
	emit_u64(e, "killed", IF(vip, " %8llu"), be->killed);
	emit_bool(e, "backup", NULL, be->cfg->backup);
	emit_end(e, be->cfg->backup ? "  backup\n" : "\n");
}

static void service_report(const struct services *ss, const struct service *svc,
			   const struct vip_view *v, struct emit *e)
{
	const struct service_stats *st = &svc->st;
	bool px = svc->cfg->nr_listen, vip = svc->cfg->nr_vips;
	size_t j;
	int f;

	emit_object(e, NULL, NULL);
	emit_str(e, "name", "service %s", svc->cfg->name);
	emit_str(e, "algorithm", "  (%s", cfg_algo_name(svc->cfg->algo));
	/* virtual only: no proxy, the kernel picks in connect() */
	emit_str(e, "data_path", IF(px, ", data path %s"), service_path_name(svc));
	/* auto moves a connection only while its client's CPU has this much idle */
	emit_u64(e, "auto_min_idle", IF(px && svc->auto_path, ", moving at >= %llu%% client CPU idle"),
		 svc->cfg->auto_min_idle);
	if (px)
		emit_text(e, ")\n");
	if (!px)
		emit_text(e, ", virtual only: balanced in connect(), no proxy)\n");
	emit_array(e, "listen", IF(px, "  listen:"));
	for (j = 0; j < svc->cfg->nr_listen; j++)
		emit_str(e, NULL, " %s", svc->cfg->listen[j].text);
	emit_end(e, IF(px, "\n"));
	emit_u64(e, "active", IF(px, "  connections: active %llu"), svc->active);
	emit_u64(e, "accepted", IF(px, ", accepted %llu"), st->accepted);
	emit_u64(e, "rejected_limit", IF(px, ", rejected (limit) %llu"), st->rejected_limit);
	emit_u64(e, "no_backend", IF(px, ", no backend %llu"), st->no_backend);
	emit_u64(e, "no_fd", IF(px, ", no descriptor %llu"), st->no_fd);
	emit_u64(e, "connect_fail", IF(px, ", connect failures %llu"), st->connect_fail);
	emit_u64(e, "retries", IF(px, ", retries %llu"), st->retries);
	emit_u64(e, "idle_closed", IF(px, ", idle closed %llu"), st->idle_closed);
	emit_u64(e, "resets", IF(px, ", resets %llu"), st->resets);
	emit_u64(e, "stalled", IF(px && st->stalled, " (%llu stalled in the kernel splice)"),
		 st->stalled);
	emit_u64(e, "accept_paused", IF(px, ", accept paused %llu\n"), st->accept_paused);
	emit_u64(e, "conns_splice", IF(px, "  splice: %llu connections"), st->conns_splice);
	emit_u64(e, "conns_promoted", IF(px, " (%llu of them moved from the relay"),
		 st->conns_promoted);
	emit_u64(e, "promote_busy", IF(px, "; %llu kept relayed a while, the client's CPU busy"),
		 st->promote_busy);
	emit_u64(e, "conns_demoted", IF(px, "; %llu moved back"), st->conns_demoted);
	emit_u64(e, "demote_behind", IF(px && st->demote_behind, ", %llu as a reader fell behind"),
		 st->demote_behind);
	emit_u64(e, "demote_waited", IF(px, ", %llu after the kernel's queue)"),
		 st->demote_waited);
	emit_u64(e, "bytes_splice", IF(px, ", %llu bytes\n"), st->bytes_splice + live_splice_bytes(svc));
	emit_u64(e, "conns_relay", IF(px, "    relay: %llu connections"), st->conns_relay);
	emit_u64(e, "bytes_relay", IF(px, ", %llu bytes\n"), st->bytes_relay);
	emit_object(e, "fallback", IF(px, "  relayed because:"));
	for (f = 0; f < FB_NR; f++) {
		const char *cause = fallback_name((enum fallback_cause)f);

		if (px)
			emit_text(e, " %s", cause);
		emit_u64(e, cause, IF(px, " %llu"), st->fallback[f]);
	}
	emit_end(e, IF(px, "\n"));
	emit_object(e, "auto_stayed", NULL);	/* explain SERVICE says them in words */
	for (f = 0; f < AS_NR; f++)
		emit_u64(e, auto_stay_name((enum auto_stay)f), NULL, st->auto_stayed[f]);
	emit_end(e, NULL);
	if (vip)
		emit_text(e, "  virtual (%s):", vip_proto_name(svc->cfg));
	emit_array(e, "virtual", NULL);
	for (j = 0; j < svc->cfg->nr_vips; j++)
		emit_str(e, NULL, " %s", svc->cfg->vips[j].text);
	if (vip && svc->cfg->local_connect)
		emit_text(e, " (local-clients: connect, scoped clients skip the proxy)");
	emit_end(e, IF(vip, "\n"));
	emit_str(e, "local_clients", NULL, svc->cfg->local_connect ? "connect" : "proxy");
	emit_object(e, "vip", NULL);
	emit_str(e, "protocols", NULL, vip_proto_name(svc->cfg));
	emit_u64(e, "balanced", IF(vip, "  connect-time: balanced %llu"), v->st.balanced);
	emit_u64(e, "no_backend", IF(vip, ", refused (no backend) %llu"), v->st.no_backend);
	emit_u64(e, "not_allowed", IF(vip, ", not allowed %llu"), v->st.not_allowed);
	emit_u64(e, "swaps", IF(vip, ", table swaps %llu"), st->vip_swaps);
	emit_u64(e, "swap_fail", IF(vip, " (failed %llu)"), st->vip_swap_fail);
	emit_u64(e, "empty_slots", IF(vip, ", empty slots %llu"), vip ? v->empty : 0);
	if (vip)
		emit_text(e, " of %u%s\n", SH_MAGLEV_SLOTS, ss->balance ? "" : " (inactive: no BPF)");
	emit_end(e, NULL);
	/* the table's heading, in the columns backend_report() fills */
	emit_text(e, "  %-28s %-5s %6s", "BACKEND", "STATE", "WEIGHT");
	if (px)
		emit_text(e, " %6s %8s %14s %14s %8s", "ACTIVE", "CONNS", "BYTES-OUT", "BYTES-IN",
			  "FAILS");
	emit_text(e, " %10s", "CHECKS-OK");
	if (vip)
		emit_text(e, " %6s %10s %12s %8s %8s", "SLOTS", "BALANCED", "ESTABLISHED",
			  "FAILED", "KILLED");
	emit_text(e, "\n");
	emit_array(e, "backends", NULL);
	for (j = 0; j < svc->cfg->nr_backends; j++)
		backend_report(svc, &svc->backends[j], v, j, e);
	emit_end(e, NULL);
	emit_end(e, NULL);
}

/* The kernel splice's counters, summed over CPUs. */
static void splice_report(const struct services *ss, struct emit *e)
{
	struct sh_splice_stats k = { 0 };
	bool ok = ss->splice && !splice_stats(ss->splice, &k);

	emit_object(e, "splice", "kernel splice: ");
	emit_bool(e, "available", NULL, ss->splice);
	emit_s64(e, "entries", NULL, ss->splice ? splice_entries(ss->splice) : 0L);
	if (!ss->splice && ss->nr)
		emit_text(e, "unavailable (%s)\n", fallback_name(ss->no_splice_cause));
	else if (!ss->splice)
		emit_text(e, "not loaded (no services)\n");
	else if (!ok)
		emit_text(e, "counters unreadable\n");
	emit_u64(e, "skbs_redirected", IF(ok, "%llu skbs"), k.skbs_redirected);
	emit_u64(e, "bytes_redirected", IF(ok, " / %llu bytes redirected"), k.bytes_redirected);
	emit_u64(e, "skbs_passed", IF(ok, ", %llu skbs"), k.skbs_passed);
	emit_u64(e, "bytes_passed", IF(ok, " / %llu bytes handed over by the daemon"),
		 k.bytes_passed);
	emit_u64(e, "no_ctl", IF(ok, ", %llu without entry"), k.no_ctl);
	emit_u64(e, "redirect_fail", IF(ok, ", %llu redirect failures\n"), k.redirect_fail);
	emit_u64(e, "bulk_told", IF(ok, "  bulk told %llu"), k.bulk_told);
	emit_u64(e, "behind", IF(ok, ", readers behind %llu"), k.behind);
	emit_u64(e, "bulk_lost", IF(ok, " (%llu records lost)"), k.bulk_lost);
	emit_u64(e, "queued_told", IF(ok, ", queued behind the egress %llu"), k.queued_told);
	emit_u64(e, "stalled", IF(ok, " (%llu reset)"), k.stalled);
	emit_u64(e, "skbs_held", IF(ok, ", %llu skbs"), k.skbs_held);
	emit_u64(e, "bytes_held", IF(ok, " / %llu bytes passed up to the relay after a move back\n"),
		 k.bytes_held);
	emit_u64(e, "old_skbs", IF(ok, "  retransmissions cut %llu skbs"), k.old_skbs);
	emit_u64(e, "old_bytes", IF(ok, " / %llu old bytes"), k.old_bytes);
	emit_u64(e, "overlap_reset", IF(ok, " (%llu too old: reset)\n"), k.overlap_reset);
	emit_u64(e, "empty_skbs", NULL, k.empty_skbs);
	emit_end(e, NULL);
}

void report_services(const struct services *ss, const struct control_stats *cs,
		     unsigned int clients, struct emit *e)
{
	struct vip_view *v = malloc(sizeof(*v));
	size_t i;

	if (!v) {
		e->cut = true;
		return;
	}
	emit_object(e, NULL, NULL);
	emit_array(e, "services", NULL);
	for (i = 0; i < ss->nr; i++) {
		vip_view(ss, &ss->svcs[i], v);
		service_report(ss, &ss->svcs[i], v, e);
	}
	emit_end(e, NULL);
	free(v);
	splice_report(ss, e);
	emit_object(e, "control", NULL);
	emit_u64(e, "clients", "control socket: %llu clients now", clients);
	emit_u64(e, "accepted", NULL, cs->accepted);
	emit_u64(e, "served", ", %llu answered", cs->served);
	emit_u64(e, "refused_busy", ", %llu refused (over " CTL_MAX_CLIENTS_TEXT " at once)",
		 cs->refused_busy);
	emit_u64(e, "timed_out", ", %llu timed out", cs->timed_out);
	emit_u64(e, "too_long", ", %llu lines too long", cs->too_long);
	emit_u64(e, "abandoned", ", %llu dropped (client left first)", cs->abandoned);
	emit_u64(e, "on_spare", ", %llu on the reserved descriptor (out of them)\n", cs->on_spare);
	emit_end(e, NULL);
	emit_end(e, NULL);
}

/* "table SVC": the backend of each slot of the service's connect-time
 * Maglev table, one line per slot ("-" for none), for operators and tests. */
void report_table(const struct services *ss, const char *name, struct emit *e)
{
	uint32_t *ids, id0, i;
	size_t k;

	if (!*name || strchr(name, ' ')) {
		emit_text(e, CTL_ERROR_PREFIX " usage: table SERVICE\n");
		return;
	}
	for (k = 0; k < ss->nr && strcmp(ss->svcs[k].cfg->name, name); k++)
		;
	if (k == ss->nr || !ss->svcs[k].cfg->nr_vips || !ss->balance) {
		emit_text(e, CTL_ERROR_PREFIX " no active virtual service named '%s'\n", name);
		return;
	}
	ids = malloc(SH_MAGLEV_SLOTS * sizeof(*ids));
	if (!ids || balance_read_table(ss->balance, ss->svcs[k].cfg, ids)) {
		emit_text(e, CTL_ERROR_PREFIX " cannot read the table of '%s'\n", name);
		free(ids);
		return;
	}
	id0 = balance_backend_id((uint32_t)k, 0);
	for (i = 0; i < SH_MAGLEV_SLOTS; i++)
		emit_text(e, "%u %s\n", i, ids[i] >= id0 && ids[i] < id0 + ss->svcs[k].cfg->nr_backends ?
				     ss->svcs[k].backends[ids[i] - id0].cfg->addr.text : "-");
	free(ids);
}

/* What explain says of each reason an auto connection stayed relayed. */
static const char *const stay_words[AS_NR] = {
	[AS_FEW_TURNS] = "its bytes changed direction too few times (one request, or a one-way "
			 "stream)",
	[AS_SAME_CPU] = "its client ran on the one CPU the pinned daemon has: no wake-up to save",
	[AS_CLIENT_BUSY] = "its client's CPU was idle less than auto-min-idle",
	[AS_TOO_YOUNG] = "its last turn came before its client's CPU was sampled over the span "
			 "of the rule (short, or quiet since)",
	[AS_IN_FLIGHT] = "bytes were parked or a side half-closed whenever it could move",
	[AS_REFUSED] = "the splice map refused its sockets",
	[AS_BULK] = "moved back from the kernel splice: one way carried bulk at the rule's "
		    "rate, which the relay copies faster",
	[AS_BEHIND] = "moved back from the kernel splice: its reader fell 4 MiB behind, and "
		      "only the relay holds the sender back",
};

/* The rule @svc applies to a connection, in one sentence. */
static void explain_rule(const struct services *ss, const struct service *svc, struct emit *e)
{
	unsigned int turns, bulk_bytes, bulk_ms;
	double look;

	conn_auto_rule(&turns, &look, &bulk_bytes, &bulk_ms);
	emit_u64(e, "promote_turns", NULL, svc->auto_path ? turns : 0);
	emit_u64(e, "look_ms", NULL, svc->auto_path ? (unsigned long long)(look * 1000 + 0.5) : 0);
	emit_u64(e, "bulk_bytes", NULL, svc->auto_path ? bulk_bytes : 0);
	emit_u64(e, "behind_bytes", NULL, svc->splice ? SH_SPLICE_BEHIND_BYTES : 0);
	emit_u64(e, "bulk_window_ms", NULL, svc->auto_path ? bulk_ms : 0);
	emit_text(e, "  rule: ");
	if (svc->auto_path)
		emit_text(e, "every connection starts on the relay; one whose bytes change "
			  "direction %u times moves to the kernel splice%s, and back to the relay "
			  "once one way carries %u MiB within %u ms (bulk) or its reader falls "
			  "%u MiB behind (behind)", turns,
			  svc->cfg->auto_min_idle ? " if its client's CPU was idle at least "
			  "auto-min-idle over its relayed life" : "", bulk_bytes >> 20, bulk_ms,
			  SH_SPLICE_BEHIND_BYTES >> 20);
	else if (svc->splice)
		emit_text(e, "every connection goes to the kernel splice once its backend answers; "
			  "the relay carries a pair the splice map refuses, and one whose reader "
			  "falls %u MiB behind (behind)", SH_SPLICE_BEHIND_BYTES >> 20);
	else if (svc->relay_cause == FB_CONFIGURED)
		emit_text(e, "data-path relay: the daemon carries every connection");
	else
		emit_text(e, "the kernel splice is unavailable (%s, see sockhopd's start-up log): "
			  "the daemon carries every connection", fallback_name(ss->no_splice_cause));
	if (svc->auto_path && svc->cfg->auto_min_idle)
		emit_text(e, " (%u%%, judged over %.0f ms or more)", svc->cfg->auto_min_idle,
			  look * 1000);
	emit_text(e, "\n");
}

void report_explain(const struct services *ss, const char *name, struct emit *e)
{
	unsigned long long open_where[CW_NR] = { 0 }, open_stay[AS_NR] = { 0 };
	const struct service *svc = NULL;
	const struct service_stats *st;
	const struct conn *c;
	unsigned int stay;
	size_t k;
	int i;

	for (k = 0; k < ss->nr; k++)
		if (!strcmp(ss->svcs[k].cfg->name, name))
			svc = &ss->svcs[k];
	if (!svc) {
		e->json = false;	/* a refusal is a text line, -j or not */
		emit_text(e, CTL_ERROR_PREFIX " no service named '");
		ctl_put_escaped(e, name, strlen(name), 64);
		emit_text(e, "' (sockhop services lists them)\n");
		return;
	}
	st = &svc->st;
	emit_object(e, NULL, NULL);
	emit_str(e, "name", "service %s: ", svc->cfg->name);
	if (!svc->cfg->nr_listen) {
		emit_str(e, "data_path", NULL, "none");
		emit_text(e, "virtual only: the kernel balances its clients in connect() and no "
			  "byte passes the daemon (sockhop services shows the connect-time "
			  "counters)\n");
		emit_end(e, NULL);
		return;
	}
	emit_str(e, "data_path", "data path %s", service_path_name(svc));
	emit_bool(e, "splice_loaded", ", kernel splice loaded: %s", ss->splice);
	emit_u64(e, "auto_min_idle", IF(svc->auto_path, ", auto-min-idle %llu%%"),
		 svc->cfg->auto_min_idle);
	emit_text(e, "\n");
	explain_rule(ss, svc, e);

	/* the books: every connection that reached its backend, open or closed */
	emit_object(e, "carried", "  carried since start:\n");
	emit_u64(e, "splice", "    by the kernel splice: %llu connections", st->conns_splice);
	emit_u64(e, "promoted", IF(svc->auto_path, " (%llu moved from the relay"),
		 st->conns_promoted);
	emit_u64(e, "demoted", IF(st->conns_demoted, svc->auto_path ? ", %llu of them back to it" :
				  " (%llu moved back to the relay"), st->conns_demoted);
	emit_u64(e, "demote_behind", IF(st->demote_behind, ", %llu as a reader fell behind"),
		 st->demote_behind);
	emit_u64(e, "demote_waited", IF(st->conns_demoted, ", %llu after the kernel's queue"),
		 st->demote_waited);
	if (svc->auto_path || st->conns_demoted)
		emit_text(e, ")");
	emit_u64(e, "bytes_splice", ", %llu bytes\n", st->bytes_splice + live_splice_bytes(svc));
	emit_u64(e, "relay_only", "    by the relay only:    %llu connections",
		 st->conns_relay - st->conns_promoted);
	emit_u64(e, "bytes_relay", ", %llu bytes\n", st->bytes_relay);
	if (svc->auto_path)
		emit_text(e, "    (the relay's bytes include those the moved ones carried first, "
			  "and after, when moved back)\n");
	emit_end(e, NULL);

	emit_object(e, "relayed_because", "  relayed from the start because:");
	for (i = 0, k = 0; i < FB_NR; i++) {
		const char *cause = fallback_name((enum fallback_cause)i);

		emit_u64(e, cause, NULL, st->fallback[i]);
		if (st->fallback[i] && ++k)
			emit_text(e, " %s %llu%s", cause, (unsigned long long)st->fallback[i],
				  i == FB_AUTO ? " (every auto connection starts there)" : "");
	}
	emit_end(e, k ? "\n" : " nothing\n");

	for (c = svc->conns; c; c = conn_next(c)) {
		open_where[conn_where(c, &stay)]++;
		if (stay < AS_NR)
			open_stay[stay]++;
	}
	emit_object(e, "auto_stayed", IF(svc->auto_path, "  closed on the relay under auto, by "
					 "why it was there (the last reason it did not move, or "
					 "bulk):\n"));
	for (i = 0, k = 0; i < AS_NR; i++) {
		emit_u64(e, auto_stay_name((enum auto_stay)i), NULL, st->auto_stayed[i]);
		if (svc->auto_path && (st->auto_stayed[i] || open_stay[i]) && ++k)
			emit_text(e, "    %8llu %-11s (%llu open now): %s\n",
				  (unsigned long long)st->auto_stayed[i],
				  auto_stay_name((enum auto_stay)i), open_stay[i], stay_words[i]);
	}
	emit_end(e, IF(svc->auto_path && !k, "    none yet\n"));

	emit_object(e, "open", NULL);
	emit_u64(e, "spliced", "  open now: %llu spliced", open_where[CW_SPLICE]);
	emit_u64(e, "relayed", ", %llu relayed", open_where[CW_RELAY]);
	emit_u64(e, "connecting", ", %llu connecting to a backend", open_where[CW_CONNECTING]);
	emit_u64(e, "waiting_fd", ", %llu waiting for a file descriptor\n", open_where[CW_WAIT_FD]);
	emit_object(e, "relayed_by", NULL);
	for (i = 0; i < AS_NR; i++)
		emit_u64(e, auto_stay_name((enum auto_stay)i), NULL, open_stay[i]);
	emit_end(e, NULL);
	emit_end(e, NULL);
	emit_end(e, NULL);
}
