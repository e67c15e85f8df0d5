// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon.c - the commands the running sockhopd answers: one line over its
 * control socket (ctlproto.h), the answer copied out until the daemon closes.
 * Every wait is bounded, so a stopped daemon costs a named timeout, not a
 * hung shell.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "ctlproto.h"
#include "log.h"

#define ASK_TIMEOUT_S	5	/* for the connect, the send, and each read */

static int request(const char *path, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = ASK_TIMEOUT_S };
	const size_t pre = strlen(CTL_ERROR_PREFIX);
	bool first = true, failed = false;
	char buf[65536];
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		cli_err("control socket path too long: %s\n", path);
		return 1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		cli_err("cannot reach sockhopd at %s: %s (is it running? see "
			"--control)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* A daemon that refused this client at once (too many of them) may
	 * have closed already: its one line is still there to read. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	     errno != ECONNRESET)) {
		cli_err("%s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	/* the answer is text; a control byte in it is shown, never obeyed */
	while ((n = recv(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (first && (size_t)n >= pre && !memcmp(buf, CTL_ERROR_PREFIX, pre)) {
			/* the daemon's refusal, with this program's prefix */
			size_t skip = (size_t)n > pre && buf[pre] == ' ' ? pre + 1 : pre;

			failed = true;
			fputs("sockhop: ", stderr);
			log_put(stderr, buf + skip);
		} else {
			log_put(failed ? stderr : stdout, buf);
		}
		first = false;
	}
	close(fd);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		cli_err("sockhopd at %s did not answer within %d s (is it "
			"stopped or overloaded?); if it reads this command later, it sees this "
			"client gone and drops it\n", path, ASK_TIMEOUT_S);
		return 1;
	}
	if (n < 0 && errno == ECONNRESET) {	/* closed after what it said */
		if (!first)
			return failed ? 1 : 0;
		cli_err("sockhopd at %s closed the connection without an "
			"answer\n", path);
		return 1;
	}
	if (n < 0) {
		cli_err("%s: %s\n", path, strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}

int cli_ask(const char *path, const char *cmd, int argc, char **argv)
{
	char req[512];
	size_t len;
	int i;

	/* the daemon splits the one line at spaces: a word may hold none */
	for (i = 0; i < argc; i++) {
		const unsigned char *p = (const unsigned char *)argv[i];

		while (*p && *p > ' ' && *p != 0x7f)
			p++;
		if (*p || !*argv[i]) {
			cli_err("%s: argument %d is empty or holds a space or a "
				"control character\n", cmd, i + 1);
			return 2;
		}
	}
	len = (size_t)snprintf(req, sizeof(req), "%s", cmd);
	for (i = 0; i < argc && len < sizeof(req); i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, " %s", argv[i]);
	if (len + 2 >= sizeof(req)) {
		cli_err("%s: arguments too long\n", cmd);
		return 2;
	}
	strcat(req, "\n");
	return request(path, req);
}
