/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * decide.h - THE decision (docs/decision.md), written once for every hook.
 *
 * Context-free: it sees frame bytes, an ifindex and a direction, nothing of
 * skb or xdp_md, so tc egress, tc ingress and XDP share it through thin
 * adapters. Sources/FabricReference/ReferenceDatapath.swift mirrors it step
 * for step and is its test oracle.
 */
#ifndef FABRICGUARD_DECIDE_H
#define FABRICGUARD_DECIDE_H

#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fabricguard_abi.h"
#include "maps.h"
#include "parse.h"

/* The addresses a frame carries, IPv4 in IPv4-mapped form (::ffff:a.b.c.d). */
struct fg_packet {
	__u32 is_ipv6;
	__u32 is_arp;
	__u32 has_dst; /* 0 for ARP replies: only requests meet the destination rule */
	__u64 src[2]; /* the 16-byte forms as two words, as the prefix tables hold them */
	__u64 dst[2];
};

enum {
	FG_PARSED_IP = 0,
	FG_PARSED_NOT_IP = 1,
	FG_PARSED_MALFORMED = 2,
};

/* ::ffff:a.b.c.d as words: bytes 10-11 are 0xff, 12-15 the address. */
static __always_inline void fg_map_v4(__u64 *out, __u32 addr)
{
	out[0] = 0;
	out[1] = 0xffff0000ULL | (__u64)addr << 32;
}

static __always_inline __u32 fg_load_u32(const void *bytes)
{
	__u32 value;

	__builtin_memcpy(&value, bytes, 4);
	return value;
}

/* Ethernet, up to two VLAN tags, then ARP, IPv4 or IPv6 (classify() in Swift). */
static __always_inline int fg_parse_frame(void *data, void *data_end, struct fg_packet *pkt)
{
	struct hdr_cursor nh = { .pos = data };
	struct arp_ipv4 *arp;
	struct ipv6hdr *ip6h;
	struct iphdr *iph;
	int proto;

	proto = parse_ethhdr(&nh, data_end);
	if (proto < 0)
		return FG_PARSED_MALFORMED;

	switch (proto) {
	case ETH_P_IP:
		if (parse_iphdr(&nh, data_end, &iph) < 0)
			return FG_PARSED_MALFORMED;
		fg_map_v4(pkt->src, iph->saddr);
		fg_map_v4(pkt->dst, iph->daddr);
		pkt->has_dst = 1;
		return FG_PARSED_IP;
	case ETH_P_IPV6:
		if (parse_ip6hdr(&nh, data_end, &ip6h) < 0)
			return FG_PARSED_MALFORMED;
		__builtin_memcpy(pkt->src, &ip6h->saddr, 16);
		__builtin_memcpy(pkt->dst, &ip6h->daddr, 16);
		pkt->is_ipv6 = 1;
		pkt->has_dst = 1;
		return FG_PARSED_IP;
	case ETH_P_ARP:
		proto = parse_arphdr(&nh, data_end, &arp);
		if (proto < 0)
			return FG_PARSED_MALFORMED;
		if (proto != ETH_P_IP)
			return FG_PARSED_NOT_IP;
		fg_map_v4(pkt->src, fg_load_u32(arp->spa));
		fg_map_v4(pkt->dst, fg_load_u32(arp->tpa));
		pkt->is_arp = 1;
		pkt->has_dst = arp->op == bpf_htons(1 /* ARPOP_REQUEST */);
		return FG_PARSED_IP;
	default:
		return FG_PARSED_NOT_IP;
	}
}

/* The hash of `addr` masked to `table`'s length, the masked words in k0, k1. */
static __always_inline __u64 fg_table_key(const struct fg_prefix_table *table, const __u64 *addr, __u64 *k0, __u64 *k1)
{
	*k0 = addr[0] & table->netmask[0];
	*k1 = addr[1] & table->netmask[1];
	return *k0 * FG_HASH_K0 + *k1 * FG_HASH_K1;
}

