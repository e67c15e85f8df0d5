// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sockdiag.c - see sockdiag.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "sockdiag.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE	71
#endif

/* 1 << TCP_ESTABLISHED .. TCP_CLOSING, except TIME_WAIT and CLOSE: a
 * TIME_WAIT socket keeps its cookie and would be "destroyed" for nothing */
#define LIVE_STATES	((1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | \
			 (1u << 8) | (1u << 9) | (1u << 11))

struct diag_req {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 r;
};

int sockdiag_open(void)
{
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	return nl < 0 ? -errno : nl;
}

uint64_t sockdiag_netns_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		return 0;
	return cookie;
}

struct open_in {
	int ns;		/* the namespace to enter */
	int ret;	/* the diag socket, or -errno */
};

static void *open_in_thread(void *arg)
{
	struct open_in *o = arg;

	o->ret = setns(o->ns, CLONE_NEWNET) ? -errno : sockdiag_open();
	return NULL;
}

int sockdiag_open_in(pid_t pid, uint64_t netns_cookie)
{
	struct open_in o = { .ret = -ESRCH };
	char path[64];
	pthread_t t;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	o.ns = open(path, O_RDONLY | O_CLOEXEC);
	if (o.ns < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	if (pthread_create(&t, NULL, open_in_thread, &o)) {
		close(o.ns);
		return -EAGAIN;
	}
	pthread_join(t, NULL);
	close(o.ns);
	if (o.ret >= 0 && sockdiag_netns_cookie(o.ret) != netns_cookie) {
		close(o.ret);
		return -ENOENT;
	}
	return o.ret;
}

static int send_req(int nl, uint16_t type, uint16_t flags, uint8_t family,
		    const struct inet_diag_sockid *id)
{
	struct diag_req req = {
		.nlh = { .nlmsg_len = sizeof(req), .nlmsg_type = type, .nlmsg_flags = flags },
		.r = { .sdiag_family = family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = LIVE_STATES },
	};

	if (id)
		req.r.id = *id;
	return send(nl, &req, sizeof(req), 0) < 0 ? -errno : 0;
}

int sockdiag_dump(int nl, uint8_t family, int (*fn)(const struct inet_diag_msg *d, void *ctx),
		  void *ctx)
{
	char buf[32768];
	int err;

	err = send_req(nl, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, family, NULL);
	if (err)
		return err;
	for (;;) {
		ssize_t len = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (len < 0)
			return -errno;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			err = fn(NLMSG_DATA(h), ctx);
			if (err < 0)
				return err;
		}
	}
}

int sockdiag_destroy(int nl, uint8_t family, const struct inet_diag_sockid *id)
{
	char ack[256];
	ssize_t n;
	int err;

	err = send_req(nl, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, family, id);
	if (err)
		return err;
	n = recv(nl, ack, sizeof(ack), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < NLMSG_LENGTH(sizeof(struct nlmsgerr)) ||
	    ((struct nlmsghdr *)ack)->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)ack))->error;
}
