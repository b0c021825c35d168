// Compile-time proof that the ABI structs have the layout the BPF side sees:
// no implicit padding, sizes that match the map definitions. The object tier
// of the tests compares the same sizes with the BTF of the built programs.
#include <stddef.h>
#include "cfabric_abi.h"

_Static_assert(sizeof(struct fg_prefix_bucket) == 64, "fg_prefix_bucket: one cache line");
_Static_assert(sizeof(struct fg_prefix_table) == 40, "fg_prefix_table");
_Static_assert(sizeof(struct fg_prefix_tables) == 8 + 40 * FG_MAX_PREFIX_LENGTHS, "fg_prefix_tables");
_Static_assert(sizeof(struct fg_dir_config) == 4, "fg_dir_config");
_Static_assert(sizeof(struct fg_interface_key) == 8, "fg_interface_key");
_Static_assert(sizeof(struct fg_fast_source) == 24, "fg_fast_source");
_Static_assert(sizeof(struct fg_interface_value) == 16 + 24 * FG_FAST_SOURCES, "fg_interface_value");
_Static_assert(sizeof(struct fg_local_value) == 8, "fg_local_value");
_Static_assert(sizeof(struct fg_fabric_value) == 8, "fg_fabric_value");
_Static_assert(sizeof(struct fg_state) == 48, "fg_state");
_Static_assert(sizeof(struct fg_counter_value) == 16, "fg_counter_value");
_Static_assert(sizeof(struct fg_event) == 160, "fg_event");
_Static_assert(offsetof(struct fg_event, head) == 32, "fg_event.head");
_Static_assert(sizeof(struct fg_settings) == 16, "fg_settings");
_Static_assert(sizeof(struct fg_event_bucket) == 8, "fg_event_bucket");
_Static_assert(sizeof(struct fg_event_tally) == 32, "fg_event_tally");
_Static_assert(offsetof(struct fg_state, digest) == 16, "fg_state.digest");
_Static_assert(FG_MAX_FABRICS <= 256, "fabric ids must fit the plan's u8 counters");
