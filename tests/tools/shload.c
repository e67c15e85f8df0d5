// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shload - many verified connections through a proxy (the tests' tool).
 *
 *   shload backend PORT --id N [--bind ADDR] [--read-delay-ms MS]
 *     Serves any number of connections, one thread each, until SIGTERM;
 *     then prints "conns=N ok=N bad=N reset=N bytes_in=N bytes_out=N".
 *   shload client ADDR PORT --conns N [--parallel P] [--up BYTES]
 *                [--down BYTES] [--random-sizes] [--rst-every K]
 *                [--mode duplex|client-first|server-first|random]
 *                [--src-base ADDR] [--timeout-ms T]
 *     Opens N connections (P at a time) and prints "ok=N bad=N reset=N
 *     refused=N econnrefused=N backends=ID:COUNT,...". Exit 0 when bad == 0,
 *     else 1. --map FILE writes "SOURCE-ADDRESS BACKEND-ID" per connection.
 *     On stderr, "connect_us p50=X p99=Y": how long connect() took, and
 *     "conn_us p50=X p99=Y max=Z": each whole connection, connect to close.
 *     getpeername() must return ADDR PORT (connect-time balancing hides the
 *     backend); a mismatch is a bad connection. econnrefused counts the
 *     connects that failed with exactly ECONNREFUSED.
 *   shload udp-backend PORT --id N [--bind ADDR]
 *     Answers each datagram with {magic, id} followed by the datagram.
 *   shload udp-client ADDR PORT --conns N
 *     N sockets, each sends one datagram with sendto() (unconnected) and
 *     waits for the answer: its payload must echo, and recvfrom() must name
 *     ADDR PORT as the sender. Prints "ok=N bad=N backends=ID:COUNT,...".
 *
 * Protocol: the client sends a 32-byte header {magic, mode, seed, up,
 * down}; the backend answers with {magic, id}. Then the client sends "up"
 * bytes of stream(seed) and the backend "down" bytes of stream(seed + 1);
 * each end shuts its write side after its last byte and reads to EOF,
 * checking every byte and the count. The mode orders the two directions
 * (so that either end closes first); every K-th connection (--rst-every)
 * is instead aborted by the client with an RST halfway through its bytes.
 * --src-base 127.0.0.X binds each connection to a different source address
 * 127.0.0.(X + i % 200), for hashing tests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC_REQ	0x53484c44u	/* "SHLD" */
#define MAGIC_REP	0x53484245u	/* "SHBE" */
#define MAX_IDS		64

enum mode { M_DUPLEX, M_CLIENT_FIRST, M_SERVER_FIRST, M_RANDOM };

struct req {
	uint32_t magic, mode;
	uint64_t seed, up, down;
};

struct rep {
	uint32_t magic, id;
};

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static unsigned char stream_byte(uint64_t seed, uint64_t off)
{
	return (unsigned char)(splitmix64(seed * 0x100000001b3ull + off / 8) >> (8 * (off % 8)));
}

/* Sends [off, off+len) of stream seed; returns bytes sent or -errno. */
static ssize_t send_stream(int fd, uint64_t seed, uint64_t off, size_t len)
{
	unsigned char buf[16384];
	size_t i;
	ssize_t w;

	if (len > sizeof(buf))
		len = sizeof(buf);
	for (i = 0; i < len; i++)
		buf[i] = stream_byte(seed, off + i);
	w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return w < 0 ? (errno == EAGAIN ? 0 : -errno) : w;
}

/* Reads into the check; returns bytes read, 0 at EOF... as recv, -errno;
 * -EILSEQ when a byte is wrong. */
static ssize_t recv_check(int fd, uint64_t seed, uint64_t off)
{
	unsigned char buf[16384];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	ssize_t i;

	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	for (i = 0; i < n; i++)
		if (buf[i] != stream_byte(seed, off + (uint64_t)i))
			return -EILSEQ;
	return n;
}

/*
 * Moves both directions of one connection with poll: send @out_len bytes
 * of @out_seed, expect exactly @in_len of @in_seed then EOF. @send_first:
 * finish sending before reading (1), read to EOF before sending (-1), both
 * at once (0). @abort_at: send an RST after that many bytes (or ~0).
 * Return: 0, -ECONNRESET when reset, -EILSEQ/-EPROTO on bad data, -errno.
 */
