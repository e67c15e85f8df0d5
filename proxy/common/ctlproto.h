/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ctlproto.h - what the CLI and the daemon agree on about the control
 * socket: where it is by default, and the shape of a talk. The client sends
 * one command line; the daemon answers and closes. An answer that starts
 * with CTL_ERROR_PREFIX is a refusal, its reason after the prefix.
 */
#ifndef SOCKHOP_CTLPROTO_H
#define SOCKHOP_CTLPROTO_H

#define SH_DEFAULT_CONTROL	"/run/sockhopd.sock"
#define CTL_ERROR_PREFIX	"error:"

#endif /* SOCKHOP_CTLPROTO_H */
