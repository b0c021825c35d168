#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "cbpf_shim.h"

const char *fg_libbpf_version(void)
{
	return libbpf_version_string();
}

static fg_libbpf_log_sink current_sink;

static int fg_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];
	fg_libbpf_log_sink sink = current_sink;

	if (!sink)
		return 0;
	vsnprintf(line, sizeof(line), fmt, args);
	sink((int)level, line);
	return 0;
}

void fg_libbpf_set_log_sink(fg_libbpf_log_sink sink)
{
	current_sink = sink;
	libbpf_set_print(fg_libbpf_print);
}

int fg_is_bpffs(const char *path)
{
	struct statfs info;

	if (statfs(path, &info))
		return -errno;
	return info.f_type == BPF_FS_MAGIC;
}

struct bpf_object *fg_object_open_mem(const void *bytes, size_t size, const char *name)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);

	return bpf_object__open_mem(bytes, size, &opts);
}

long fg_rodata_offset(struct bpf_object *object, const char *variable)
{
	const struct btf_var_secinfo *info;
	const struct btf_type *section;
	struct btf *btf = bpf_object__btf(object);
	int id, i;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	section = btf__type_by_id(btf, id);
	info = btf_var_secinfos(section);
	for (i = 0; i < btf_vlen(section); i++, info++) {
		const struct btf_type *var = btf__type_by_id(btf, info->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), variable) == 0)
			return info->offset;
	}
	return -ENOENT;
}

long fg_btf_struct_size(struct bpf_object *object, const char *name)
{
	struct btf *btf = bpf_object__btf(object);
	int id;

	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id < 0)
		return id;
	return btf__type_by_id(btf, id)->size;
}

static void fg_tc_hook_init(struct bpf_tc_hook *hook, int ifindex, int egress)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = ifindex;
	hook->attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

int fg_tc_attach(int ifindex, int egress, int prog_fd, uint32_t handle, uint32_t priority, int *created_clsact)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	struct bpf_tc_hook hook;
	int err;

	fg_tc_hook_init(&hook, ifindex, egress);
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	*created_clsact = err == 0;
	return bpf_tc_attach(&hook, &opts);
}

int fg_tc_detach(int ifindex, int egress, uint32_t handle, uint32_t priority)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
	struct bpf_tc_hook hook;

	fg_tc_hook_init(&hook, ifindex, egress);
	return bpf_tc_detach(&hook, &opts);
}

int fg_tc_query(int ifindex, int egress, uint32_t handle, uint32_t priority, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
	struct bpf_tc_hook hook;
	int err;

	fg_tc_hook_init(&hook, ifindex, egress);
	err = bpf_tc_query(&hook, &opts);
	if (err)
		return err;
	*prog_id = opts.prog_id;
	return 0;
}

int fg_tc_destroy_clsact(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	return bpf_tc_hook_destroy(&hook);
}

int fg_xdp_link_create(int prog_fd, int ifindex, uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);

	return fd < 0 ? -errno : fd;
}

/*
 * tcx, from the kernel's include/uapi/linux/bpf.h (6.6 and later), which
 * linux-libc-dev 6.1 predates: the attach types, the link type, the mprog
 * placement flags, and the two attr layouts the shim fills. The layouts are
 * the uapi's, field for field (the unions reduced to the member used); a
 * shorter attr than the kernel's is fine, bpf(2) zero-fills the rest.
 */
#define FG_BPF_TCX_INGRESS 46
#define FG_BPF_TCX_EGRESS 47
#define FG_BPF_LINK_TYPE_TCX 11
#ifndef BPF_F_BEFORE
#define BPF_F_BEFORE (1U << 3)
#endif
#ifndef BPF_F_AFTER
#define BPF_F_AFTER (1U << 4)
#endif

/* union bpf_attr, BPF_LINK_CREATE with link_create.tcx */
struct fg_tcx_link_create_attr {
	__u32 prog_fd;
	__u32 target_ifindex;
	__u32 attach_type;
	__u32 flags;
	__u32 relative_fd; /* 0 with BPF_F_BEFORE/AFTER: first/last */
	__u32 pad;
	__u64 expected_revision; /* 0: whatever the hook's revision */
};