static int exchange(int fd, uint64_t out_seed, uint64_t out_len, uint64_t in_seed,
		    uint64_t in_len, int send_first, uint64_t abort_at, int timeout_ms,
		    int read_delay_ms)
{
	uint64_t sent = 0, got = 0;
	int shut = 0, eof = 0;

	if (read_delay_ms)
		usleep((useconds_t)read_delay_ms * 1000);
	while (!shut || !eof) {
		struct pollfd p = { .fd = fd };
		int can_send = !shut && (send_first >= 0 || eof);
		int can_read = !eof && (send_first <= 0 || shut);
		ssize_t n;

		if (can_send)
			p.events |= POLLOUT;
		if (can_read)
			p.events |= POLLIN;
		n = poll(&p, 1, timeout_ms);
		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0)
			return -errno;
		if (can_send && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			uint64_t want = out_len - sent;

			if (abort_at != ~0ull && abort_at - sent < want)
				want = abort_at - sent;
			n = want ? send_stream(fd, out_seed, sent, (size_t)(want < 16384 ? want : 16384)) : 0;
			if (n < 0)
				return (int)n;
			sent += (uint64_t)n;
			if (sent == abort_at) {
				struct linger lg = { 1, 0 };

				setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				return 1;	/* the caller closes: RST */
			}
			if (sent == out_len) {
				shutdown(fd, SHUT_WR);
				shut = 1;
			}
		}
		if (can_read && (p.revents & (POLLIN | POLLERR | POLLHUP))) {
			n = recv_check(fd, in_seed, got);
			if (n == -EAGAIN)
				continue;
			if (n < 0)
				return (int)n;
			if (n == 0) {
				if (got != in_len)
					return -EPROTO;
				eof = 1;
			}
			got += (uint64_t)n;
			if (got > in_len)
				return -EPROTO;
		}
	}
	return 0;
}

static int read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t off = 0;

	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, (char *)buf + off, len - off, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

/* --- backend ------------------------------------------------------------- */

static uint32_t backend_id;
static int backend_read_delay;
static atomic_ulong b_conns, b_ok, b_bad, b_reset, b_in, b_out;

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg, first, err;
	struct rep rep = { MAGIC_REP, backend_id };
	struct req rq;

	atomic_fetch_add(&b_conns, 1);
	err = read_exact(fd, &rq, sizeof(rq), 10000);
	if (!err && rq.magic != MAGIC_REQ)
		err = -EPROTO;
	if (!err && send(fd, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep))
		err = -errno;
	if (!err) {
		/* the client's order, mirrored */
		first = rq.mode == M_SERVER_FIRST ? 1 : rq.mode == M_CLIENT_FIRST ? -1 : 0;
		err = exchange(fd, rq.seed + 1, rq.down, rq.seed, rq.up, first, ~0ull, 10000,
			       backend_read_delay);
	}
	if (!err) {
		atomic_fetch_add(&b_ok, 1);
		atomic_fetch_add(&b_in, rq.up);
		atomic_fetch_add(&b_out, rq.down);
	} else if (err == -ECONNRESET || err == -EPIPE) {
		atomic_fetch_add(&b_reset, 1);
	} else {
		fprintf(stderr, "backend %u: connection failed: %s\n", backend_id, strerror(-err));
		atomic_fetch_add(&b_bad, 1);
	}
	close(fd);
	return NULL;
}

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_on(const char *addr, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST }, *ai;
	int fd, one = 1;

	if (getaddrinfo(addr, port, &hints, &ai))
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 4096)) {
		perror("listen");
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int run_backend(const char *bind_addr, const char *port)
{
	struct sigaction sa = { .sa_handler = on_sig };
	int lfd = listen_on(bind_addr, port);

	if (lfd < 0)
		return 2;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("listening %s id=%u\n", port, backend_id);
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		pthread_attr_t at;
		pthread_t t;
		int fd, one = 1;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		if (pthread_create(&t, &at, serve, (void *)(intptr_t)fd))
			close(fd);
		pthread_attr_destroy(&at);
	}
	usleep(300000);	/* let connections in flight finish their count */
	printf("conns=%lu ok=%lu bad=%lu reset=%lu bytes_in=%lu bytes_out=%lu\n",
	       atomic_load(&b_conns), atomic_load(&b_ok), atomic_load(&b_bad),
	       atomic_load(&b_reset), atomic_load(&b_in), atomic_load(&b_out));
	return atomic_load(&b_bad) ? 1 : 0;
}

/* --- client -------------------------------------------------------------- */

struct client_opts {
	const char *addr, *port, *src_base, *map;
	unsigned long conns, parallel, rst_every;
	uint64_t up, down;
	int mode, random_sizes, timeout_ms;
};

