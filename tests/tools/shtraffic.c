// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shtraffic - traffic for sockhop's tests and benchmarks.
 *
 *   shtraffic server PORT [opts]         accept one connection, then stream
 *   shtraffic client ADDR PORT [opts]    connect, then stream
 *     --bytes N       bytes this side sends (then shuts down its write side)
 *     --seed S        seed of this side's byte stream
 *     --peer-seed S   seed of the stream expected from the peer; every byte
 *                     received is checked against it, in order
 *     --peer-bytes N  bytes expected from the peer (default: any)
 *     --bind ADDR     server: listen address (default ::, dual stack)
 *     --max-chunk N   send/recv sizes are random in 1..N (default 65536)
 *     --src-port N    client: connect from this local port
 *     --read-delay-ms N  start reading N ms after the connection is up
 *     --read-rate B   read at most B bytes a second (a slow consumer)
 *     --stall-every N --stall-ms M   stop reading for M ms after each N bytes
 *     --probe-ms N    first write without blocking for N ms (retrying on
 *                     POLLOUT), then say how far it got: probe_accepted=
 *                     bytes taken, probe_pollout= whether POLLOUT was set
 *                     at the end, probe_block_ms= how long the first
 *                     blocking send() after it waited; then go on blocking
 *     --bench         fixed --max-chunk sends of a constant buffer, no hashing
 *                     (throughput runs; no --peer-seed check with it)
 *     --accept N      server: accept N connections, each streamed by a child
 *                     process of its own (a line each; exit 0 if all are)
 *     --turns N       first N checked 64-byte round trips, the client asking
 *                     and the server echoing (a chatty start, which data-path
 *                     auto splices), then the streams; elapsed= is theirs
 *   Prints "sent=N recv=N hash=H elapsed=S" and exits 0 when all verified.
 *
 *   shtraffic epoll-server PORT --size N [--bind ADDR]
 *     an epoll loop echoing N-byte requests on any number of connections
 *   shtraffic rr-client ADDR PORT --size N --count C [--timeout-ms T]
 *     C request/response round trips on one connection; each reply is
 *     checked; no reply within T ms (default 5000) is a stall: exit 3.
 *     Prints "count=C p50_us=X p99_us=Y".
 *   shtraffic conn-client ADDR PORT --size N --count C
 *     C connections one after the other, each one N-byte round trip with an
 *     epoll-server and a close. Prints "count=C per_s=R p50_us=X": the
 *     connection rate and how long one connection took.
 *
 * The byte at offset i of stream S is a function of (S, i / 8), so both
 * ends generate the stream independently and any loss or reordering shows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct opts {
	uint64_t bytes, peer_bytes, seed, peer_seed, size, count;
	int have_peer_seed, have_peer_bytes, timeout_ms, src_port, read_delay_ms, bench;
	uint64_t read_rate, stall_every;	/* a slow or stalling reader */
	int stall_ms, probe_ms;
	int accept;		/* server: connections to take (default 1) */
	int turns, lead;	/* round trips before the streams; lead: the client asks */
	size_t max_chunk;
	const char *bind;
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Fills buf with bytes [off, off+len) of stream <seed>. */
static void stream_fill(uint64_t seed, uint64_t off, unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t blk = (off + i) / 8, v = splitmix64(seed * 0x100000001b3ull + blk);
		unsigned sh = (unsigned)((off + i) % 8);

		for (; sh < 8 && i < len; sh++, i++)
			buf[i] = (unsigned char)(v >> (8 * sh));
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd_state = 88172645463325252ull;

static size_t rnd_chunk(size_t max)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return 1 + (size_t)(rnd_state % max);
}

struct sender {
	int fd;
	uint64_t bytes, seed;
	size_t max_chunk;
	int bench;	/* fixed-size sends of one constant buffer */
	int probe_ms;	/* write without blocking for this long first */
	uint64_t probe_accepted;
	int probe_pollout;
	double probe_block_ms;
	int err;
};

/* The probe: how much does the peer's side take before this sender is held
 * back? Non-blocking sends for <ms>, waiting on POLLOUT when refused. */
static void probe(struct sender *s, unsigned char *buf, uint64_t *off)
{
	double end = now_s() + s->probe_ms / 1000.0;
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };

	while (*off < s->bytes && now_s() < end) {
		size_t n = s->max_chunk < s->bytes - *off ? s->max_chunk : (size_t)(s->bytes - *off);
		ssize_t w;

		stream_fill(s->seed, *off, buf, n);
		w = send(s->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			*off += (uint64_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			s->err = errno;
			return;
		}
		poll(&p, 1, (int)((end - now_s()) * 1000) + 1);
	}
	s->probe_accepted = *off;
	p.revents = 0;
	s->probe_pollout = poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
	/* said at once, so a test can look at the machine while held */
	printf("probed accepted=%llu pollout=%d\n", (unsigned long long)s->probe_accepted,
	       s->probe_pollout);
	fflush(stdout);
}

static void *send_stream(void *arg)
{
	struct sender *s = arg;
	unsigned char *buf = malloc(s->max_chunk);
	uint64_t off = 0;
	uint64_t st = s->seed | 1;

	double t0 = 0;

	if (!buf) {
		s->err = ENOMEM;
		return NULL;
	}
	if (s->probe_ms) {
		probe(s, buf, &off);
		t0 = now_s();
	}
	while (off < s->bytes && !s->err) {
		size_t n;
		ssize_t w;

		st ^= st << 13; st ^= st >> 7; st ^= st << 17;
		n = s->bench ? s->max_chunk : 1 + (size_t)(st % s->max_chunk);
		if (n > s->bytes - off)
			n = (size_t)(s->bytes - off);
		if (!s->bench)
			stream_fill(s->seed, off, buf, n);
		else if (off == 0)
			memset(buf, 0x5a, s->max_chunk);
		w = send(s->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			s->err = errno;
			break;
		}
		if (t0) {	/* the first blocking send after the probe */
			s->probe_block_ms = (now_s() - t0) * 1000;
			t0 = 0;
		}
		off += (uint64_t)w;
	}
	if (!s->err)
		shutdown(s->fd, SHUT_WR);
	free(buf);
	return NULL;
}

/* Streams both ways on <fd>; returns the exit code. */
static int read_full(int fd, unsigned char *buf, size_t len, int timeout_ms);

/* --turns: N round trips of 64 bytes of the client's stream, checked. */
static int chat_turns(int fd, const struct opts *o)
{
	unsigned char msg[64], got[64];
	int k;

	for (k = 0; k < o->turns; k++) {
		stream_fill(o->lead ? o->seed : o->peer_seed, (uint64_t)k * 64, msg, sizeof(msg));
		if (o->lead && send(fd, msg, sizeof(msg), MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
			return -1;
		if (read_full(fd, got, sizeof(got), o->timeout_ms))
			return -1;
		if ((o->lead || o->have_peer_seed) && memcmp(got, msg, sizeof(msg)))
			return -1;
		if (!o->lead && send(fd, got, sizeof(got), MSG_NOSIGNAL) != (ssize_t)sizeof(got))
			return -1;
	}
	return 0;
}

static int stream(int fd, const struct opts *o)
{
	unsigned char *buf = malloc(o->max_chunk), *want = malloc(o->max_chunk);
	struct sender s = { .fd = fd, .bytes = o->bytes, .seed = o->seed, .max_chunk = o->max_chunk,
			    .bench = o->bench, .probe_ms = o->probe_ms };
	uint64_t recvd = 0, hash = 1469598103934665603ull, eagain = 0, next_stall = o->stall_every;
	double t0;
	pthread_t th;
	int rc = 0;

	if (o->turns && chat_turns(fd, o)) {
		fprintf(stderr, "shtraffic: a round trip of --turns failed\n");
		free(buf);
		free(want);
		return 1;
	}
	t0 = now_s();
	if (!buf || !want || pthread_create(&th, NULL, send_stream, &s)) {
		perror("shtraffic: setup");
		return 1;
	}
	if (o->read_delay_ms)	/* a stalled reader: the peer's bytes queue up */
		usleep((useconds_t)o->read_delay_ms * 1000);
	for (;;) {
		size_t want_n = o->bench ? o->max_chunk : rnd_chunk(o->max_chunk);
		ssize_t r, i;

		if (o->read_rate) {	/* no faster than read_rate on average */
			double due = t0 + (double)recvd / (double)o->read_rate;

			if (due > now_s())
				usleep((useconds_t)((due - now_s()) * 1e6));
			if (want_n > o->read_rate / 20 + 1)
				want_n = o->read_rate / 20 + 1;
		}
		if (o->stall_every && recvd >= next_stall) {
			usleep((useconds_t)o->stall_ms * 1000);
			next_stall += o->stall_every;
		}
		r = recv(fd, buf, want_n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		/* This kernel's tcp_bpf_recvmsg() returns -EAGAIN on a blocking
		 * socket after a wakeup that brought no data (e.g. write space
		 * from our own sender thread). Counted and reported, then retried. */
		if (r < 0 && errno == EAGAIN) {
			eagain++;
			continue;
		}
		if (r < 0) {
			perror("shtraffic: recv");
			rc = 1;
			break;
		}
		if (r == 0)
			break;
		for (i = 0; !o->bench && i < r; i++)
			hash = (hash ^ buf[i]) * 1099511628211ull;
		if (o->have_peer_seed) {
			stream_fill(o->peer_seed, recvd, want, (size_t)r);
			if (memcmp(buf, want, (size_t)r)) {
				for (i = 0; i < r && buf[i] == want[i]; i++)
					;
				fprintf(stderr, "shtraffic: MISMATCH at byte %llu of the peer's stream\n",
					(unsigned long long)(recvd + (uint64_t)i));
				rc = 2;
				break;
			}
		}
		recvd += (uint64_t)r;
	}
	pthread_join(th, NULL);
	if (s.err) {
		fprintf(stderr, "shtraffic: send: %s\n", strerror(s.err));
		rc = rc ? rc : 1;
	}
	if (!rc && o->have_peer_bytes && recvd != o->peer_bytes) {
		fprintf(stderr, "shtraffic: received %llu bytes, expected %llu\n",
			(unsigned long long)recvd, (unsigned long long)o->peer_bytes);
		rc = 2;
	}
	if (o->probe_ms)
		printf("probe_accepted=%llu probe_pollout=%d probe_block_ms=%.1f ",
		       (unsigned long long)s.probe_accepted, s.probe_pollout, s.probe_block_ms);
	printf("sent=%llu recv=%llu hash=%016llx elapsed=%.6f spurious_eagain=%llu\n",
	       (unsigned long long)o->bytes, (unsigned long long)recvd, (unsigned long long)hash,
	       now_s() - t0, (unsigned long long)eagain);
	free(buf);
	free(want);
	return rc;
}

static int listen_on(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int fd, one = 1, zero = 0, err;

	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "shtraffic: %s: %s\n", addr, gai_strerror(err));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024)) {
			perror("shtraffic: bind/listen");
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* Connects, retrying refusals for up to 5 s while the server starts;
 * from local port <src_port> when it is not 0. */
static int connect_to(const char *addr, const char *port, int src_port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	double deadline = now_s() + 5;
	int fd = -1, err, one = 1;

	err = getaddrinfo(addr, port, &hints, &ai);
	if (err) {
		fprintf(stderr, "shtraffic: %s: %s\n", addr, gai_strerror(err));
		return -1;
	}
	for (;;) {
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0)
			break;
		if (src_port) {
			struct sockaddr_storage ss = {};

			ss.ss_family = (sa_family_t)ai->ai_family;
			if (ai->ai_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)src_port);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)src_port);
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen)) {
				perror("shtraffic: bind source port");
				close(fd);
				fd = -1;
				break;
			}
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
		if (err != ECONNREFUSED || now_s() > deadline) {
			fprintf(stderr, "shtraffic: connect %s:%s: %s\n", addr, port, strerror(err));
			break;
		}
		usleep(20000);
	}
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(ai);
	return fd;
}

