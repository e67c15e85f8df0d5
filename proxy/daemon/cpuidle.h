/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cpuidle.h - how idle each CPU has been since a given moment, from
 * /proc/stat sampled on a libev timer: what data-path auto asks before it
 * moves a connection to the kernel path, whose redirect work then runs on
 * the client's CPU. The timer runs only while someone asks: it stops after
 * a second without a question and the next question starts it again.
 */
#ifndef SOCKHOP_CPUIDLE_H
#define SOCKHOP_CPUIDLE_H

#include <ev.h>

#define CPUIDLE_PERIOD_S	0.025	/* a sample each; /proc/stat counts 10 ms ticks */

/**
 * cpuidle_since() - the share of time @cpu was idle from about @since to
 * the latest sample, 0.0-1.0, over at least @span seconds of samples all
 * taken at or after @since; -1.0 while no such samples exist yet (the
 * caller asks again later); 1.0 for a CPU that cannot be known (no
 * /proc/stat, @cpu < 0, beyond the sampled CPUs).
 */
double cpuidle_since(struct ev_loop *loop, int cpu, ev_tstamp since, double span);

/** cpuidle_stop() - stop sampling (the daemon's exit). */
void cpuidle_stop(struct ev_loop *loop);

#endif /* SOCKHOP_CPUIDLE_H */
