/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fabricguard_abi.h - THE contract between the BPF programs and the agent.
 *
 * Every struct that crosses the kernel/userspace boundary, every numbered code
 * and every map or program name is written here once. The BPF programs include
 * it directly; Swift imports it through the CFabricABI module, never a copy.
 *
 * Rules for this file:
 *  - fixed-width fields only, explicit padding, no bool, no enum-typed fields
 *    (enums below only name constants; fields that hold them are __u8/__u32);
 *  - numbered codes are append-only: never renumber, never reuse a value;
 *  - bump FG_ABI_VERSION whenever a struct layout or a map definition changes.
 */
#ifndef FABRICGUARD_ABI_H
#define FABRICGUARD_ABI_H

#include <linux/types.h>

#define FG_ABI_VERSION 7

/* ---- Limits ------------------------------------------------------------ */

#define FG_MAX_FABRICS 64          /* fabric ids 1..63; 0 means "no fabric" */
#define FG_MAX_INTERFACES 256      /* counter slots 0..255 */
#define FG_DIRECT_IFINDEXES 4096   /* ifindexes below this find their interface without hashing */
#define FG_INTERFACE_ENTRIES (FG_DIRECT_IFINDEXES + FG_MAX_INTERFACES) /* fg_interfaces, per bank */
#define FG_MAX_VLAN_TAGS 2         /* 802.1Q / 802.1ad tags skipped per frame */
#define FG_MAX_PREFIXES 1048576    /* per family and per bank */
#define FG_MAX_PREFIX_LENGTHS 24   /* distinct prefix lengths per family */
#define FG_PREFIX_SLOTS 3          /* prefixes per 64-byte bucket */
#define FG_MAX_PROBES 8            /* buckets a lookup visits at most, per length */
#define FG_MAX_LOCAL_ADDRS 4096    /* per bank */
#define FG_FAST_SOURCES 4          /* local sources an interface passes on egress without a prefix lookup */
#define FG_BANKS 2                 /* active + standby policy generation */
#define FG_EVENT_HEAD_LEN 128      /* bytes of the frame copied into an event */
#define FG_DIGEST_LEN 32           /* SHA-256 of the compiled plan */
#define FG_EVENTS_RING_BYTES (256 * 1024)
#define FG_AGENT_META_LEN 65536    /* the agent's own record of what it applied */

/* The tc filter fabricguard owns on each hook: other filters are left alone. */
#define FG_TC_HANDLE 0xfab
#define FG_TC_PRIORITY 1

/* The counter slot used for frames on interfaces absent from the policy. */
#define FG_UNMANAGED_SLOT FG_MAX_INTERFACES

/* ---- Numbered codes (append-only) --------------------------------------- */

/* Why a frame got its verdict (docs/decision.md). */
enum fg_reason {
	FG_REASON_OK = 0,
	FG_REASON_EXEMPT = 1,
	FG_REASON_NOT_IP = 2,
	FG_REASON_UNMANAGED = 3,
	FG_REASON_MALFORMED = 4,
	FG_REASON_UNOWNED_SOURCE = 5,
	FG_REASON_FOREIGN_SOURCE = 6,
	FG_REASON_FOREIGN_DESTINATION = 7,
	FG_REASON_REDIRECT_UNAVAILABLE = 8,
	FG_REASON_COUNT = 9,
};

/* What was done with the frame. would_* pass the frame (audit mode). */
enum fg_action {
	FG_ACTION_PASS = 0,
	FG_ACTION_DROP = 1,
	FG_ACTION_REDIRECT = 2,
	FG_ACTION_WOULD_DROP = 3,
	FG_ACTION_WOULD_REDIRECT = 4,
	FG_ACTION_COUNT = 5,
};

enum fg_direction {
	FG_DIR_EGRESS = 0,
	FG_DIR_INGRESS = 1,
	FG_DIR_COUNT = 2,
};

/* Per-direction enforcement mode. OFF means the hook is not attached. */
enum fg_mode {
	FG_MODE_OFF = 0,
	FG_MODE_AUDIT = 1,
	FG_MODE_ENFORCE = 2,
};

