/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * report.h - what the control socket reports of the services, in text or
 * JSON (emit.h): backends and their books, the split between splice and
 * relay, the connect-time tables and counters, the control socket's own.
 */
#ifndef SOCKHOP_REPORT_H
#define SOCKHOP_REPORT_H

struct services;
struct control_stats;
struct emit;

/** report_services() - every service, then the kernel splice and the
 * control socket (@cs, @clients connected now), in @e's form. */
void report_services(const struct services *ss, const struct control_stats *cs,
		     unsigned int clients, struct emit *e);

/** report_table() - "SLOT BACKEND" for each slot of service @name's
 * connect-time Maglev table ("-" for none), or a refusal line. */
void report_table(const struct services *ss, const char *name, struct emit *e);

/** report_explain() - service @name's data path in words: what it does
 * with a connection, which path carried how many connections and bytes,
 * why the relayed ones stayed there, and where the open ones are now; or a
 * refusal line. */
void report_explain(const struct services *ss, const char *name, struct emit *e);

#endif /* SOCKHOP_REPORT_H */
