/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maps.h - the BTF-defined maps, named as fabricguard_abi.h names them.
 * The agent pins them under its pin directory and reuses them across loads.
 */
#ifndef FABRICGUARD_MAPS_H
#define FABRICGUARD_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "fabricguard_abi.h"

/* One trie per bank; the agent creates each with this very shape
 * (ABIMaps.tries on the Swift side) and swaps it into its slot. Sizes, not
 * __type: clang describes types reached only through these pointers as
 * forward declarations, whose size libbpf cannot determine. */
struct fg_prefix_v4_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(key_size, sizeof(struct fg_prefix_v4_key));
	__uint(value_size, sizeof(struct fg_prefix_value));
	__uint(max_entries, FG_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct fg_prefix_v6_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(key_size, sizeof(struct fg_prefix_v6_key));
	__uint(value_size, sizeof(struct fg_prefix_value));
	__uint(max_entries, FG_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FG_BANKS);
	__type(key, __u32);
	__array(values, struct fg_prefix_v4_trie);
} fg_prefix_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FG_BANKS);
	__type(key, __u32);
	__array(values, struct fg_prefix_v6_trie);
} fg_prefix_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fg_interface_key);
	__type(value, struct fg_interface_value);
	__uint(max_entries, FG_MAX_INTERFACES * FG_BANKS);
} fg_interfaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fg_local_key);
	__type(value, struct fg_local_value);
	__uint(max_entries, FG_MAX_LOCAL_ADDRS * FG_BANKS);
} fg_locals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_fabric_value);
	__uint(max_entries, FG_MAX_FABRICS * FG_BANKS);
} fg_fabrics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_state);
	__uint(max_entries, 1);
} fg_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_counter_value);
	__uint(max_entries, FG_COUNTER_ENTRIES);
} fg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FG_EVENTS_RING_BYTES);
} fg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_event_budget);
	__uint(max_entries, 1);
} fg_event_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_agent_meta);
	__uint(max_entries, 1);
} fg_agent_meta SEC(".maps");

/* Written only when the loader sets fg_record_verdicts (the test tiers, which
 * run one frame at a time: a plain array is enough and easy to read back). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_verdict);
	__uint(max_entries, 1);
} fg_last_verdict SEC(".maps");

#endif /* FABRICGUARD_MAPS_H */