/* What a violation does under FG_MODE_ENFORCE. Redirect is egress-only. */
enum fg_violation_action {
	FG_VIOLATION_DROP = 0,
	FG_VIOLATION_REDIRECT = 1,
};

/* What a source owned by no fabric does on egress. */
enum fg_unowned {
	FG_UNOWNED_PASS = 0,
	FG_UNOWNED_DROP = 1,
};

/* Ingress checks, a bit set. */
#define FG_CHECK_SOURCE (1U << 0)
#define FG_CHECK_DESTINATION (1U << 1)

/* ---- Map keys and values ------------------------------------------------ */

/*
 * Policy generations: two banks (generation & 1). A packet reads
 * fg_state.active_bank once and makes every lookup in that bank, so it is
 * judged by exactly one generation while the agent fills the standby bank and
 * flips. The small maps carry the bank in their keys or indexes; the prefix
 * buckets are one array per bank, in an array of maps indexed by bank.
 */

/*
 * Prefixes: one hash table per (family, prefix length) present in the
 * policy, probed longest length first, so the first hit is the longest
 * match. A table is a run of 64-byte buckets (one cache line each) in the
 * bank's bucket array; a key sits in the first free slot at or after its
 * home bucket, never more than FG_MAX_PROBES buckets on (the compiler grows
 * a table until that holds), so a lookup stops at a hit, at an empty slot or
 * after FG_MAX_PROBES buckets. Addresses are 16 bytes (IPv4 as
 * ::ffff:a.b.c.d), masked to the table's length before hashing:
 *
 *   x    = w0 * FG_HASH_K0 + w1 * FG_HASH_K1   (w0, w1: the masked bytes
 *          0-7 and 8-15 read as little-endian 64-bit words; wrapping)
 *   filter bit x >> 58 clear: the table does not hold the key (no bucket read)
 *   home = x >> shift                          (shift = 64 - log2(buckets))
 *   probe p visits bucket base + ((home + p) & mask)
 *
 * The filter has bit x >> 58 set for every key of the table: the tables of a
 * few keys each (exempt host addresses, say) cost a lookup no cache line.
 *
 * An exact-match hash per length costs one or two cache lines per packet
 * where an LPM trie walks a node per significant bit.
 */
#define FG_HASH_K0 0x9e3779b97f4a7c15ULL
#define FG_HASH_K1 0xc2b2ae3d27d4eb4fULL

/* fg_prefix_bucket.value: 0 marks an empty slot. */
#define FG_PREFIX_USED (1U << 31)
#define FG_PREFIX_EXEMPT (1U << 16)
#define FG_PREFIX_FABRIC_MASK 0xffffU

/* One bucket: the inner arrays of fg_prefixes hold these. */
struct fg_prefix_bucket {
	__u64 addr[FG_PREFIX_SLOTS][2]; /* masked address of each slot, as w0, w1 */
	__u32 value[FG_PREFIX_SLOTS];   /* FG_PREFIX_USED | flags | fabric id */
	__u32 pad;
};

/* Where one (family, length) table lives in the bank's bucket array. */
struct fg_prefix_table {
	__u64 netmask[2]; /* the length as a mask of the 16-byte form, as w0, w1 */
	__u32 base;       /* first bucket */
	__u32 mask;       /* buckets - 1; buckets is a power of two, at least 2 */
	__u32 shift;      /* 64 - log2(buckets) */
	__u32 length;     /* prefix length in the 16-byte form (IPv4: 96 + length) */
	__u64 filter;     /* bit x >> 58 of every key's hash x */
};

/* fg_prefix_tables: array indexed by bank * FG_TABLE_SETS + set, the tables
 * of one set, longest length first. */
enum fg_table_set {
	FG_TABLES_IPV4 = 0,   /* owner and exempt prefixes */
	FG_TABLES_IPV6 = 1,
	FG_TABLES_LOCAL = 2,  /* the host's owned addresses (both families) */
	FG_TABLE_SETS = 3,
};

struct fg_prefix_tables {
	__u32 count;
	__u32 pad;
	struct fg_prefix_table table[FG_MAX_PREFIX_LENGTHS];
};

