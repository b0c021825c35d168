// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floor-redirect.bpf.c - the least a program that moves misrouted traffic to
 * the right NIC does per frame, for scripts/bench's redirect section: the
 * count of floor.h, then every IPv4 frame handed to the interface in
 * fg_floor_target with bpf_redirect_neigh, as fabricguard's redirect does,
 * the helper looking the route up. No decision, and nothing on the target
 * NIC. Its pps against policy routing's is the ceiling of any redirecting
 * design.
 *
 * Asked to (key 1), it gives the helper the destination as the next hop
 * instead, which spares the route lookup: a measurement of what that lookup
 * costs, not a way fabricguard may take. At tc egress the frame keeps the
 * route it was misrouted by, and a frame queued while the target resolves
 * its neighbour leaves through that route's neighbour, with the wrong fabric's
 * MAC addresses (README "Redirect: the route lookup is the floor").
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "floor.h"

#define FLOOR_AF_INET 2

/* Key 0: the ifindex to redirect to (set by the bench after attaching; 0
 * passes). Key 1: non-zero hands the destination over as the next hop. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} fg_floor_target SEC(".maps");

SEC("tc")
int fg_floor_redirect(struct __sk_buff *skb)
{
	__u32 zero = 0, one = 1, *target = bpf_map_lookup_elem(&fg_floor_target, &zero);
	__u32 *direct = bpf_map_lookup_elem(&fg_floor_target, &one);
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct bpf_redir_neigh nexthop = { .nh_family = FLOOR_AF_INET };

	fg_floor_count(skb->ifindex, skb->len);
	if (!target || !*target || skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	if (!direct || !*direct || (void *)(iph + 1) > data_end)
		return bpf_redirect_neigh(*target, NULL, 0, 0);
	nexthop.ipv4_nh = iph->daddr;
	return bpf_redirect_neigh(*target, &nexthop, sizeof(nexthop), 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
