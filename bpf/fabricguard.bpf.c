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
#include "record.h"

/* Enough linear bytes for Ethernet, two VLAN tags and the largest IPv4 header. */
#define FG_HEADER_BYTES (14 + 2 * 4 + 60)

static __always_inline int fg_tc(struct __sk_buff *skb, __u32 direction)
{
	struct fg_verdict v;
	void *data, *data_end;

	/* Headers may sit outside the linear area (GSO, paged skbs); judging a
	 * partial header would misread a good frame as malformed. */
	if (skb->data_end - skb->data < FG_HEADER_BYTES && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < FG_HEADER_BYTES ? skb->len : FG_HEADER_BYTES);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	v = decide(data, data_end, skb->ifindex, direction);
	fg_record(&v, direction, skb->ifindex, data, data_end, skb->len);

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
	struct fg_verdict v = decide(data, data_end, ctx->ingress_ifindex, FG_DIR_INGRESS);

	fg_record(&v, FG_DIR_INGRESS, ctx->ingress_ifindex, data, data_end, data_end - data);
	/* Ingress never redirects: a violation is dropped or, in audit, passed. */
	return v.action == FG_ACTION_DROP ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
