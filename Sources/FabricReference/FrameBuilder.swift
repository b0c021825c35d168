import FabricPolicy

/// Builds well-formed Ethernet frames for fixtures, `explain` and benchmarks.
/// Checksums are real, so the same bytes can be injected on a live interface.
public enum FrameBuilder {
    public struct VLANTag: Sendable, Equatable {
        public var tpid: UInt16
        public var vid: UInt16

        /// An 802.1Q customer tag.
        public static func dot1q(_ vid: UInt16) -> VLANTag { VLANTag(tpid: EtherType.vlan, vid: vid) }
        /// An 802.1ad service tag (the outer tag of QinQ).
        public static func dot1ad(_ vid: UInt16) -> VLANTag { VLANTag(tpid: EtherType.qinq, vid: vid) }
    }

    public static let sourceMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]
    public static let destinationMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02]

    /// Ethernet header, tags outermost first, then `payload`.
    public static func ethernet(etherType: UInt16, vlan: [VLANTag] = [], payload: [UInt8]) -> [UInt8] {
        var frame = destinationMAC + sourceMAC
        for tag in vlan {
            frame += be16(tag.tpid)
            frame += be16(tag.vid & 0x0fff)
        }
        return frame + be16(etherType) + payload
    }

    /// IPv4 + UDP. `optionWords` adds that many 4-byte words of IP options (NOPs, then EOL).
    public static func udp4(
        source: IPAddress, destination: IPAddress, vlan: [VLANTag] = [], optionWords: Int = 0,
        payload: [UInt8] = Array("fabricguard".utf8)
    ) -> [UInt8] {
        precondition(source.family == .ipv4 && destination.family == .ipv4 && (0...10).contains(optionWords))
        let udp = udpHeader(payloadLength: payload.count) + payload
        let headerLength = 20 + 4 * optionWords
        var header: [UInt8] = [UInt8(0x40 | headerLength / 4), 0]
        header += be16(UInt16(headerLength + udp.count))
        header += [0x12, 0x34, 0x40, 0x00, 64, 17, 0, 0]  // id, DF, ttl 64, UDP, checksum below
        header += source.bytes + destination.bytes
        if optionWords > 0 {
            header += [UInt8](repeating: 0x01, count: 4 * optionWords - 1) + [0x00]
        }
        let checksum = internetChecksum(header)
        header[10] = UInt8(checksum >> 8)
        header[11] = UInt8(checksum & 0xff)
        return ethernet(etherType: EtherType.ipv4, vlan: vlan, payload: header + udp)
    }

    /// IPv6 + UDP (the UDP checksum is left zero: decisions never read it).
    public static func udp6(
        source: IPAddress, destination: IPAddress, vlan: [VLANTag] = [], payload: [UInt8] = Array("fabricguard".utf8)
    ) -> [UInt8] {
        precondition(source.family == .ipv6 && destination.family == .ipv6)
        let udp = udpHeader(payloadLength: payload.count) + payload
        var header: [UInt8] = [0x60, 0, 0, 0]
        header += be16(UInt16(udp.count))
        header += [17, 64]  // next header UDP, hop limit
        header += source.bytes + destination.bytes
        return ethernet(etherType: EtherType.ipv6, vlan: vlan, payload: header + udp)
    }

    /// An Ethernet/IPv4 ARP request (`operation` 1) or reply (2).
    public static func arp(
        operation: UInt16, senderIP: IPAddress, targetIP: IPAddress, vlan: [VLANTag] = []
    ) -> [UInt8] {
        precondition(senderIP.family == .ipv4 && targetIP.family == .ipv4)
        var body: [UInt8] = be16(1) + be16(EtherType.ipv4) + [6, 4] + be16(operation)
        body += sourceMAC + senderIP.bytes
        body += (operation == ARP.request ? [UInt8](repeating: 0, count: 6) : destinationMAC) + targetIP.bytes
        return ethernet(etherType: EtherType.arp, vlan: vlan, payload: body)
    }

    /// A UDP frame of the address family of `source`.
    public static func udp(source: IPAddress, destination: IPAddress, vlan: [VLANTag] = []) -> [UInt8] {
        source.family == .ipv4
            ? udp4(source: source, destination: destination, vlan: vlan)
            : udp6(source: source, destination: destination, vlan: vlan)
    }

    static func udpHeader(payloadLength: Int) -> [UInt8] {
        be16(40000) + be16(3260) + be16(UInt16(8 + payloadLength)) + [0, 0]
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }

    /// RFC 1071 ones' complement sum.
    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
