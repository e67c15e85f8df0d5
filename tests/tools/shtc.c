// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * shtc - the tc policy stages on crafted packets (BPF_PROG_TEST_RUN).
 *
 *   shtc PIN_DIR CG_WEB CG_BATCH CG_OUTSIDE
 *
 * Runs against a daemon started on tests/integration/test_tc_stages.sh's
 * config (its rules are listed next to the expectations below), in the
 * test's namespace. Each case runs one packet through an entry program or
 * straight into the PARSE stage (with the entry's skb->cb), and checks the
 * verdict, the mark, and the exact change of every counter: tc_stats,
 * tc_errors, and the rule counters of both scopes. The process moves itself
 * between the cgroups: a test run's skb carries a socket of the caller's
 * cgroup, which is what the egress entry classifies. Prints one line per
 * case and "cases=N failed=N"; exit 0 when none failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockhop.h"

#define WEB	0		/* scope slots: config order */
#define BATCH	1
#define NONE	SH_SLOT_GLOBAL
#define EG	SH_TC_EGRESS
#define IN	SH_TC_INGRESS
#define NO_ERR	(-1)
#define MAX_RULES_SEEN	8	/* rule counters compared, per scope */

static const char *cg_web, *cg_batch, *cg_out;
static int fd_stats, fd_errors, fd_rules, fd_stages, fd_cgroups;
static int prog_parse, prog_rules, prog_action, prog_egress, prog_ingress;
static int ncpu, failed, cases;
static uint16_t lport, uport, lport6, oport, bport;

/* --- packets ------------------------------------------------------------- */

struct pkt {
	uint8_t b[256];
	size_t len;
};

static void put(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void put16(struct pkt *p, uint16_t v)
{
	v = htons(v);
	put(p, &v, 2);
}

/* Ethernet header with <vlans> tags (the outer one 802.1ad when two). */
static void eth(struct pkt *p, int vlans, uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	p->len = 0;
	put(p, macs, 12);
	if (vlans == 2) {
		put16(p, 0x88a8);
		put16(p, 100);
	}
	if (vlans >= 1) {
		put16(p, 0x8100);
		put16(p, 10);
	}
	put16(p, type);
}

enum { F_OPTS = 1, F_FRAG_LATER = 2, F_FRAG_FIRST = 4 };

/* IPv4 + 8 bytes of L4 (ports, or an ICMP echo header). */
static void v4(struct pkt *p, int vlans, uint8_t proto, const char *src, const char *dst,
	       uint16_t sport, uint16_t dport, int flags)
{
	uint8_t ip[24] = { 0 };
	size_t hl = flags & F_OPTS ? 24 : 20;
	uint16_t frag = flags & F_FRAG_LATER ? 100 : 0;

	eth(p, vlans, 0x0800);
	ip[0] = (uint8_t)(0x40 | (hl / 4));
	ip[2] = (uint8_t)((hl + 8) >> 8);
	ip[3] = (uint8_t)(hl + 8);
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, &ip[12]);
	inet_pton(AF_INET, dst, &ip[16]);
	if (flags & F_OPTS)
		ip[20] = 1;	/* NOP options */
	put(p, ip, hl);
	if (proto == IPPROTO_ICMP) {
		uint8_t icmp[8] = { 8, 0 };

		put(p, icmp, 8);
		return;
	}
	put16(p, sport);
	put16(p, dport);
	put16(p, 0);
	put16(p, 0);
}

/* IPv6 (+ extension headers <ext>, 0-terminated) + 8 bytes of L4. */
static void v6(struct pkt *p, int vlans, const uint8_t *ext, uint8_t proto, const char *src,
	       const char *dst, uint16_t sport, uint16_t dport, int flags)
{
	uint8_t ip[40] = { 0x60 };
	size_t i, n = 0, start;

	for (; ext && ext[n]; n++)
		;
	eth(p, vlans, 0x86dd);
	ip[6] = n ? ext[0] : proto;
	ip[7] = 64;
	inet_pton(AF_INET6, src, &ip[8]);
	inet_pton(AF_INET6, dst, &ip[24]);
	start = p->len;
	put(p, ip, 40);
	for (i = 0; i < n; i++) {
		uint8_t h[8] = { i + 1 < n ? ext[i + 1] : proto, 0 };

		if (ext[i] == 44 && (flags & F_FRAG_LATER))
			h[3] = 100 << 3 & 0xff, h[2] = (100 << 3) >> 8;
		put(p, h, 8);
	}
	if (proto == 58) {
		uint8_t icmp[8] = { 128, 0 };

		put(p, icmp, 8);
	} else {
		put16(p, sport);
		put16(p, dport);
		put16(p, 0);
		put16(p, 0);
	}
	p->b[start + 4] = (uint8_t)((p->len - start - 40) >> 8);
	p->b[start + 5] = (uint8_t)(p->len - start - 40);
}

/* --- counters ------------------------------------------------------------ */

struct snap {
	struct sh_tc_count stats[SH_TC_STATS_SLOTS];
	uint64_t errors[SH_TC_ERR_NR];
	struct sh_tc_count rules[2][MAX_RULES_SEEN];
};

static void sum_count(int fd, uint32_t idx, struct sh_tc_count *out)
{
	struct sh_tc_count v[ncpu];
	int c;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &idx, v))
		return;
	for (c = 0; c < ncpu; c++) {
		out->packets += v[c].packets;
		out->bytes += v[c].bytes;
	}
}

