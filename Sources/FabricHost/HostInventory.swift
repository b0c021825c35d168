#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FabricPolicy

/// The host's interfaces and their addresses, as the policy validator sees them.
///
/// Read from the running kernel by `LiveHost`, or from a file another machine wrote with
/// `fabricguard inventory --json`, so a policy can be checked against a host it is not running on.
/// The JSON keys are the property names in snake case (`prefix_length`), except `ifindex`.
public struct HostInventory: Codable, Sendable, Equatable {
    public var hostname: String?
    /// Sorted by ifindex.
    public var interfaces: [HostInterface]

    public init(hostname: String? = nil, interfaces: [HostInterface]) {
        self.hostname = hostname
        self.interfaces = interfaces.sorted { $0.index < $1.index }
    }

    public func interface(named name: String) -> HostInterface? {
        interfaces.first { $0.name == name }
    }

    public func interface(index: UInt32) -> HostInterface? {
        interfaces.first { $0.index == index }
    }

    /// Every (interface, address) pair.
    public var addresses: [(interface: HostInterface, address: HostAddress)] {
        interfaces.flatMap { interface in
            interface.addresses.map { (interface: interface, address: $0) }
        }
    }

    /// The JSON `fabricguard inventory --json` writes and `--host` reads: snake-case keys,
    /// sorted, so that two hosts' files compare line by line.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

public struct HostInterface: Codable, Sendable, Equatable {
    public var name: String
    /// The kernel's ifindex; JSON key "ifindex".
    public var index: UInt32
    /// IFF_UP: administratively up.
    public var up: Bool
    /// IFF_RUNNING: operationally up, i.e. the link has carrier.
    public var running: Bool
    /// Link-layer address as lowercase colon-separated hex ("02:00:00:00:00:01"); nil when the
    /// link has none (tun devices, WireGuard). Not only Ethernet: lo reports six zero bytes
    /// and IP tunnels report their local IPv4 address as four bytes.
    public var mac: String?
    /// Sorted: IPv4 first, then numerically, then by prefix length.
    public var addresses: [HostAddress]
    /// The kernel's link type (IFLA_INFO_KIND: "veth", "bridge", "vlan"), nil for a
    /// plain NIC; `--ingress-hook auto` reads it.
    public var kind: String?

    /// Whether the interface can carry traffic, including traffic redirected onto it.
    public var usable: Bool { up && running }

    public init(
        name: String, index: UInt32, up: Bool, running: Bool, mac: String? = nil,
        addresses: [HostAddress] = [], kind: String? = nil
    ) {
        self.name = name
        self.index = index
        self.up = up
        self.running = running
        self.mac = mac
        self.addresses = addresses.sorted { ($0.address, $0.prefixLength) < ($1.address, $1.prefixLength) }
        self.kind = kind
    }

    /// Only `index` is renamed, to the kernel's word for it; the rest follow the key strategy.
    private enum CodingKeys: String, CodingKey {
        case name, index = "ifindex", up, running, mac, addresses, kind
    }
}

/// An address assigned to an interface, with the prefix length it was assigned with
/// (`192.0.2.2/24`: host bits are kept, unlike `IPPrefix`).
public struct HostAddress: Codable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    /// JSON key "prefix_length".
    public var prefixLength: Int

    public init(_ address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The on-link subnet the address belongs to.
    public var prefix: IPPrefix { IPPrefix(covering: address, length: prefixLength) }

    public var description: String { "\(address)/\(prefixLength)" }
}
