// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * service.c - listeners, accept with limits, backend state, fallback
 * accounting and graceful drain (see service.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "health.h"
#include "log.h"
#include "maglev.h"
#include "service.h"
#include "balance.h"

#include <sched.h>

#define ACCEPT_BATCH	64	/* accepts per wake-up, for fairness between listeners */
#define ACCEPT_PAUSE_S	0.1	/* out of fds or memory: level-triggered accept would spin */

static const char *const fb_names[FB_NR] = {
	[FB_CONFIGURED] = "configured",
	[FB_AUTO] = "auto",
	[FB_NO_BPF] = "no-bpf",
	[FB_SELFTEST] = "selftest",
	[FB_MAP_REFUSED] = "map-refused",
};

const char *fallback_name(enum fallback_cause c)
{
	return c < FB_NR ? fb_names[c] : "?";
}

static const char *const as_names[AS_NR] = {
	[AS_FEW_TURNS] = "few-turns",
	[AS_SAME_CPU] = "same-cpu",
	[AS_CLIENT_BUSY] = "client-busy",
	[AS_TOO_YOUNG] = "too-young",
	[AS_IN_FLIGHT] = "in-flight",
	[AS_REFUSED] = "map-refused",
	[AS_BULK] = "bulk",
	[AS_BEHIND] = "behind",
};

const char *auto_stay_name(enum auto_stay why)
{
	return why < AS_NR ? as_names[why] : "?";
}

void service_fallback(struct service *svc, enum fallback_cause c)
{
	svc->st.fallback[c]++;
	if (svc->fb_logged[c] || c == FB_CONFIGURED)
		return;
	svc->fb_logged[c] = true;
	pr_info("%s: relaying connections in user space (%s)%s\n", svc->cfg->name,
		fallback_name(c), c == FB_MAP_REFUSED ? "; logged once, counted always" : "");
}

/* The connect-time table follows the proxy's view of its backends: one
 * rebuild and swap per change (kern/README.md, "Connect-time load balancing"). */
static void service_vip_sync(struct service *svc)
{
	int err;

	if (!svc->all->balance || !svc->cfg->nr_vips)
		return;
	err = balance_swap(svc->all->balance, svc->cfg, (uint32_t)(svc - svc->all->svcs), svc->lb.m);
	if (err) {
		svc->st.vip_swap_fail++;
		pr_err("%s: cannot swap in a new connect-time table: %s (the previous one "
		       "stays)\n", svc->cfg->name, strerror(-err));
		return;
	}
	svc->st.vip_swaps++;
}

/* Pushes a backend's state, admin flag and weight to the balancer. */
static void backend_refresh(struct backend *be)
{
	struct lb_member *m = &be->svc->lb.m[be->idx];

	m->up = be->state == BE_UP && !be->disabled;
	m->weight = be->weight;
	lb_changed(&be->svc->lb);
	service_vip_sync(be->svc);
}

/* Records a state change (counted, logged); the caller refreshes the
 * balancer. False when the backend was in @st already. */
static bool backend_note_state(struct backend *be, enum be_state st, const char *why)
{
	if (be->state == st)
		return false;
	be->state = st;
	be->transitions++;
	be->rise_count = be->fall_count = 0;
	pr_info("%s: backend %s is %s (%s)\n", be->svc->cfg->name, be->cfg->addr.text,
		st == BE_UP ? "UP" : "DOWN", why);
	return true;
}

void backend_set_state(struct backend *be, enum be_state st, const char *why)
{
	if (backend_note_state(be, st, why))
		backend_refresh(be);
}

#define KILL_BATCH	64	/* connections terminated per tick */
#define KILL_TICK_S	0.1

static void on_kill_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct backend *be = w->data;
	int n;

	(void)revents;
	n = be->svc->all->balance && be->disabled ?
	    balance_destroy_conns(be->svc->all->balance, &be->cfg->addr, KILL_BATCH) : 0;
	if (n < 0) {
		pr_warn("%s: backend %s: cannot terminate its connections: %s\n",
			be->svc->cfg->name, be->cfg->addr.text, strerror(-n));
		return;
	}
	be->killed += (uint64_t)n;
	if (n == KILL_BATCH) {
		ev_timer_set(w, KILL_TICK_S, 0);
		ev_timer_start(loop, w);
	} else if (be->killed) {
		pr_info("%s: backend %s: terminated %llu balanced connection%s\n",
			be->svc->cfg->name, be->cfg->addr.text, (unsigned long long)be->killed,
			be->killed == 1 ? "" : "s");
	}
}

