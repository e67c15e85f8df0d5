/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kernel_types.bpf.h - the few fields of the kernel's own socket structs
 * that the mesh's flow control reads (kern/accel.bpf.c). Only the names
 * matter: preserve_access_index makes clang emit CO-RE relocations, and
 * libbpf rewrites each offset to the running kernel's BTF at load time, so
 * no vmlinux.h is needed and a field that moved between kernels is found.
 */
#ifndef SOCKHOP_KERNEL_TYPES_BPF_H
#define SOCKHOP_KERNEL_TYPES_BPF_H

#include <linux/types.h>

#define SH_CORE __attribute__((preserve_access_index))

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	__s64 counter;
} atomic64_t;

struct sk_buff_head {
	__u32 qlen;
} SH_CORE;

/* The socket's protocol: TCP's memory accounting (include/net/sock.h). */
struct proto {
	unsigned long *memory_pressure;	/* nonzero while tcp_mem's pressure holds */
} SH_CORE;

struct in6_addr {
	union {
		__u32 u6_addr32[4];	/* (s6_addr32) */
	} in6_u;
} SH_CORE;

struct sock_common {
	__u32 skc_daddr;		/* IPv4 ends, network order */
	__u32 skc_rcv_saddr;
	__u16 skc_dport;		/* network order */
	__u16 skc_num;			/* the local port, host order */
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	unsigned short skc_family;	/* AF_INET or AF_INET6 */
	volatile unsigned char skc_state;	/* TCP_ESTABLISHED, ... */
	struct proto *skc_prot;		/* (sk_prot) */
	atomic64_t skc_cookie;		/* the socket cookie, once one was asked for */
} SH_CORE;

struct sock {
	struct sock_common __sk_common;
	struct {
		atomic_t rmem_alloc;	/* receive memory: TCP skbs and, on this
					 * kernel, redirected sk_msg bytes too */
	} sk_backlog;
	int sk_rcvbuf;
	int sk_sndbuf;
	struct sk_buff_head sk_receive_queue;
	void *sk_user_data;		/* the psock of a socket in a socket map */
	__u8 sk_userlocks;		/* SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK: the
					 * application set the buffer itself */
	__u8 sk_shutdown;		/* RCV_SHUTDOWN | SEND_SHUTDOWN */
} SH_CORE;

#define SH_SOCK_SNDBUF_LOCK	1
#define SH_SOCK_RCVBUF_LOCK	2
#define SH_SHUTDOWN_MASK	3	/* both directions: close() */

struct tcp_sock {
	__u32 rcv_nxt;			/* the next byte TCP expects to receive */
	__u32 copied_seq;		/* the next byte not yet consumed (read, sent on, dropped) */
	__u32 write_seq;		/* one past the last byte queued to send */
} SH_CORE;

/* An skb as the kernel has it (bpf_cast_to_kern_ctx()): TCP's per-skb
 * state is at the start of cb (TCP_SKB_CB(), include/net/tcp.h). */
struct sk_buff {
	char cb[48];
} SH_CORE;

/* The start of struct tcp_skb_cb: its layout, not only its names, is fixed
 * since long before sockmap existed. */
struct tcp_skb_cb_head {
	__u32 seq;			/* the first sequence number of the skb */
	__u32 end_seq;			/* seq + len (+1 for SYN and FIN) */
};

/* The socket map's per-socket state (include/linux/skmsg.h). */
struct sk_psock {
	struct sk_buff_head ingress_skb;	/* TCP skbs waiting for room in the
						 * receive queue (backlog worker) */
} SH_CORE;

/* An iterator's context over the TCP sockets of a netns (net/ipv4/tcp_ipv4.c). */
struct seq_file;
struct bpf_map;
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} SH_CORE;

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;	/* NULL once past the last socket */
	__u32 uid;
} SH_CORE;

/* The low bits of sk_user_data are flags (SK_USER_DATA_NOCOPY, _BPF,
 * _PSOCK); the pointer is what is left. */
#define SH_SK_USER_DATA_PTRMASK	(~7UL)

#endif /* SOCKHOP_KERNEL_TYPES_BPF_H */
