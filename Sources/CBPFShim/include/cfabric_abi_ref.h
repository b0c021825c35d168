// The shim sees the same ABI header as everything else.
#include "../../../bpf/include/fabricguard_abi.h"