int service_backend_admin(struct services *ss, const char *svc_name, const char *addr,
			  uint32_t weight, int enable, bool kill, char *why, size_t whylen)
{
	size_t i, j;

	for (i = 0; i < ss->nr; i++) {
		struct service *svc = &ss->svcs[i];

		if (strcmp(svc->cfg->name, svc_name))
			continue;
		for (j = 0; j < svc->cfg->nr_backends; j++) {
			struct backend *be = &svc->backends[j];

			if (strcmp(be->cfg->addr.text, addr))
				continue;
			if (weight && weight != be->weight) {
				pr_info("%s: backend %s weight %u -> %u by the operator\n",
					svc->cfg->name, addr, be->weight, weight);
				be->weight = weight;
			}
			if (enable >= 0 && be->disabled == (bool)enable) {
				be->disabled = !enable;
				pr_info("%s: backend %s %s by the operator\n", svc->cfg->name,
					addr, enable ? "enabled" : "disabled");
			}
			backend_refresh(be);
			if (kill && be->disabled && !ev_is_active(&be->kill_timer)) {
				be->killed = 0;
				ev_timer_set(&be->kill_timer, 0, 0);
				ev_timer_start(ss->loop, &be->kill_timer);
			}
			return 0;
		}
		snprintf(why, whylen, "service '%s' has no backend '%s'", svc_name, addr);
		return -ENOENT;
	}
	snprintf(why, whylen, "no service named '%s'", svc_name);
	return -ENOENT;
}

bool auto_splices(int client_fd, int *client_cpu)
{
	socklen_t len = sizeof(int);
	cpu_set_t set;
	int cpu = -1;

	/* The redirect runs in the kernel on the sender's CPU: when the daemon
	 * is elsewhere (another CPU it may use, or a core it is pinned to while
	 * the client runs on another) splicing saves a cross-CPU wake-up per
	 * message. Only a client on the one CPU a pinned daemon runs on has no
	 * wake-up to save, and there the relay's copies cost less. Asked per
	 * connection: an operator may re-pin a running daemon (taskset -p). */
	if (getsockopt(client_fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len))
		cpu = -1;
	*client_cpu = cpu;
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) >= 2 || cpu < 0)
		return true;
	return !CPU_ISSET(cpu, &set);
}

const char *service_path_name(const struct service *svc)
{
	return !svc->splice ? "relay" : svc->auto_path ? "auto" : "splice";
}

static void reject(struct service *svc, int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	/* prompt and unmistakable for the client: a reset, not a silent hang */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	svc->st.rejected_limit++;
}

/* Stops accepting on @l for ACCEPT_PAUSE_S (on_accept_resume()). */
static void listener_pause(struct ev_loop *loop, struct listener *l)
{
	if (l->fd < 0 || ev_is_active(&l->pause))
		return;
	ev_io_stop(loop, &l->io);
	/* set each time: a one-shot timer restarted as it is fires at once */
	ev_timer_set(&l->pause, ACCEPT_PAUSE_S, 0);
	ev_timer_start(loop, &l->pause);
}

void service_pause(struct service *svc, const char *what, int err)
{
	size_t i;

	/* the clients wait in the backlog; said once per 100 pauses */
	if (!svc->st.accept_paused++ || svc->st.accept_paused % 100 == 0)
		pr_warn("%s: %s: %s; pausing the listeners for %.0f ms (%llu times)\n",
			svc->cfg->name, what, strerror(err), ACCEPT_PAUSE_S * 1000,
			(unsigned long long)svc->st.accept_paused);
	for (i = 0; i < svc->nr_listeners; i++)
		listener_pause(svc->all->loop, &svc->listeners[i]);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct service *svc = l->svc;
	int i;

	(void)loop;
	(void)revents;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->fd, (struct sockaddr *)&peer, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				service_pause(svc, "accept", errno);
			return;
		}
		svc->st.accepted++;
		if (svc->active >= svc->cfg->max_conns) {
			reject(svc, fd);
			continue;
		}
		conn_start(svc, fd, &peer, len);
		if (ev_is_active(&l->pause))
			return;	/* the connection ran out of descriptors: the rest wait */
	}
}

void service_fd_wait(struct service *svc, bool waits)
{
	if (waits)
		svc->all->fd_waiters++;
	else if (svc->all->fd_waiters)
		svc->all->fd_waiters--;
}

static void on_accept_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct listener *l = w->data;

	(void)revents;
	/* A pause restarted while this expiry was pending (libev keeps an
	 * expired timer pending until its callback runs) is still on. */
	if (l->fd < 0 || ev_is_active(&l->pause))
		return;
	/* Clients accepted already go first: those waiting for a backend
	 * descriptor take what is free before new clients are accepted
	 * (else the accepts, first after a pause, could take it every time). */
	if (l->svc->all->fd_waiters)
		conn_retry_fd_waiters(l->svc->all);
	ev_io_start(loop, &l->io);
}

