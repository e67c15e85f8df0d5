// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* balance.c - see balance.h. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "balance.h"
#include "balance.skel.h"
#include "log.h"
#include "maps.h"
#include "sockdiag.h"

void balance_init(struct balance *b, const struct balance_bpf *obj)
{
	b->services = bpf_map__fd(obj->maps.vip_services);
	b->tables = bpf_map__fd(obj->maps.vip_tables);
	b->backends = bpf_map__fd(obj->maps.backends);
	b->rnat = bpf_map__fd(obj->maps.rnat);
	b->vip_stats = bpf_map__fd(obj->maps.vip_stats);
	b->backend_stats = bpf_map__fd(obj->maps.backend_stats);
}

/* An array map's elements are rounded up to 8 bytes, in the mmap view too:
 * slot i's __u32 backend id sits at word 2 * i. */
#define SLOT_WORDS	2
#define TABLE_BYTES	(SH_MAGLEV_SLOTS * SLOT_WORDS * sizeof(__u32))

static void vip_key(const struct cfg_addr *a, __u8 proto, struct sh_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	addr_ip6(&a->sa, k->addr, &k->port);
	k->proto = proto;
}

/* The protocols of @cs, as SH_PROTO_* values; returns how many. */
static int vip_protos(const struct cfg_service *cs, __u8 out[2])
{
	int n = 0;

	if (cs->vip_protos & CFG_VIP_TCP)
		out[n++] = SH_PROTO_TCP;
	if (cs->vip_protos & CFG_VIP_UDP)
		out[n++] = SH_PROTO_UDP;
	return n;
}

/* Is @k one of @cfg's virtual addresses? */
static bool vip_configured(const struct cfg *cfg, const struct sh_vip_key *k)
{
	struct sh_vip_key want;
	__u8 protos[2];
	size_t i, j;
	int p, np;

	for (i = 0; i < cfg->nr_services; i++) {
		np = vip_protos(&cfg->services[i], protos);
		for (j = 0; j < cfg->services[i].nr_vips; j++)
			for (p = 0; p < np; p++) {
				vip_key(&cfg->services[i].vips[j], protos[p], &want);
				if (!memcmp(&want, k, sizeof(want)))
					return true;
			}
	}
	return false;
}

static int prune_vip(int fd, const void *key, void *cfg)
{
	if (!vip_configured(cfg, key) && bpf_map_delete_elem(fd, key) == 0)
		return MAPS_DELETED;
	return MAPS_NEXT;
}

/* Deletes every key of hash map @fd that @cfg does not configure. */
static void prune_vips(int fd, const struct cfg *cfg)
{
	maps_walk(fd, sizeof(struct sh_vip_key), prune_vip, (void *)cfg);
}

int balance_swap(const struct balance *m, const struct cfg_service *cs, uint32_t svc_id,
	     const struct lb_member *mem)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	struct maglev_backend mb[SH_MAX_SVC_BACKENDS];
	size_t size = TABLE_BYTES;
	struct sh_vip_key key;
	uint16_t *idx = NULL;
	__u32 *ids = MAP_FAILED;
	__u8 protos[2];
	int inner, err = 0, p, np;
	size_t i, j;

	if (!cs->nr_vips)
		return 0;
	lb_maglev_input(mem, (unsigned int)cs->nr_backends, mb);
	idx = malloc(SH_MAGLEV_SLOTS * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	err = maglev_build(mb, (unsigned int)cs->nr_backends, idx, SH_MAGLEV_SLOTS);
	if (err)
		goto out;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sh_maglev", sizeof(__u32), sizeof(__u32),
			       SH_MAGLEV_SLOTS, &opts);
	if (inner < 0) {
		err = -errno;
		goto out;
	}
	ids = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, inner, 0);
	if (ids == MAP_FAILED) {
		err = -errno;
		goto out_close;
	}
	for (i = 0; i < SH_MAGLEV_SLOTS; i++)
		ids[i * SLOT_WORDS] = idx[i] == MAGLEV_EMPTY ? SH_BACKEND_NONE :
				      balance_backend_id(svc_id, idx[i]);
	/* The table is whole before any reader can find it. */
	np = vip_protos(cs, protos);
	for (j = 0; j < cs->nr_vips && !err; j++)
		for (p = 0; p < np && !err; p++) {
			vip_key(&cs->vips[j], protos[p], &key);
			if (bpf_map_update_elem(m->tables, &key, &inner, BPF_ANY))
				err = -errno;
		}
	munmap(ids, size);
out_close:
	close(inner);	/* the outer map holds it now; the old one goes with RCU */
out:
	free(idx);
	return err;
}

