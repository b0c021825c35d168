import FabricABI
import FabricPolicy

/// What a violation event's sampled frame says, for people and for JSON:
/// VLAN tags, addresses, transport protocol and ports. Parsed with the same
/// cursor as the decision, plus the few fields the decision never needs.
public struct FrameSummary: Sendable, Equatable {
    /// VLAN IDs, outermost first.
    public var vlan: [UInt16] = []
    public var source: IPAddress?
    public var destination: IPAddress?
    /// "tcp", "udp", "icmp", "icmpv6", "arp", or the IP protocol number.
    public var protocolName: String?
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?

    public init(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { frame in
            var cursor = HeaderCursor(frame)
            // VLAN IDs sit in the 12 low bits of each tag's TCI, right after its TPID.
            var offset = 12
            while vlan.count < ABILimits.maxVLANTags, offset + 4 <= frame.count {
                let tpid = UInt16(frame[offset]) << 8 | UInt16(frame[offset + 1])
                guard tpid == EtherType.vlan || tpid == EtherType.qinq else { break }
                vlan.append((UInt16(frame[offset + 2]) << 8 | UInt16(frame[offset + 3])) & 0x0fff)
                offset += 4
            }
            guard let proto = cursor.parseEthhdr() else { return }
            let networkStart = cursor.pos
            var transport: UInt8?
            switch proto {
            case EtherType.ipv4:
                guard let ip = cursor.parseIphdr() else { return }
                (source, destination) = (.v4(ip.source), .v4(ip.destination))
                transport = frame[networkStart + 9]
            case EtherType.ipv6:
                guard let ip = cursor.parseIp6hdr() else { return }
                (source, destination) = (.v6(ip.source), .v6(ip.destination))
                transport = frame[networkStart + 6]
            case EtherType.arp:
                protocolName = "arp"
                guard let arp = cursor.parseArphdr() else { return }
                (source, destination) = (.v4(arp.senderIP), .v4(arp.targetIP))
            default:
                return
            }
            guard let transport else { return }
            protocolName = Self.names[transport] ?? String(transport)
            // Ports follow the fixed IPv6 header only when no extension header intervenes.
            if transport == 6 || transport == 17, cursor.pos + 4 <= frame.count {
                sourcePort = UInt16(frame[cursor.pos]) << 8 | UInt16(frame[cursor.pos + 1])
                destinationPort = UInt16(frame[cursor.pos + 2]) << 8 | UInt16(frame[cursor.pos + 3])
            }
        }
    }

    static let names: [UInt8: String] = [1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"]
}