/* False when the table's filter shows it holds no key of this hash. */
static __always_inline int fg_table_may_hold(const struct fg_prefix_table *table, __u64 hash)
{
	return (table->filter >> (hash >> 58)) & 1;
}

/* The bucket `probe` steps past the key's home in `table`. */
static __always_inline struct fg_prefix_bucket *fg_bucket(void *buckets, const struct fg_prefix_table *table, __u64 hash,
							  __u32 probe)
{
	__u32 index = table->base + (((__u32)(hash >> (table->shift & 63)) + probe) & table->mask);

	return bpf_map_lookup_elem(buckets, &index);
}

struct fg_prefix_search {
	void *buckets;
	const struct fg_prefix_tables *tables;
	__u64 addr[2];
	__u32 value;
};

/* bpf_loop body: the index-th longest table, probed up to FG_MAX_PROBES
 * buckets; 1 (stop) on a hit. A callback is verified once, where the same
 * probe loop inline is walked for every length (7.7 s of verification for
 * the object with 32 lengths here). */
static long fg_probe_length(__u32 index, struct fg_prefix_search *search)
{
	const struct fg_prefix_table *table;
	struct fg_prefix_bucket *bucket;
	__u64 k0, k1, hash;

	if (index >= FG_MAX_PREFIX_LENGTHS)
		return 1;
	table = &search->tables->table[index];
	hash = fg_table_key(table, search->addr, &k0, &k1);
	if (!fg_table_may_hold(table, hash))
		return 0;
	for (__u32 probe = 0; probe < FG_MAX_PROBES; probe++) {
		bucket = fg_bucket(search->buckets, table, hash, probe);
		if (!bucket)
			return 0;
#pragma unroll
		for (int slot = 0; slot < FG_PREFIX_SLOTS; slot++) {
			if (!bucket->value[slot])
				return 0;
			if (bucket->addr[slot][0] == k0 && bucket->addr[slot][1] == k1) {
				search->value = bucket->value[slot];
				return 1;
			}
		}
	}
	return 0;
}

/* The table after `table`, stepped only for a table the search goes on to
 * read. Left to itself clang steps its pointer at the end of every pass, the
 * last step landing past the map value, and without allow_ptr_leaks
 * (CAP_PERFMON) the verifier refuses arithmetic out of a map value's range,
 * read or not. Indexing instead (tables->table[i]) meets the verifier with
 * another constant offset at the same instruction on every pass of the loop,
 * which unprivileged it cannot mask ("different maps, paths or scalars"). In
 * an asm the step is one immediate add where it stands. */
static __always_inline const struct fg_prefix_table *fg_next_table(const struct fg_prefix_table *table)
{
	asm volatile("%0 += %1" : "+r"(table) : "i"(sizeof(*table)));
	return table;
}

/* The first hit in table set `set` of `bank` for `addr` (16-byte form), as
 * its fg_prefix_bucket value; the tables are probed longest length first, so
 * for prefixes the first hit is the longest match. 0: no table holds it.
 *
 * Nearly every key sits in its home bucket, so a plain loop reads just that
 * bucket per length: a free slot without the key is a miss. Only a full home
 * bucket without the key sends the search to the bpf_loop, which probes the
 * lengths in full (again from the longest: the shorter way is not worth a
 * second verified copy). The plain loop is cheap to verify (one bucket per
 * length, no probe loop), and it spares the common case the callback's call
 * and return per length, which are dear under the SRSO mitigation of this
 * CPU: ~12 ns for an egress decision, ~35 ns for an XDP local destination.
 * The slot scan is written out here and in fg_probe_length on purpose: a
 * shared helper answering hit / miss / full gave the verifier three value
 * states to carry on, and the object took 1.1 s to verify instead of 0.37. */
