/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * record.h - what happens to a verdict after decide(): counted per
 * (interface, direction, reason, action) (fg_count), reported as a
 * rate-limited event when it is a violation (fg_report), and kept for the
 * test tiers when asked.
 */
#ifndef FABRICGUARD_RECORD_H
#define FABRICGUARD_RECORD_H

#include <bpf/bpf_helpers.h>

#include "fabricguard_abi.h"
#include "globals.h"
#include "maps.h"

/*
 * Reports a violation as an event when its (interface, reason) bucket has a
 * token (fg_settings, fg_event_buckets), else counts it as suppressed.
 *
 * A flood costs little: once a CPU finds the bucket empty it only counts for
 * the rest of that jiffy, without reading the clock or the shared bucket. The
 * bucket is taken with a compare-and-swap, so two CPUs never spend one token
 * twice; the loser of a race counts as suppressed.
 */
static __always_inline void fg_report(const struct fg_verdict *v, __u32 direction, __u32 ifindex, void *data,
				      void *data_end, __u64 len)
{
	__u32 index = fg_event_index(v->counter_slot, v->reason);
	struct fg_settings *settings;
	struct fg_event_bucket *bucket;
	struct fg_event_tally *tally;
	struct fg_state *state;
	struct fg_event *event;
	__u8 *out;
	__u64 jiffies, now, next, start;
	__u32 zero = 0, bank;

	tally = bpf_map_lookup_elem(&fg_event_tally, &index);
	if (!tally)
		return;
	jiffies = bpf_jiffies64();
	if (tally->refused_jiffies == jiffies)
		goto suppressed;
	state = bpf_map_lookup_elem(&fg_state, &zero);
	bucket = bpf_map_lookup_elem(&fg_event_buckets, &index);
	if (!state || !bucket)
		return;
	bank = state->active_bank & 1;
	settings = bpf_map_lookup_elem(&fg_settings, &bank);
	if (!settings || !settings->event_interval_ns)
		goto refused;

	now = bpf_ktime_get_ns();
	next = *(volatile __u64 *)&bucket->next_ns;
	start = next > now ? next : now;
	if (start - now > settings->event_tolerance_ns)
		goto refused;
	if (__sync_val_compare_and_swap(&bucket->next_ns, next, start + settings->event_interval_ns) != next)
		goto refused;

	event = bpf_ringbuf_reserve(&fg_events, sizeof(*event), 0);
	if (!event) {
		tally->ring_full++;
		return;
	}
	tally->sent++;
	event->timestamp_ns = now;
	event->generation = state->generation;
	event->ifindex = ifindex;
	event->redirect_ifindex = v->redirect_ifindex;
	event->direction = direction;
	event->reason = v->reason;
	event->action = v->action;
	event->pad = 0;
	event->frame_len = len > 0xffff ? 0xffff : len;
	event->head_len = 0;
	__builtin_memset(event->head, 0, FG_EVENT_HEAD_LEN);
	/* `out` steps through the head rather than indexing it: head + i with i
	 * in a register is a variable offset on ring buffer memory, which the
	 * verifier allows only under bypass_spec_v1 (CAP_PERFMON); a step of one
	 * is an immediate add. barrier_var keeps clang from turning the step back
	 * into an index. */
	out = event->head;
	for (int i = 0; i < FG_EVENT_HEAD_LEN; i++) {
		__u8 *byte = data + i;

		if ((void *)(byte + 1) > data_end)
			break;
		*out = *byte;
		out++;
		barrier_var(out);
		event->head_len = i + 1;
	}
	bpf_ringbuf_submit(event, 0);
	return;

refused:
	tally->refused_jiffies = jiffies;
suppressed:
	tally->suppressed++;
}

/* Counts the verdict and, in the test tiers, records it for comparison with
 * the reference path. Violations are then reported by the caller (fg_report),
 * which alone reads the frame again: a pass, nearly every frame, reads
 * nothing more of its context. */
static __always_inline void fg_count(const struct fg_verdict *v, __u32 direction, __u64 len)
{
	__u32 index = fg_counter_key(bpf_get_smp_processor_id(),
				     fg_counter_index(v->counter_slot, direction, v->reason, v->action));
	struct fg_counter_value *counter;
	__u32 zero = 0;

	counter = bpf_map_lookup_elem(&fg_counters, &index);
	if (counter) {
		counter->packets++;
		counter->bytes += len;
	}
	if (fg_record_verdicts) {
		struct fg_verdict *last = bpf_map_lookup_elem(&fg_last_verdict, &zero);

		if (last)
			*last = *v;
	}
}

#endif /* FABRICGUARD_RECORD_H */
