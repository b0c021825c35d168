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

/* The bucket array of one bank (fabricguard_abi.h, "Prefixes"). The agent
 * creates each with this shape at the size its policy needs (hence
 * BPF_F_INNER_MAP: inner arrays of any length), fills it through mmap and
 * puts it in its bank's slot; a later policy that fits is written into the
 * standby bank's array in place. ABIMaps.buckets on the Swift side. Sizes,
 * not __type: clang describes types reached only through these pointers as
 * forward declarations, whose size libbpf cannot determine. */
struct fg_prefix_buckets {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct fg_prefix_bucket));
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FG_BANKS);
	__type(key, __u32);
	__array(values, struct fg_prefix_buckets);
} fg_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_prefix_tables);
	__uint(max_entries, FG_BANKS * FG_TABLE_SETS);
} fg_prefix_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_interface_value);
	__uint(max_entries, FG_INTERFACE_ENTRIES * FG_BANKS);
	__uint(map_flags, BPF_F_MMAPABLE);
} fg_interfaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct fg_interface_key);
	__type(value, __u32);
	__uint(max_entries, FG_MAX_INTERFACES * FG_BANKS);
} fg_interfaces_far SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
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
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_counter_value);
	__uint(max_entries, FG_COUNTER_ENTRIES); /* times the possible CPUs, set at load */
} fg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FG_EVENTS_RING_BYTES);
} fg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_event_bucket);
	__uint(max_entries, FG_EVENT_ENTRIES);
} fg_event_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_event_tally);
	__uint(max_entries, FG_EVENT_ENTRIES);
} fg_event_tally SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_settings);
	__uint(max_entries, FG_BANKS);
} fg_settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_agent_meta);
	__uint(max_entries, 1);
} fg_agent_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_source_memo);
	__uint(max_entries, FG_SOURCE_MEMO_ENTRIES);
} fg_source_memo SEC(".maps");

/* Written only when the loader sets fg_record_verdicts (the test tiers, which
 * run one frame at a time: a plain array is enough and easy to read back). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fg_verdict);
	__uint(max_entries, 1);
} fg_last_verdict SEC(".maps");

#endif /* FABRICGUARD_MAPS_H */
