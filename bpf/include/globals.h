/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * globals.h - the object's load-time constants (.rodata), which the loader
 * reads or sets by name (FG_RODATA_* in fabricguard_abi.h).
 */
#ifndef FABRICGUARD_GLOBALS_H
#define FABRICGUARD_GLOBALS_H

#include "fabricguard_abi.h"

/* Set by the loader before load; the verifier prunes what they disable. */
const volatile __u32 fg_abi_version = FG_ABI_VERSION;
const volatile __u32 fg_record_verdicts = 0;
/* 1 when the loader holds CAP_PERFMON (or CAP_SYS_ADMIN): the verifier then
 * allows what it refuses without (allow_ptr_leaks, bypass_spec_v1), and the
 * entry points take the shorter ways it allows. 0 verifies the ways that need
 * neither, for an agent with CAP_BPF and CAP_NET_ADMIN only. */
const volatile __u32 fg_perfmon = 0;
/* Never read: keeps struct fg_event in the object's BTF (it only crosses the
 * ring buffer, which carries no type) so the object tier can check its layout. */
struct fg_event *const volatile fg_event_btf_anchor = 0;

#endif /* FABRICGUARD_GLOBALS_H */