static struct client_opts co;
static FILE *map_out;
static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong next_conn, c_ok, c_bad, c_reset, c_refused, c_econnrefused;
static atomic_ulong per_id[MAX_IDS];

/* Is @want (as resolved) what getpeername() says @fd is connected to? A
 * connection the peer already reset has no peer any more: not a mismatch
 * (the exchange then reports the reset). */
static int same_peer(int fd, const struct sockaddr *want)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl))
		return errno == ENOTCONN;
	if (ss.ss_family != want->sa_family)
		return 0;
	if (want->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)&ss, *b = (const void *)want;

		return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
	} else {
		const struct sockaddr_in6 *a = (const void *)&ss, *b = (const void *)want;

		return !memcmp(&a->sin6_addr, &b->sin6_addr, 16) && a->sin6_port == b->sin6_port;
	}
}

/* How long each connect() took, by connection index (for the bench). */
static uint64_t *connect_ns, *total_ns;	/* per connection: connect(), all of it */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int connect_one(unsigned long i)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
	int fd, one = 1, ret;
	struct timespec t0, t1;

	if (getaddrinfo(co.addr, co.port, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return -errno;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (co.src_base) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		inet_pton(AF_INET, co.src_base, &src.sin_addr);
		src.sin_addr.s_addr = htonl(ntohl(src.sin_addr.s_addr) + (uint32_t)(i % 200));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src))) {
			close(fd);
			freeaddrinfo(ai);
			return -errno;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = connect(fd, ai->ai_addr, ai->ai_addrlen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (connect_ns && i < co.conns)
		connect_ns[i] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
				(uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	if (ret) {
		int err = -errno;

		if (err == -ECONNREFUSED)
			atomic_fetch_add(&c_econnrefused, 1);
		close(fd);
		freeaddrinfo(ai);
		return err;
	}
	if (!same_peer(fd, ai->ai_addr)) {
		fprintf(stderr, "connection %lu: getpeername() is not %s %s\n", i, co.addr, co.port);
		close(fd);
		freeaddrinfo(ai);
		return -EDESTADDRREQ;
	}
	freeaddrinfo(ai);
	return fd;
}

static void *client_worker(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg * 7919 + 1;

	for (;;) {
		unsigned long i = atomic_fetch_add(&next_conn, 1);
		struct req rq = { MAGIC_REQ, (uint32_t)co.mode, 0, co.up, co.down };
		struct rep rep;
		struct timespec start, end;
		uint64_t abort_at = ~0ull;
		int fd, err, first;

		if (i >= co.conns)
			break;
		rng = splitmix64(rng + i);
		rq.seed = rng;
		if (co.mode == M_RANDOM)
			rq.mode = (uint32_t)(rng % 3);
		if (co.random_sizes) {
			rq.up = co.up ? 1 + (rng >> 8) % co.up : 0;
			rq.down = co.down ? 1 + (rng >> 24) % co.down : 0;
		}
		if (co.rst_every && i % co.rst_every == co.rst_every - 1) {
			abort_at = rq.up / 2;
			rq.mode = M_DUPLEX;
		}
		clock_gettime(CLOCK_MONOTONIC, &start);
		fd = connect_one(i);
		if (fd == -EDESTADDRREQ) {
			atomic_fetch_add(&c_bad, 1);	/* wrong getpeername() */
			continue;
		}
		if (fd < 0) {
			atomic_fetch_add(&c_refused, 1);
			continue;
		}
		err = send(fd, &rq, sizeof(rq), MSG_NOSIGNAL) == sizeof(rq) ? 0 : -errno;
		if (!err)
			err = read_exact(fd, &rep, sizeof(rep), co.timeout_ms);
		if (!err && rep.magic != MAGIC_REP)
			err = -EPROTO;
		if (!err) {
			if (rep.id < MAX_IDS)
				atomic_fetch_add(&per_id[rep.id], 1);
			if (map_out) {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);
				char host[64] = "?";

				getsockname(fd, (struct sockaddr *)&ss, &sl);
				getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL, 0,
					    NI_NUMERICHOST);
				pthread_mutex_lock(&map_lock);
				fprintf(map_out, "%s %u\n", host, rep.id);
				pthread_mutex_unlock(&map_lock);
			}
			first = rq.mode == M_CLIENT_FIRST ? 1 : rq.mode == M_SERVER_FIRST ? -1 : 0;
			err = exchange(fd, rq.seed, rq.up, rq.seed + 1, rq.down, first, abort_at,
				       co.timeout_ms, 0);
		}
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &end);
		if (total_ns)
			total_ns[i] = (uint64_t)(end.tv_sec - start.tv_sec) * 1000000000ull +
				      (uint64_t)end.tv_nsec - (uint64_t)start.tv_nsec;
		if (err == 1)
			atomic_fetch_add(&c_reset, 1);	/* aborted on purpose */
		else if (!err)
			atomic_fetch_add(&c_ok, 1);
		else if (err == -ECONNRESET && abort_at == ~0ull && rep.magic != MAGIC_REP)
			atomic_fetch_add(&c_refused, 1);	/* reset before the backend answered */
		else {
			fprintf(stderr, "connection %lu failed: %s\n", i, strerror(-err));
			atomic_fetch_add(&c_bad, 1);
		}
	}
	return NULL;
}

