// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * accel.c - the mesh's own part of kern/accel.bpf.c: the flow control's
 * bound per scope, the sk_skb and sk_msg programs on sock_hash, the
 * iterator over its sockets, and the start-up canary of the kernel flaws.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "canary.h"
#include "flaws.h"
#include "loader_int.h"
#include "log.h"
#include "pins.h"

/* accel_cfg := each scope's flow-control bound; slots of no scope get the
 * default, so a socket whose scope left keeps a bound. */
int fill_accel_cfg(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->skel->maps.accel_cfg);
	__u32 slot;

	for (slot = 0; slot < SH_STATS_SLOTS; slot++) {
		struct sh_accel_cfg c = {
			.buffer = slot < cfg->nr_scopes ? cfg->scopes[slot].accel_buffer :
				  SH_ACCEL_BUFFER_DEFAULT,
		};

		if (bpf_map_update_elem(fd, &slot, &c, BPF_ANY)) {
			pr_err("cannot fill accel_cfg: %m\n");
			return -errno;
		}
	}
	return 0;
}

int attach_map_progs(struct loader *l)
{
	int map = bpf_map__fd(l->skel->maps.sock_hash);

	/* The verdict program goes first: a socket must never sit in the map
	 * without one (this kernel then stalls its epoll wakeups). */
	if (bpf_prog_attach(bpf_program__fd(l->skel->progs.skb_verdict_pass), map,
			    BPF_SK_SKB_STREAM_VERDICT, 0)) {
		pr_err("cannot attach the sk_skb verdict program to sock_hash: %m\n");
		return -errno;
	}
	if (bpf_prog_attach(bpf_program__fd(l->skel->progs.sk_msg_redirect), map,
			    BPF_SK_MSG_VERDICT, 0)) {
		pr_err("cannot attach the sk_msg program to sock_hash: %m\n");
		bpf_prog_detach2(bpf_program__fd(l->skel->progs.skb_verdict_pass), map,
				 BPF_SK_SKB_STREAM_VERDICT);
		return -errno;
	}
	l->map_progs = true;
	return 0;
}

void detach_map_progs(struct loader *l)
{
	int map = bpf_map__fd(l->skel->maps.sock_hash);

	if (!l->map_progs)
		return;
	bpf_prog_detach2(bpf_program__fd(l->skel->progs.sk_msg_redirect), map, BPF_SK_MSG_VERDICT);
	bpf_prog_detach2(bpf_program__fd(l->skel->progs.skb_verdict_pass), map,
			 BPF_SK_SKB_STREAM_VERDICT);
	l->map_progs = false;
}

int pin_sockets_iter(struct loader *l)
{
	char path[PATH_LEN];
	int err;

	l->sockets_iter = bpf_program__attach_iter(l->skel->progs.dump_sockets, NULL);
	if (!l->sockets_iter) {
		err = -errno;
		pr_err("cannot create the iterator over the accelerated sockets: %s\n", strerror(-err));
		return err;
	}
	pins_path(path, sizeof(path), l->pin_dir, "iter", NULL);
	err = mkdir_0700(path);
	if (!err) {
		pins_path(path, sizeof(path), l->pin_dir, "iter", "sockets");
		unlink(path);	/* a kept daemon's */
		err = bpf_link__pin(l->sockets_iter, path);
	}
	if (err)
		pr_err("cannot pin the iterator over the accelerated sockets at %s: %s\n", path, strerror(-err));
	return err;
}

/* Which known kernel flaws apply here (canary.c), said once at start. */
void run_canary(struct loader *l)
{
	size_t i;

	if (canary_run(bpf_program__fd(l->skel->progs.skb_verdict_pass), &l->flaws))
		return;
	l->canary_ran = true;
	for (i = 0; i < SH_NR_FLAWS; i++)
		if (l->flaws & sh_flaws[i].bit)
			log_print(sh_flaws[i].avoided ? LOG_INFO : LOG_WARN, "kernel flaw '%s' "
				  "applies here: %s; %s\n", sh_flaws[i].name, sh_flaws[i].what,
				  sh_flaws[i].remedy);
}
