// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_request.c - libFuzzer harness: the control socket's request decoder
 * on any line a client can send. A decoded request carries only printable
 * words; a refusal is one line that starts with the error prefix and holds
 * no byte of the client's unescaped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "emit.h"
#include "request.h"

static void check_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request req;
	struct emit err;
	char *line;
	int ret;

	if (size > 4096)	/* CTL_LINE_MAX: the daemon never passes more */
		return 0;
	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	emit_to_memory(&err, false);
	ret = ctl_request_parse(line, size, &req, &err);
	if (ret) {
		if (!err.len || strncmp(err.buf, CTL_ERROR_PREFIX " ", sizeof(CTL_ERROR_PREFIX)) ||
		    err.buf[err.len - 1] != '\n' || memchr(err.buf, '\n', err.len - 1))
			abort();
		check_printable(err.buf, err.len - 1);
	} else {
		if (err.len)
			abort();	/* success writes nothing */
		if (req.service)
			check_printable(req.service, strlen(req.service));
		if (req.backend)
			check_printable(req.backend, strlen(req.backend));
		if (req.verb == CTL_WEIGHT && (req.weight < 1 || req.weight > 256))
			abort();
	}
	emit_free(&err);
	free(line);
	return 0;
}
