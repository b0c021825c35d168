// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floor.bpf.c - the least an enforcing program does per frame, for
 * scripts/bench's "floor" rows: find the arriving interface's entry (one
 * array value by ifindex) and count the frame (one per-CPU counter). No
 * parsing, no decision. fabricguard does both of these through the same map
 * types (fg_interfaces, fg_counters); what this costs over the empty program
 * under real traffic is a floor no decision can go below while it counts
 * per interface, as the SPEC's counters require.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct floor_counter {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} fg_floor_slot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct floor_counter);
} fg_floor_counters SEC(".maps");

static __always_inline void fg_floor_count(__u32 ifindex, __u64 len)
{
	__u32 *slot = bpf_map_lookup_elem(&fg_floor_slot, &ifindex);
	struct floor_counter *counter;

	if (!slot)
		return;
	counter = bpf_map_lookup_elem(&fg_floor_counters, slot);
	if (!counter)
		return;
	counter->packets++;
	counter->bytes += len;
}

SEC("tc")
int fg_floor_tc(struct __sk_buff *skb)
{
	fg_floor_count(skb->ifindex, skb->len);
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int fg_floor_xdp(struct xdp_md *ctx)
{
	fg_floor_count(ctx->ingress_ifindex, bpf_xdp_get_buff_len(ctx));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
