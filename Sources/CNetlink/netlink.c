#include "cnetlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sinks {
	fg_nl_link_sink links;
	fg_nl_address_sink addresses;
	void *context;
	int filters;               /* RTM_NEWTFILTER messages seen */
	fg_nl_route_sink routes;
};

/* An attribute table being filled by mnl_attr_parse: entries[type], up to max. */
struct attribute_table {
	const struct nlattr **entries;
	int max;
};

static int collect_attribute(const struct nlattr *attribute, void *data)
{
	struct attribute_table *table = data;

	if (mnl_attr_type_valid(attribute, (uint16_t)table->max) < 0)
		return MNL_CB_OK;
	table->entries[mnl_attr_get_type(attribute)] = attribute;
	return MNL_CB_OK;
}

static void on_link(const struct nlmsghdr *message, const struct sinks *sinks)
{
	const struct ifinfomsg *info = mnl_nlmsg_get_payload(message);
	const struct nlattr *table[IFLA_MAX + 1] = { 0 };
	struct attribute_table attributes = { table, IFLA_MAX };
	struct fg_nl_link link = { 0 };

	/* A bridge's port messages (AF_BRIDGE) describe port membership: a
	 * "delete" there means the port left its bridge, not that the link went. */
	if (info->ifi_family == AF_BRIDGE)
		return;
	if (mnl_attr_parse(message, sizeof(*info), collect_attribute, &attributes) != MNL_CB_OK)
		return;
	link.ifindex = (uint32_t)info->ifi_index;
	link.flags = info->ifi_flags;
	link.removed = message->nlmsg_type == RTM_DELLINK;
	if (table[IFLA_IFNAME])
		strncpy(link.name, mnl_attr_get_str(table[IFLA_IFNAME]), sizeof(link.name) - 1);
	if (table[IFLA_OPERSTATE])
		link.operstate = mnl_attr_get_u8(table[IFLA_OPERSTATE]);
	if (table[IFLA_ADDRESS]) {
		uint16_t length = mnl_attr_get_payload_len(table[IFLA_ADDRESS]);

		if (length > sizeof(link.address))
			length = sizeof(link.address);
		memcpy(link.address, mnl_attr_get_payload(table[IFLA_ADDRESS]), length);
		link.address_length = (uint8_t)length;
	}
	if (table[IFLA_LINKINFO]) {
		const struct nlattr *info_table[IFLA_INFO_MAX + 1] = { 0 };
		struct attribute_table info_attributes = { info_table, IFLA_INFO_MAX };

		if (mnl_attr_parse_nested(table[IFLA_LINKINFO], collect_attribute, &info_attributes) == MNL_CB_OK &&
		    info_table[IFLA_INFO_KIND])
			strncpy(link.kind, mnl_attr_get_str(info_table[IFLA_INFO_KIND]), sizeof(link.kind) - 1);
	}
	sinks->links(sinks->context, &link);
}

static void on_address(const struct nlmsghdr *message, const struct sinks *sinks)
{
	const struct ifaddrmsg *info = mnl_nlmsg_get_payload(message);
	const struct nlattr *table[IFA_MAX + 1] = { 0 };
	struct attribute_table attributes = { table, IFA_MAX };
	struct fg_nl_address address = { 0 };
	const struct nlattr *value;
	uint16_t length;

	if (info->ifa_family != AF_INET && info->ifa_family != AF_INET6)
		return;
	if (mnl_attr_parse(message, sizeof(*info), collect_attribute, &attributes) != MNL_CB_OK)
		return;
	/* IFA_LOCAL is the host's own address on point-to-point links, where
	 * IFA_ADDRESS is the peer's; elsewhere they are equal or IFA_LOCAL is absent. */
	value = info->ifa_family == AF_INET && table[IFA_LOCAL] ? table[IFA_LOCAL] : table[IFA_ADDRESS];
	if (!value)
		return;
	length = mnl_attr_get_payload_len(value);
	if (length != (info->ifa_family == AF_INET ? 4 : 16))
		return;
	address.ifindex = info->ifa_index;
	address.family = info->ifa_family;
	address.prefix_length = info->ifa_prefixlen;
	address.flags = table[IFA_FLAGS] ? mnl_attr_get_u32(table[IFA_FLAGS]) : info->ifa_flags;
	address.removed = message->nlmsg_type == RTM_DELADDR;
	memcpy(address.address, mnl_attr_get_payload(value), length);
	sinks->addresses(sinks->context, &address);
}

