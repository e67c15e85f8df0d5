/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * health.h - active TCP connect checks of a backend on libev timers: every
 * interval a non-blocking connect, judged within the timeout; rise
 * consecutive successes bring a down backend up, fall consecutive failures
 * (checks or real connects) take an up backend down.
 */
#ifndef SOCKHOP_HEALTH_H
#define SOCKHOP_HEALTH_H

#include <stdbool.h>

struct backend;

void health_start(struct backend *be);
void health_stop(struct backend *be);

/**
 * health_passive() - a real connect to @be succeeded or failed. Failures
 * count toward fall as failed checks do; without active checks nothing
 * could bring a backend back, so then they are only counted.
 */
void health_passive(struct backend *be, bool ok);

#endif /* SOCKHOP_HEALTH_H */
