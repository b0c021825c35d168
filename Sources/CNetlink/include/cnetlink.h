// rtnetlink through libmnl (Debian: libmnl-dev), reduced to what fabricguard
// reads: links and their IP addresses, as a dump and as events. libmnl leaves
// message walking to C callbacks and attribute tables to macros that Swift
// cannot use; these functions do that walking and hand Swift plain structs.
// Return conventions: 0 or a count on success, -errno on failure.
#ifndef CNETLINK_H
#define CNETLINK_H

#include <stdint.h>


#ifdef __cplusplus
extern "C" {
#endif

struct mnl_socket;

struct fg_nl_link {
	uint32_t ifindex;
	uint32_t flags;            /* IFF_* (ifi_flags) */
	uint8_t operstate;         /* IF_OPER_*, 0 when the kernel did not say */
	uint8_t address_length;    /* 0 when the link has no hardware address */
	uint8_t removed;           /* RTM_DELLINK */
	uint8_t pad;
	uint8_t address[32];
	char name[16];             /* IFNAMSIZ, NUL-terminated */
	char kind[16];             /* IFLA_INFO_KIND ("veth", "bridge"), empty for a plain NIC */
};

struct fg_nl_address {
	uint32_t ifindex;
	uint32_t flags;            /* IFA_F_*, from IFA_FLAGS when present */
	uint8_t family;            /* AF_INET or AF_INET6 */
	uint8_t prefix_length;
	uint8_t removed;           /* RTM_DELADDR */
	uint8_t pad;
	uint8_t address[16];       /* IPv4 in the first 4 bytes */
};

/* A route as the kernel holds it (RTM_NEWROUTE), or the answer of a route
 * lookup (`ip route get`). Multipath routes carry no single oif (0). */
struct fg_nl_route {
	uint32_t table;            /* RTA_TABLE, else rtm_table */
	uint32_t oif;              /* RTA_OIF, 0 when absent */
	uint32_t priority;         /* RTA_PRIORITY (the metric) */
	uint8_t family;            /* AF_INET or AF_INET6 */
	uint8_t dst_length;
	uint8_t type;              /* RTN_* */
	uint8_t protocol;          /* RTPROT_* */
	uint8_t scope;             /* RT_SCOPE_* */
	uint8_t has_prefsrc;
	uint8_t has_gateway;
	uint8_t pad;
	uint8_t dst[16];           /* zero for a default route; IPv4 in the first 4 bytes */
	uint8_t prefsrc[16];
	uint8_t gateway[16];
};

typedef void (*fg_nl_route_sink)(void *context, const struct fg_nl_route *route);

/* Every IPv4 and IPv6 route of every table (main, local, policy routing's). */
int fg_nl_dump_routes(struct mnl_socket *socket, fg_nl_route_sink routes, void *context);

/* The route the kernel would use to `destination` (`ip route get DST`), from
 * `source` when not NULL (`... from SRC`): -ENETUNREACH and friends when none. */
int fg_nl_route_get(struct mnl_socket *socket, uint8_t family, const uint8_t *destination, const uint8_t *source,
		    struct fg_nl_route *route);

/* Called once per message; `context` is the caller's. */
typedef void (*fg_nl_link_sink)(void *context, const struct fg_nl_link *link);
typedef void (*fg_nl_address_sink)(void *context, const struct fg_nl_address *address);

/* The link and IPv4/IPv6 address multicast groups, for fg_nl_open. */
uint32_t fg_nl_link_and_address_groups(void);

/* An rtnetlink socket bound to `groups` (0 for dumps only), close-on-exec;
 * non-blocking when `nonblocking`. NULL with errno set on failure. */
struct mnl_socket *fg_nl_open(uint32_t groups, int nonblocking);
void fg_nl_close(struct mnl_socket *socket);
int fg_nl_fd(const struct mnl_socket *socket);

/* SO_RCVBUFFORCE (CAP_NET_ADMIN), else SO_RCVBUF: a burst of events must not
 * overflow the socket while the daemon is busy. */
int fg_nl_set_receive_buffer(struct mnl_socket *socket, int bytes);

/* Dumps every link, then every address, in this network namespace.
 * -EAGAIN when the kernel flagged the dump inconsistent (NLM_F_DUMP_INTR,
 * a change raced it): the caller dumps again. */
int fg_nl_dump(struct mnl_socket *socket, fg_nl_link_sink links, fg_nl_address_sink addresses, void *context);

/* How many tc filters hang on the interface's clsact hooks (ingress and
 * egress), anyone's: 0 when there are none or no clsact qdisc at all. */
int fg_nl_clsact_filters(struct mnl_socket *socket, int ifindex);

/* Reads every event queued on a non-blocking group socket and hands each to
 * its sink. Returns the number of messages (0: nothing queued), -ENOBUFS
 * when the kernel dropped events because the socket overflowed (the caller
 * must resync from a dump), or another -errno. */
int fg_nl_read_events(struct mnl_socket *socket, fg_nl_link_sink links, fg_nl_address_sink addresses, void *context);

#ifdef __cplusplus
}
#endif

#endif
