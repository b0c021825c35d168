import FabricABI
import FabricCompiler

/// Bounds-checked header parsing over raw frame bytes.
///
/// This mirrors bpf/include/parse.h helper for helper (`parseEthhdr` is
/// `parse_ethhdr`, and so on) because the reference path is the kernel's test
/// oracle: the two must accept, reject and extract exactly the same bytes.
/// Every helper returns nil (the C side: -1) when the header does not fit.
public struct HeaderCursor {
    public let frame: UnsafeRawBufferPointer
    /// Offset of the next unparsed byte (`nh->pos - data` in C).
    public private(set) var pos: Int

    public init(_ frame: UnsafeRawBufferPointer) {
        self.frame = frame
        pos = 0
    }

    @inline(__always)
    func fits(_ length: Int) -> Bool { frame.count - pos >= length }

    @inline(__always)
    func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: frame.loadUnaligned(fromByteOffset: pos + offset, as: UInt16.self))
    }

    @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: frame.loadUnaligned(fromByteOffset: pos + offset, as: UInt32.self))
    }

    @inline(__always)
    func be128(_ offset: Int) -> UInt128 {
        UInt128(be64(offset)) << 64 | UInt128(be64(offset + 8))
    }

    @inline(__always)
    func be64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: frame.loadUnaligned(fromByteOffset: pos + offset, as: UInt64.self))
    }

    /// Ethernet header plus up to `maxVLANTags` 802.1Q / 802.1ad tags. Returns
    /// the inner EtherType. A third tag is not skipped: its TPID is returned
    /// and classifies as not IP, as the kernel program does.
    @inline(__always)
    public mutating func parseEthhdr(maxVLANTags: Int = ABILimits.maxVLANTags) -> UInt16? {
        guard fits(EtherType.ethernetHeaderLength) else { return nil }
        var proto = be16(12)
        pos += EtherType.ethernetHeaderLength
        for _ in 0..<maxVLANTags {
            guard proto == EtherType.vlan || proto == EtherType.qinq else { break }
            guard fits(EtherType.vlanTagLength) else { return nil }
            proto = be16(2)
            pos += EtherType.vlanTagLength
        }
        return proto
    }

    public struct ARPFields: Equatable, Sendable {
        public var protocolType: UInt16
        public var operation: UInt16
        public var senderIP: UInt32
        public var targetIP: UInt32

        public init(protocolType: UInt16, operation: UInt16, senderIP: UInt32, targetIP: UInt32) {
            self.protocolType = protocolType
            self.operation = operation
            self.senderIP = senderIP
            self.targetIP = targetIP
        }
    }

    /// The ARP header. Only Ethernet/IPv4 address sizes (6 / 4) are accepted;
    /// a protocol type other than IPv4 is reported and left to the caller.
    @inline(__always)
    public mutating func parseArphdr() -> ARPFields? {
        guard fits(ARP.fixedHeaderLength) else { return nil }
        let protocolType = be16(2)
        let hardwareLength = frame[pos + 4]
        let protocolLength = frame[pos + 5]
        let operation = be16(6)
        if protocolType != EtherType.ipv4 {
            return ARPFields(protocolType: protocolType, operation: operation, senderIP: 0, targetIP: 0)
        }
        guard hardwareLength == 6, protocolLength == 4, fits(ARP.ipv4Length) else { return nil }
        let fields = ARPFields(protocolType: protocolType, operation: operation, senderIP: be32(14), targetIP: be32(24))
        pos += ARP.ipv4Length
        return fields
    }

    /// The IPv4 header including options: version 4, IHL >= 5, all IHL words present.
    @inline(__always)
    public mutating func parseIphdr() -> (source: UInt32, destination: UInt32)? {
        guard fits(20) else { return nil }
        let versionIHL = frame[pos]
        let headerLength = Int(versionIHL & 0x0f) * 4
        guard versionIHL >> 4 == 4, headerLength >= 20, fits(headerLength) else { return nil }
        let addresses = (be32(12), be32(16))
        pos += headerLength
        return addresses
    }

    /// The fixed IPv6 header (extension headers are not needed for addresses).
    @inline(__always)
    public mutating func parseIp6hdr() -> (source: UInt128, destination: UInt128)? {
        guard fits(40), frame[pos] >> 4 == 6 else { return nil }
        let addresses = (be128(8), be128(24))
        pos += 40
        return addresses
    }
}

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86dd
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88a8
    static let ethernetHeaderLength = 14
    static let vlanTagLength = 4
}

public enum ARP {
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2
    static let fixedHeaderLength = 8
    static let ipv4Length = 28
}
