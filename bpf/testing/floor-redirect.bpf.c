// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floor-redirect.bpf.c - the least a program that moves misrouted traffic to
 * the right NIC does per frame, for scripts/bench's redirect section: the
 * count of floor.h, then every IPv4 frame handed to the interface in
 * fg_floor_target with bpf_redirect_neigh, as fabricguard's redirect does.
 * No parsing past the EtherType, no decision, and nothing on the target NIC.
 * Its pps against policy routing's is the ceiling of any redirecting design.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "floor.h"

/* Key 0: the ifindex to redirect to (set by the bench after attaching; 0 passes). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fg_floor_target SEC(".maps");

SEC("tc")
int fg_floor_redirect(struct __sk_buff *skb)
{
	__u32 zero = 0, *target = bpf_map_lookup_elem(&fg_floor_target, &zero);

	fg_floor_count(skb->ifindex, skb->len);
	if (!target || !*target || skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	return bpf_redirect_neigh(*target, NULL, 0, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
