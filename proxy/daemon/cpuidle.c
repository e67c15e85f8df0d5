// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cpuidle.c - see cpuidle.h. One read of /proc/stat a period: the "cpuN"
 * lines' idle + iowait ticks against all of their ticks.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpuidle.h"

#define CPUIDLE_PERIOD_S	0.25
#define CPUIDLE_MAX_CPUS	1024

struct ticks {
	unsigned long long idle, total;
};

static struct ticks last[CPUIDLE_MAX_CPUS];
static double frac[CPUIDLE_MAX_CPUS];
static int known;		/* CPUs with a fraction (0 until two samples) */
static bool sampled;
static ev_timer timer;

static void sample(void)
{
	unsigned long long v[10], idle, total;
	char line[512];
	int cpu, n, k, seen = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		memset(v, 0, sizeof(v));
		n = sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &cpu,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
		if (n < 5 || cpu < 0 || cpu >= CPUIDLE_MAX_CPUS)
			continue;
		idle = v[3] + v[4];	/* idle, iowait */
		for (total = 0, k = 0; k < 8; k++)	/* guest time is inside user */
			total += v[k];
		if (sampled && total > last[cpu].total)
			frac[cpu] = (double)(idle - last[cpu].idle) / (double)(total - last[cpu].total);
		last[cpu] = (struct ticks){ idle, total };
		if (cpu + 1 > seen)
			seen = cpu + 1;
	}
	fclose(f);
	if (sampled)
		known = seen;
	sampled = true;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	sample();
}

void cpuidle_start(struct ev_loop *loop)
{
	sample();
	ev_timer_init(&timer, on_tick, CPUIDLE_PERIOD_S, CPUIDLE_PERIOD_S);
	ev_timer_start(loop, &timer);
}

void cpuidle_stop(struct ev_loop *loop)
{
	ev_timer_stop(loop, &timer);
}

double cpuidle_frac(int cpu)
{
	if (cpu < 0 || cpu >= known)
		return 1.0;
	return frac[cpu];
}
