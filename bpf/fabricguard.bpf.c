// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fabricguard.bpf.c - the entry points: thin adapters from skb / xdp_md to
 * decide() (include/decide.h), the verdict recorded (include/record.h), then
 * turned into the hook's return code. All three share the maps of include/maps.h.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "decide.h"
#include "globals.h"
#include "record.h"

/* Enough linear bytes for Ethernet, two VLAN tags and the largest IPv4 header;
 * below FG_STEP_LIMIT, for fg_advance. */
#define FG_HEADER_BYTES (14 + 2 * 4 + 60)
_Static_assert(FG_HEADER_BYTES < FG_STEP_LIMIT, "fg_advance takes the pull length");

/* A frame pointer read afresh from the context, for fg_report after decide().
 * The pointers decide() parsed with carry the packet range its bounds checks
 * proved, which differs with the header lengths (fg_advance's paths, one per
 * IPv4 header length): kept alive to the end, they would keep the verifier
 * from merging those paths and multiply the whole program's states. A fresh
 * read is a new pointer with no proven range; the volatile read keeps clang
 * from reusing the first. */
static __always_inline void *fg_ctx_ptr(const __u32 *field)
{
	return (void *)(long)*(volatile const __u32 *)field;
}

static __always_inline int fg_tc(struct __sk_buff *skb, __u32 direction)
{
	struct fg_verdict v;
	void *data, *data_end;

	/* Headers may sit outside the linear area (GSO, paged skbs); judging a
	 * partial header would misread a good frame as malformed. The pull is
	 * made only when the linear area is short of FG_HEADER_BYTES and of the
	 * frame (a pull of bytes already linear can still copy a cloned head).
	 * Compared as pointers, not as the length data_end - data: subtracting
	 * packet pointers needs allow_ptr_leaks (CAP_PERFMON). */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + FG_HEADER_BYTES > data_end) {
		__u32 len = skb->len;

		/* A frame shorter than FG_HEADER_BYTES (a TCP ACK, a small UDP
		 * datagram) is whole when data + len is within it: one variable add
		 * with CAP_PERFMON, fg_advance's seven steps without. */
		if (len >= FG_HEADER_BYTES)
			bpf_skb_pull_data(skb, FG_HEADER_BYTES);
		else if ((fg_perfmon ? data + len : fg_advance(data, len)) > data_end)
			bpf_skb_pull_data(skb, len);
	}

	/* Re-read: a pull moves the linear area. */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	v = decide(data, data_end, skb->ifindex, direction);
	fg_count(&v, direction, skb->len);
	if (v.action != FG_ACTION_PASS)
		fg_report(&v, direction, skb->ifindex, fg_ctx_ptr(&skb->data), fg_ctx_ptr(&skb->data_end), skb->len);

	switch (v.action) {
	case FG_ACTION_DROP:
		return TC_ACT_SHOT;
	case FG_ACTION_REDIRECT:
		return bpf_redirect_neigh(v.redirect_ifindex, NULL, 0, 0);
	default:
		/* "No objection", not "accept": TC_ACT_UNSPEC is tcx's TCX_NEXT
		 * and cls_bpf's "continue" (direct action), so the programs and
		 * filters after this one still judge the frame; with none left
		 * the kernel passes it. TC_ACT_OK would end the hook for every
		 * frame we pass, starving whoever runs after us. */
		return TC_ACT_UNSPEC;
	}
}

SEC("tc")
int fg_tc_egress(struct __sk_buff *skb)
{
	return fg_tc(skb, FG_DIR_EGRESS);
}

SEC("tc")
int fg_tc_ingress(struct __sk_buff *skb)
{
	return fg_tc(skb, FG_DIR_INGRESS);
}

SEC("xdp")
int fg_xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	/* The frame's length: data_end - data with CAP_PERFMON (subtracting packet
	 * pointers needs it), else from the helper, whose call and return cost
	 * about 8 ns a frame under this CPU's SRSO mitigation. Without frags (this
	 * program is not xdp.frags) the two are the same. Taken before decide(),
	 * as a number: the pointers themselves are not kept past it (fg_ctx_ptr). */
	__u64 len = fg_perfmon ? (__u64)(data_end - data) : bpf_xdp_get_buff_len(ctx);
	struct fg_verdict v = decide(data, data_end, ctx->ingress_ifindex, FG_DIR_INGRESS);

	fg_count(&v, FG_DIR_INGRESS, len);
	if (v.action != FG_ACTION_PASS)
		fg_report(&v, FG_DIR_INGRESS, ctx->ingress_ifindex, fg_ctx_ptr(&ctx->data), fg_ctx_ptr(&ctx->data_end), len);
	/* Ingress never redirects: a violation is dropped or, in audit, passed. */
	return v.action == FG_ACTION_DROP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
