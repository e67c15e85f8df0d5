// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* probe.c - privilege and kernel feature checks. */
#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "probe.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct data[2], int cap)
{
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int probe_privileges(void)
{
	static const struct { int cap; const char *name, *why; int optional; } need[] = {
		{ CAP_BPF, "CAP_BPF", "load BPF programs and create maps", 0 },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN", "load socket programs and attach them to cgroups", 0 },
		/* The mesh's flow control reads the peer socket's queue. */
		{ CAP_PERFMON, "CAP_PERFMON", "read kernel socket state from BPF (the mesh's flow "
		  "control: bpf_probe_read_kernel, bpf_skc_to_tcp_sock)", 0 },
		/* Only for mounting bpffs or creating cgroups, which may be done. */
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN", "mount bpffs or create cgroups", 1 },
	};
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	size_t i;
	int err = 0;

	if (syscall(SYS_capget, &hdr, data) == -1) {
		pr_err("cannot read this process's capabilities: %m\n");
		return -errno;
	}
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (has_cap(data, need[i].cap))
			continue;
		if (need[i].optional) {
			pr_warn("no capability %s: cannot %s if that is needed\n", need[i].name,
				need[i].why);
			continue;
		}
		pr_err("missing capability %s (needed to %s); run sockhopd as root\n", need[i].name,
		       need[i].why);
		err = -EPERM;
	}
	return err;
}

int probe_kernel(void)
{
	static const struct { enum bpf_prog_type type; const char *name; } progs[] = {
		{ BPF_PROG_TYPE_SOCK_OPS, "sockops programs (CONFIG_CGROUP_BPF)" },
		{ BPF_PROG_TYPE_SK_MSG, "sk_msg programs (CONFIG_BPF_STREAM_PARSER, CONFIG_NET_SOCK_MSG)" },
		{ BPF_PROG_TYPE_SK_SKB, "sk_skb programs (CONFIG_BPF_STREAM_PARSER)" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup/sock_create programs (CONFIG_CGROUP_BPF)" },
	};
	static const struct { enum bpf_map_type type; const char *name; } maps[] = {
		{ BPF_MAP_TYPE_SOCKHASH, "SOCKHASH maps (CONFIG_BPF_STREAM_PARSER)" },
		{ BPF_MAP_TYPE_SK_STORAGE, "socket local storage (Linux 5.2+)" },
		{ BPF_MAP_TYPE_HASH_OF_MAPS, "HASH_OF_MAPS maps" },
		{ BPF_MAP_TYPE_LPM_TRIE, "LPM_TRIE maps" },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, "PERCPU_ARRAY maps" },
	};
	static const struct {
		enum bpf_prog_type type; enum bpf_func_id id; const char *name;
	} helpers[] = {
		{ BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_netns_cookie,
		  "bpf_get_netns_cookie() in sockops (Linux 5.15+)" },
		{ BPF_PROG_TYPE_SK_MSG, BPF_FUNC_get_netns_cookie,
		  "bpf_get_netns_cookie() in sk_msg (Linux 5.15+)" },
		{ BPF_PROG_TYPE_SK_MSG, BPF_FUNC_sk_storage_get,
		  "bpf_sk_storage_get() in sk_msg (Linux 5.10+)" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_sk_storage_get,
		  "bpf_sk_storage_get() in cgroup/sock_create (Linux 5.10+)" },
		{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_current_ancestor_cgroup_id,
		  "bpf_get_current_ancestor_cgroup_id() in cgroup/sock_create (Linux 5.7+)" },
		{ BPF_PROG_TYPE_SK_MSG, BPF_FUNC_skc_to_tcp_sock,
		  "bpf_skc_to_tcp_sock() in sk_msg (Linux 5.9+)" },
		{ BPF_PROG_TYPE_SK_MSG, BPF_FUNC_probe_read_kernel,
		  "bpf_probe_read_kernel() in sk_msg (Linux 5.5+)" },
	};
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (libbpf_probe_bpf_prog_type(progs[i].type, NULL) == 1)
			continue;
		pr_err("kernel lacks %s\n", progs[i].name);
		err = -EOPNOTSUPP;
	}
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (libbpf_probe_bpf_map_type(maps[i].type, NULL) == 1)
			continue;
		pr_err("kernel lacks %s\n", maps[i].name);
		err = -EOPNOTSUPP;
	}
	for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(helpers[i].type, helpers[i].id, NULL) == 1)
			continue;
		pr_err("kernel lacks %s\n", helpers[i].name);
		err = -EOPNOTSUPP;
	}
	return err;
}