static int read_full(int fd, unsigned char *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
		r = recv(fd, buf + got, len - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		got += (size_t)r;
	}
	return 0;
}

struct econn {
	int fd;
	size_t have;	/* bytes of the current request read */
	unsigned char buf[];
};

/* Echo server on epoll: level-triggered, non-blocking, any number of peers. */
static int epoll_server(const char *port, const struct opts *o)
{
	int lfd = listen_on(o->bind, port), ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];

	if (lfd < 0 || ep < 0)
		return 1;
	fcntl(lfd, F_SETFL, O_NONBLOCK);
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("listening %s\n", port);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1), i;

		for (i = 0; i < n; i++) {
			struct econn *c = evs[i].data.ptr;
			ssize_t r;

			if (!c) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

				if (cfd < 0)
					continue;
				c = calloc(1, sizeof(*c) + o->size);
				c->fd = cfd;
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
				continue;
			}
			r = recv(c->fd, c->buf + c->have, o->size - c->have, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				free(c);
				continue;
			}
			c->have += (size_t)r;
			if (c->have == o->size) {
				size_t off = 0;

				/* Replies are small: a blocking-ish loop is fine here. */
				while (off < o->size) {
					ssize_t w = send(c->fd, c->buf + off, o->size - off, MSG_NOSIGNAL);

					if (w < 0 && errno == EAGAIN) {
						struct pollfd p = { .fd = c->fd, .events = POLLOUT };

						poll(&p, 1, 1000);
						continue;
					}
					if (w < 0)
						break;
					off += (size_t)w;
				}
				c->have = 0;
			}
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One request of <size> bytes and its echo on <fd>; 0 or -errno. */
static int round_trip(int fd, unsigned char *req, unsigned char *rep, size_t size, int timeout_ms)
{
	size_t off = 0;

	while (off < size) {
		ssize_t w = send(fd, req + off, size - off, MSG_NOSIGNAL);

		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	return read_full(fd, rep, size, timeout_ms);
}

static int conn_client(const char *addr, const char *port, const struct opts *o)
{
	unsigned char *req = malloc(o->size), *rep = malloc(o->size);
	double *lat = calloc(o->count ? o->count : 1, sizeof(double)), t0 = now_s();
	uint64_t i = 0;
	int rc = 1;

	if (!req || !rep || !lat)
		goto out;
	memset(req, 0x5a, o->size);
	for (i = 0; i < o->count; i++) {
		double t = now_s();
		int fd = connect_to(addr, port, 0), err;

		if (fd < 0)
			goto out;
		err = round_trip(fd, req, rep, o->size, o->timeout_ms);
		close(fd);
		if (err) {
			fprintf(stderr, "shtraffic: connection %llu: %s\n", (unsigned long long)i,
				strerror(-err));
			goto out;
		}
		lat[i] = (now_s() - t) * 1e6;
	}
	qsort(lat, i, sizeof(double), cmp_double);
	printf("count=%llu per_s=%.0f p50_us=%.1f\n", (unsigned long long)i,
	       (double)i / (now_s() - t0), i ? lat[i / 2] : 0.0);
	rc = 0;
out:
	free(lat);
	free(rep);
	free(req);
	return rc;
}

static int rr_client(const char *addr, const char *port, const struct opts *o)
{
	unsigned char *req = malloc(o->size), *rep = malloc(o->size);
	double *lat = calloc(o->count ? o->count : 1, sizeof(double));
	int fd = req && rep && lat ? connect_to(addr, port, o->src_port) : -1, rc = 1;
	uint64_t i = 0;

	if (fd < 0)
		goto out;
	rc = 0;
	for (i = 0; i < o->count; i++) {
		double t0;
		int err;

		stream_fill(o->seed, i * o->size, req, o->size);
		t0 = now_s();
		err = round_trip(fd, req, rep, o->size, o->timeout_ms);
		if (err == -ETIMEDOUT) {
			fprintf(stderr, "shtraffic: STALL: no reply to request %llu within %d ms\n",
				(unsigned long long)i, o->timeout_ms);
			rc = 3;
			goto out;
		}
		if (err) {
			fprintf(stderr, "shtraffic: reply %llu: %s\n", (unsigned long long)i,
				strerror(-err));
			rc = 1;
			goto out;
		}
		lat[i] = (now_s() - t0) * 1e6;
		if (memcmp(req, rep, o->size)) {
			fprintf(stderr, "shtraffic: MISMATCH in reply %llu\n", (unsigned long long)i);
			rc = 2;
			break;
		}
	}
	qsort(lat, i, sizeof(double), cmp_double);
	printf("count=%llu p50_us=%.1f p99_us=%.1f\n", (unsigned long long)i,
	       i ? lat[i / 2] : 0.0, i ? lat[(i * 99) / 100] : 0.0);
out:
	if (fd >= 0)
		close(fd);
	free(lat);
	free(rep);
	free(req);
	return rc;
}

/* --accept N: a child process streams each connection; all must succeed. */
static int serve_many(int lfd, const struct opts *o)
{
	int i, st, rc = 0;

	for (i = 0; i < o->accept; i++) {
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;

		if (fd < 0) {
			perror("shtraffic: accept");
			rc = 1;
			break;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(lfd);
			exit(stream(fd, o));
		}
		close(fd);
		if (pid < 0) {
			perror("shtraffic: fork");
			rc = 1;
			break;
		}
	}
	close(lfd);
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			rc = rc ? rc : 1;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "peer-bytes", required_argument, NULL, 'B' },
		{ "seed", required_argument, NULL, 's' },
		{ "peer-seed", required_argument, NULL, 'S' },
		{ "size", required_argument, NULL, 'z' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "max-chunk", required_argument, NULL, 'm' },
		{ "bind", required_argument, NULL, 'a' },
		{ "src-port", required_argument, NULL, 'p' },
		{ "read-delay-ms", required_argument, NULL, 'r' },
		{ "bench", no_argument, NULL, 'x' },
		{ "accept", required_argument, NULL, 'A' },
		{ "read-rate", required_argument, NULL, 'R' },
		{ "stall-every", required_argument, NULL, 'E' },
		{ "stall-ms", required_argument, NULL, 'M' },
		{ "probe-ms", required_argument, NULL, 'P' },
		{ "turns", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .seed = 1, .size = 64, .count = 1000, .timeout_ms = 5000,
			  .max_chunk = 65536, .bind = "::" };
	const char *mode;
	int c;

	if (argc < 2) {
		fprintf(stderr, "usage: see the comment at the top of tests/tools/shtraffic.c\n");
		return 1;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o.bytes = strtoull(optarg, NULL, 0); break;
		case 'B': o.peer_bytes = strtoull(optarg, NULL, 0); o.have_peer_bytes = 1; break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'S': o.peer_seed = strtoull(optarg, NULL, 0); o.have_peer_seed = 1; break;
		case 'z': o.size = strtoull(optarg, NULL, 0); break;
		case 'n': o.count = strtoull(optarg, NULL, 0); break;
		case 't': o.timeout_ms = atoi(optarg); break;
		case 'm': o.max_chunk = strtoull(optarg, NULL, 0); break;
		case 'a': o.bind = optarg; break;
		case 'p': o.src_port = atoi(optarg); break;
		case 'r': o.read_delay_ms = atoi(optarg); break;
		case 'x': o.bench = 1; break;
		case 'A': o.accept = atoi(optarg); break;
		case 'R': o.read_rate = strtoull(optarg, NULL, 0); break;
		case 'E': o.stall_every = strtoull(optarg, NULL, 0); break;
		case 'M': o.stall_ms = atoi(optarg); break;
		case 'P': o.probe_ms = atoi(optarg); break;
		case 'T': o.turns = atoi(optarg); break;
		default: return 1;
		}
	}
	if (!o.max_chunk || !o.size)
		return 1;
	if (!strcmp(mode, "server") && optind + 1 == argc) {
		int lfd = listen_on(o.bind, argv[optind]), fd;

		if (lfd < 0)
			return 1;
		printf("listening %s\n", argv[optind]);
		fflush(stdout);
		if (o.accept > 1)
			return serve_many(lfd, &o);
		fd = accept(lfd, NULL, NULL);
		close(lfd);
		return fd < 0 ? 1 : stream(fd, &o);
	}
	if (!strcmp(mode, "client") && optind + 2 == argc) {
		int fd = connect_to(argv[optind], argv[optind + 1], o.src_port);

		o.lead = 1;
		return fd < 0 ? 1 : stream(fd, &o);
	}
	if (!strcmp(mode, "epoll-server") && optind + 1 == argc)
		return epoll_server(argv[optind], &o);
	if (!strcmp(mode, "conn-client") && optind + 2 == argc)
		return conn_client(argv[optind], argv[optind + 1], &o);
	if (!strcmp(mode, "rr-client") && optind + 2 == argc)
		return rr_client(argv[optind], argv[optind + 1], &o);
	fprintf(stderr, "shtraffic: bad arguments for '%s'\n", mode);
	return 1;
}
