/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * floor.h - the least an enforcing program does per frame, shared by the
 * bench's floor programs (floor.bpf.c, floor-redirect.bpf.c): find the
 * interface's entry (one array value by ifindex) and count the frame (one
 * per-CPU counter). fabricguard does both through the same map types
 * (fg_interfaces, fg_counters), as the SPEC's counters require.
 */
#ifndef FABRICGUARD_FLOOR_H
#define FABRICGUARD_FLOOR_H

#include <linux/bpf.h>
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

/* Counts a frame of `len` bytes in counter `index`. */
static __always_inline void fg_floor_add(__u32 index, __u64 len)
{
	struct floor_counter *counter = bpf_map_lookup_elem(&fg_floor_counters, &index);

	if (!counter)
		return;
	counter->packets++;
	counter->bytes += len;
}

static __always_inline void fg_floor_count(__u32 ifindex, __u64 len)
{
	__u32 *slot = bpf_map_lookup_elem(&fg_floor_slot, &ifindex);

	if (slot)
		fg_floor_add(*slot, len);
}

#endif /* FABRICGUARD_FLOOR_H */
