/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * addr.h - addresses in the form every BPF key holds them: IPv6, IPv4 as
 * v4-mapped (::ffff:a.b.c.d), 16 bytes in network order (the same bytes as
 * four __u32 words); prefixes of that form, IPv4 ones counted from 96.
 */
#ifndef SOCKHOP_ADDR_H
#define SOCKHOP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** addr_ip6() - @sa's address in IPv6 form into the 16 bytes at @out, and
 * its port in host order into @port. */
void addr_ip6(const struct sockaddr_storage *sa, void *out, uint16_t *port);

/** addr_parse() - the IPv4 or IPv6 literal @text in IPv6 form into the 16
 * bytes at @out; @is4 (may be NULL) says which it was. 0, or -EINVAL when
 * @text is neither. */
int addr_parse(const char *text, void *out, bool *is4);

/** addr_is_v4_mapped() - is the 16-byte address @a ::ffff:a.b.c.d? */
bool addr_is_v4_mapped(const void *a);

/** addr_prefix_text() - "a.b.c.d", "a.b.c.d/n", "x::y", "x::y/n" or "any"
 * for the prefix @a/@prefixlen; at least INET6_ADDRSTRLEN + 4 bytes. */
void addr_prefix_text(const void *a, unsigned int prefixlen, char *out, size_t len);

/** addr_prefix_contains() - does prefix @a/@alen contain prefix @b/@blen? */
bool addr_prefix_contains(const void *a, unsigned int alen, const void *b, unsigned int blen);

#endif /* SOCKHOP_ADDR_H */
