/// Small captures written byte by byte (classic pcap, little-endian; pcapng), so that
/// tests and fuzz seeds control exactly what libpcap reads.
public enum CaptureBytes {
    static func le32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// Classic pcap: global header, then (timestamp, lengths, bytes) records. With
    /// `snaplen`, each record keeps at most that many bytes and says how long the frame
    /// was, as `tcpdump -s N` writes it; `claimedLength` overrides the length a record claims.
    public static func pcap(linkType: UInt32, frames: [[UInt8]], claimedLength: Int? = nil, snaplen: Int? = nil) -> [UInt8] {
        var bytes = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(UInt32(snaplen ?? 262_144)) + le32(linkType)
        for (index, frame) in frames.enumerated() {
            let length = UInt32(claimedLength ?? frame.count)
            let kept = Array(frame.prefix(snaplen ?? frame.count))
            bytes += le32(1_700_000_000 + UInt32(index)) + le32(0) + le32(snaplen == nil ? length : UInt32(kept.count)) + le32(length) + kept
        }
        return bytes
    }

    /// pcapng: section header, one Ethernet interface named `name`, enhanced packet blocks.
    public static func pcapng(name: String, frames: [[UInt8]]) -> [UInt8] {
        func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
            let padded = body + [UInt8](repeating: 0, count: (4 - body.count % 4) % 4)
            let length = UInt32(12 + padded.count)
            return le32(type) + le32(length) + padded + le32(length)
        }
        let nameBytes = Array(name.utf8)
        let option = le16(2) + le16(UInt16(nameBytes.count)) + nameBytes + [UInt8](repeating: 0, count: (4 - nameBytes.count % 4) % 4)
        var bytes = block(0x0a0d_0d0a, le32(0x1a2b_3c4d) + le16(1) + le16(0) + [UInt8](repeating: 0xff, count: 8))
        bytes += block(1, le16(1) + le16(0) + le32(262_144) + option + le32(0))
        for frame in frames {
            bytes += block(6, le32(0) + le32(0) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame)
        }
        return bytes
    }

    /// Linux cooked v2: protocol, reserved, ifindex, hatype, pkttype, halen, address(8), payload.
    public static func cooked2(_ ethernet: [UInt8], ifindex: UInt32, outgoing: Bool) -> [UInt8] {
        var header = Array(ethernet[12..<14]) + [0, 0]
        header += withUnsafeBytes(of: ifindex.bigEndian) { Array($0) }
        header += [0, 1, outgoing ? 4 : 0, 6] + Array(ethernet[6..<12]) + [0, 0]
        return header + ethernet[14...]
    }

    /// Linux cooked v1: pkttype, hatype, halen, address(8), protocol, payload.
    public static func cooked1(_ ethernet: [UInt8], outgoing: Bool) -> [UInt8] {
        [0, outgoing ? 4 : 0, 0, 1, 0, 6] + Array(ethernet[6..<12]) + [0, 0] + Array(ethernet[12..<14]) + ethernet[14...]
    }
}
