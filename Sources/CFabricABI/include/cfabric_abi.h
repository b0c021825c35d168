// The one ABI header, seen by Swift. Nothing is declared here: the contract
// lives in bpf/include/fabricguard_abi.h so the BPF programs and the agent
// read the same bytes.
#ifndef CFABRIC_ABI_H
#define CFABRIC_ABI_H

#include "../../../bpf/include/fabricguard_abi.h"

#endif
