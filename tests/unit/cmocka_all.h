/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cmocka_all.h - cmocka needs these headers first, in this order. */
#ifndef SOCKHOP_CMOCKA_ALL_H
#define SOCKHOP_CMOCKA_ALL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#endif
