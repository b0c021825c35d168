// The one ABI header, seen by Swift. Nothing is declared here: the contract
// lives in bpf/include/fabricguard_abi.h so the BPF programs and the agent
// read the same bytes.
#ifndef CFABRIC_ABI_H
#define CFABRIC_ABI_H

#include <stddef.h>
#include "../../../bpf/include/fabricguard_abi.h"

// Where the JSON of struct fg_agent_meta starts and how much it holds. Swift
// does not import a C array this large as a member, so the layout is asked of
// the compiler here instead of being restated on the Swift side.
static inline size_t fg_agent_meta_json_offset(void) { return offsetof(struct fg_agent_meta, json); }
static inline size_t fg_agent_meta_json_capacity(void) { return sizeof(((struct fg_agent_meta *)0)->json); }

#endif