/* Per-direction settings of an interface, resolved from its fabric. */
struct fg_dir_config {
	__u8 mode;      /* enum fg_mode */
	__u8 action;    /* enum fg_violation_action */
	__u8 unowned;   /* enum fg_unowned (egress only) */
	__u8 checks;    /* FG_CHECK_* (ingress only) */
};

/*
 * Interfaces: fg_interfaces is an array of interface entries, FG_INTERFACE_ENTRIES
 * per bank (mmap-able, so a bank is rewritten whole): an interface whose ifindex
 * is below FG_DIRECT_IFINDEXES has its entry at bank * FG_INTERFACE_ENTRIES +
 * ifindex; a larger ifindex finds its counter slot in the fg_interfaces_far hash
 * and its entry at bank * FG_INTERFACE_ENTRIES + FG_DIRECT_IFINDEXES + slot. An
 * entry with fabric_id 0 (a zeroed one) is an interface the policy does not
 * manage. One inlined array read per packet: an ifindex -> slot table in front
 * of a slot-indexed array cost 7 ns a frame more under real traffic (README
 * "Where the egress nanoseconds go"). Both ways end in the one array, so the
 * verifier walks what follows once: far entries kept in the hash itself made it
 * walk the decision twice (40 % more instructions to verify). 4,352 entries x 2
 * banks x 112 bytes is about the 1 MB the slot table took at 65,536 ifindexes.
 */
struct fg_interface_key { /* fg_interfaces_far */
	__u32 bank;
	__u32 ifindex;
};

/*
 * A host address that leaving this interface passes with `reason` (ok or
 * exempt), precomputed by the compiler from the same prefix table: egress
 * sources are nearly always the host's own, and this answers them without a
 * prefix lookup. Ingress destinations are nearly always the interface's own
 * too: one listed with reason ok is a local address of the interface's
 * fabric, which answers the strong-host check without a local lookup.
 * Anything else (violations included) takes the full path.
 */
struct fg_fast_source {
	__u64 addr[2];  /* the 16-byte form (IPv4 as ::ffff:a.b.c.d), as w0, w1 */
	__u32 reason;   /* FG_REASON_OK or FG_REASON_EXEMPT */
	__u32 used;     /* 0: an empty slot, and the end of the list */
};

struct fg_interface_value {
	__u32 fabric_id;
	__u32 counter_slot; /* 0..FG_MAX_INTERFACES-1 */
	struct fg_dir_config egress;
	struct fg_dir_config ingress;
	struct fg_fast_source fast[FG_FAST_SOURCES];
};

/*
 * Local addresses: this host's addresses owned by a fabric, in the 16-byte
 * form, as one more exact-match table of the bucket array (the third table
 * set of fg_prefix_tables, one table of length 128). A slot's value is
 * FG_PREFIX_USED | index << 8 | fabric id, and fg_locals (an array indexed
 * by bank * FG_MAX_LOCAL_ADDRS + index) holds the rest.
 */
#define FG_LOCAL_FABRIC_MASK 0xffU   /* bits 0-7: the owning fabric id */
#define FG_LOCAL_INDEX_SHIFT 8        /* bits 8-19: the fg_locals index */
#define FG_LOCAL_INDEX_MASK 0xfffU
#define FG_LOCAL_FABRIC(value) ((value) & FG_LOCAL_FABRIC_MASK)
#define FG_LOCAL_INDEX(value) (((value) >> FG_LOCAL_INDEX_SHIFT) & FG_LOCAL_INDEX_MASK)
_Static_assert(FG_MAX_FABRICS <= FG_LOCAL_FABRIC_MASK + 1, "a fabric id fits a local slot value");
_Static_assert(FG_MAX_LOCAL_ADDRS <= FG_LOCAL_INDEX_MASK + 1, "a local index fits a local slot value");

struct fg_local_value {
	__u32 fabric_id;
	__u32 redirect_ifindex; /* 0: no usable interface in the owning fabric */
};

/* fg_fabrics: array indexed by bank * FG_MAX_FABRICS + fabric_id. */
struct fg_fabric_value {
	__u32 redirect_ifindex; /* first listed interface that is up, 0: none */
	__u32 pad;
};

