/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * retrans.bpf.h - the sk_skb verdicts' defence against retransmitted bytes
 * (sockhop.h, "Retransmissions"): TCP queues a segment that starts before
 * bytes it already has and ends after them whole, and tcp_read_skb(), which
 * runs the verdict, hands it over whole, old head included. tcp_recvmsg()
 * would skip that head by copied_seq; a verdict that passes the skb up or
 * sends it on must cut it itself, or the receiver gets those bytes twice.
 */
#ifndef SOCKHOP_RETRANS_BPF_H
#define SOCKHOP_RETRANS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "kernel_types.bpf.h"
#include "sockhop.h"

/* The kernel's own sk_buff behind the program's context (kernel 6.2+):
 * TCP's sequence numbers are there, not in __sk_buff. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/*
 * Cuts from @skb the bytes before rs->next, the next sequence number this
 * socket's verdict has not seen yet; rs->next starts at *@first (known = 0;
 * @first NULL: at this skb's start) and follows every skb. At most SH_CUT_STEP bytes go per helper
 * call: one pull first makes the old head linear, so each cut after it is
 * a pointer move. *@cut gets the bytes cut.
 * Return: the skb's length from now on, 0 when it holds nothing new (to be
 * dropped), -1 when its old head is longer than SH_CUT_STEPS cuts
 * (dropped too: its stream cannot go on whole).
 */
static __always_inline int sh_cut_retransmitted(struct __sk_buff *skb, struct sh_rcv_seq *rs,
						const __u32 *first, __u32 *cut)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	__u32 len = skb->len, seq, old, step;
	int i;

	seq = ((struct tcp_skb_cb_head *)kskb->cb)->seq;
	if (!rs->known) {
		rs->next = first ? *first : seq;
		rs->known = 1;
	}
	*cut = 0;
	old = rs->next - seq;
	if ((__s32)old <= 0) {
		rs->next = seq + len;
		return (int)len;
	}
	if (old >= len) {	/* TCP queues none such; cut whole, never sent */
		*cut = len;
		return 0;
	}
	bpf_skb_pull_data(skb, old);	/* failing, each cut pulls its own part */
	for (i = 0; i < SH_CUT_STEPS && old; i++) {
		step = old < SH_CUT_STEP ? old : SH_CUT_STEP;
		if (bpf_skb_adjust_room(skb, -(__s32)step, 0, 0))
			break;
		old -= step;
		*cut += step;
	}
	rs->next = seq + len;
	return old ? -1 : (int)skb->len;
}

#endif /* SOCKHOP_RETRANS_BPF_H */