static int run_client(void)
{
	pthread_t *t = calloc(co.parallel, sizeof(*t));
	unsigned long i;
	int first = 1;

	connect_ns = calloc(co.conns ? co.conns : 1, sizeof(*connect_ns));
	total_ns = calloc(co.conns ? co.conns : 1, sizeof(*total_ns));
	for (i = 0; i < co.parallel; i++)
		pthread_create(&t[i], NULL, client_worker, (void *)(uintptr_t)(i + 1));
	for (i = 0; i < co.parallel; i++)
		pthread_join(t[i], NULL);
	printf("ok=%lu bad=%lu reset=%lu refused=%lu econnrefused=%lu backends=",
	       atomic_load(&c_ok), atomic_load(&c_bad), atomic_load(&c_reset),
	       atomic_load(&c_refused), atomic_load(&c_econnrefused));
	for (i = 0; i < MAX_IDS; i++)
		if (atomic_load(&per_id[i])) {
			printf("%s%lu:%lu", first ? "" : ",", i, atomic_load(&per_id[i]));
			first = 0;
		}
	printf("\n");
	if (connect_ns && co.conns) {
		qsort(connect_ns, co.conns, sizeof(*connect_ns), cmp_u64);
		fprintf(stderr, "connect_us p50=%.1f p99=%.1f\n",
			connect_ns[co.conns / 2] / 1000.0, connect_ns[co.conns * 99 / 100] / 1000.0);
	}
	if (total_ns && co.conns) {
		qsort(total_ns, co.conns, sizeof(*total_ns), cmp_u64);
		fprintf(stderr, "conn_us p50=%.1f p99=%.1f max=%.1f\n", total_ns[co.conns / 2] / 1000.0,
			total_ns[co.conns * 99 / 100] / 1000.0, total_ns[co.conns - 1] / 1000.0);
	}
	free(connect_ns);
	free(total_ns);
	free(t);
	return atomic_load(&c_bad) ? 1 : 0;
}

/* --- UDP ------------------------------------------------------------------ */

