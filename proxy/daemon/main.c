// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * main.c - sockhopd: validate the config, check privileges and the kernel,
 * put the kernel paths in place, then run the libev loop until a signal.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "aborts.h"
#include "balance.h"
#include "cgroup.h"
#include "config.h"
#include "conn.h"
#include "control.h"
#include "ctlproto.h"
#include "lint.h"
#include "loader.h"
#include "log.h"
#include "pins.h"
#include "probe.h"
#include "reload.h"
#include "scope_dirs.h"
#include "service.h"
#include "splice.h"

#define DEFAULT_CONFIG "/etc/sockhop/sockhop.yaml"
#define EXAMPLE_CONFIG "/etc/sockhop/sockhop.yaml.example"	/* make install */

struct options {
	const char *config;
	const char *pin_dir;
	const char *control;
	bool check;
	bool keep;
	uint32_t map_size;	/* --socket-map-size; 0: as compiled */
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: sockhopd [OPTION]...\n"
"Node-local L4 steering: loads sockhop's BPF programs, pins them, fills their\n"
"maps from the config and keeps them in place until stopped.\n"
"\n"
"  -c, --config FILE    configuration file (default " DEFAULT_CONFIG ")\n"
"      --check          validate the configuration and exit: 0 valid, 1 not\n"
"      --pin-dir DIR    where maps and links are pinned (default " SH_DEFAULT_PIN_DIR ")\n"
"      --control PATH   control socket for 'sockhop services' (default\n"
"                       " SH_DEFAULT_CONTROL ")\n"
"      --keep           on SIGTERM/SIGINT leave the kernel paths attached and\n"
"                       pinned (a later start adopts them); default: remove all\n"
"      --socket-map-size N  sockets each socket map holds (the accelerated ones;\n"
"                       the spliced ones, two per connection); default %u;\n"
"                       beyond it a socket stays on TCP or is relayed\n"
"  -v, --verbose        more output: -v debug, -vv libbpf and verifier logs\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Signals: SIGTERM and SIGINT stop accepting and let proxied connections\n"
"drain (up to each service's drain timeout); a second signal stops at once.\n"
"SIGHUP (or 'sockhop reload') re-reads the config: rules, tc defaults,\n"
"weights, health checks, timeouts (the idle one for open connections too),\n"
"limits and auto-min-idle change in place; a change of scopes, listeners,\n"
"virtual addresses, local-clients, backend lists, algorithm or data path is\n"
"refused (restart).\n"
"Two file descriptors a proxied connection: past RLIMIT_NOFILE (said at\n"
"start when the limits allow more) clients wait in the listen backlog.\n"
"Status: sockhop status; sockhop stats; sockhop services.\n", SH_MAX_SOCKETS);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 256, OPT_PIN_DIR, OPT_KEEP, OPT_CONTROL, OPT_MAP_SIZE };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "socket-map-size", required_argument, NULL, OPT_MAP_SIZE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;	/* our own messages, with our prefix, not argv[0]'s */
	while ((c = getopt_long(argc, argv, ":c:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case OPT_CHECK: o->check = true; break;
		case OPT_PIN_DIR: o->pin_dir = optarg; break;
		case OPT_KEEP: o->keep = true; break;
		case OPT_CONTROL: o->control = optarg; break;
		case OPT_MAP_SIZE: {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '-' || n < 2 || n > SH_MAX_SOCKETS) {
				fprintf(stderr, "sockhopd: --socket-map-size: expected 2-%u sockets, "
					"found '%s'\n", SH_MAX_SOCKETS, optarg);
				return -EINVAL;
			}
			o->map_size = (uint32_t)n;
			break;
		}
		case 'v': log_level++; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("sockhopd %s (BPF layout %d)\n", SOCKHOP_VERSION, SH_LAYOUT_VERSION); exit(0);
		case ':':
			fprintf(stderr, "sockhopd: option '%s' needs an argument\n"
				"Try 'sockhopd --help' for more information.\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "sockhopd: unknown option '%s'\n"
				"Try 'sockhopd --help' for more information.\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sockhopd: unexpected argument '%s'\n"
			"Try 'sockhopd --help' for more information.\n", argv[optind]);
		return -EINVAL;
	}
	if (!*o->config || !*o->control) {
		fprintf(stderr, "sockhopd: %s may not be empty\n", !*o->config ? "-c" : "--control");
		return -EINVAL;
	}
	if (o->pin_dir && o->pin_dir[0] != '/') {
		fprintf(stderr, "sockhopd: --pin-dir must be an absolute path, not '%s'\n",
			o->pin_dir);
		return -EINVAL;
	}
	return 0;
}

