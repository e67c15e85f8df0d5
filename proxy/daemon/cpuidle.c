// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cpuidle.c - see cpuidle.h. One read of /proc/stat a period; the "cpuN"
 * lines' idle + iowait against all of their time, kept for the last
 * CPUIDLE_SAMPLES periods so that a question about "since the connection
 * opened" is answered from samples of that connection's own lifetime.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuidle.h"

#define CPUIDLE_SAMPLES		16	/* 400 ms of history */
#define CPUIDLE_MAX_CPUS	256
#define CPUIDLE_QUIET_S		1.0	/* no question this long: stop sampling */

struct sample {
	ev_tstamp at;
	int nr_cpus;
	struct {
		unsigned long long idle, total;	/* side by side: few pages touched */
	} cpu[CPUIDLE_MAX_CPUS];
};

static struct sample *ring;	/* CPUIDLE_SAMPLES, allocated on first use */
static unsigned int head, count;	/* next slot to write, samples held */
static ev_timer timer;
static ev_tstamp last_asked;
static bool broken;		/* no /proc/stat here: every CPU "idle" */
static FILE *stat_file;		/* /proc/stat, opened once, re-read from its start */

static void take_sample(struct ev_loop *loop)
{
	struct sample *s = &ring[head];
	unsigned long long v[8];
	char line[512];
	int cpu, k;

	if (!stat_file) {
		stat_file = fopen("/proc/stat", "re");
		if (!stat_file) {
			/* out of descriptors or memory: try again next period */
			if (errno != EMFILE && errno != ENFILE && errno != ENOMEM)
				broken = true;
			return;
		}
	}
	rewind(stat_file);	/* procfs renders the file again from offset 0 */
	s->at = ev_now(loop);
	s->nr_cpus = 0;
	while (fgets(line, sizeof(line), stat_file)) {
		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		memset(v, 0, sizeof(v));
		if (sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5 ||
		    cpu < 0 || cpu >= CPUIDLE_MAX_CPUS)
			continue;
		s->cpu[cpu].idle = v[3] + v[4];	/* idle, iowait */
		s->cpu[cpu].total = 0;
		for (k = 0; k < 8; k++)		/* guest time is inside user */
			s->cpu[cpu].total += v[k];
		if (cpu + 1 > s->nr_cpus)
			s->nr_cpus = cpu + 1;
	}
	head = (head + 1) % CPUIDLE_SAMPLES;
	if (count < CPUIDLE_SAMPLES)
		count++;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	if (ev_now(loop) - last_asked > CPUIDLE_QUIET_S) {
		ev_timer_stop(loop, w);
		count = 0;	/* a restart must not mix old samples in */
		return;
	}
	take_sample(loop);
}

/* The i-th newest sample (0: the latest). */
static const struct sample *nth_newest(unsigned int i)
{
	return &ring[(head + CPUIDLE_SAMPLES - 1 - i) % CPUIDLE_SAMPLES];
}

double cpuidle_since(struct ev_loop *loop, int cpu, ev_tstamp since, double span)
{
	const struct sample *new, *old = NULL;
	unsigned long long total;
	unsigned int i;

	last_asked = ev_now(loop);
	if (broken || cpu < 0)
		return 1.0;
	if (!ring) {
		ring = calloc(CPUIDLE_SAMPLES, sizeof(*ring));
		if (!ring) {
			broken = true;
			return 1.0;
		}
	}
	if (!ev_is_active(&timer)) {
		ev_timer_init(&timer, on_tick, CPUIDLE_PERIOD_S, CPUIDLE_PERIOD_S);
		ev_timer_start(loop, &timer);
		take_sample(loop);
		return -1.0;
	}
	if (count < 2)
		return -1.0;
	new = nth_newest(0);
	if (cpu >= new->nr_cpus)
		return 1.0;
	/* the oldest sample taken at or after @since */
	for (i = 0; i < count && nth_newest(i)->at >= since; i++)
		old = nth_newest(i);
	if (!old || new->at - old->at < span || cpu >= old->nr_cpus)
		return -1.0;
	total = new->cpu[cpu].total - old->cpu[cpu].total;
	if (!total)
		return -1.0;
	return (double)(new->cpu[cpu].idle - old->cpu[cpu].idle) / (double)total;
}

void cpuidle_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &timer);
	if (stat_file)
		fclose(stat_file);
	stat_file = NULL;
	free(ring);
	ring = NULL;
	count = 0;
}