static int open_listener(struct service *svc, struct listener *l)
{
	int one = 1, fd, err;

	fd = socket(l->addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Set once here, inherited by every accepted socket: one system call
	 * a connection fewer. A service that may splice gives all its client
	 * sockets the spliced send buffer (auto decides per connection, after
	 * accept); the relay only queues more before EAGAIN with it. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (svc->splice)
		splice_sndbuf(fd);
	if (l->addr->sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr->sa, l->addr->len) ||
	    listen(fd, (int)svc->cfg->backlog)) {
		err = -errno;
		close(fd);
		return err;
	}
	l->fd = fd;
	l->svc = svc;
	ev_io_init(&l->io, on_accept, fd, EV_READ);
	l->io.data = l;
	ev_timer_init(&l->pause, on_accept_resume, ACCEPT_PAUSE_S, 0);
	l->pause.data = l;
	ev_io_start(svc->all->loop, &l->io);
	return 0;
}

static void close_listeners(struct service *svc)
{
	size_t i;

	for (i = 0; i < svc->nr_listeners; i++) {
		struct listener *l = &svc->listeners[i];

		if (l->fd < 0)
			continue;
		ev_io_stop(svc->all->loop, &l->io);
		ev_timer_stop(svc->all->loop, &l->pause);
		close(l->fd);
		l->fd = -1;
	}
}

static int service_init(struct services *ss, struct service *svc, const struct cfg_service *cfg)
{
	size_t i;
	int err;

	svc->all = ss;
	svc->cfg = cfg;
	err = lb_init(&svc->lb, cfg->algo, (unsigned int)cfg->nr_backends,
		      (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)svc);
	if (err)
		return err;
	svc->backends = calloc(cfg->nr_backends, sizeof(*svc->backends));
	svc->listeners = calloc(cfg->nr_listen, sizeof(*svc->listeners));
	if (!svc->backends || !svc->listeners)
		return -ENOMEM;
	for (i = 0; i < cfg->nr_backends; i++) {
		struct backend *be = &svc->backends[i];
		const struct cfg_backend *cb = &cfg->backends[i];

		be->svc = svc;
		be->idx = (unsigned int)i;
		be->cfg = cb;
		be->state = BE_UP;	/* optimistic: passive and active checks correct it */
		be->weight = cb->weight;
		ev_timer_init(&be->kill_timer, on_kill_tick, 0, 0);
		be->kill_timer.data = be;
		lb_member_init(&svc->lb.m[i], cb);
		svc->lb.m[i].max = cfg->max_conns_backend;
		health_start(be);
	}
	lb_changed(&svc->lb);

	/* auto: the relay unless splice is known to pay here (proxy/README.md, "Two data paths") */
	if (!ss->splice) {
		svc->splice = false;
		svc->relay_cause = cfg->path == CFG_PATH_RELAY ? FB_CONFIGURED : ss->no_splice_cause;
	} else if (cfg->path == CFG_PATH_RELAY) {
		svc->relay_cause = FB_CONFIGURED;
	} else {
		svc->splice = true;
		svc->auto_path = cfg->path == CFG_PATH_AUTO;
		svc->relay_cause = FB_AUTO;
	}

	svc->nr_listeners = cfg->nr_listen;
	for (i = 0; i < cfg->nr_listen; i++)
		svc->listeners[i].fd = -1;
	for (i = 0; i < cfg->nr_listen; i++) {
		svc->listeners[i].addr = &cfg->listen[i];
		err = open_listener(svc, &svc->listeners[i]);
		if (err) {
			pr_err("%s:%d:%d: services[%zu].listen: service '%s' cannot listen on %s: "
			       "%s\n", ss->file, cfg->listen[i].line, cfg->listen[i].col,
			       (size_t)(svc - ss->svcs), cfg->name, cfg->listen[i].text,
			       strerror(-err));
			return err;
		}
	}
	if (cfg->nr_listen)
		pr_info("%s: listening on %zu address%s, %zu backend%s, %s, data path %s\n",
			cfg->name, cfg->nr_listen, cfg->nr_listen == 1 ? "" : "es",
			cfg->nr_backends, cfg->nr_backends == 1 ? "" : "s",
			cfg_algo_name(cfg->algo), service_path_name(svc));
	if (cfg->nr_vips)
		pr_info("%s: %zu virtual address%s balanced at connect() over %zu backend%s%s\n",
			cfg->name, cfg->nr_vips, cfg->nr_vips == 1 ? "" : "es", cfg->nr_backends,
			cfg->nr_backends == 1 ? "" : "s",
			ss->balance ? "" : " (not active: BPF is not available)");
	return 0;
}

