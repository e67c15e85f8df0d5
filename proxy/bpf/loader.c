// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loader.c - the order of things (loader.h): check the pin directory, load
 * the objects, fill every table, then attach; stop, keep or reload.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "loader_int.h"
#include "log.h"
#include "pins.h"
#include "balance.h"

static int open_and_load(struct loader *l)
{
	int err;

	l->skel = accel_bpf__open();
	l->bal = balance_bpf__open();
	l->pol = policy_bpf__open();
	if (!l->skel || !l->bal || !l->pol) {
		err = -errno;
		pr_err("cannot open the embedded BPF objects: %s\n", strerror(-err));
		return err;
	}
	/* the socket map and its companion, sized alike (--socket-map-size) */
	if (l->map_size && (bpf_map__set_max_entries(l->skel->maps.sock_hash, l->map_size) ||
			    bpf_map__set_max_entries(l->skel->maps.sock_peers, l->map_size)))
		return -EINVAL;
	err = set_pin_paths(l, l->skel->obj);
	if (!err)
		err = set_pin_paths(l, l->bal->obj);
	if (!err)
		err = set_pin_paths(l, l->pol->obj);
	if (err)
		return err;
	/* libbpf reuses a pinned map whose definition matches and pins new
	 * ones; a mismatch with the same layout version is a bug we report. */
	err = accel_bpf__load(l->skel);
	if (!err)
		err = balance_bpf__load(l->bal);
	if (!err)
		err = policy_bpf__load(l->pol);
	if (err == -EMFILE || err == -ENFILE) {
		/* no verifier in it: the process is out of descriptors */
		pr_err("cannot load the BPF programs: %s (each map and program takes a "
		       "descriptor; raise RLIMIT_NOFILE: ulimit -n, LimitNOFILE=)\n",
		       strerror(-err));
		return err;
	}
	if (err) {
		pr_err("cannot load the BPF programs: %s (run with -vv for the verifier log)\n",
		       strerror(-err));
		return err;
	}
	return 0;
}

static void release(struct loader *l)
{
	size_t i;

	for (i = 0; i < l->nr_links; i++)
		close(l->links[i].fd);
	bpf_link__destroy(l->sockets_iter);	/* its pin stays while pinned */
	policy_bpf__destroy(l->pol);
	balance_bpf__destroy(l->bal);
	accel_bpf__destroy(l->skel);
	free(l->links);
	free(l->scopes);
	free(l);
}

int loader_start(const struct cfg *cfg, const char *pin_dir, const char *cg_mount,
		 uint32_t map_size, struct loader **out)
{
	char path[PATH_LEN];
	struct loader *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", pin_dir);
	snprintf(l->cg_mount, sizeof(l->cg_mount), "%s", cg_mount);
	l->map_size = map_size;
	for (size_t i = 0; i < cfg->nr_services; i++)
		l->balance |= cfg->services[i].nr_vips > 0;

	err = ensure_bpffs(pin_dir);
	if (err)
		goto err_free;
	err = check_pins(l);
	if (err)
		goto err_free;
	err = mkdir_0700(pin_dir);
	if (!err) {
		pins_path(path, sizeof(path), pin_dir, "maps", NULL);
		err = mkdir_0700(path);
	}
	if (err) {
		pr_err("cannot create pin directory %s: %s\n", pin_dir, strerror(-err));
		goto err_unpin;
	}
	err = open_and_load(l);
	if (err)
		goto err_unpin;
	run_canary(l);
	err = write_meta(l, (__u32)getpid(), 0, (__u32)cfg->nr_scopes);
	if (err)
		goto err_unpin;
	err = resolve_scopes(l, cfg, cg_mount);
	if (!err)
		err = fill_scopes(l, cfg);
	if (!err)
		err = fill_all_rules(l, cfg);
	if (!err)
		err = fill_accel_cfg(l, cfg);
	if (!err) {
		balance_init(&l->balance_maps, l->bal);
		err = balance_fill(&l->balance_maps, cfg);
	}
	/* every tc stage is in its slot before an entry is pinned for tc */
	if (!err)
		err = fill_policy(l, cfg);
	if (!err)
		err = fill_stages(l->pol);
	if (!err)
		err = pin_entries(l, l->pol);
	if (err)
		goto err_unpin;
	/* Attach only once every table is full. */
	err = attach_map_progs(l);
	if (err)
		goto err_unpin;
	err = pin_sockets_iter(l);
	if (err)
		goto err_detach;
	err = prune_links(l, false);
	if (!err)
		err = attach_cgroups(l);
	if (err)
		goto err_detach;
	*out = l;
	return 0;

err_detach:
	if (!l->adopted)
		detach_map_progs(l);
err_unpin:
	/* A state an earlier daemon kept stays, kept, for the next attempt. */
	if (l->adopted && l->skel) {
		write_meta(l, 0, 1, (__u32)cfg->nr_scopes);
	} else if (!l->adopted) {
		unpin_all(l);
		remove_created_cgroups(l);
	}
err_free:
	release(l);
	return err;
}

void loader_stop(struct loader *l, bool keep)
{
	if (!l)
		return;
	if (keep) {
		write_meta(l, 0, 1, (__u32)l->nr_scopes);
		pr_info("left the kernel paths attached and pinned in %s\n", l->pin_dir);
	} else {
		bool removed = unpin_all(l);

		detach_map_progs(l);
		remove_created_cgroups(l);
		pr_info("detached every program%s%s\n", removed ? " and removed " : "",
			removed ? l->pin_dir : "");
	}
	release(l);
}

int loader_closed_unread_fd(const struct loader *l)
{
	return bpf_map__fd(l->skel->maps.closed_unread);
}

bool loader_adopted(const struct loader *l)
{
	return l->adopted;
}

struct balance *loader_balance(struct loader *l)
{
	return &l->balance_maps;
}

int loader_reload(struct loader *l, const struct cfg *cfg)
{
	int err = fill_all_rules(l, cfg);

	if (!err)
		err = fill_accel_cfg(l, cfg);
	if (!err)
		err = fill_policy_defaults(l, cfg);
	return err;
}