static struct services *services;

/* What a reload replaces. */
struct daemon {
	const struct options *o;
	struct cfg *cfg;
	struct loader *loader;
};

/* The config's warnings (lint.h), one log line each. */
static void say_lint(const struct cfg *cfg)
{
	char buf[8192], *line, *save = NULL;
	size_t n = cfg_lint(cfg, buf, sizeof(buf));

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		pr_warn("%s\n", line);
	if (n > 0 && !buf[0])
		pr_warn("%zu warnings about %s\n", n, cfg->file);
}

/*
 * Re-reads the config and swaps in what may change while running: every
 * scope's rule table (one update each), the tc defaults, and the services'
 * weights and settings. A config that is invalid, or that changes what
 * only a restart can, is refused whole and the running one stays.
 */
static int do_reload(void *ctx, char *msg, size_t len)
{
	struct daemon *d = ctx;
	char errbuf[8192];
	struct cfg *next;
	int err;

	err = cfg_load(d->o->config, &next, errbuf, sizeof(errbuf));
	if (err) {
		errbuf[strcspn(errbuf, "\n")] = '\0';	/* the first problem */
		snprintf(msg, len, "reload refused, the running config stays: %s", errbuf);
		goto refused;
	}
	say_lint(next);
	err = reload_check(d->cfg, next, errbuf, sizeof(errbuf));
	if (err) {
		snprintf(msg, len, "reload refused, the running config stays: %s", errbuf);
		cfg_free(next);
		goto refused;
	}
	if (d->loader && (err = loader_check_cgroups(d->loader, errbuf, sizeof(errbuf)))) {
		snprintf(msg, len, "reload refused, the running config stays: %s", errbuf);
		cfg_free(next);
		goto refused;
	}
	if (d->loader) {
		err = loader_reload(d->loader, next);
		if (err) {
			/* put every table back as it was; the old config stays */
			loader_reload(d->loader, d->cfg);
			cfg_free(next);
			snprintf(msg, len, "reload failed in the kernel tables (%s); the running "
				 "config stays", strerror(-err));
			goto refused;
		}
	}
	if (services)
		services_reload(services, next);
	cfg_free(d->cfg);
	d->cfg = next;
	snprintf(msg, len, "reloaded %s: %zu scope%s, %zu service%s", d->o->config,
		 next->nr_scopes, next->nr_scopes == 1 ? "" : "s", next->nr_services,
		 next->nr_services == 1 ? "" : "s");
	pr_info("%s\n", msg);
	return 0;
refused:
	pr_err("%s\n", msg);
	return err;
}

static int do_replace_stages(void *ctx, char *msg, size_t len)
{
	struct daemon *d = ctx;
	int err;

	if (!d->loader) {
		snprintf(msg, len, "no BPF programs are loaded");
		return -ENOENT;
	}
	err = loader_replace_stages(d->loader);
	snprintf(msg, len, err ? "replacing the tc stages failed: %s; the running ones stay" :
		 "tc stages replaced%s", err ? strerror(-err) : "");
	return err;
}

/* Records wait in closed_unread: abort their peers (aborts.h). */
static void on_aborts(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	aborts_run(w->data);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	char msg[1024];

	(void)loop;
	(void)revents;
	do_reload(w->data, msg, sizeof(msg));	/* logged either way */
}