/* union bpf_attr, BPF_PROG_QUERY (query.link_ids and query.revision are 6.6) */
struct fg_tcx_query_attr {
	__u32 target_ifindex;
	__u32 attach_type;
	__u32 query_flags;
	__u32 attach_flags;
	__u64 prog_ids;
	__u32 count;
	__u32 pad;
	__u64 prog_attach_flags;
	__u64 link_ids;
	__u64 link_attach_flags;
	__u64 revision;
};

_Static_assert(sizeof(struct fg_tcx_link_create_attr) == 32, "link_create.tcx ends at byte 32 of bpf_attr");
_Static_assert(sizeof(struct fg_tcx_query_attr) == 64, "query.revision ends at byte 64 of bpf_attr");

int fg_tcx_link_create(int prog_fd, int ifindex, int egress, int last)
{
	struct fg_tcx_link_create_attr attr;
	long fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.target_ifindex = ifindex;
	attr.attach_type = egress ? FG_BPF_TCX_EGRESS : FG_BPF_TCX_INGRESS;
	attr.flags = last ? BPF_F_AFTER : BPF_F_BEFORE;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}

int fg_tcx_query(int ifindex, int egress, uint32_t *prog_ids, uint32_t *link_ids, uint32_t *count, uint64_t *revision)
{
	struct fg_tcx_query_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_ifindex = ifindex;
	attr.attach_type = egress ? FG_BPF_TCX_EGRESS : FG_BPF_TCX_INGRESS;
	attr.prog_ids = (__u64)(unsigned long)prog_ids;
	attr.link_ids = (__u64)(unsigned long)link_ids;
	attr.count = *count;
	if (syscall(__NR_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) < 0) {
		if (errno == ENOSPC)
			*count = attr.count;
		return -errno;
	}
	*count = attr.count;
	*revision = attr.revision;
	return 0;
}

int fg_tcx_supported(void)
{
	uint32_t count = 0;
	uint64_t revision;
	/* Loopback is ifindex 1 in every network namespace. Kernels before 6.6
	 * refuse the attach type (EINVAL); with tcx the query just counts. */
	int err = fg_tcx_query(1, 0, NULL, NULL, &count, &revision);

	if (err == 0)
		return 1;
	return err == -EINVAL ? 0 : err;
}

int fg_prog_test_run(int prog_fd, int xdp, const void *frame, uint32_t size, uint32_t ifindex,
		     uint32_t repeat, uint32_t *retval, uint32_t *duration_ns)
{
	struct __sk_buff skb = { .ifindex = ifindex };
	struct xdp_md md = { .ingress_ifindex = ifindex, .data_end = size };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = size, .repeat = repeat);
	int err;

	if (xdp) {
		opts.ctx_in = &md;
		opts.ctx_size_in = sizeof(md);
	} else {
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*retval = opts.retval;
	*duration_ns = opts.duration;
	return 0;
}

int fg_map_create(uint32_t type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
		  uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	int fd = bpf_map_create((enum bpf_map_type)type, name, key_size, value_size, max_entries, &opts);

	return fd < 0 ? -errno : fd;
}

int fg_map_facts(int map_fd, struct fg_map_facts *facts)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	facts->type = info.type;
	facts->key_size = info.key_size;
	facts->value_size = info.value_size;
	facts->max_entries = info.max_entries;
	facts->map_flags = info.map_flags;
	facts->id = info.id;
	return 0;
}

int fg_link_facts(int link_fd, struct fg_link_facts *facts)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return -errno;
	facts->type = info.type;
	facts->id = info.id;
	facts->prog_id = info.prog_id;
	facts->ifindex = 0;
	facts->tcx = info.type == FG_BPF_LINK_TYPE_TCX;
	facts->egress = 0;
	if (info.type == BPF_LINK_TYPE_XDP) {
		facts->ifindex = info.xdp.ifindex;
	} else if (facts->tcx) {
		/* link_info.tcx is { ifindex, attach_type }, at the offset of
		 * link_info.xdp (the same union), which the 6.1 header knows. */
		const __u32 *tcx = (const __u32 *)&info.xdp;

		facts->ifindex = tcx[0];
		facts->egress = tcx[1] == FG_BPF_TCX_EGRESS;
	}
	return 0;
}

int fg_prog_facts_by_id(uint32_t id, struct fg_prog_facts *facts)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd, err = 0;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	close(fd);
	if (err)
		return err;
	facts->type = info.type;
	facts->id = info.id;
	memcpy(facts->name, info.name, sizeof(facts->name));
	memcpy(facts->tag, info.tag, sizeof(facts->tag));
	return 0;
}