static void service_fini(struct service *svc)
{
	size_t i;

	while (svc->conns)
		conn_reset(svc->conns);
	close_listeners(svc);
	for (i = 0; svc->backends && i < svc->cfg->nr_backends; i++)
		if (svc->backends[i].svc) {
			health_stop(&svc->backends[i]);
			ev_timer_stop(svc->all->loop, &svc->backends[i].kill_timer);
		}
	free(svc->listeners);
	free(svc->backends);
	lb_free(&svc->lb);
}

/*
 * Two descriptors a proxied connection: says at start when the services'
 * connection limits allow more than RLIMIT_NOFILE can hold, which is where
 * clients would otherwise be accepted and reset (service_pause() makes them
 * wait instead).
 */
static void check_fd_budget(const struct cfg *cfg)
{
	unsigned long long need = 64;	/* pins, maps, control clients, health checks */
	struct rlimit rl;
	size_t i;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return;
	for (i = 0; i < cfg->nr_services; i++)
		if (cfg->services[i].nr_listen)	/* connect-time only: none a connection */
			need += 2ULL * cfg->services[i].max_conns;	/* "0" is stored as the cap */
	if (need > rl.rlim_cur)
		pr_warn("the services' connection limits (limits.connections) need up to %llu file "
			"descriptors, two a connection; RLIMIT_NOFILE is %llu: past it new clients "
			"wait in the listen backlog. Raise it (ulimit -n, LimitNOFILE=) or lower "
			"the limits\n", need, (unsigned long long)rl.rlim_cur);
}

int services_start(struct ev_loop *loop, const struct cfg *cfg, struct splice *sp,
		   enum fallback_cause no_splice_cause, const struct balance *balance,
		   struct services **out)
{
	struct services *ss;
	size_t i;
	int err;

	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	check_fd_budget(cfg);
	ss->loop = loop;
	ss->file = cfg->file;
	ss->splice = sp;
	ss->no_splice_cause = no_splice_cause;
	ss->balance = balance;
	ss->svcs = calloc(cfg->nr_services ? cfg->nr_services : 1, sizeof(*ss->svcs));
	if (!ss->svcs) {
		free(ss);
		return -ENOMEM;
	}
	ss->nr = cfg->nr_services;
	for (i = 0; i < ss->nr; i++) {
		err = service_init(ss, &ss->svcs[i], &cfg->services[i]);
		if (err) {
			services_free(ss);
			return err;
		}
	}
	*out = ss;
	return 0;
}

void services_reload(struct services *ss, const struct cfg *cfg)
{
	size_t i, j;

	ss->file = cfg->file;
	for (i = 0; i < ss->nr; i++) {
		struct service *svc = &ss->svcs[i];
		const struct cfg_service *old = svc->cfg, *sc = &cfg->services[i];
		bool health_changed = memcmp(&old->health, &sc->health, sizeof(sc->health)) != 0;

		svc->cfg = sc;
		for (j = 0; j < svc->nr_listeners; j++)
			svc->listeners[j].addr = &sc->listen[j];
		for (j = 0; j < sc->nr_backends; j++) {
			struct backend *be = &svc->backends[j];
			struct lb_member *m = &svc->lb.m[j];

			if (health_changed)
				health_stop(be);
			be->cfg = &sc->backends[j];
			be->weight = sc->backends[j].weight;	/* the file wins over `weight` */
			m->weight = be->weight;
			m->backup = sc->backends[j].backup;
			m->max = sc->max_conns_backend;
			if (health_changed)
				health_start(be);
			/* nothing would ever bring it back without active checks */
			if (health_changed && !sc->health.enabled)
				backend_note_state(be, BE_UP, "health checks turned off");
			m->up = be->state == BE_UP && !be->disabled;
		}
		/* one rebuild and one table swap per service */
		lb_changed(&svc->lb);
		service_vip_sync(svc);
		/* open connections judge their idleness by the new timeout now,
		 * not when the timer armed with the old one fires */
		if (old->idle_timeout_ms != sc->idle_timeout_ms) {
			struct conn *c;

			for (c = svc->conns; c; c = conn_next(c))
				conn_idle_changed(c);
		}
	}
}