static void on_drained(struct services *ss)
{
	pr_info("every connection is closed\n");
	ev_break(ss->loop, EVBREAK_ALL);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	if (!services || !services->nr || services->stopping) {
		pr_info("received %s, stopping\n", strsignal(w->signum));
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	pr_info("received %s, no longer accepting; send it again to stop at once\n",
		strsignal(w->signum));
	services_drain(services, on_drained);
}

/* The proxy's kernel path: loaded and proven on this kernel, or NULL with
 * the reason every service then relays for. */
static struct splice *open_splice(bool have_bpf, uint32_t map_size, enum fallback_cause *why)
{
	struct splice *sp;
	int err;

	*why = FB_NO_BPF;
	if (!have_bpf || splice_open(map_size, &sp))
		return NULL;
	err = splice_selftest(sp);
	if (err) {
		pr_warn("splice: start-up self-test failed (%s%s): relaying in user space\n",
			strerror(-err), err == -EMFILE || err == -ENFILE ?
			"; not the kernel's fault: too few descriptors, raise RLIMIT_NOFILE" : "");
		splice_close(sp);
		*why = FB_SELFTEST;
		return NULL;
	}
	pr_debug("splice: self-test passed\n");
	return sp;
}

/*
 * --check's part that needs the machine: each scope's cgroup resolved
 * under the cgroup2 mount and checked by identity, as the start does; a
 * missing cgroup that 'create: true' would make is a warning. 0 or -errno.
 */
static int check_scopes(const struct cfg *cfg)
{
	char mount[512], msg[8192];
	struct scope_dir *dirs;
	int err;

	if (!cfg->nr_scopes)
		return 0;
	err = cg_find_mount("/proc/self/mountinfo", mount, sizeof(mount));
	if (err) {
		fprintf(stderr, "%s:%d:%d: scopes[0].cgroup: no cgroup2 file system is mounted "
			"(/proc/self/mountinfo): the scopes' cgroups cannot be checked; mount one "
			"with 'mount -t cgroup2 none /sys/fs/cgroup/unified'\n", cfg->file,
			cfg->scopes[0].cgroup_line, cfg->scopes[0].cgroup_col);
		return err;
	}
	dirs = calloc(cfg->nr_scopes, sizeof(*dirs));
	if (!dirs)
		return -ENOMEM;
	err = scope_dirs_resolve(cfg, mount, false, dirs, msg, sizeof(msg));
	log_located(msg);
	free(dirs);
	return err;
}

int main(int argc, char **argv)
{
	struct options o = {
		.config = DEFAULT_CONFIG,
		.pin_dir = SH_DEFAULT_PIN_DIR,
		.control = SH_DEFAULT_CONTROL,
	};
	enum fallback_cause no_splice = FB_NO_BPF;
	struct control *control = NULL;
	struct splice *splice = NULL;
	bool have_bpf = true;
	char errbuf[8192], cg_mount[512];
	struct loader *loader = NULL;
	struct daemon daemon = { .o = &o };
	struct control_hooks hooks = { do_reload, do_replace_stages, &daemon };
	ev_signal sigterm, sigint, sighup;
	struct aborts *aborts = NULL;
	ev_io aborts_io;
	struct ev_loop *loop;
	struct cfg *cfg = NULL;
	int err;

	/* A log line to a pipe whose reader left (`| tee` after Ctrl-C) must
	 * fail that write, not kill the daemon before its cleanup. */
	signal(SIGPIPE, SIG_IGN);
	log_prog = "sockhopd";
	std_fds_open();
	if (parse_args(argc, argv, &o))
		return 2;
	log_route_libbpf();

	/* The whole file is validated before anything touches the kernel. */
	err = cfg_load(o.config, &cfg, errbuf, sizeof(errbuf));
	if (err) {
		log_located(errbuf);
		if (err == -ENOENT && !strcmp(o.config, DEFAULT_CONFIG))
			fprintf(stderr, "sockhopd: no configuration at %s: start with 'sockhopd -c "
				"FILE'; 'make install' puts an example at %s\n",
				DEFAULT_CONFIG, EXAMPLE_CONFIG);
		else
			fprintf(stderr, "sockhopd: %s: configuration is invalid\n", o.config);
		return 1;
	}
	say_lint(cfg);
	if (o.check) {
		err = check_scopes(cfg);
		if (!err)
			printf("%s: configuration is valid (%zu scope%s, %zu service%s)\n", o.config,
			       cfg->nr_scopes, cfg->nr_scopes == 1 ? "" : "s", cfg->nr_services,
			       cfg->nr_services == 1 ? "" : "s");
		else
			fprintf(stderr, "sockhopd: %s: configuration is invalid\n", o.config);
		cfg_free(cfg);
		return err ? 1 : 0;
	}

	/* A daemon that answers on the control socket serves this machine
	 * already: two would attach the same programs to the same cgroups. */
	err = control_probe(o.control);
	if (err == -EADDRINUSE || err == -EEXIST) {
		if (err == -EADDRINUSE)
			pr_err("another sockhopd answers on the control socket %s: refusing to "
			       "start beside it (stop it, or give this one its own --control and "
			       "--pin-dir)\n", o.control);
		else
			pr_err("--control %s: the file exists and is not a socket; refusing to "
			       "replace it (give the control socket a path of its own)\n",
			       o.control);
		cfg_free(cfg);
		return 1;
	}
	err = probe_privileges();
	if (!err)
		err = probe_kernel();
	if (err && cfg->nr_scopes == 0 && cfg->nr_services > 0) {
		/* the proxy still works without BPF: every connection is relayed */
		pr_warn("BPF is not usable here; services are relayed in user space\n");
		have_bpf = false;
		err = 0;
	}
	if (err)
		goto out;
	/* Only scopes need cgroups; a proxy-only daemon runs where none is mounted
	 * (e.g. under `ip netns exec`, which remounts /sys). */
	err = cg_find_mount("/proc/self/mountinfo", cg_mount, sizeof(cg_mount));
	if (err && !cfg->nr_scopes) {
		cg_mount[0] = '\0';	/* kept state of scopes cannot be tidied then */
		err = 0;
	}
	if (err) {
		pr_err("no cgroup2 file system found in /proc/self/mountinfo%s%s; mount one with "
		       "'mount -t cgroup2 none /sys/fs/cgroup/unified'\n", err == -ENOENT ? "" : ": ",
		       err == -ENOENT ? "" : strerror(-err));
		goto out;
	}
	if (cg_mount[0])
		pr_debug("cgroup2 is mounted at %s\n", cg_mount);

	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		pr_err("cannot initialise the event loop\n");
		err = -ENOMEM;
		goto out;
	}
	/* Signals are caught before the kernel state exists, so a signal that
	 * arrives while it is being built still leads through the teardown. */
	ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
	ev_signal_init(&sigint, on_stop_signal, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);

	if (have_bpf) {
		err = loader_start(cfg, o.pin_dir, cg_mount, o.map_size, &loader);
		if (err)
			goto out;
		err = aborts_open(loader_closed_unread_fd(loader), &aborts);
		if (err) {
			pr_warn("cannot read the sockets closed with bytes unread (%s): their peers "
				"are not aborted\n", strerror(-err));
			err = 0;
		} else {
			ev_io_init(&aborts_io, on_aborts, aborts_fd(aborts), EV_READ);
			aborts_io.data = aborts;
			ev_io_start(loop, &aborts_io);
		}
	}
	if (cfg->nr_services) {
		splice = open_splice(have_bpf, o.map_size, &no_splice);
		err = conn_module_init(loop, splice);
		if (err)
			pr_err("cannot create the splice epoll: %s\n", strerror(-err));
	}
	if (!err)
		err = services_start(loop, cfg, splice, no_splice, loader ? loader_balance(loader) : NULL,
				     &services);
	if (err)
		goto out_services;
	daemon.cfg = cfg;
	daemon.loader = loader;
	err = control_open(loop, o.control, services, &hooks, &control);
	if (err && (cfg->nr_services || err == -EADDRINUSE || err == -EEXIST)) {
		pr_err("control socket %s: %s\n", o.control, err == -EADDRINUSE ?
		       "another sockhopd started on it meanwhile" : err == -EEXIST ?
		       "a file that is not a socket appeared there; not replacing it" :
		       strerror(-err));
		goto out_services;
	} else if (err) {
		/* a daemon of scopes only still works: SIGHUP reloads it */
		pr_warn("no control socket (%s: %s): sockhop reload and services are not "
			"available; SIGHUP reloads\n", o.control, strerror(-err));
		err = 0;
	}
	/* Loading parsed the kernel's BTF and the objects into the heap; give
	 * those pages back so RSS is what the running daemon really holds. */
	malloc_trim(0);
	ev_signal_init(&sighup, on_hup, SIGHUP);
	sighup.data = &daemon;
	ev_signal_start(loop, &sighup);
	pr_info("ready: %zu scope%s, %zu service%s, pins in %s%s\n", cfg->nr_scopes,
		cfg->nr_scopes == 1 ? "" : "s", cfg->nr_services, cfg->nr_services == 1 ? "" : "s",
		have_bpf ? o.pin_dir : "(none: no BPF)",
		loader && loader_adopted(loader) ? " (adopted)" : "");

	ev_run(loop, 0);

out_services:
	control_close(control);
	services_free(services);
	services = NULL;
	conn_module_fini(loop);
	splice_close(splice);
	if (aborts) {
		ev_io_stop(loop, &aborts_io);
		aborts_close(aborts);
	}
	if (loader)
		loader_stop(loader, o.keep);
out:
	if (daemon.cfg)
		cfg = daemon.cfg;	/* a reload replaced it */
	cfg_free(cfg);
	return err ? 1 : 0;
}
