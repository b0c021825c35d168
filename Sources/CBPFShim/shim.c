#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
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
	facts->ifindex = info.type == BPF_LINK_TYPE_XDP ? info.xdp.ifindex : 0;
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
