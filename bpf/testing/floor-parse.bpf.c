// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floor-parse.bpf.c - scripts/bench's "parse floor" rows under real traffic:
 * the least a program that judges a frame by its source address does. It
 * finds the interface's entry (one array value by ifindex, holding the one
 * IPv4 source it owns), parses the headers with fabricguard's own parse.h
 * (Ethernet, up to two VLAN tags, a validated IPv4 header), compares the
 * source with the entry's and counts the frame by the answer in one per-CPU
 * counter (floor.h's). No generation, no prefix tables, no events: what
 * fabricguard costs over this program is its decision proper. IPv4 only (the
 * bench's flow); the headers are taken as linear, as the bench's frames are.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "floor.h"
#include "parse.h"

/* ifindex -> the IPv4 source the interface owns (network order; 0 owns none):
 * the entry in place of floor.h's fg_floor_slot, which this program leaves unread. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} fg_floor_owner SEC(".maps");

/* Counts the frame in floor.h's counter 1 when its source is the owned one, else 0. */
static __always_inline void fg_floor_judge(void *data, void *data_end, __u32 ifindex, __u64 len)
{
	__u32 *owned = bpf_map_lookup_elem(&fg_floor_owner, &ifindex);
	struct hdr_cursor nh = { .pos = data };
	struct iphdr *iph;
	__u32 match = 0;

	if (!owned)
		return;
	if (parse_ethhdr(&nh, data_end) == ETH_P_IP && parse_iphdr(&nh, data_end, &iph) >= 0)
		match = iph->saddr == *owned;
	fg_floor_add(match, len);
}

SEC("tc")
int fg_floor_parse_tc(struct __sk_buff *skb)
{
	fg_floor_judge((void *)(long)skb->data, (void *)(long)skb->data_end, skb->ifindex, skb->len);
	return TC_ACT_UNSPEC;
}

/* The length as floor.bpf.c takes it: data_end - data (the bench loads as root). */
SEC("xdp")
int fg_floor_parse_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	fg_floor_judge(data, data_end, ctx->ingress_ifindex, (__u64)(data_end - data));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