int balance_fill(const struct balance *m, const struct cfg *cfg)
{
	struct lb_member mem[SH_MAX_SVC_BACKENDS];
	struct sh_backend none = {};
	__u8 protos[2];
	size_t i, j;
	int err, p, np;
	__u32 id;

	prune_vips(m->services, cfg);
	prune_vips(m->tables, cfg);
	for (i = 0; i < cfg->nr_services; i++) {
		const struct cfg_service *cs = &cfg->services[i];

		if (!cs->nr_vips)
			continue;
		for (j = 0; j < SH_MAX_SVC_BACKENDS; j++) {
			struct sh_backend be = { .svc_id = (__u32)i };

			id = balance_backend_id((uint32_t)i, (uint32_t)j);
			if (j < cs->nr_backends) {
				addr_ip6(&cs->backends[j].addr.sa, be.addr, &be.port);
				be.family = cs->backends[j].addr.sa.ss_family;
			}
			if (bpf_map_update_elem(m->backends, &id, j < cs->nr_backends ? &be : &none,
						BPF_ANY))
				goto fail;
			if (j < cs->nr_backends)
				lb_member_init(&mem[j], &cs->backends[j]);
		}
		/* the table before the address: a connect that finds the
		 * address always finds a table */
		err = balance_swap(m, cs, (uint32_t)i, mem);
		if (err) {
			pr_err("service '%s': cannot install its Maglev table: %s\n", cs->name,
			       strerror(-err));
			return err;
		}
		np = vip_protos(cs, protos);
		for (j = 0; j < cs->nr_vips; j++)
			for (p = 0; p < np; p++) {
				struct sh_vip_key key;
				struct sh_vip v = { .svc_id = (__u32)i };

				vip_key(&cs->vips[j], protos[p], &key);
				if (bpf_map_update_elem(m->services, &key, &v, BPF_ANY))
					goto fail;
			}
	}
	return 0;
fail:
	err = -errno;
	pr_err("cannot fill the connect-time balancing maps: %s\n", strerror(-err));
	return err;
}

int balance_read_table(const struct balance *m, const struct cfg_service *cs, uint32_t *ids)
{
	size_t size = TABLE_BYTES, i;
	struct sh_vip_key key;
	__u8 protos[2];
	__u32 inner_id;
	__u32 *mem;
	int inner;

	if (!cs->nr_vips || !vip_protos(cs, protos))
		return -ENOENT;
	vip_key(&cs->vips[0], protos[0], &key);
	if (bpf_map_lookup_elem(m->tables, &key, &inner_id))
		return -errno;
	inner = bpf_map_get_fd_by_id(inner_id);
	if (inner < 0)
		return -errno;
	mem = mmap(NULL, size, PROT_READ, MAP_SHARED, inner, 0);
	close(inner);
	if (mem == MAP_FAILED)
		return -errno;
	for (i = 0; i < SH_MAGLEV_SLOTS; i++)
		ids[i] = mem[i * SLOT_WORDS];
	munmap(mem, size);
	return 0;
}

int balance_service_stats(const struct balance *m, uint32_t svc_id, struct sh_vip_stats *out)
{
	return maps_sum_percpu(m->vip_stats, &svc_id, out, sizeof(*out));
}

int balance_backend_stats(const struct balance *m, uint32_t id, struct sh_backend_stats *out)
{
	return maps_sum_percpu(m->backend_stats, &id, out, sizeof(*out));
}

/* --- SOCK_DESTROY ---------------------------------------------------------- */

/* What a dump looks for: sockets balanced to one backend (rnat, by cookie). */
struct balanced_to {
	const struct balance *m;
	uint8_t family;
	const __u32 *be_addr;
	__u16 be_port;
	struct inet_diag_sockid *found;
	__u8 *fam;
	int n, max;
};

static int collect_one(const struct inet_diag_msg *d, void *ctx)
{
	struct balanced_to *b = ctx;
	struct sh_rnat_key rk = {};
	struct sh_rnat rv;
	__u32 dst[4];

	if (ntohs(d->id.idiag_dport) != b->be_port)
		return 0;
	if (b->family == AF_INET)
		sh_addr_from_ip4(dst, d->id.idiag_dst[0]);
	else
		memcpy(dst, d->id.idiag_dst, 16);
	if (memcmp(dst, b->be_addr, 16))
		return 0;
	rk.cookie = (__u64)d->id.idiag_cookie[0] | (__u64)d->id.idiag_cookie[1] << 32;
	memcpy(rk.addr, dst, 16);
	rk.port = b->be_port;
	if (bpf_map_lookup_elem(b->m->rnat, &rk, &rv))
		return 0;	/* not a balanced socket: leave it */
	if (b->n < b->max) {
		b->found[b->n] = d->id;
		b->fam[b->n] = b->family;
		b->n++;
	}
	return 0;
}

int balance_destroy_conns(const struct balance *m, const struct cfg_addr *be, int max)
{
	struct balanced_to b = { .m = m, .max = max };
	__u32 addr[4];
	__u16 port;
	int nl, i, err, done = 0;

	addr_ip6(&be->sa, addr, &port);
	b.be_addr = addr;
	b.be_port = port;
	b.found = calloc((size_t)max, sizeof(*b.found));
	b.fam = calloc((size_t)max, 1);
	nl = sockdiag_open();
	if (!b.found || !b.fam || nl < 0) {
		err = nl < 0 ? nl : -ENOMEM;
		goto out;
	}
	b.family = AF_INET6;
	err = sockdiag_dump(nl, AF_INET6, collect_one, &b);
	if (!err && be->sa.ss_family == AF_INET) {
		b.family = AF_INET;
		err = sockdiag_dump(nl, AF_INET, collect_one, &b);
	}
	for (i = 0; i < b.n && !err; i++) {
		err = sockdiag_destroy(nl, b.fam[i], &b.found[i]);
		if (!err)
			done++;
		else if (err == -ENOENT)	/* gone meanwhile: fine */
			err = 0;
	}
out:
	if (nl >= 0)
		close(nl);
	free(b.found);
	free(b.fam);
	return err ? err : done;
}