static void snapshot(struct snap *s)
{
	uint64_t e[ncpu];
	uint32_t i, r;
	int c;

	for (i = 0; i < SH_TC_STATS_SLOTS; i++)
		sum_count(fd_stats, i, &s->stats[i]);
	for (i = 0; i < SH_TC_ERR_NR; i++) {
		s->errors[i] = 0;
		if (bpf_map_lookup_elem(fd_errors, &i, e) == 0)
			for (c = 0; c < ncpu; c++)
				s->errors[i] += e[c];
	}
	for (i = 0; i < 2; i++)
		for (r = 0; r < MAX_RULES_SEEN; r++)
			sum_count(fd_rules, i * SH_MAX_SCOPE_RULES + r, &s->rules[i][r]);
}

/* --- cases --------------------------------------------------------------- */

struct expect {
	int verdict;		/* TC_ACT_OK or TC_ACT_SHOT */
	uint32_t mark;
	int slot, dir, act;	/* the tc_stats entry that must grow; act 0: none */
	int err;		/* the tc_errors reason that must grow, or NO_ERR */
	int rule_slot;		/* whose rule counters grow */
	int rules[4];		/* rule ids, -1 terminated */
};

static void failf(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %-44s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Runs @p through @prog (entry, or PARSE with @cb0) and checks @e. */
static void run(const char *name, int prog, uint32_t cb0, struct pkt *p, struct expect e)
{
	struct __sk_buff ctx = { .cb = { cb0 } }, out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = (uint32_t)p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);
	struct snap *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	bool bad = false;
	uint32_t i, want_idx = e.act ? (uint32_t)SH_TC_STATS_IDX(e.slot, e.dir, e.act) : ~0u;
	int r, k;

	cases++;
	snapshot(a);
	if (bpf_prog_test_run_opts(prog, &o)) {
		failf(name, "test run: %s", strerror(errno));
		failed++;
		goto out;
	}
	snapshot(b);
	if ((int)o.retval != e.verdict) {
		failf(name, "verdict %d, expected %d", (int)o.retval, e.verdict);
		bad = true;
	}
	if (out.mark != e.mark) {
		failf(name, "mark %u, expected %u", out.mark, e.mark);
		bad = true;
	}
	for (i = 0; i < SH_TC_STATS_SLOTS; i++) {
		uint64_t dp = b->stats[i].packets - a->stats[i].packets;
		uint64_t db = b->stats[i].bytes - a->stats[i].bytes;
		bool want = i == want_idx;

		if (dp != (want ? 1 : 0) || db != (want ? p->len : 0)) {
			failf(name, "tc_stats[slot %u dir %u %s] +%llu packets +%llu bytes, "
			      "expected +%d +%zu", i / (SH_TC_DIRS * SH_ACT_NR),
			      i / SH_ACT_NR % SH_TC_DIRS, i % SH_ACT_NR == SH_ACT_DENY ? "deny" :
			      i % SH_ACT_NR == SH_ACT_MARK ? "mark" : "allow",
			      (unsigned long long)dp, (unsigned long long)db, want,
			      want ? p->len : 0);
			bad = true;
		}
	}
	for (i = 0; i < SH_TC_ERR_NR; i++) {
		uint64_t d = b->errors[i] - a->errors[i];

		if (d != ((int)i == e.err ? 1u : 0u)) {
			failf(name, "tc_errors[%u] +%llu, expected +%d", i, (unsigned long long)d,
			      (int)i == e.err);
			bad = true;
		}
	}
	for (i = 0; i < 2; i++) {
		for (r = 0; r < MAX_RULES_SEEN; r++) {
			uint64_t d = b->rules[i][r].packets - a->rules[i][r].packets;
			bool want = false;

			for (k = 0; k < 4 && e.rules[k] >= 0; k++)
				want |= (int)i == e.rule_slot && e.rules[k] == r;
			if (d != (want ? 1u : 0u)) {
				failf(name, "rule %d of scope %u counted +%llu, expected +%d", r, i,
				      (unsigned long long)d, want);
				bad = true;
			}
		}
	}
	if (bad)
		failed++;
	else
		printf("ok   %-44s verdict=%s mark=%u\n", name,
		       e.verdict == TC_ACT_SHOT ? "drop" : "pass", e.mark);
out:
	free(a);
	free(b);
}

