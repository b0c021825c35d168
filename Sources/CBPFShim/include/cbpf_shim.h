// Macro-free entry points into libbpf for Swift. Each function exists because
// Swift cannot call the libbpf API it wraps directly (LIBBPF_OPTS designated
// initialisers, va_list callbacks, BTF walking over C unions); none adds
// behaviour of its own. Return conventions follow libbpf: ints are 0 or
// -errno, pointers are NULL with errno set.
#ifndef CBPF_SHIM_H
#define CBPF_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include "cfabric_abi_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

struct bpf_object;

// libbpf's version as "major.minor", so the agent can report what it runs on.
const char *fg_libbpf_version(void);

// libbpf prints through a printf-style va_list callback, which Swift cannot
// implement. This formats each message and hands the line to `sink`
// (level: 0 warn, 1 info, 2 debug); a NULL sink silences libbpf.
typedef void (*fg_libbpf_log_sink)(int level, const char *line);
void fg_libbpf_set_log_sink(fg_libbpf_log_sink sink);

// 1 when `path` is on a bpffs mount, 0 when not, -errno when it cannot be
// checked (statfs(2) is not visible to Swift's Glibc module).
int fg_is_bpffs(const char *path);

// bpf_object__open_mem with a name (LIBBPF_OPTS). NULL + errno on failure.
struct bpf_object *fg_object_open_mem(const void *bytes, size_t size, const char *name);

// Byte offset of a global variable in the object's .rodata (from BTF), so the
// loader can read and set load-time constants by name. -errno on failure.
long fg_rodata_offset(struct bpf_object *object, const char *variable);

// Size of a struct in the object's BTF, -errno when it is not there.
long fg_btf_struct_size(struct bpf_object *object, const char *name);

// The tc filter an instance owns (its handle and priority) on the clsact hook
// of `ifindex`. Attach creates clsact when missing (*created_clsact = 1) and
// replaces our filter atomically when present; other filters are never touched.
int fg_tc_attach(int ifindex, int egress, int prog_fd, uint32_t handle, uint32_t priority, int *created_clsact);
int fg_tc_detach(int ifindex, int egress, uint32_t handle, uint32_t priority);
// Our filter's program id in *prog_id; -ENOENT when there is none.
int fg_tc_query(int ifindex, int egress, uint32_t handle, uint32_t priority, uint32_t *prog_id);
// Deletes the interface's clsact qdisc, and with it any filter left on it:
// the caller checks first that none is (the netlink filter dump).
int fg_tc_destroy_clsact(int ifindex);

// An XDP BPF link (flags: XDP_FLAGS_*; 0 lets the kernel pick driver mode
// when the device has it). Returns the link fd or -errno.
int fg_xdp_link_create(int prog_fd, int ifindex, uint32_t flags);

// tcx (kernel 6.6+): the tc hooks as BPF links, in an order the kernel keeps
// (bpf_mprog). Debian's libbpf 1.1.2 cannot create them and its uapi headers
// (linux-libc-dev 6.1) lack the attach types and attr fields, so the shim
// issues bpf(2) itself with the kernel's uapi numbers (see shim.c).
//
// A tcx link on the egress (or ingress) hook of `ifindex`, placed first
// (BPF_F_BEFORE) or last (BPF_F_AFTER) among the hook's programs, no relative
// program. Returns the link fd or -errno.
int fg_tcx_link_create(int prog_fd, int ifindex, int egress, int last);
// The programs (and their links, 0 for a program attached without one) on a
// tcx hook, in run order. *count is the arrays' capacity in, the number on the
// hook out (-ENOSPC when more than the capacity). 0 or -errno.
int fg_tcx_query(int ifindex, int egress, uint32_t *prog_ids, uint32_t *link_ids, uint32_t *count, uint64_t *revision);
// 1 when the kernel has tcx, 0 when it does not (an unknown attach type),
// -errno when it cannot tell (e.g. no CAP_NET_ADMIN).
int fg_tcx_supported(void);

// BPF_PROG_TEST_RUN of one frame on `ifindex` (which must exist in the
// caller's network namespace). `xdp` selects the context type.
int fg_prog_test_run(int prog_fd, int xdp, const void *frame, uint32_t size, uint32_t ifindex,
		     uint32_t repeat, uint32_t *retval, uint32_t *duration_ns);

// bpf_map_info / bpf_link_info / bpf_prog_info fields the agent needs.
struct fg_map_facts {
	uint32_t type, key_size, value_size, max_entries, map_flags, id;
};
int fg_map_facts(int map_fd, struct fg_map_facts *facts);

/* A new map outside any object (an inner map for an array of maps); the fd, or -errno. */
int fg_map_create(uint32_t type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
		  uint32_t flags);

// ifindex and attach_type: XDP and tcx links (0 for others, and once the
// device is gone); tcx is 1 for a tcx link, egress 1 for its egress hook.
struct fg_link_facts {
	uint32_t type, id, prog_id, ifindex, tcx, egress;
};
int fg_link_facts(int link_fd, struct fg_link_facts *facts);

struct fg_prog_facts {
	uint32_t type, id;
	char name[16];
	uint8_t tag[8];
};
int fg_prog_facts_by_id(uint32_t id, struct fg_prog_facts *facts);

#ifdef __cplusplus
}
#endif

#endif