static __always_inline __u32 fg_lookup_tables(__u32 bank, __u32 set, const __u64 *addr)
{
	__u32 key = bank * FG_TABLE_SETS + set;
	struct fg_prefix_search search = { .addr = { addr[0], addr[1] } };
	const struct fg_prefix_table *table;
	struct fg_prefix_tables *tables;
	int full = 0;

	tables = bpf_map_lookup_elem(&fg_prefix_tables, &key);
	search.buckets = bpf_map_lookup_elem(&fg_prefixes, &bank);
	if (!tables || !search.buckets)
		return 0;
	table = tables->table;
	for (__u32 i = 0; i < tables->count;) {
		struct fg_prefix_bucket *bucket;
		__u64 k0, k1, hash;

		hash = fg_table_key(table, search.addr, &k0, &k1);
		if (!fg_table_may_hold(table, hash))
			goto next_length;
		bucket = fg_bucket(search.buckets, table, hash, 0);
		if (!bucket)
			return 0;
#pragma unroll
		for (int slot = 0; slot < FG_PREFIX_SLOTS; slot++) {
			if (!bucket->value[slot])
				goto next_length;
			if (bucket->addr[slot][0] == k0 && bucket->addr[slot][1] == k1)
				return bucket->value[slot];
		}
		full = 1;
		break;
next_length:
		/* The step after the bound: see fg_next_table. */
		if (++i >= FG_MAX_PREFIX_LENGTHS)
			break;
		table = fg_next_table(table);
	}
	if (!full)
		return 0;
	search.tables = tables;
	bpf_loop(tables->count, fg_probe_length, &search, 0);
	return search.value;
}

/* The longest owner/exempt prefix containing the address, 0 when none does;
 * remembered per CPU for `generation` (fg_source_memo). No lock: tc and XDP
 * programs run with bottom halves off, which on PREEMPT_RT as well is a
 * per-CPU lock, so two runs on one CPU never interleave and an entry is
 * always written whole before the next run reads it. */
static __always_inline __u32 fg_lookup_prefix(__u32 bank, __u64 generation, const __u64 *addr, __u32 is_ipv6)
{
	__u32 flags = bank | is_ipv6 << 1 | FG_SOURCE_MEMO_USED;
	__u32 index = ((addr[0] ^ addr[1]) * FG_HASH_K0) >> (64 - FG_SOURCE_MEMO_BITS);
	struct fg_source_memo *memo = bpf_map_lookup_elem(&fg_source_memo, &index);

	/* Never taken (the index is below FG_SOURCE_MEMO_ENTRIES), but the
	 * verifier walks it: answered without the tables, it adds no path. */
	if (!memo)
		return 0;
	if (memo->generation != generation || memo->flags != flags || memo->addr[0] != addr[0] ||
	    memo->addr[1] != addr[1]) {
		memo->value = fg_lookup_tables(bank, is_ipv6 ? FG_TABLES_IPV6 : FG_TABLES_IPV4, addr);
		memo->generation = generation;
		memo->addr[0] = addr[0];
		memo->addr[1] = addr[1];
		memo->flags = flags;
	}
	/* Read back, hit or miss, as the verifier sees any map value: one
	 * unknown answer, so the paths after the lookup are walked once (the
	 * tables' own constant answers split them further, and cost 25 % more
	 * verification when returned as they were). */
	return *(volatile __u32 *)&memo->value;
}

/* One of this host's owned addresses: its local table value, 0 when not. */
static __always_inline __u32 fg_lookup_local(__u32 bank, const __u64 *addr)
{
	return fg_lookup_tables(bank, FG_TABLES_LOCAL, addr);
}

/* The interface's settings in `bank`, NULL when the policy does not manage it
 * (no entry, or a zeroed one: every managed interface has a fabric). */
