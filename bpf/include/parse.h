/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parse.h - bounds-checked header cursor helpers.
 *
 * Each helper advances the cursor past one header and returns the next
 * protocol (or 0) on success, -1 when the header does not fit or is invalid.
 * The Swift reference path (Sources/FabricReference/HeaderCursor.swift)
 * mirrors these helper for helper: parse_ethhdr is parseEthhdr, and so on.
 */
#ifndef FABRICGUARD_PARSE_H
#define FABRICGUARD_PARSE_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "fabricguard_abi.h"

struct hdr_cursor {
	void *pos;
};

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* The ARP header of RFC 826 with Ethernet/IPv4 address sizes. */
struct arp_ipv4 {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));

#define ARP_FIXED_LEN 8 /* hrd, pro, hln, pln, op */

/* Ethernet plus up to FG_MAX_VLAN_TAGS 802.1Q / 802.1ad tags: the inner
 * EtherType in host order. A further tag is not skipped (its TPID is returned). */
static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end)
{
	struct ethhdr *eth = nh->pos;
	struct vlan_tag *tag;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return -1;
	proto = eth->h_proto;
	nh->pos = eth + 1;

#pragma unroll
	for (i = 0; i < FG_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		tag = nh->pos;
		if ((void *)(tag + 1) > data_end)
			return -1;
		proto = tag->encapsulated_proto;
		nh->pos = tag + 1;
	}
	return bpf_ntohs(proto);
}

/* ARP: returns the protocol type (host order) once the fixed part fits; for
 * IPv4 the whole Ethernet/IPv4 body must fit and *arp points at it. */
static __always_inline int parse_arphdr(struct hdr_cursor *nh, void *data_end, struct arp_ipv4 **arp)
{
	struct arp_ipv4 *ah = nh->pos;

	if (nh->pos + ARP_FIXED_LEN > data_end)
		return -1;
	if (ah->pro != bpf_htons(ETH_P_IP))
		return bpf_ntohs(ah->pro);
	if (ah->hln != ETH_ALEN || ah->pln != 4)
		return -1;
	if ((void *)(ah + 1) > data_end)
		return -1;
	nh->pos = ah + 1;
	*arp = ah;
	return ETH_P_IP;
}

/* `pos` advanced by `len` bytes, for a `len` below 128 (FG_STEP_LIMIT).
 *
 * pos + len with `len` in a register is a variable offset on a packet
 * pointer, and without bypass_spec_v1 (CAP_PERFMON) the verifier refuses it:
 * it can mask a variable offset against speculative out-of-bounds use only
 * on stack and map value pointers. Taken bit by bit, the same offset is a few
 * immediate adds, which need no masking; barrier_var keeps clang from folding
 * them back into one variable add. The verifier follows each combination of
 * bits as its own constant offset, a handful of short paths. */
#define FG_STEP_LIMIT 128

static __always_inline void *fg_advance(void *pos, __u32 len)
{
#pragma unroll
	for (__u32 step = FG_STEP_LIMIT / 2; step; step >>= 1) {
		if (len & step) {
			pos += step;
			barrier_var(pos);
		}
	}
	return pos;
}

/* IPv4 including options: version 4, IHL >= 5, all IHL words present. */
static __always_inline int parse_iphdr(struct hdr_cursor *nh, void *data_end, struct iphdr **iphdr)
{
	struct iphdr *iph = nh->pos;
	void *end;

	if ((void *)(iph + 1) > data_end)
		return -1;
	if (iph->version != 4)
		return -1;
	if (iph->ihl < 5)
		return -1;
	/* The options' words past the fixed header: at most 40 bytes, so fg_advance
	 * takes them (IHL is 4 bits). */
	end = fg_advance(iph + 1, (iph->ihl - 5) * 4);
	if (end > data_end)
		return -1;
	nh->pos = end;
	*iphdr = iph;
	return iph->protocol;
}

/* The fixed IPv6 header; extension headers carry no addresses we need. */
static __always_inline int parse_ip6hdr(struct hdr_cursor *nh, void *data_end, struct ipv6hdr **ip6hdr)
{
	struct ipv6hdr *ip6h = nh->pos;

	if ((void *)(ip6h + 1) > data_end)
		return -1;
	if (ip6h->version != 6)
		return -1;
	nh->pos = ip6h + 1;
	*ip6hdr = ip6h;
	return ip6h->nexthdr;
}

#endif /* FABRICGUARD_PARSE_H */