/* fg_state: array with one entry, the switch between generations. */
struct fg_state {
	__u64 generation;
	__u32 active_bank;
	__u32 abi_version;
	__u8 digest[FG_DIGEST_LEN];
};

/* fg_counters: a plain array holding every CPU's counters one CPU after the
 * other, indexed by fg_counter_key(cpu, fg_counter_index()); the loader sizes
 * it to the possible CPUs times FG_COUNTER_ENTRIES before load. Not a per-CPU
 * array: the kernel allocates a per-CPU array's values one by one (23,130 of
 * them on every first load, where this is one allocation of the same bytes),
 * and a per-CPU lookup reads the value's pointer before the value. */
struct fg_counter_value {
	__u64 packets;
	__u64 bytes;
};

/* fg_settings: array indexed by bank, the policy-wide settings of a generation. */
struct fg_settings {
	/* Events: a token bucket per (interface, reason), kept as the time the
	 * bucket is next empty (GCRA): an event leaves when that time is at most
	 * event_tolerance_ns ahead of now and pushes it event_interval_ns on.
	 * interval = 1 s / rate, tolerance = (burst - 1) * interval; an interval
	 * of 0 turns events off. */
	__u64 event_interval_ns;
	__u64 event_tolerance_ns;
};

/* fg_events: ring buffer of violations (sampled headers). */
struct fg_event {
	__u64 timestamp_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 generation;    /* the generation active when the event was sent */
	__u32 ifindex;
	__u32 redirect_ifindex;
	__u8 direction;
	__u8 reason;
	__u8 action;
	__u8 pad;
	__u16 frame_len;
	__u16 head_len;
	__u8 head[FG_EVENT_HEAD_LEN];
};

/*
 * fg_event_buckets: array indexed by fg_event_index(), one token bucket per
 * (interface slot, reason), shared by every CPU so that the rate is the
 * policy's whatever CPU a flood lands on. It holds the GCRA time of
 * fg_settings; a violation that finds it too far ahead is suppressed. At the
 * policy's rates the word changes a few hundred times a second, so a flood on
 * several CPUs reads a shared cache line rather than bouncing one.
 */
struct fg_event_bucket {
	__u64 next_ns;
};

/* fg_event_tally: per-CPU array indexed by fg_event_index(): what became of
 * the violations of one (interface slot, reason). sent + suppressed +
 * ring_full is every violation: nothing is lost without a count. */
struct fg_event_tally {
	__u64 sent;
	__u64 suppressed;      /* refused by the bucket (or events off) */
	__u64 ring_full;       /* allowed, but the ring had no room */
	__u64 refused_jiffies; /* the jiffy this CPU last found the bucket empty */
};

/* fg_agent_meta: array with one entry. Never read by the programs: the agent
 * keeps its record (policy path, interfaces, hooks, counter slots) as JSON
 * here so that it lives and dies with the pins. */
struct fg_agent_meta {
	__u32 length;
	__u32 pad;
	__u8 json[FG_AGENT_META_LEN - 8];
};

/* One decision as the programs make it; fg_last_verdict holds the latest
 * when the loader sets fg_record_verdicts (test tiers only). */
struct fg_verdict {
	__u32 reason;
	__u32 action;
	__u32 redirect_ifindex;
	__u32 counter_slot;
};

/*
 * fg_source_memo: per-CPU array of FG_SOURCE_MEMO_ENTRIES, indexed by a hash
 * of the address. The programs' memo of a source's prefix lookup (its
 * fg_prefix_bucket value, 0 for none) under one generation and bank: a flow's
 * packets after its first skip the prefix tables, the one per-length call
 * each that arriving traffic pays. The agent never writes it: an entry of
 * another generation or bank is a miss, so a swap needs no flush, and keying
 * by the bank as well makes a torn read of fg_state during a flip (one bank,
 * the other's generation) a key no consistent read meets. A zeroed entry
 * lacks FG_SOURCE_MEMO_USED and is never a hit.
 */
#define FG_SOURCE_MEMO_BITS 8
#define FG_SOURCE_MEMO_ENTRIES (1 << FG_SOURCE_MEMO_BITS)
#define FG_SOURCE_MEMO_USED 4U /* flags: bank | IPv6 << 1 | FG_SOURCE_MEMO_USED */

