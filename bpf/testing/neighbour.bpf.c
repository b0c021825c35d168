// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * neighbour.bpf.c - another tool's tc program, for the coexistence tests: it
 * counts the frames it sees and has no objection to any (TC_ACT_UNSPEC: tcx's
 * TCX_NEXT, cls_bpf's "continue"). Attached as a tcx link by
 * fabricguard-selftest and as a classic clsact filter by tc(8).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} fg_neighbour_seen SEC(".maps");

SEC("tc")
int fg_neighbour(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *seen = bpf_map_lookup_elem(&fg_neighbour_seen, &key);

	if (seen)
		__sync_fetch_and_add(seen, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