static __always_inline struct fg_interface_value *fg_lookup_interface(__u32 bank, __u32 ifindex)
{
	struct fg_interface_value *iface;
	__u32 index = bank * FG_INTERFACE_ENTRIES + ifindex;

	if (ifindex >= FG_DIRECT_IFINDEXES) {
		struct fg_interface_key key = { .bank = bank, .ifindex = ifindex };
		__u32 *slot = bpf_map_lookup_elem(&fg_interfaces_far, &key);

		if (!slot)
			return NULL;
		index = bank * FG_INTERFACE_ENTRIES + FG_DIRECT_IFINDEXES + *slot;
	}
	/* One call site for both ways, and only this map reaches it: the
	 * verifier inlines the lookup (a generic helper call cost 66 ns a frame;
	 * LifecycleTests' theEntryPointsInlineEveryMapLookup watches for it). */
	iface = bpf_map_lookup_elem(&fg_interfaces, &index);
	if (!iface || !iface->fabric_id)
		return NULL;
	return iface;
}

/* The interface's entry for `addr` when it is one of the host addresses that
 * pass when they leave the interface (the compiler's list), else NULL. */
static __always_inline const struct fg_fast_source *fg_own_address(const struct fg_interface_value *iface,
								   const __u64 *addr)
{
	for (int i = 0; i < FG_FAST_SOURCES; i++) {
		if (!iface->fast[i].used)
			break;
		if (iface->fast[i].addr[0] == addr[0] && iface->fast[i].addr[1] == addr[1])
			return &iface->fast[i];
	}
	return NULL;
}

static __always_inline struct fg_verdict fg_verdict_of(__u32 reason, __u32 action, __u32 slot)
{
	struct fg_verdict v = { .reason = reason, .action = action, .counter_slot = slot };

	return v;
}

/* A violation: drop or redirect under enforce, would_* under audit. A redirect
 * goes to the owning fabric's NIC that holds the source, else its first usable
 * NIC; with neither, the frame drops as redirect_unavailable. */
static __always_inline struct fg_verdict fg_violation(__u32 reason, const struct fg_dir_config *cfg, int redirect,
						      __u32 bank, const struct fg_packet *pkt, __u32 owner,
						      __u32 slot)
{
	int enforce = cfg->mode == FG_MODE_ENFORCE;
	struct fg_verdict v = fg_verdict_of(reason, enforce ? FG_ACTION_DROP : FG_ACTION_WOULD_DROP, slot);
	struct fg_fabric_value *fabric;
	struct fg_local_value *local;
	__u32 index, found, target = 0;

	if (!redirect)
		return v;
	found = fg_lookup_local(bank, pkt->src);
	if (found) {
		index = bank * FG_MAX_LOCAL_ADDRS + FG_LOCAL_INDEX(found);
		local = bpf_map_lookup_elem(&fg_locals, &index);
		if (local)
			target = local->redirect_ifindex;
	} else {
		index = bank * FG_MAX_FABRICS + owner;
		fabric = bpf_map_lookup_elem(&fg_fabrics, &index);
		if (fabric)
			target = fabric->redirect_ifindex;
	}
	if (!target) {
		v.reason = FG_REASON_REDIRECT_UNAVAILABLE;
		return v;
	}
	v.action = enforce ? FG_ACTION_REDIRECT : FG_ACTION_WOULD_REDIRECT;
	v.redirect_ifindex = target;
	return v;
}