#define R(...)		{ __VA_ARGS__, -1 }
#define NOR		{ -1 }
#define PASS(slot, dir, err, rs)	(struct expect){ TC_ACT_OK, 0, slot, dir, SH_ACT_ALLOW, err, slot, rs }
#define DROP(slot, dir, err, rs)	(struct expect){ TC_ACT_SHOT, 0, slot, dir, SH_ACT_DENY, err, slot, rs }
#define MARK(m, slot, dir, err, rs)	(struct expect){ TC_ACT_OK, m, slot, dir, SH_ACT_MARK, err, slot, rs }
#define UNTOUCHED(err)			(struct expect){ TC_ACT_OK, 0, 0, 0, 0, err, 0, NOR }

/* cb[0] the egress entry hands to PARSE for scope <slot>. */
#define EGRESS_OF(slot)	SH_TC_CB0(slot, SH_TC_EGRESS, 0, 0)
#define INGRESS		SH_TC_CB0(SH_SLOT_GLOBAL, SH_TC_INGRESS, 0, 0)

static int join(const char *cg)
{
	char path[512];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	fd = open(path, O_WRONLY);
	if (fd < 0 || dprintf(fd, "%d\n", getpid()) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

/* A socket of @type bound to @addr:0 (and listening, for TCP); its port. */
static uint16_t sock_in(const char *cg, int family, int type)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = sizeof(ss);
	int fd;

	if (join(cg)) {
		perror("join");
		exit(2);
	}
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	fd = socket(family, type, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
			   sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ||
	    (type == SOCK_STREAM && listen(fd, 4)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		perror("socket");
		exit(2);
	}
	return ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		     ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int stage_fd(uint32_t slot)
{
	uint32_t id;
	int fd;

	if (bpf_map_lookup_elem(fd_stages, &slot, &id) || (fd = bpf_prog_get_fd_by_id(id)) < 0) {
		fprintf(stderr, "shtc: tc_stages[%u] is empty: %s\n", slot, strerror(errno));
		exit(2);
	}
	return fd;
}

static int open_pinned(const char *dir, const char *sub, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "shtc: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return fd;
}

/* Removes a stage slot for one case, then puts the same program back. */
static void without_stage(uint32_t slot, int prog_fd, const char *name, int prog, uint32_t cb0,
			  struct pkt *p, struct expect e)
{
	if (bpf_map_delete_elem(fd_stages, &slot)) {
		failf(name, "cannot empty stage slot %u: %s", slot, strerror(errno));
		failed++;
		return;
	}
	run(name, prog, cb0, p, e);
	if (bpf_map_update_elem(fd_stages, &slot, &prog_fd, BPF_ANY)) {
		fprintf(stderr, "shtc: cannot restore stage slot %u: %s\n", slot, strerror(errno));
		exit(2);
	}
}

static void ipv4_cases(void)
{
	struct pkt p;

	/* scope web: r0 count tcp; r1 allow tcp 10.1.0.0/16 80-89; r2 deny tcp
	 * 10.1.2.0/24; r3 mark 0x42 udp 10.2.0.0/16 53; r4 allow icmp; r5 allow
	 * tcp 2001:db8::/32 443; r6 mark 7 2001:db8:1::/48; r7 allow 10.9.0.0/16;
	 * default deny */
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	run("tcp4 to an allowed range, low port", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(0, 1)));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 89, 0);
	run("tcp4 to an allowed range, high port", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(0, 1)));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 90, 0);
	run("tcp4 one port past the range: default", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, NO_ERR, R(0)));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.2.9", 40000, 80, 0);
	run("tcp4 first rule wins over a longer prefix", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(0, 1)));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.2.9", 40000, 22, 0);
	run("tcp4 denied prefix", prog_parse, EGRESS_OF(WEB), &p, DROP(WEB, EG, NO_ERR, R(0, 2)));
	v4(&p, 0, IPPROTO_UDP, "10.0.0.1", "10.2.3.4", 40000, 53, 0);
	run("udp4 marked", prog_parse, EGRESS_OF(WEB), &p, MARK(0x42, WEB, EG, NO_ERR, R(3)));
	v4(&p, 0, IPPROTO_UDP, "10.0.0.1", "10.2.3.4", 40000, 54, 0);
	run("udp4 other port: default", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, NO_ERR, NOR));
	v4(&p, 0, IPPROTO_ICMP, "10.0.0.1", "8.8.8.8", 0, 0, 0);
	run("icmp4 allowed anywhere", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(4)));
	v4(&p, 0, IPPROTO_ICMP, "10.0.0.1", "10.1.2.9", 0, 0, 0);
	run("icmp4 into a tcp-only denied prefix", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(4)));
	v4(&p, 1, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	run("tcp4 in an 802.1Q tag", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(0, 1)));
	v4(&p, 2, IPPROTO_TCP, "10.0.0.1", "10.1.2.9", 40000, 22, 0);
	run("tcp4 in 802.1ad + 802.1Q tags", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, NO_ERR, R(0, 2)));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, F_OPTS);
	run("tcp4 with IP options", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(0, 1)));
	v4(&p, 0, IPPROTO_UDP, "10.0.0.1", "10.9.1.1", 40000, 53, F_FRAG_LATER);
	run("udp4 later fragment, any-port rule", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, SH_TC_ERR_FRAGMENT, R(7)));
	v4(&p, 0, IPPROTO_UDP, "10.0.0.1", "10.2.3.4", 40000, 53, F_FRAG_LATER);
	run("udp4 later fragment misses a port rule", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_FRAGMENT, NOR));
	v4(&p, 0, 47, "10.0.0.1", "10.9.0.1", 0, 0, 0);
	run("gre4 to an any-protocol rule", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(7)));
	v4(&p, 0, 47, "10.0.0.1", "10.1.5.5", 0, 0, 0);
	run("gre4 elsewhere: default", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, NO_ERR, NOR));

	/* Malformed and truncated: counted by reason, the scope's default.
	 * The kernel's test run refuses an IP frame shorter than its network
	 * header (EINVAL), so those cuts travel inside a VLAN tag, which it
	 * does not look into; the parser sees the same cut either way. */
	v4(&p, 1, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	p.len = 18 + 10;
	run("ipv4 header cut at 10 bytes", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));
	eth(&p, 1, 0x0800);
	p.len = 16;
	run("802.1Q tag cut before its inner type", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	p.b[14] = 0x44;
	run("ipv4 header length 16 bytes", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_MALFORMED, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	p.b[14] = 0x55;
	run("ip version 5 in an IPv4 frame", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_MALFORMED, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	p.b[16] = 0x05;		/* total length 1280+ */
	run("ipv4 total length past the frame", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	p.b[17] = 22;		/* total length 22: two bytes of TCP */
	p.len = 14 + 22;
	run("tcp4 ports cut off", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	p.b[17] = 10;		/* total length below the header */
	run("ipv4 total length below its header", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_MALFORMED, NOR));
	eth(&p, 0, 0x0806);
	p.len += 28;
	run("arp: not IP, passed untouched", prog_parse, EGRESS_OF(WEB), &p,
	    UNTOUCHED(SH_TC_ERR_NOT_IP));
	eth(&p, 1, 0x0806);
	p.len += 28;
	run("arp in a vlan: not IP", prog_parse, EGRESS_OF(WEB), &p, UNTOUCHED(SH_TC_ERR_NOT_IP));
	eth(&p, 1, 0x0800);
	run("vlan tag then nothing", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));

	/* scope batch: r0 deny udp; r1 accelerate 127.0.0.0/8 (not a tc rule);
	 * default mark 9 */
	v4(&p, 0, IPPROTO_UDP, "10.0.0.1", "1.2.3.4", 40000, 53, 0);
	run("batch: udp4 denied", prog_parse, EGRESS_OF(BATCH), &p,
	    DROP(BATCH, EG, NO_ERR, R(0)));
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "127.0.0.1", 40000, 80, 0);
	run("batch: accelerate rules are not tc rules", prog_parse, EGRESS_OF(BATCH), &p,
	    MARK(9, BATCH, EG, NO_ERR, NOR));
	v4(&p, 0, IPPROTO_ICMP, "10.0.0.1", "1.1.1.1", 0, 0, 0);
	run("batch: icmp4 takes the mark default", prog_parse, EGRESS_OF(BATCH), &p,
	    MARK(9, BATCH, EG, NO_ERR, NOR));
}

static void ipv6_cases(void)
{
	static const uint8_t hbh[] = { 0, 0 }, dst_frag[] = { 60, 44, 0 }, frag[] = { 44, 0 };
	struct pkt p;

	v6(&p, 0, NULL, IPPROTO_TCP, "2001:db8:ff::1", "2001:db8::1", 40000, 443, 0);
	run("tcp6 allowed", prog_parse, EGRESS_OF(WEB), &p, PASS(WEB, EG, NO_ERR, R(0, 5)));
	v6(&p, 0, NULL, IPPROTO_TCP, "2001:db8:ff::1", "2001:db8:1::5", 40000, 80, 0);
	run("tcp6 marked by an any-protocol rule", prog_parse, EGRESS_OF(WEB), &p,
	    MARK(7, WEB, EG, NO_ERR, R(0, 6)));
	v6(&p, 0, NULL, IPPROTO_UDP, "2001:db8:ff::1", "2001:db8:1::5", 40000, 53, 0);
	run("udp6 marked", prog_parse, EGRESS_OF(WEB), &p, MARK(7, WEB, EG, NO_ERR, R(6)));
	v6(&p, 0, NULL, 58, "2001:db8:ff::1", "2001:db8::9", 0, 0, 0);
	run("icmp6 is icmp", prog_parse, EGRESS_OF(WEB), &p, PASS(WEB, EG, NO_ERR, R(4)));
	v6(&p, 0, NULL, IPPROTO_UDP, "2001:db8:ff::1", "2001:db9::1", 40000, 53, 0);
	run("udp6 elsewhere: default", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, NO_ERR, NOR));
	v6(&p, 0, hbh, IPPROTO_TCP, "2001:db8:ff::1", "2001:db8::1", 40000, 443, 0);
	run("tcp6 after a hop-by-hop header", prog_parse, EGRESS_OF(WEB), &p,
	    PASS(WEB, EG, NO_ERR, R(0, 5)));
	v6(&p, 1, dst_frag, IPPROTO_UDP, "2001:db8:ff::1", "2001:db8:1::1", 40000, 53, 0);
	run("udp6 vlan, dstopts + first fragment", prog_parse, EGRESS_OF(WEB), &p,
	    MARK(7, WEB, EG, NO_ERR, R(6)));
	v6(&p, 0, frag, IPPROTO_UDP, "2001:db8:ff::1", "2001:db8:1::1", 40000, 53, F_FRAG_LATER);
	run("udp6 later fragment", prog_parse, EGRESS_OF(WEB), &p,
	    MARK(7, WEB, EG, SH_TC_ERR_FRAGMENT, R(6)));
	v6(&p, 1, NULL, IPPROTO_TCP, "2001:db8:ff::1", "2001:db8::1", 40000, 443, 0);
	p.len = 18 + 30;	/* in a VLAN tag: see the IPv4 cuts */
	run("ipv6 header cut at 30 bytes", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));
	v6(&p, 0, NULL, IPPROTO_TCP, "2001:db8:ff::1", "2001:db8::1", 40000, 443, 0);
	p.b[14] = 0x40;
	run("ip version 4 in an IPv6 frame", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_MALFORMED, NOR));
	v6(&p, 0, hbh, IPPROTO_TCP, "2001:db8:ff::1", "2001:db8::1", 40000, 443, 0);
	p.len -= 6;		/* the payload length now overstates the frame */
	run("ipv6 payload length past the frame", prog_parse, EGRESS_OF(WEB), &p,
	    DROP(WEB, EG, SH_TC_ERR_TRUNCATED, NOR));
	v6(&p, 0, NULL, IPPROTO_UDP, "2001:db8:ff::1", "::1", 40000, 53, 0);
	run("batch: udp6 denied", prog_parse, EGRESS_OF(BATCH), &p,
	    DROP(BATCH, EG, NO_ERR, R(0)));
}