/* Fills `route` from an RTM_NEWROUTE message; -EINVAL for other families. */
static int parse_route(const struct nlmsghdr *message, struct fg_nl_route *route)
{
	const struct rtmsg *info = mnl_nlmsg_get_payload(message);
	const struct nlattr *table[RTA_MAX + 1] = { 0 };
	struct attribute_table attributes = { table, RTA_MAX };
	size_t width = info->rtm_family == AF_INET ? 4 : 16;

	if (info->rtm_family != AF_INET && info->rtm_family != AF_INET6)
		return -EINVAL;
	if (mnl_attr_parse(message, sizeof(*info), collect_attribute, &attributes) != MNL_CB_OK)
		return -EINVAL;
	memset(route, 0, sizeof(*route));
	route->family = info->rtm_family;
	route->dst_length = info->rtm_dst_len;
	route->type = info->rtm_type;
	route->protocol = info->rtm_protocol;
	route->scope = info->rtm_scope;
	route->table = table[RTA_TABLE] ? mnl_attr_get_u32(table[RTA_TABLE]) : info->rtm_table;
	route->oif = table[RTA_OIF] ? mnl_attr_get_u32(table[RTA_OIF]) : 0;
	route->priority = table[RTA_PRIORITY] ? mnl_attr_get_u32(table[RTA_PRIORITY]) : 0;
	if (table[RTA_DST] && mnl_attr_get_payload_len(table[RTA_DST]) == width)
		memcpy(route->dst, mnl_attr_get_payload(table[RTA_DST]), width);
	if (table[RTA_PREFSRC] && mnl_attr_get_payload_len(table[RTA_PREFSRC]) == width) {
		memcpy(route->prefsrc, mnl_attr_get_payload(table[RTA_PREFSRC]), width);
		route->has_prefsrc = 1;
	}
	if (table[RTA_GATEWAY] && mnl_attr_get_payload_len(table[RTA_GATEWAY]) == width) {
		memcpy(route->gateway, mnl_attr_get_payload(table[RTA_GATEWAY]), width);
		route->has_gateway = 1;
	}
	return 0;
}

static int on_message(const struct nlmsghdr *message, void *data)
{
	struct sinks *sinks = data;

	switch (message->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		if (sinks->links)
			on_link(message, sinks);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		if (sinks->addresses)
			on_address(message, sinks);
		break;
	case RTM_NEWTFILTER:
		sinks->filters++;
		break;
	case RTM_NEWROUTE:
		if (sinks->routes) {
			struct fg_nl_route route;

			if (parse_route(message, &route) == 0)
				sinks->routes(sinks->context, &route);
		}
		break;
	}
	return MNL_CB_OK;
}

uint32_t fg_nl_link_and_address_groups(void)
{
	return RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
}

struct mnl_socket *fg_nl_open(uint32_t groups, int nonblocking)
{
	struct mnl_socket *socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));

	if (!socket)
		return NULL;
	if (mnl_socket_bind(socket, groups, MNL_SOCKET_AUTOPID) < 0) {
		int saved = errno;

		mnl_socket_close(socket);
		errno = saved;
		return NULL;
	}
	return socket;
}

void fg_nl_close(struct mnl_socket *socket)
{
	mnl_socket_close(socket);
}

int fg_nl_fd(const struct mnl_socket *socket)
{
	return mnl_socket_get_fd(socket);
}

int fg_nl_set_receive_buffer(struct mnl_socket *socket, int bytes)
{
	int fd = mnl_socket_get_fd(socket);

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) == 0)
		return 0;
	return -errno;
}

/* One datagram of replies into `buffer` (EINTR retried): its length, or -errno. */
static ssize_t receive(struct mnl_socket *socket, char *buffer, size_t size)
{
	for (;;) {
		ssize_t length = mnl_socket_recvfrom(socket, buffer, size);

		if (length >= 0 || errno != EINTR)
			return length < 0 ? -errno : length;
	}
}

/* Sends the dump request in `buffer` and hands its replies to the sinks. */
static int dump_request(struct mnl_socket *socket, char *buffer, size_t size, struct sinks *sinks)
{
	struct nlmsghdr *request = (struct nlmsghdr *)buffer;
	unsigned int sequence = request->nlmsg_seq;
	unsigned int port = mnl_socket_get_portid(socket);
	int interrupted = 0;
	ssize_t length;

	if (mnl_socket_sendto(socket, request, request->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		length = receive(socket, buffer, size);
		if (length < 0)
			return (int)length;
		/* NLM_F_DUMP_INTR sits on the messages of a dump a change raced. */
		for (const struct nlmsghdr *message = (const struct nlmsghdr *)buffer;
		     mnl_nlmsg_ok(message, (int)length);
		     message = mnl_nlmsg_next(message, (int *)&length)) {
			if (message->nlmsg_flags & NLM_F_DUMP_INTR)
				interrupted = 1;
			if (message->nlmsg_type == NLMSG_DONE)
				return interrupted ? -EAGAIN : 0;
			if (message->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *error = mnl_nlmsg_get_payload(message);

				return error->error ? error->error : (interrupted ? -EAGAIN : 0);
			}
			if (message->nlmsg_seq != sequence || message->nlmsg_pid != port)
				continue;
			on_message(message, sinks);
		}
	}
}

/* A dump request of `type` at the start of `buffer`; `salt` varies its sequence number. */
static struct nlmsghdr *put_dump(char *buffer, uint16_t type, unsigned int salt)
{
	struct nlmsghdr *request = mnl_nlmsg_put_header(buffer);

	request->nlmsg_type = type;
	request->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	request->nlmsg_seq = (unsigned int)time(NULL) ^ salt;
	return request;
}

/* One dump of links or addresses (RTM_GETLINK, RTM_GETADDR). */
static int dump_one(struct mnl_socket *socket, uint16_t type, struct sinks *sinks)
{
	/* A dump part can be as large as the kernel's skb (32 KiB and more). */
	static __thread char buffer[65536];
	struct nlmsghdr *request = put_dump(buffer, type, type);
	struct rtgenmsg *generic;

	generic = mnl_nlmsg_put_extra_header(request, sizeof(*generic));
	generic->rtgen_family = AF_UNSPEC;
	return dump_request(socket, buffer, sizeof(buffer), sinks);
}

int fg_nl_clsact_filters(struct mnl_socket *socket, int ifindex)
{
	static __thread char buffer[65536];
	const uint32_t parents[] = { TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS) };
	struct sinks sinks = { 0 };

	for (unsigned int i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		struct nlmsghdr *request = put_dump(buffer, RTM_GETTFILTER, parents[i]);
		struct tcmsg *tc;
		int result;

		tc = mnl_nlmsg_put_extra_header(request, sizeof(*tc));
		tc->tcm_family = AF_UNSPEC;
		tc->tcm_ifindex = ifindex;
		tc->tcm_parent = parents[i];
		result = dump_request(socket, buffer, sizeof(buffer), &sinks);
		/* No clsact qdisc, or no such device: nothing hangs there. */
		if (result == -EINVAL || result == -ENOENT || result == -ENODEV)
			continue;
		if (result < 0)
			return result;
	}
	return sinks.filters;
}