static __always_inline struct fg_verdict decide(void *data, void *data_end, __u32 ifindex, __u32 direction)
{
	struct fg_packet pkt = {};
	struct fg_interface_value *iface;
	const struct fg_fast_source *own;
	__u32 local;
	struct fg_dir_config cfg;
	struct fg_state *state;
	__u32 zero = 0, bank, source, owner, slot;
	__u64 generation;
	int parsed;

	/* The active generation is read once: every lookup below uses this bank. */
	state = bpf_map_lookup_elem(&fg_state, &zero);
	if (!state)
		return fg_verdict_of(FG_REASON_UNMANAGED, FG_ACTION_PASS, FG_UNMANAGED_SLOT);
	bank = *(volatile __u32 *)&state->active_bank & 1;
	generation = *(volatile __u64 *)&state->generation;

	/* 1. fabric(I) is none, or this direction's hook is off. */
	iface = fg_lookup_interface(bank, ifindex);
	if (!iface)
		return fg_verdict_of(FG_REASON_UNMANAGED, FG_ACTION_PASS, FG_UNMANAGED_SLOT);
	slot = iface->counter_slot;
	cfg = direction == FG_DIR_EGRESS ? iface->egress : iface->ingress;
	if (cfg.mode == FG_MODE_OFF)
		return fg_verdict_of(FG_REASON_UNMANAGED, FG_ACTION_PASS, slot);

	/* 2-3. Non-IP passes; a truncated or invalid header is a violation. */
	parsed = fg_parse_frame(data, data_end, &pkt);
	if (parsed == FG_PARSED_NOT_IP)
		return fg_verdict_of(FG_REASON_NOT_IP, FG_ACTION_PASS, slot);
	if (parsed == FG_PARSED_MALFORMED)
		return fg_violation(FG_REASON_MALFORMED, &cfg, 0, bank, &pkt, 0, slot);

	/* Egress from one of the host's own addresses that this interface passes
	 * (steps 4-5 precomputed by the compiler): no prefix lookup. */
	if (direction == FG_DIR_EGRESS) {
		own = fg_own_address(iface, pkt.src);
		if (own)
			return fg_verdict_of(own->reason, FG_ACTION_PASS, slot);
	}

	/* 4. Exempt sources (DHCP, DAD, link-local) pass in both directions. */
	source = fg_lookup_prefix(bank, generation, pkt.src, pkt.is_ipv6);
	if (source & FG_PREFIX_EXEMPT)
		return fg_verdict_of(FG_REASON_EXEMPT, FG_ACTION_PASS, slot);
	owner = source & FG_PREFIX_FABRIC_MASK;

	if (direction == FG_DIR_EGRESS) {
		/* 5. The source belongs to the fabric it leaves through. */
		if (owner == iface->fabric_id)
			return fg_verdict_of(FG_REASON_OK, FG_ACTION_PASS, slot);
		/* 6. A source no fabric owns: the policy's `unowned` decides. */
		if (!owner) {
			if (cfg.unowned == FG_UNOWNED_PASS)
				return fg_verdict_of(FG_REASON_UNOWNED_SOURCE, FG_ACTION_PASS, slot);
			return fg_violation(FG_REASON_UNOWNED_SOURCE, &cfg, 0, bank, &pkt, 0, slot);
		}
		/* 7. Another fabric's source. ARP is never redirected: bpf_redirect_neigh
		 * handles IP only, and the owning NIC resolves its own neighbours. */
		return fg_violation(FG_REASON_FOREIGN_SOURCE, &cfg,
				    cfg.action == FG_VIOLATION_REDIRECT && !pkt.is_arp, bank, &pkt, owner, slot);
	}

	/* Ingress 5: a source owned by another fabric. */
	if ((cfg.checks & FG_CHECK_SOURCE) && owner && owner != iface->fabric_id)
		return fg_violation(FG_REASON_FOREIGN_SOURCE, &cfg, 0, bank, &pkt, owner, slot);
	/* Ingress 6: strong host: one of our addresses, owned by another fabric.
	 * An address of this interface's list owned by its own fabric (reason ok)
	 * is a local of this fabric: the common case needs no local lookup. */
	if ((cfg.checks & FG_CHECK_DESTINATION) && pkt.has_dst) {
		own = fg_own_address(iface, pkt.dst);
		if (own && own->reason == FG_REASON_OK)
			return fg_verdict_of(FG_REASON_OK, FG_ACTION_PASS, slot);
		local = fg_lookup_local(bank, pkt.dst);
		if (local && FG_LOCAL_FABRIC(local) != iface->fabric_id)
			return fg_violation(FG_REASON_FOREIGN_DESTINATION, &cfg, 0, bank, &pkt, owner, slot);
	}
	return fg_verdict_of(FG_REASON_OK, FG_ACTION_PASS, slot);
}

#endif /* FABRICGUARD_DECIDE_H */