static int run_udp_backend(const char *bind_addr, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST |
				  AI_PASSIVE }, *ai;
	char buf[2048];
	int fd;

	if (getaddrinfo(bind_addr, port, &hints, &ai))
		return 2;
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen)) {
		perror("udp-backend");
		return 2;
	}
	freeaddrinfo(ai);
	/* no SA_RESTART (signal() would set it): SIGTERM must end recvfrom() */
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_sig }, NULL);
	while (!stop) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct rep rep = { MAGIC_REP, backend_id };
		ssize_t n = recvfrom(fd, buf + sizeof(rep), sizeof(buf) - sizeof(rep), 0,
				     (struct sockaddr *)&from, &fl);

		if (n < 0)
			continue;
		memcpy(buf, &rep, sizeof(rep));
		sendto(fd, buf, sizeof(rep) + (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return 0;
}

static int run_udp_client(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST }, *ai;
	struct timeval tv = { .tv_sec = 2 };
	unsigned long i, ok = 0, bad = 0;
	int first = 1;

	if (getaddrinfo(co.addr, co.port, &hints, &ai))
		return 2;
	for (i = 0; i < co.conns; i++) {
		uint64_t payload[8], back[16];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct rep rep;
		ssize_t n;
		int fd, j;

		for (j = 0; j < 8; j++)
			payload[j] = splitmix64(i * 8 + (uint64_t)j);
		fd = socket(ai->ai_family, SOCK_DGRAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = sendto(fd, payload, sizeof(payload), 0, ai->ai_addr, ai->ai_addrlen);
		if (n == sizeof(payload))
			n = recvfrom(fd, back, sizeof(back), 0, (struct sockaddr *)&from, &fl);
		close(fd);
		memcpy(&rep, back, sizeof(rep));
		if (n != (ssize_t)(sizeof(rep) + sizeof(payload)) || rep.magic != MAGIC_REP ||
		    memcmp((char *)back + sizeof(rep), payload, sizeof(payload))) {
			fprintf(stderr, "datagram %lu: no or wrong answer (%zd bytes)\n", i, n);
			bad++;
			continue;
		}
		fl = fl < ai->ai_addrlen ? fl : ai->ai_addrlen;
		if (from.ss_family != ai->ai_family ||
		    (ai->ai_family == AF_INET ?
		     memcmp(&((struct sockaddr_in *)&from)->sin_addr,
			    &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4) ||
		     ((struct sockaddr_in *)&from)->sin_port != ((struct sockaddr_in *)ai->ai_addr)->sin_port :
		     memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr,
			    &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16) ||
		     ((struct sockaddr_in6 *)&from)->sin6_port != ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port)) {
			char host[64] = "?";

			getnameinfo((struct sockaddr *)&from, fl, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
			fprintf(stderr, "datagram %lu: the answer came from %s, not %s\n", i, host, co.addr);
			bad++;
			continue;
		}
		if (rep.id < MAX_IDS)
			atomic_fetch_add(&per_id[rep.id], 1);
		ok++;
	}
	freeaddrinfo(ai);
	printf("ok=%lu bad=%lu backends=", ok, bad);
	for (i = 0; i < MAX_IDS; i++)
		if (atomic_load(&per_id[i])) {
			printf("%s%lu:%lu", first ? "" : ",", i, atomic_load(&per_id[i]));
			first = 0;
		}
	printf("\n");
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "bind", required_argument, NULL, 'b' },
		{ "read-delay-ms", required_argument, NULL, 'd' },
		{ "conns", required_argument, NULL, 'n' },
		{ "parallel", required_argument, NULL, 'p' },
		{ "up", required_argument, NULL, 'u' },
		{ "down", required_argument, NULL, 'w' },
		{ "random-sizes", no_argument, NULL, 'r' },
		{ "rst-every", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "src-base", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "map", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = "::";
	int c;

	co.parallel = 1;
	co.timeout_ms = 10000;
	co.conns = 1;
	if (argc < 2) {
		fprintf(stderr, "usage: see the comment at the top of tests/tools/shload.c\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i': backend_id = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'b': bind_addr = optarg; break;
		case 'd': backend_read_delay = atoi(optarg); break;
		case 'n': co.conns = strtoul(optarg, NULL, 0); break;
		case 'p': co.parallel = strtoul(optarg, NULL, 0); break;
		case 'u': co.up = strtoull(optarg, NULL, 0); break;
		case 'w': co.down = strtoull(optarg, NULL, 0); break;
		case 'r': co.random_sizes = 1; break;
		case 'k': co.rst_every = strtoul(optarg, NULL, 0); break;
		case 's': co.src_base = optarg; break;
		case 't': co.timeout_ms = atoi(optarg); break;
		case 'M': co.map = optarg; break;
		case 'm':
			co.mode = !strcmp(optarg, "client-first") ? M_CLIENT_FIRST :
				  !strcmp(optarg, "server-first") ? M_SERVER_FIRST :
				  !strcmp(optarg, "random") ? M_RANDOM : M_DUPLEX;
			break;
		default:
			return 2;
		}
	}
	if (!strcmp(argv[1], "backend") && optind + 1 == argc)
		return run_backend(bind_addr, argv[optind]);
	if (!strcmp(argv[1], "udp-backend") && optind + 1 == argc)
		return run_udp_backend(bind_addr, argv[optind]);
	if (!strcmp(argv[1], "udp-client") && optind + 2 == argc) {
		co.addr = argv[optind];
		co.port = argv[optind + 1];
		return run_udp_client();
	}
	if (!strcmp(argv[1], "client") && optind + 2 == argc) {
		co.addr = argv[optind];
		co.port = argv[optind + 1];
		if (!co.parallel)
			co.parallel = 1;
		if (co.map && !(map_out = fopen(co.map, "w"))) {
			perror(co.map);
			return 2;
		}
		c = run_client();
		if (map_out)
			fclose(map_out);
		return c;
	}
	fprintf(stderr, "usage: see the comment at the top of tests/tools/shload.c\n");
	return 2;
}
