// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floor.bpf.c - scripts/bench's "floor" rows under real traffic: the count
 * of floor.h and nothing else (no parsing, no decision). What this costs over
 * the empty program is a floor no decision can go below while it counts per
 * interface.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "floor.h"

SEC("tc")
int fg_floor_tc(struct __sk_buff *skb)
{
	fg_floor_count(skb->ifindex, skb->len);
	return TC_ACT_UNSPEC;
}

/* The length as fabricguard takes it when loaded with CAP_PERFMON, as the bench
 * loads both: data_end - data, no helper call. */
SEC("xdp")
int fg_floor_xdp(struct xdp_md *ctx)
{
	fg_floor_count(ctx->ingress_ifindex, (__u64)((void *)(long)ctx->data_end - (void *)(long)ctx->data));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
