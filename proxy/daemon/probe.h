/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* probe.h - start-up checks: privileges and kernel features, said precisely. */
#ifndef SOCKHOP_PROBE_H
#define SOCKHOP_PROBE_H

/**
 * probe_privileges() - check the effective capabilities sockhopd needs.
 * Logs one line per missing capability. Return: 0 or -EPERM.
 */
int probe_privileges(void);

/**
 * probe_kernel() - check the program types, map types and helpers the BPF
 * objects use. Logs one line per missing feature. Return: 0 or -EOPNOTSUPP.
 */
int probe_kernel(void);

#endif /* SOCKHOP_PROBE_H */