struct fg_source_memo {
	__u64 generation;
	__u64 addr[2]; /* the 16-byte form, as w0, w1 */
	__u32 flags;
	__u32 value;   /* fg_lookup_prefix's answer */
};

/* An enum rather than a macro so that Swift imports it. */
enum {
	FG_COUNTER_CELLS = FG_DIR_COUNT * FG_REASON_COUNT * FG_ACTION_COUNT, /* per slot */
	FG_COUNTER_ENTRIES = (FG_MAX_INTERFACES + 1) * FG_COUNTER_CELLS,       /* per CPU */
};

static inline __u32 fg_counter_index(__u32 slot, __u32 direction, __u32 reason,
				     __u32 action)
{
	return ((slot * FG_DIR_COUNT + direction) * FG_REASON_COUNT + reason) *
		       FG_ACTION_COUNT +
	       action;
}

/* One CPU's copy of a counter: CPUs never write each other's. */
static inline __u32 fg_counter_key(__u32 cpu, __u32 index)
{
	return cpu * FG_COUNTER_ENTRIES + index;
}

enum {
	FG_EVENT_ENTRIES = (FG_MAX_INTERFACES + 1) * FG_REASON_COUNT,
};

static inline __u32 fg_event_index(__u32 slot, __u32 reason)
{
	return slot * FG_REASON_COUNT + reason;
}

/* The inverse of fg_event_index. */
static inline __u32 fg_event_slot(__u32 index)
{
	return index / FG_REASON_COUNT;
}

static inline __u32 fg_event_reason(__u32 index)
{
	return index % FG_REASON_COUNT;
}

/* The inverse of fg_counter_index, for whoever reads fg_counters back: the
 * layout is decoded here, next to where it is defined, and nowhere else. */
struct fg_counter_cell {
	__u32 slot;
	__u32 direction;
	__u32 reason;
	__u32 action;
};

static inline struct fg_counter_cell fg_counter_cell_of(__u32 index)
{
	struct fg_counter_cell cell;

	cell.action = index % FG_ACTION_COUNT;
	index /= FG_ACTION_COUNT;
	cell.reason = index % FG_REASON_COUNT;
	index /= FG_REASON_COUNT;
	cell.direction = index % FG_DIR_COUNT;
	cell.slot = index / FG_DIR_COUNT;
	return cell;
}

/* ---- Names, written once ------------------------------------------------ */

#define FG_MAP_PREFIXES "fg_prefixes"
#define FG_MAP_PREFIX_TABLES "fg_prefix_tables"
#define FG_MAP_INTERFACES "fg_interfaces"
#define FG_MAP_INTERFACES_FAR "fg_interfaces_far"
#define FG_MAP_LOCALS "fg_locals"
#define FG_MAP_FABRICS "fg_fabrics"
#define FG_MAP_STATE "fg_state"
#define FG_MAP_COUNTERS "fg_counters"
#define FG_MAP_EVENTS "fg_events"
#define FG_MAP_EVENT_BUCKETS "fg_event_buckets"
#define FG_MAP_EVENT_TALLY "fg_event_tally"
#define FG_MAP_SETTINGS "fg_settings"
#define FG_MAP_AGENT_META "fg_agent_meta"
#define FG_MAP_LAST_VERDICT "fg_last_verdict"
#define FG_MAP_SOURCE_MEMO "fg_source_memo"

/* Load-time constants (.rodata) the loader reads or sets. */
#define FG_RODATA_ABI_VERSION "fg_abi_version"
#define FG_RODATA_RECORD_VERDICTS "fg_record_verdicts"
#define FG_RODATA_PERFMON "fg_perfmon"

#define FG_PROG_TC_EGRESS "fg_tc_egress"
#define FG_PROG_TC_INGRESS "fg_tc_ingress"
#define FG_PROG_XDP_INGRESS "fg_xdp_ingress"

#define FG_PIN_DIR_DEFAULT "/sys/fs/bpf/fabricguard"

#endif /* FABRICGUARD_ABI_H */