int fg_nl_dump(struct mnl_socket *socket, fg_nl_link_sink links, fg_nl_address_sink addresses, void *context)
{
	struct sinks sinks = { links, addresses, context, 0 };
	int result = dump_one(socket, RTM_GETLINK, &sinks);

	if (result < 0)
		return result;
	return dump_one(socket, RTM_GETADDR, &sinks);
}

int fg_nl_read_events(struct mnl_socket *socket, fg_nl_link_sink links, fg_nl_address_sink addresses, void *context)
{
	static __thread char buffer[65536];
	struct sinks sinks = { links, addresses, context, 0 };
	int count = 0;
	ssize_t length;

	for (;;) {
		length = mnl_socket_recvfrom(socket, buffer, sizeof(buffer));
		if (length < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return count;
			return -errno;
		}
		for (const struct nlmsghdr *message = (const struct nlmsghdr *)buffer;
		     mnl_nlmsg_ok(message, (int)length);
		     message = mnl_nlmsg_next(message, (int *)&length)) {
			on_message(message, &sinks);
			count++;
		}
	}
}

int fg_nl_dump_routes(struct mnl_socket *socket, fg_nl_route_sink routes, void *context)
{
	static __thread char buffer[65536];
	const uint8_t families[] = { AF_INET, AF_INET6 };
	struct sinks sinks = { 0 };

	sinks.routes = routes;
	sinks.context = context;
	for (unsigned int i = 0; i < sizeof(families); i++) {
		struct nlmsghdr *request = put_dump(buffer, RTM_GETROUTE, families[i]);
		struct rtmsg *info;
		int result;

		info = mnl_nlmsg_put_extra_header(request, sizeof(*info));
		info->rtm_family = families[i];
		/* RT_TABLE_UNSPEC: every table, policy routing's included. */
		info->rtm_table = RT_TABLE_UNSPEC;
		result = dump_request(socket, buffer, sizeof(buffer), &sinks);
		if (result < 0)
			return result;
	}
	return 0;
}

int fg_nl_route_get(struct mnl_socket *socket, uint8_t family, const uint8_t *destination, const uint8_t *source,
		    struct fg_nl_route *route)
{
	static __thread char buffer[8192];
	size_t width = family == AF_INET ? 4 : 16;
	struct nlmsghdr *request = mnl_nlmsg_put_header(buffer);
	unsigned int port = mnl_socket_get_portid(socket);
	struct rtmsg *info;
	ssize_t length;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	request->nlmsg_type = RTM_GETROUTE;
	request->nlmsg_flags = NLM_F_REQUEST;
	request->nlmsg_seq = (unsigned int)time(NULL);
	info = mnl_nlmsg_put_extra_header(request, sizeof(*info));
	info->rtm_family = family;
	info->rtm_dst_len = (uint8_t)(width * 8);
	mnl_attr_put(request, RTA_DST, width, destination);
	if (source) {
		info->rtm_src_len = (uint8_t)(width * 8);
		mnl_attr_put(request, RTA_SRC, width, source);
	}
	if (mnl_socket_sendto(socket, request, request->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		length = receive(socket, buffer, sizeof(buffer));
		if (length < 0)
			return (int)length;
		for (const struct nlmsghdr *message = (const struct nlmsghdr *)buffer;
		     mnl_nlmsg_ok(message, (int)length);
		     message = mnl_nlmsg_next(message, (int *)&length)) {
			if (message->nlmsg_pid != port)
				continue;
			if (message->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *error = mnl_nlmsg_get_payload(message);

				return error->error ? error->error : -ENOENT;
			}
			if (message->nlmsg_type == RTM_NEWROUTE)
				return parse_route(message, route);
		}
	}
}
