/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cpuidle.h - how idle each CPU was lately, from /proc/stat, sampled on a
 * libev timer: what data-path auto asks before it moves a connection to
 * the kernel path, whose redirect runs on the client's CPU.
 */
#ifndef SOCKHOP_CPUIDLE_H
#define SOCKHOP_CPUIDLE_H

#include <ev.h>

/** cpuidle_start() - sample every CPUIDLE_PERIOD_S from now on. */
void cpuidle_start(struct ev_loop *loop);
void cpuidle_stop(struct ev_loop *loop);

/**
 * cpuidle_frac() - the share of the last period @cpu was idle, 0.0-1.0;
 * 1.0 when not known (no sample yet, no such CPU, /proc unreadable).
 */
double cpuidle_frac(int cpu);

#endif /* SOCKHOP_CPUIDLE_H */
