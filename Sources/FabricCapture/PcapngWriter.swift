#if canImport(Glibc)
import Glibc
#endif

/// Writes Ethernet frames as pcapng (the IETF draft's blocks, little-endian):
/// one section header, one interface description block per interface with its
/// name, and an enhanced packet block per frame with a comment. libpcap's dump
/// API writes only classic pcap, which has neither interface names nor comments.
public final class PcapngWriter {
    private let file: UnsafeMutablePointer<FILE>
    private let path: String
    private var interfaces: [String: UInt32] = [:]

    static let linkTypeEthernet: UInt16 = 1
    /// Frames are sampled: the snap length says at most this much of each was kept.
    public static let snapLength: UInt32 = 65535

    public init(path: String) throws(CaptureError) {
        guard let file = fopen(path, "wb") else {
            throw CaptureError(message: "create \(path): \(String(cString: strerror(errno))) (errno \(errno))")
        }
        self.file = file
        self.path = path
        var block = Block(type: 0x0A0D_0D0A)
        block.u32(0x1A2B_3C4D)  // byte-order magic
        block.u16(1)  // major version
        block.u16(0)  // minor version
        block.u64(UInt64.max)  // section length: not given
        block.option(4, Array("fabricguard events".utf8))  // shb_userappl
        block.endOfOptions()
        try emit(block)
    }

    deinit { fclose(file) }

    /// Appends a frame seen on `interface` at `seconds` since the epoch; `length`
    /// is its length on the wire, `bytes` what was sampled of it.
    public func write(interface: String, seconds: Double, bytes: [UInt8], length: Int, comment: String) throws(CaptureError) {
        let id = try interfaceID(interface)
        let micros = UInt64(max(seconds, 0) * 1_000_000)
        var block = Block(type: 6)
        block.u32(id)
        block.u32(UInt32(truncatingIfNeeded: micros >> 32))
        block.u32(UInt32(truncatingIfNeeded: micros))
        block.u32(UInt32(bytes.count))
        block.u32(UInt32(max(length, bytes.count)))
        block.bytes(bytes)
        block.pad()
        block.option(1, Array(comment.utf8))  // opt_comment
        block.endOfOptions()
        try emit(block)
    }

    /// Pushes what was written to the file (a reader may be waiting for it).
    public func flush() { fflush(file) }

    private func interfaceID(_ name: String) throws(CaptureError) -> UInt32 {
        if let id = interfaces[name] { return id }
        let id = UInt32(interfaces.count)
        var block = Block(type: 1)
        block.u16(Self.linkTypeEthernet)
        block.u16(0)  // reserved
        block.u32(Self.snapLength)
        block.option(2, Array(name.utf8))  // if_name
        block.option(9, [6])  // if_tsresol: microseconds
        block.endOfOptions()
        try emit(block)
        interfaces[name] = id
        return id
    }

    private func emit(_ block: Block) throws(CaptureError) {
        let bytes = block.finished()
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else {
            throw CaptureError(message: "write \(path): \(String(cString: strerror(errno))) (errno \(errno))")
        }
    }

    /// One block: type, total length, body, total length again.
    struct Block {
        var body: [UInt8] = []
        let type: UInt32

        init(type: UInt32) { self.type = type }

        mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { body += $0 } }
        mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { body += $0 } }
        mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { body += $0 } }
        mutating func bytes(_ value: [UInt8]) { body += value }
        mutating func pad() { body += [UInt8](repeating: 0, count: (4 - body.count % 4) % 4) }

        mutating func option(_ code: UInt16, _ value: [UInt8]) {
            u16(code)
            u16(UInt16(value.count))
            bytes(value)
            pad()
        }

        mutating func endOfOptions() { u32(0) }

        func finished() -> [UInt8] {
            let total = UInt32(12 + body.count)
            var out: [UInt8] = []
            withUnsafeBytes(of: type.littleEndian) { out += $0 }
            withUnsafeBytes(of: total.littleEndian) { out += $0 }
            out += body
            withUnsafeBytes(of: total.littleEndian) { out += $0 }
            return out
        }
    }
}
