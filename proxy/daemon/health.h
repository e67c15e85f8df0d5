/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * health.h - active TCP connect checks of a backend on libev timers: every
 * interval a non-blocking connect, judged within the timeout; rise
 * consecutive successes bring a down backend up, fall consecutive failures
 * (checks or real connects) take an up backend down.
 */
#ifndef SOCKHOP_HEALTH_H
#define SOCKHOP_HEALTH_H

struct backend;

void health_start(struct backend *be);
void health_stop(struct backend *be);

#endif /* SOCKHOP_HEALTH_H */