/* Ingress: PARSE finds the local socket, and its scope by its tag. */
static void ingress_cases(void)
{
	struct pkt p;

	v4(&p, 0, IPPROTO_TCP, "10.1.5.5", "127.0.0.1", 80, lport, 0);
	run("ingress tcp4 to a web listener, allowed", prog_parse, INGRESS, &p,
	    PASS(WEB, IN, NO_ERR, R(0, 1)));
	v4(&p, 0, IPPROTO_TCP, "10.1.2.9", "127.0.0.1", 22, lport, 0);
	run("ingress tcp4 from a denied prefix", prog_parse, INGRESS, &p,
	    DROP(WEB, IN, NO_ERR, R(0, 2)));
	v4(&p, 0, IPPROTO_UDP, "10.2.3.4", "127.0.0.1", 53, uport, 0);
	run("ingress udp4 to a web socket, marked", prog_parse, INGRESS, &p,
	    MARK(0x42, WEB, IN, NO_ERR, R(3)));
	v6(&p, 0, NULL, IPPROTO_TCP, "2001:db8::1", "::1", 443, lport6, 0);
	run("ingress tcp6 to a web listener", prog_parse, INGRESS, &p,
	    PASS(WEB, IN, NO_ERR, R(0, 5)));
	v4(&p, 0, IPPROTO_UDP, "1.2.3.4", "127.0.0.1", 53, bport, 0);
	run("ingress udp4 to a batch socket, denied", prog_parse, INGRESS, &p,
	    DROP(BATCH, IN, NO_ERR, R(0)));
	v4(&p, 0, IPPROTO_TCP, "10.1.2.9", "127.0.0.1", 22, oport, 0);
	run("ingress tcp4 to a socket of no scope", prog_parse, INGRESS, &p,
	    PASS(NONE, IN, NO_ERR, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.1.2.9", "127.0.0.1", 22, 1, 0);
	run("ingress tcp4 to a closed port", prog_parse, INGRESS, &p,
	    PASS(NONE, IN, SH_TC_ERR_NO_LOCAL, NOR));
	v4(&p, 0, IPPROTO_ICMP, "10.1.2.9", "127.0.0.1", 0, 0, 0);
	run("ingress icmp4: no local socket", prog_parse, INGRESS, &p,
	    PASS(NONE, IN, SH_TC_ERR_NO_LOCAL, NOR));
	v4(&p, 1, IPPROTO_TCP, "10.1.2.9", "127.0.0.1", 22, lport, 0);
	p.len = 18 + 12;
	run("ingress truncated: no scope's default", prog_parse, INGRESS, &p,
	    PASS(NONE, IN, SH_TC_ERR_TRUNCATED, NOR));
	v4(&p, 0, IPPROTO_TCP, "10.1.2.9", "127.0.0.1", 22, lport, 0);
	run("ingress entry, whole chain", prog_ingress, 0, &p, DROP(WEB, IN, NO_ERR, R(0, 2)));
}

/* The egress entry classifies the test run's socket: ours, by cgroup. */
static void entry_cases(void)
{
	uint32_t batch_slot = BATCH;
	struct pkt p;
	int cg;

	join(cg_web);
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	run("egress entry from web, whole chain", prog_egress, 0, &p,
	    PASS(WEB, EG, NO_ERR, R(0, 1)));
	eth(&p, 0, 0x0806);
	p.len += 28;
	run("egress entry: arp untouched", prog_egress, 0, &p, UNTOUCHED(SH_TC_ERR_NOT_IP));
	join(cg_batch);
	v4(&p, 0, IPPROTO_UDP, "10.0.0.1", "1.2.3.4", 40000, 53, 0);
	run("egress entry from batch", prog_egress, 0, &p, DROP(BATCH, EG, NO_ERR, R(0)));
	join(cg_out);
	run("egress entry from no scope", prog_egress, 0, &p, PASS(NONE, EG, NO_ERR, NOR));

	/* an empty cgroup slot is an error to count, never "not a member" */
	if (bpf_map_delete_elem(fd_cgroups, &batch_slot)) {
		perror("tc_cgroups");
		exit(2);
	}
	run("egress entry: empty cgroup slot", prog_egress, 0, &p,
	    PASS(NONE, EG, SH_TC_ERR_EMPTY_SLOT, NOR));
	cg = open(cg_batch, O_RDONLY | O_DIRECTORY);
	if (cg < 0 || bpf_map_update_elem(fd_cgroups, &batch_slot, &cg, BPF_ANY)) {
		perror("restore tc_cgroups");
		exit(2);
	}
	close(cg);

	/* a missing stage: counted, the default of what is known so far */
	join(cg_web);
	v4(&p, 0, IPPROTO_TCP, "10.0.0.1", "10.1.5.5", 40000, 80, 0);
	without_stage(SH_TC_STAGE_RULES, prog_rules, "missing RULES stage: web default", prog_parse,
		      EGRESS_OF(WEB), &p, DROP(WEB, EG, SH_TC_ERR_NO_STAGE + SH_TC_STAGE_RULES, NOR));
	without_stage(SH_TC_STAGE_ACTION, prog_action, "missing ACTION stage: web default",
		      prog_parse, EGRESS_OF(WEB), &p,
		      DROP(WEB, EG, SH_TC_ERR_NO_STAGE + SH_TC_STAGE_ACTION, R(0, 1)));
	without_stage(SH_TC_STAGE_PARSE, prog_parse, "missing PARSE stage: egress entry",
		      prog_egress, 0, &p,
		      DROP(WEB, EG, SH_TC_ERR_NO_STAGE + SH_TC_STAGE_PARSE, NOR));
	without_stage(SH_TC_STAGE_PARSE, prog_parse, "missing PARSE stage: ingress entry",
		      prog_ingress, 0, &p,
		      PASS(NONE, IN, SH_TC_ERR_NO_STAGE + SH_TC_STAGE_PARSE, NOR));
}

int main(int argc, char **argv)
{
	const char *pin;

	if (argc != 5) {
		fprintf(stderr, "usage: shtc PIN_DIR CG_WEB CG_BATCH CG_OUTSIDE\n");
		return 2;
	}
	pin = argv[1];
	cg_web = argv[2];
	cg_batch = argv[3];
	cg_out = argv[4];
	ncpu = libbpf_num_possible_cpus();
	fd_stats = open_pinned(pin, "maps", "tc_stats");
	fd_errors = open_pinned(pin, "maps", "tc_errors");
	fd_rules = open_pinned(pin, "maps", "tc_rule_stats");
	fd_stages = open_pinned(pin, "maps", "tc_stages");
	fd_cgroups = open_pinned(pin, "maps", "tc_cgroups");
	prog_egress = open_pinned(pin, "tc", "egress");
	prog_ingress = open_pinned(pin, "tc", "ingress");
	prog_parse = stage_fd(SH_TC_STAGE_PARSE);
	prog_rules = stage_fd(SH_TC_STAGE_RULES);
	prog_action = stage_fd(SH_TC_STAGE_ACTION);

	/* local sockets for ingress, each created in the cgroup it stands for */
	lport = sock_in(cg_web, AF_INET, SOCK_STREAM);
	uport = sock_in(cg_web, AF_INET, SOCK_DGRAM);
	lport6 = sock_in(cg_web, AF_INET6, SOCK_STREAM);
	bport = sock_in(cg_batch, AF_INET, SOCK_DGRAM);
	oport = sock_in(cg_out, AF_INET, SOCK_STREAM);
	join(cg_web);

	ipv4_cases();
	ipv6_cases();
	ingress_cases();
	entry_cases();
	join(cg_out);
	printf("cases=%d failed=%d\n", cases, failed);
	return failed ? 1 : 0;
}
