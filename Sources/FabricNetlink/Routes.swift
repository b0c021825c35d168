internal import CNetlink
import FabricHost
import FabricPolicy
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

extension Route {
    init?(_ raw: fg_nl_route) {
        let width = Int32(raw.family) == AF_INET ? 4 : 16
        func address(_ tuple: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) -> IPAddress? {
            withUnsafeBytes(of: tuple) { IPAddress(bytes: $0.prefix(width)) }
        }
        guard let destination = address(raw.dst) else { return nil }
        self.init(
            destination: IPPrefix(covering: destination, length: Int(raw.dst_length)), table: raw.table,
            kind: Kind(code: raw.type), outputIfindex: raw.oif == 0 ? nil : raw.oif,
            preferredSource: raw.has_prefsrc != 0 ? address(raw.prefsrc) : nil,
            gateway: raw.has_gateway != 0 ? address(raw.gateway) : nil, metric: raw.priority)
    }
}

extension NetlinkSocket {
    func routes() throws(SystemError) -> [Route] {
        let collector = RouteCollector()
        let result = withExtendedLifetime(collector) {
            fg_nl_dump_routes(handle, RouteCollector.onRoute, Unmanaged.passUnretained(collector).toOpaque())
        }
        try SystemError.checkNegated(result, "dump", "routes over rtnetlink")
        return collector.routes
    }

    func route(to destination: IPAddress, from source: IPAddress?) throws(SystemError) -> Route? {
        var raw = fg_nl_route()
        let family = UInt8(destination.family == .ipv4 ? AF_INET : AF_INET6)
        let result = destination.bytes.withUnsafeBufferPointer { target in
            if let source {
                return source.bytes.withUnsafeBufferPointer { fg_nl_route_get(handle, family, target.baseAddress, $0.baseAddress, &raw) }
            }
            return fg_nl_route_get(handle, family, target.baseAddress, nil, &raw)
        }
        // No route, or none from that source: an answer, not a failure.
        if [ENETUNREACH, EHOSTUNREACH, EINVAL, EACCES].contains(-result) { return nil }
        try SystemError.checkNegated(result, "look up the route to", "\(destination)" + (source.map { " from \($0)" } ?? ""))
        return Route(raw)
    }

    private final class RouteCollector {
        var routes: [Route] = []

        static let onRoute: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fg_nl_route>?) -> Void = { context, route in
            guard let context, let route = route?.pointee, let parsed = Route(route) else { return }
            Unmanaged<RouteCollector>.fromOpaque(context).takeUnretainedValue().routes.append(parsed)
        }
    }
}

extension LiveHost {
    /// Every route of every table, both families.
    public func routes() throws(SystemError) -> [Route] {
        try NetlinkSocket(groups: 0, nonblocking: false).routes()
    }

    /// The route the kernel would pick to `destination` (from `source`, when
    /// given), as `ip route get` asks; nil when there is none.
    public func route(to destination: IPAddress, from source: IPAddress? = nil) throws(SystemError) -> Route? {
        try NetlinkSocket(groups: 0, nonblocking: false).route(to: destination, from: source)
    }
}

extension LiveHost {
    /// Destinations that stand for "anything beyond the default route".
    static let beyond = [IPAddress("192.0.2.1")!, IPAddress("2001:db8::1")!]

    /// The traffic an apply must not cut, as this host carries it now: the SSH
    /// session in `sshConnection` (the `SSH_CONNECTION` variable: client
    /// address and port, server address and port) on the interface its replies
    /// leave through, and the default routes' traffic from their source address.
    public func protectedFlows(sshConnection: String?, interfaces: [HostInterface]) throws(SystemError) -> [ProtectedFlow] {
        let names = Dictionary(interfaces.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        var flows: [ProtectedFlow] = []
        let fields = sshConnection?.split(separator: " ") ?? []
        if fields.count == 4, let client = IPAddress(String(fields[0])), let server = IPAddress(String(fields[2])),
           let route = try route(to: client, from: server), let out = route.outputIfindex, let name = names[out] {
            flows.append(ProtectedFlow(what: "your SSH session (SSH_CONNECTION)", interface: name, ifindex: out, local: server, remote: client))
        }
        for destination in Self.beyond {
            // A documentation address: only a default route leads there.
            guard let route = try route(to: destination), route.kind == .unicast, let out = route.outputIfindex, let name = names[out],
                  let source = route.preferredSource
                      ?? interfaces.first(where: { $0.index == out })?.addresses.map(\.address).first(where: {
                          $0.family == destination.family && !IPPrefix.ipv6LinkLocal.contains($0)
                      })
            else { continue }
            let family = destination.family == .ipv4 ? "IPv4" : "IPv6"
            flows.append(ProtectedFlow(what: "the default route's \(family) traffic", interface: name, ifindex: out, local: source, remote: destination))
        }
        return flows
    }
}
