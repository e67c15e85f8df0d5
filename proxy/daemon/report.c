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

static void services_text(const struct services *ss, const struct control_stats *cs,
			  unsigned int clients, struct emit *e)
{
	size_t i, j;
	int f;

	for (i = 0; i < ss->nr; i++) {
		const struct service *svc = &ss->svcs[i];
		const struct service_stats *st = &svc->st;

		if (!svc->cfg->nr_listen) {
			/* virtual only: no proxy, the kernel picks in connect() */
			emit_text(e, "service %s  (%s, virtual only: balanced in connect(), no proxy)\n",
			    svc->cfg->name, cfg_algo_name(svc->cfg->algo));
			emit_text(e, "  %-28s %-5s %6s %10s\n", "BACKEND", "STATE", "WEIGHT", "CHECKS-OK");
			for (j = 0; j < svc->cfg->nr_backends; j++)
				emit_text(e, "  %-28s %-5s %6u %10llu%s\n", svc->backends[j].cfg->addr.text,
				    be_state(&svc->backends[j]), svc->backends[j].weight,
				    (unsigned long long)svc->backends[j].hc_ok,
				    svc->backends[j].cfg->backup ? "  backup" : "");
			goto virtual;
		}
		emit_text(e, "service %s  (%s, data path %s)\n", svc->cfg->name, cfg_algo_name(svc->cfg->algo),
		    svc->splice ? "splice" : "relay");
		emit_text(e, "  listen:");
		for (j = 0; j < svc->cfg->nr_listen; j++)
			emit_text(e, " %s", svc->cfg->listen[j].text);
		emit_text(e, "\n  connections: active %u, accepted %llu, rejected (limit) %llu, "
		       "no backend %llu, connect failures %llu, retries %llu, idle closed %llu, "
		       "resets %llu, accept paused %llu\n", svc->active, (unsigned long long)st->accepted,
		    (unsigned long long)st->rejected_limit, (unsigned long long)st->no_backend,
		    (unsigned long long)st->connect_fail, (unsigned long long)st->retries,
		    (unsigned long long)st->idle_closed, (unsigned long long)st->resets,
		    (unsigned long long)st->accept_paused);
		emit_text(e, "  splice: %llu connections, %llu bytes    relay: %llu connections, %llu bytes\n",
		    (unsigned long long)st->conns_splice,
		    (unsigned long long)(st->bytes_splice + live_splice_bytes(svc)),
		    (unsigned long long)st->conns_relay, (unsigned long long)st->bytes_relay);
		emit_text(e, "  relayed because:");
		for (f = 0; f < FB_NR; f++)
			emit_text(e, " %s %llu", fallback_name((enum fallback_cause)f),
			    (unsigned long long)st->fallback[f]);
		emit_text(e, "\n  %-28s %-5s %6s %6s %8s %14s %14s %8s %10s\n", "BACKEND", "STATE", "WEIGHT",
		    "ACTIVE", "CONNS", "BYTES-OUT", "BYTES-IN", "FAILS", "CHECKS-OK");
		for (j = 0; j < svc->cfg->nr_backends; j++) {
			const struct backend *be = &svc->backends[j];
			unsigned long long out, in;

			backend_bytes(svc, be, &out, &in);
			emit_text(e, "  %-28s %-5s %6u %6u %8llu %14llu %14llu %8llu %10llu%s\n",
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
			emit_text(e, "  virtual (%s):", vip_proto_name(svc->cfg));
			for (j = 0; j < svc->cfg->nr_vips; j++)
				emit_text(e, " %s", svc->cfg->vips[j].text);
			emit_text(e, "\n  connect-time: balanced %llu, refused (no backend) %llu, not allowed "
			       "%llu, table swaps %llu (failed %llu), empty slots %u of %u%s\n",
			    (unsigned long long)v->st.balanced, (unsigned long long)v->st.no_backend,
			    (unsigned long long)v->st.not_allowed, (unsigned long long)st->vip_swaps,
			    (unsigned long long)st->vip_swap_fail, v->empty, SH_MAGLEV_SLOTS,
			    ss->balance ? "" : " (inactive: no BPF)");
			emit_text(e, "  %-28s %6s %10s %12s %8s %8s\n", "BACKEND", "SLOTS", "BALANCED",
			    "ESTABLISHED", "FAILED", "KILLED");
			for (j = 0; j < svc->cfg->nr_backends; j++)
				emit_text(e, "  %-28s %6u %10llu %12llu %8llu %8llu\n",
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
			emit_text(e, "kernel splice: %llu skbs / %llu bytes redirected, %llu skbs / %llu bytes "
			       "handed over by the daemon, %llu without entry, %llu redirect failures\n",
			    (unsigned long long)k.skbs_redirected, (unsigned long long)k.bytes_redirected,
			    (unsigned long long)k.skbs_passed, (unsigned long long)k.bytes_passed,
			    (unsigned long long)k.no_ctl, (unsigned long long)k.redirect_fail);
	} else if (ss->nr) {
		emit_text(e, "kernel splice: unavailable (%s)\n", fallback_name(ss->no_splice_cause));
	} else {
		emit_text(e, "kernel splice: not loaded (no services)\n");
	}
	emit_text(e, "control socket: %u clients now, %llu answered, %llu refused (over %d at once), "
	       "%llu timed out, %llu lines too long, %llu dropped (client left first)\n",
	    clients, cs->served, cs->refused_busy, CTL_MAX_CLIENTS, cs->timed_out, cs->too_long,
	    cs->abandoned);
}

static void backend_json(const struct service *svc, const struct backend *be,
			 const struct vip_view *v, size_t j, struct emit *e)
{
	unsigned long long out, in;

	backend_bytes(svc, be, &out, &in);
	emit_object(e, NULL);
	emit_str(e, "address", be->cfg->addr.text);
	emit_str(e, "state", be_state(be));
	emit_u64(e, "weight", be->weight);
	emit_bool(e, "backup", be->cfg->backup);
	emit_u64(e, "active", backend_active(be));
	emit_u64(e, "conns", be->conns);
	emit_u64(e, "bytes_out", out);
	emit_u64(e, "bytes_in", in);
	emit_u64(e, "connect_fail", be->connect_fail);
	emit_u64(e, "check_ok", be->hc_ok);
	emit_u64(e, "check_fail", be->hc_fail);
	emit_u64(e, "transitions", be->transitions);
	emit_u64(e, "slots", v->slots[j]);
	emit_u64(e, "vip_balanced", v->be[j].balanced);
	emit_u64(e, "vip_established", v->be[j].established);
	emit_u64(e, "vip_failed", v->be[j].failed);
	emit_u64(e, "killed", be->killed);
	emit_end(e);
}

static void service_json(const struct service *svc, const struct vip_view *v, struct emit *e)
{
	const struct service_stats *st = &svc->st;
	size_t j;
	int f;

	emit_object(e, NULL);
	emit_str(e, "name", svc->cfg->name);
	emit_str(e, "algorithm", cfg_algo_name(svc->cfg->algo));
	emit_str(e, "data_path", svc->splice ? "splice" : "relay");
	emit_u64(e, "active", svc->active);
	emit_u64(e, "accepted", st->accepted);
	emit_u64(e, "rejected_limit", st->rejected_limit);
	emit_u64(e, "no_backend", st->no_backend);
	emit_u64(e, "connect_fail", st->connect_fail);
	emit_u64(e, "retries", st->retries);
	emit_u64(e, "idle_closed", st->idle_closed);
	emit_u64(e, "resets", st->resets);
	emit_u64(e, "accept_paused", st->accept_paused);
	emit_u64(e, "conns_splice", st->conns_splice);
	emit_u64(e, "bytes_splice", st->bytes_splice + live_splice_bytes(svc));
	emit_u64(e, "conns_relay", st->conns_relay);
	emit_u64(e, "bytes_relay", st->bytes_relay);
	emit_object(e, "fallback");
	for (f = 0; f < FB_NR; f++)
		emit_u64(e, fallback_name((enum fallback_cause)f), st->fallback[f]);
	emit_end(e);
	emit_array(e, "backends");
	for (j = 0; j < svc->cfg->nr_backends; j++)
		backend_json(svc, &svc->backends[j], v, j, e);
	emit_end(e);
	emit_array(e, "virtual");
	for (j = 0; j < svc->cfg->nr_vips; j++)
		emit_str(e, NULL, svc->cfg->vips[j].text);
	emit_end(e);
	emit_object(e, "vip");
	emit_str(e, "protocols", vip_proto_name(svc->cfg));
	emit_u64(e, "balanced", v->st.balanced);
	emit_u64(e, "no_backend", v->st.no_backend);
	emit_u64(e, "not_allowed", v->st.not_allowed);
	emit_u64(e, "swaps", st->vip_swaps);
	emit_u64(e, "swap_fail", st->vip_swap_fail);
	emit_u64(e, "empty_slots", svc->cfg->nr_vips ? v->empty : 0);
	emit_end(e);
	emit_end(e);
}

static void services_json(const struct services *ss, const struct control_stats *cs,
			  unsigned int clients, struct emit *e)
{
	struct sh_splice_stats k = { 0 };
	struct vip_view *v = malloc(sizeof(*v));
	size_t i;

	if (!v) {
		e->cut = true;
		return;
	}
	emit_object(e, NULL);
	emit_array(e, "services");
	for (i = 0; i < ss->nr; i++) {
		vip_view(ss, &ss->svcs[i], v);
		service_json(&ss->svcs[i], v, e);
	}
	emit_end(e);
	free(v);
	if (ss->splice)
		splice_stats(ss->splice, &k);
	emit_object(e, "splice");
	emit_bool(e, "available", ss->splice);
	emit_s64(e, "entries", ss->splice ? splice_entries(ss->splice) : 0L);
	emit_u64(e, "skbs_redirected", k.skbs_redirected);
	emit_u64(e, "bytes_redirected", k.bytes_redirected);
	emit_u64(e, "skbs_passed", k.skbs_passed);
	emit_u64(e, "bytes_passed", k.bytes_passed);
	emit_u64(e, "no_ctl", k.no_ctl);
	emit_u64(e, "redirect_fail", k.redirect_fail);
	emit_u64(e, "empty_skbs", k.empty_skbs);
	emit_end(e);
	emit_object(e, "control");
	emit_u64(e, "clients", clients);
	emit_u64(e, "accepted", cs->accepted);
	emit_u64(e, "served", cs->served);
	emit_u64(e, "refused_busy", cs->refused_busy);
	emit_u64(e, "timed_out", cs->timed_out);
	emit_u64(e, "too_long", cs->too_long);
	emit_u64(e, "abandoned", cs->abandoned);
	emit_end(e);
	emit_end(e);
}

void report_services(const struct services *ss, const struct control_stats *cs,
		     unsigned int clients, struct emit *e)
{
	if (e->json)
		services_json(ss, cs, clients, e);
	else
		services_text(ss, cs, clients, e);
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

