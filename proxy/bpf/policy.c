// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * policy.c - the tc policy's maps (cgroups, order, defaults), its stages in
 * the pinned PROG_ARRAY, the entry programs pinned for tc, and the stages
 * replaced under traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "loader.h"
#include "loader_int.h"
#include "log.h"
#include "pins.h"

static int cgroup_depth(const char *dir)
{
	int d = 0;

	for (; *dir; dir++)
		d += *dir == '/';
	return d;
}

/*
 * tc_cgroups[slot] := the scope's cgroup; tc_order := the slots deepest
 * cgroup first, so a packet of a nested scope's process gets the nested
 * scope's policy; tc_defaults := each scope's default verdict and, at
 * SH_SLOT_GLOBAL, the one of traffic of no scope.
 */
int fill_policy(struct loader *l, const struct cfg *cfg)
{
	int cgs = bpf_map__fd(l->pol->maps.tc_cgroups);
	int order = bpf_map__fd(l->pol->maps.tc_order);
	__u32 slots[SH_MAX_SCOPES], i, j, n = (__u32)l->nr_scopes, none = 0xffffffffu;
	__u32 zero = 0, gen;
	int err;

	for (i = 0; i < n; i++) {
		int fd = cg_open(l->scopes[i].dir);

		if (fd < 0) {
			pr_err("scope '%s': cannot open cgroup %s: %s\n", cfg->scopes[i].name,
			       l->scopes[i].dir, strerror(-fd));
			return fd;
		}
		err = bpf_map_update_elem(cgs, &i, &fd, BPF_ANY) ? -errno : 0;
		close(fd);
		if (err) {
			pr_err("scope '%s': cannot store its cgroup in tc_cgroups: %s\n",
			       cfg->scopes[i].name, strerror(-err));
			return err;
		}
		/* insertion sort by depth, deepest first; config order on ties */
		for (j = i; j > 0 && cgroup_depth(l->scopes[slots[j - 1]].dir) <
					 cgroup_depth(l->scopes[i].dir); j--)
			slots[j] = slots[j - 1];
		slots[j] = i;
	}
	for (i = n; i < SH_MAX_SCOPES; i++)
		bpf_map_delete_elem(cgs, &i);	/* slots of scopes that left */
	/* the end marker first, then the list: a reader sees either order */
	for (i = SH_MAX_SCOPES; i-- > 0;) {
		if (bpf_map_update_elem(order, &i, i < n ? &slots[i] : &none, BPF_ANY)) {
			pr_err("cannot fill tc_order: %m\n");
			return -errno;
		}
	}
	/* a new generation voids what the egress entry cached per socket */
	if (bpf_map_lookup_elem(bpf_map__fd(l->pol->maps.tc_generation), &zero, &gen))
		gen = 0;
	gen = gen + 1 ? gen + 1 : 1;
	if (bpf_map_update_elem(bpf_map__fd(l->pol->maps.tc_generation), &zero, &gen, BPF_ANY)) {
		pr_err("cannot update tc_generation: %m\n");
		return -errno;
	}
	return fill_policy_defaults(l, cfg);
}

/* tc_defaults := @cfg's default verdicts. */
int fill_policy_defaults(struct loader *l, const struct cfg *cfg)
{
	int fd = bpf_map__fd(l->pol->maps.tc_defaults);
	__u32 slot;

	for (slot = 0; slot < SH_STATS_SLOTS; slot++) {
		const struct cfg_verdict *v = slot < cfg->nr_scopes ? &cfg->scopes[slot].def :
					      &cfg->no_scope;
		struct sh_tc_default d = { .action = v->action, .mark = v->mark };

		if (bpf_map_update_elem(fd, &slot, &d, BPF_ANY)) {
			pr_err("cannot fill tc_defaults: %m\n");
			return -errno;
		}
	}
	return 0;
}

/* Puts @pol's stage programs in the tc_stages slots (the ABI's numbers). */
int fill_stages(struct policy_bpf *pol)
{
	struct bpf_program *stages[SH_TC_STAGES] = {
		[SH_TC_STAGE_PARSE] = pol->progs.tc_stage_parse,
		[SH_TC_STAGE_RULES] = pol->progs.tc_stage_rules,
		[SH_TC_STAGE_ACTION] = pol->progs.tc_stage_action,
	};
	int map = bpf_map__fd(pol->maps.tc_stages);
	__u32 i;

	for (i = 0; i < SH_TC_STAGES; i++) {
		int fd = bpf_program__fd(stages[i]);

		if (bpf_map_update_elem(map, &i, &fd, BPF_ANY)) {
			pr_err("cannot put tc stage %u in tc_stages: %m\n", i);
			return -errno;
		}
	}
	return 0;
}

/* Pins @pol's entry programs at PIN_DIR/tc/{egress,ingress}, replacing what
 * is there in one rename: `tc filter ... pinned PATH` never misses. */
int pin_entries(struct loader *l, struct policy_bpf *pol)
{
	struct bpf_program *entry[2] = { pol->progs.tc_egress, pol->progs.tc_ingress };
	static const char *const name[2] = { "egress", "ingress" };
	char dir[PATH_LEN], path[PATH_LEN], tmp[PATH_LEN];
	int i, err;

	pins_path(dir, sizeof(dir), l->pin_dir, "tc", NULL);
	err = mkdir_0700(dir);
	for (i = 0; i < 2 && !err; i++) {
		pins_path(path, sizeof(path), dir, NULL, name[i]);
		snprintf(tmp, sizeof(tmp), "%s-new", path);
		unlink(tmp);
		if (bpf_obj_pin(bpf_program__fd(entry[i]), tmp) || rename(tmp, path)) {
			err = -errno;
			unlink(tmp);
		}
	}
	if (err)
		pr_err("cannot pin the tc entry programs in %s: %s\n", dir, strerror(-err));
	return err;
}

int loader_replace_stages(struct loader *l)
{
	struct policy_bpf *pol;
	int err;

	pol = policy_bpf__open();
	if (!pol)
		return -errno;
	err = set_pin_paths(l, pol->obj);	/* the same maps, reused */
	if (!err)
		err = policy_bpf__load(pol);
	/* the new entries reach the stages in place, of the same ABI */
	if (!err)
		err = pin_entries(l, pol);
	if (err) {
		pr_err("replacing the tc stages failed (%s); the running ones stay\n",
		       strerror(-err));
		policy_bpf__destroy(pol);
		return err;
	}
	err = fill_stages(pol);
	if (err) {
		/* slots taken so far hold new stages: same ABI, both work */
		pr_err("replacing the tc stages stopped halfway (%s): some slots hold the new "
		       "stages, the others the old\n", strerror(-err));
		policy_bpf__destroy(pol);
		return err;
	}
	/* the old stage programs leave once nothing refers to them */
	policy_bpf__destroy(l->pol);
	l->pol = pol;
	l->stage_generation++;
	pr_info("tc stages replaced (generation %u)\n", l->stage_generation);
	return 0;
}