static void on_drain_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct service *svc = w->data;

	(void)loop;
	(void)revents;
	if (!svc->conns)
		return;
	pr_warn("%s: drain deadline reached with %u connection%s open; resetting them\n",
		svc->cfg->name, svc->active, svc->active == 1 ? "" : "s");
	while (svc->conns)
		conn_reset(svc->conns);	/* the very last one calls on_drained */
}

static void drained(struct services *ss)
{
	size_t i;

	for (i = 0; i < ss->nr; i++)
		ev_timer_stop(ss->loop, &ss->svcs[i].drain_timer);
	if (ss->on_drained_user)
		ss->on_drained_user(ss);
}

void services_drain(struct services *ss, void (*done)(struct services *ss))
{
	size_t i;

	ss->stopping = true;
	ss->on_drained_user = done;
	ss->on_drained = drained;
	for (i = 0; i < ss->nr; i++) {
		struct service *svc = &ss->svcs[i];

		close_listeners(svc);
		svc->st.drained += svc->active;
		if (!svc->active)
			continue;
		pr_info("%s: draining %u connection%s for up to %.1fs\n", svc->cfg->name,
			svc->active, svc->active == 1 ? "" : "s", svc->cfg->drain_timeout_ms / 1000.0);
		ev_timer_init(&svc->drain_timer, on_drain_deadline,
			      svc->cfg->drain_timeout_ms / 1000.0, 0);
		svc->drain_timer.data = svc;
		ev_timer_start(ss->loop, &svc->drain_timer);
	}
	if (services_active(ss) == 0)
		done(ss);
}

void services_free(struct services *ss)
{
	size_t i;

	if (!ss)
		return;
	ss->on_drained = NULL;
	for (i = 0; i < ss->nr; i++) {
		ev_timer_stop(ss->loop, &ss->svcs[i].drain_timer);
		if (ss->svcs[i].cfg)
			service_fini(&ss->svcs[i]);
	}
	free(ss->svcs);
	free(ss);
}

/* --- the books: what a service's connections report (conn.c) ------------ */

void service_conn_opened(struct service *svc)
{
	svc->active++;
}

void service_conn_closed(struct service *svc, bool reset)
{
	struct services *ss = svc->all;

	svc->active--;
	if (reset)
		svc->st.resets++;
	if (ss->stopping && services_active(ss) == 0 && ss->on_drained)
		ss->on_drained(ss);
}

void service_backend_taken(struct backend *be)
{
	be->svc->lb.m[be->idx].active++;
}

void service_backend_released(struct backend *be)
{
	be->svc->lb.m[be->idx].active--;
}

void service_backend_connected(struct backend *be)
{
	be->conns++;
	health_passive(be, true);
}

void service_backend_failed(struct backend *be, bool retry)
{
	be->svc->st.connect_fail++;
	be->connect_fail++;
	health_passive(be, false);
	if (retry)
		be->svc->st.retries++;
}

void service_bytes(struct service *svc, struct backend *be, int from, size_t n, bool relayed)
{
	if (relayed)
		svc->st.bytes_relay += n;
	if (be && from == 0)
		be->bytes_out += n;
	else if (be)
		be->bytes_in += n;
}

void service_auto_stayed(struct service *svc, enum auto_stay why)
{
	if (why < AS_NR)
		svc->st.auto_stayed[why]++;
}

void service_spliced_closed(struct service *svc, struct backend *be, const uint64_t moved[2],
			    uint64_t handed)
{
	svc->st.bytes_splice += moved[0] + moved[1] + handed;
	if (be) {	/* what the daemon handed over was counted already */
		be->bytes_out += moved[0];
		be->bytes_in += moved[1];
	}
}

void service_count(struct service *svc, enum service_event ev)
{
	switch (ev) {
	case SVC_RELAYED: svc->st.conns_relay++; break;
	case SVC_SPLICED: svc->st.conns_splice++; break;
	case SVC_PROMOTED: svc->st.conns_splice++; svc->st.conns_promoted++; break;
	case SVC_DEMOTED: svc->st.conns_demoted++; break;
	case SVC_DEMOTE_BEHIND: svc->st.demote_behind++; break;
	case SVC_DEMOTE_WAITED: svc->st.demote_waited++; break;
	case SVC_PROMOTE_BUSY: svc->st.promote_busy++; break;
	case SVC_IDLE_CLOSED: svc->st.idle_closed++; break;
	case SVC_NO_BACKEND: svc->st.no_backend++; break;
	case SVC_NO_FD: svc->st.no_fd++; break;
	case SVC_STALLED: svc->st.stalled++; break;
	}
}

uint32_t services_active(const struct services *ss)
{
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < ss->nr; i++)
		n += ss->svcs[i].active;
	return n;
}
