// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* addr.c - see addr.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

void addr_ip6(const struct sockaddr_storage *sa, void *out, uint16_t *port)
{
	uint8_t *o = out;

	memset(o, 0, 16);
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		o[10] = o[11] = 0xff;
		memcpy(&o[12], &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		memcpy(o, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	}
}

int addr_parse(const char *text, void *out, bool *is4)
{
	uint8_t *o = out;
	struct in_addr a4;

	memset(o, 0, 16);
	if (inet_pton(AF_INET, text, &a4) == 1) {
		o[10] = o[11] = 0xff;
		memcpy(&o[12], &a4, 4);
		if (is4)
			*is4 = true;
		return 0;
	}
	if (is4)
		*is4 = false;
	return inet_pton(AF_INET6, text, o) == 1 ? 0 : -EINVAL;
}

bool addr_is_v4_mapped(const void *a)
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pre, 12);
}

void addr_prefix_text(const void *a, unsigned int prefixlen, char *out, size_t len)
{
	char t[INET6_ADDRSTRLEN];

	if (prefixlen == 0) {
		snprintf(out, len, "any");
	} else if (prefixlen >= 96 && addr_is_v4_mapped(a)) {
		inet_ntop(AF_INET, (const uint8_t *)a + 12, t, sizeof(t));
		snprintf(out, len, prefixlen == 128 ? "%s" : "%s/%u", t, prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, a, t, sizeof(t));
		snprintf(out, len, prefixlen == 128 ? "%s" : "%s/%u", t, prefixlen);
	}
}

bool addr_prefix_contains(const void *a, unsigned int alen, const void *b, unsigned int blen)
{
	const uint8_t *x = a, *y = b;
	unsigned int full = alen / 8, rest = alen % 8;

	if (alen > blen || memcmp(x, y, full))
		return false;
	return !rest || ((x[full] ^ y[full]) & (0xff << (8 - rest))) == 0;
}
