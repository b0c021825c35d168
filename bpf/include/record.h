/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * record.h - what happens to a verdict after decide(): counted per
 * (interface, direction, reason, action), reported as a rate-limited event
 * when it is a violation, and kept for the test tiers when asked.
 */
#ifndef FABRICGUARD_RECORD_H
#define FABRICGUARD_RECORD_H

#include <bpf/bpf_helpers.h>

#include "fabricguard_abi.h"
#include "globals.h"
#include "maps.h"

/* Counts the verdict, reports violations (rate-limited) and, in the test
 * tiers, records it for comparison with the reference path. */
static __always_inline void fg_record(const struct fg_verdict *v, __u32 direction, __u32 ifindex, void *data,
				      void *data_end, __u64 len)
{
	__u32 index = fg_counter_index(v->counter_slot, direction, v->reason, v->action);
	struct fg_counter_value *counter;
	struct fg_event_budget *budget;
	struct fg_event *event;
	__u32 zero = 0;
	__u64 now;

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
	if (v->action == FG_ACTION_PASS)
		return;

	budget = bpf_map_lookup_elem(&fg_event_budget, &zero);
	if (!budget)
		return;
	/* Within the budget, an event is sent and stamped. Past it, a violation
	 * only counts, and the clock (a coarse one) is read at most once per
	 * jiffy to see whether the window is over: a flood pays a jiffies load
	 * per packet, and a late trickle still finds the window reopened. */
	if (budget->sent >= FG_EVENTS_PER_SECOND) {
		__u64 jiffies = bpf_jiffies64();

		budget->suppressed++;
		if (jiffies == budget->checked_jiffies)
			return;
		budget->checked_jiffies = jiffies;
		now = bpf_ktime_get_coarse_ns();
		if ((__s64)(now - budget->window_start_ns) >= 1000000000LL) {
			budget->window_start_ns = now;
			budget->sent = 0;
		}
		return;
	}
	now = bpf_ktime_get_ns();
	if ((__s64)(now - budget->window_start_ns) >= 1000000000LL) {
		budget->window_start_ns = now;
		budget->sent = 0;
	}
	event = bpf_ringbuf_reserve(&fg_events, sizeof(*event), 0);
	if (!event)
		return;
	budget->sent++;
	event->timestamp_ns = now;
	event->ifindex = ifindex;
	event->redirect_ifindex = v->redirect_ifindex;
	event->direction = direction;
	event->reason = v->reason;
	event->action = v->action;
	event->pad = 0;
	event->frame_len = len > 0xffff ? 0xffff : len;
	event->head_len = 0;
	__builtin_memset(event->head, 0, FG_EVENT_HEAD_LEN);
	for (int i = 0; i < FG_EVENT_HEAD_LEN; i++) {
		__u8 *byte = data + i;

		if ((void *)(byte + 1) > data_end)
			break;
		event->head[i] = *byte;
		event->head_len = i + 1;
	}
	bpf_ringbuf_submit(event, 0);
}

#endif /* FABRICGUARD_RECORD_H */
