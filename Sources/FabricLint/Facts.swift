import FabricHost
import FabricPolicy
import FabricSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A route lookup lint asks the kernel (`ip route get DESTINATION [from SOURCE]`).
public struct RouteQuery: Sendable, Hashable {
    public var destination: IPAddress
    public var source: IPAddress?

    public init(destination: IPAddress, source: IPAddress?) {
        self.destination = destination
        self.source = source
    }
}

/// The IPv4/IPv6 settings of one interface that decide ARP and return paths,
/// as the kernel applies them (`all` combined with the interface's own).
public struct InterfaceSysctls: Sendable, Equatable {
    public var rpFilter: Int
    public var arpIgnore: Int
    public var arpAnnounce: Int
    public var arpFilter: Int
    public var forwardingIPv4: Int
    /// nil when IPv6 is off on the interface.
    public var forwardingIPv6: Int?
    public var acceptRA: Int?

    public init(
        rpFilter: Int = 0, arpIgnore: Int = 0, arpAnnounce: Int = 0, arpFilter: Int = 0, forwardingIPv4: Int = 0,
        forwardingIPv6: Int? = nil, acceptRA: Int? = nil
    ) {
        self.rpFilter = rpFilter
        self.arpIgnore = arpIgnore
        self.arpAnnounce = arpAnnounce
        self.arpFilter = arpFilter
        self.forwardingIPv4 = forwardingIPv4
        self.forwardingIPv6 = forwardingIPv6
        self.acceptRA = acceptRA
    }

    /// Reads /proc/sys/net (per network namespace: the caller's) for `interface`.
    /// nil when the interface has no IPv4 configuration (it is gone).
    public static func read(interface: String, root: String = "/proc/sys/net") -> InterfaceSysctls? {
        // The kernel's own rules: rp_filter, arp_ignore and arp_announce use the
        // larger of all and the interface; arp_filter either.
        func value(_ family: String, _ name: String, _ key: String) -> Int? {
            let path = "\(root)/\(family)/conf/\(name.replacingOccurrences(of: "/", with: "."))/\(key)"
            return (try? TextFile.read(path, maximumSize: 64)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        guard let own = value("ipv4", interface, "rp_filter") else { return nil }
        func larger(_ key: String) -> Int { max(value("ipv4", "all", key) ?? 0, value("ipv4", interface, key) ?? 0) }
        return InterfaceSysctls(
            rpFilter: max(value("ipv4", "all", "rp_filter") ?? 0, own), arpIgnore: larger("arp_ignore"),
            arpAnnounce: larger("arp_announce"), arpFilter: larger("arp_filter"),
            forwardingIPv4: value("ipv4", interface, "forwarding") ?? 0,
            forwardingIPv6: value("ipv6", interface, "disable_ipv6") == 0 ? value("ipv6", interface, "forwarding") : nil,
            acceptRA: value("ipv6", interface, "disable_ipv6") == 0 ? value("ipv6", interface, "accept_ra") : nil)
    }
}

/// An open-iscsi interface binding (`/etc/iscsi/ifaces/NAME`): sessions through
/// it leave from `interface` with `address`.
public struct IscsiBinding: Sendable, Equatable {
    public var file: String
    public var interface: String?
    public var address: IPAddress?

    public init(file: String, interface: String?, address: IPAddress?) {
        self.file = file
        self.interface = interface
        self.address = address
    }

    /// Every binding in `directory`; files that cannot be read or parsed are
    /// reported by path, never a failure of lint. A missing directory is none.
    public static func read(directory: String) -> (bindings: [IscsiBinding], unreadable: [String]) {
        guard let directoryHandle = opendir(directory) else { return ([], []) }
        defer { closedir(directoryHandle) }
        var names: [String] = []
        while let entry = readdir(directoryHandle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        var bindings: [IscsiBinding] = [], unreadable: [String] = []
        for name in names.sorted() {
            let path = "\(directory)/\(name)"
            guard let text = try? TextFile.read(path, maximumSize: 1 << 20) else {
                unreadable.append(path)
                continue
            }
            var fields: [String: String] = [:]
            for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            let interface = fields["iface.net_ifacename"].flatMap { $0.isEmpty || $0 == "<empty>" ? nil : $0 }
            let address = fields["iface.ipaddress"].flatMap { IPAddress($0) }
            bindings.append(IscsiBinding(file: path, interface: interface, address: address))
        }
        return (bindings, unreadable)
    }
}

/// What lint holds against the policy, read from the host by the caller.
public struct LintFacts: Sendable {
    public var routes: [Route]
    /// Each `Linter.routeQueries` query with the kernel's answer (nil: no route).
    public var lookups: [RouteQuery: Route?]
    /// By interface name; fabric interfaces only.
    public var sysctls: [String: InterfaceSysctls]
    public var iscsi: [IscsiBinding]
    public var unreadableIscsi: [String]

    public init(
        routes: [Route] = [], lookups: [RouteQuery: Route?] = [:], sysctls: [String: InterfaceSysctls] = [:],
        iscsi: [IscsiBinding] = [], unreadableIscsi: [String] = []
    ) {
        self.routes = routes
        self.lookups = lookups
        self.sysctls = sysctls
        self.iscsi = iscsi
        self.unreadableIscsi = unreadableIscsi
    }
}
