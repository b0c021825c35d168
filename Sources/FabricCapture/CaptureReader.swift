import CPcap
import FabricABI

#if canImport(Glibc)
import Glibc
#endif

/// One captured frame, as an Ethernet frame the reference decision can judge.
public struct CapturedFrame: Sendable {
    /// 1-based position in the capture.
    public var number: Int
    public var seconds: Int
    public var microseconds: Int
    /// From the capture (Linux cooked v2), else nil.
    public var interfaceIndex: UInt32?
    /// From the capture's packet type (Linux cooked v1/v2), else nil.
    public var direction: Direction?
    /// Ethernet header (rebuilt for cooked and raw IP captures) and payload.
    public var frame: [UInt8]
    /// The frame's length on the wire as the kernel counts it (skb->len at the
    /// hook: Ethernet header included), for byte counters comparable with `stats`.
    public var wireLength: Int
    /// The capture kept fewer bytes than the frame had (its snaplen, `tcpdump -s`):
    /// headers missing from `frame` were on the wire all the same.
    public var truncated: Bool = false
}

public struct CaptureError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// Streams a pcap or pcapng file through libpcap, one frame at a time (memory
/// stays flat whatever the capture size). Link types: Linux cooked v2 (what
/// `tcpdump -i any` writes: interface index and direction included), Linux
/// cooked v1 (direction included), Ethernet (neither), and raw IP: RAW (either
/// version, told by the first nibble), IPV4 and IPV6, what tun devices and cloud
/// packet mirrors write (neither, and no Ethernet header: one is rebuilt).
public final class CaptureReader {
    public enum LinkType: Sendable, Equatable {
        case linuxCookedV2, linuxCookedV1, ethernet, raw, ipv4, ipv6

        public var name: String {
            switch self {
            case .linuxCookedV2: "LINUX_SLL2"
            case .linuxCookedV1: "LINUX_SLL"
            case .ethernet: "EN10MB"
            case .raw: "RAW"
            case .ipv4: "IPV4"
            case .ipv6: "IPV6"
            }
        }

        /// Whether frames say which interface they were seen on (only Linux cooked v2 does).
        public var carriesInterface: Bool { self == .linuxCookedV2 }
        /// Whether frames say their direction (the Linux cooked captures do).
        public var carriesDirection: Bool { self == .linuxCookedV2 || self == .linuxCookedV1 }

        /// The link type of libpcap's `pcap_datalink`, nil when not read.
        init?(dlt: Int32) {
            switch dlt {
            case DLT_LINUX_SLL2: self = .linuxCookedV2
            case DLT_LINUX_SLL: self = .linuxCookedV1
            case DLT_EN10MB: self = .ethernet
            // libpcap maps LINKTYPE_RAW (101) in a file to DLT_RAW (12 on Linux).
            case DLT_RAW, 101: self = .raw
            case DLT_IPV4: self = .ipv4
            case DLT_IPV6: self = .ipv6
            default: return nil
            }
        }
    }

    public let path: String
    public let linkType: LinkType
    private let handle: OpaquePointer
    private var count = 0

    /// `-` is standard input (libpcap's convention); anything else must be a regular file:
    /// opening a FIFO nobody writes to would block forever, and a device never ends.
    public init(path: String) throws(CaptureError) {
        self.path = path
        if path != "-" {
            var status = stat()
            if stat(path, &status) == 0, status.st_mode & mode_t(S_IFMT) != mode_t(S_IFREG) {
                let kind = switch status.st_mode & mode_t(S_IFMT) {
                case mode_t(S_IFDIR): "directory"
                case mode_t(S_IFIFO): "FIFO"
                case mode_t(S_IFCHR): "character device"
                case mode_t(S_IFBLK): "block device"
                case mode_t(S_IFSOCK): "socket"
                default: "special file"
                }
                throw CaptureError(message: "read capture \(path): not a regular file (\(kind)); give a capture file, or - for standard input")
            }
        }
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline(path, &errors) else {
            let cause = String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CaptureError(message: "read capture \(path): \(cause)")
        }
        self.linkType = try Self.linkType(of: handle, name: path)
        self.handle = handle
    }

    /// Reads an open stream (the fuzz harness's `fmemopen` of its bytes) through
    /// `pcap_fopen_offline`; `name` stands for the path in messages. The reader
    /// owns `file` from here on, closing it on failure as `pcap_close` does on success.
    public init(file: UnsafeMutablePointer<FILE>, name: String) throws(CaptureError) {
        self.path = name
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_fopen_offline(file, &errors) else {
            fclose(file)
            let cause = String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CaptureError(message: "read capture \(name): \(cause)")
        }
        self.linkType = try Self.linkType(of: handle, name: name)
        self.handle = handle
    }

    deinit { pcap_close(handle) }

    /// The capture's link type, or a refusal naming it (the handle is closed then,
    /// since no reader will own it).
    private static func linkType(of handle: OpaquePointer, name: String) throws(CaptureError) -> LinkType {
        let type = pcap_datalink(handle)
        guard let linkType = LinkType(dlt: type) else {
            let typeName = pcap_datalink_val_to_name(type).map { String(cString: $0) } ?? "\(type)"
            pcap_close(handle)
            throw CaptureError(message: "read capture \(name): \(unsupported(typeName))")
        }
        return linkType
    }

    /// The refusal of a link type, naming what is read instead.
    static func unsupported(_ name: String) -> String {
        "link type \(name) is not supported (read: EN10MB Ethernet, LINUX_SLL and LINUX_SLL2 cooked, RAW, IPV4 and IPV6 raw IP; "
            + "capture with tcpdump -i any, or on an Ethernet or tun interface)"
    }

    /// The next frame, nil at the end; a corrupt or truncated capture throws,
    /// naming the frame and how far the reading got.
    public func next() throws(CaptureError) -> CapturedFrame? {
        var frame: CapturedFrame?
        _ = try withNextFrame { header, bytes in
            frame = CapturedFrame(
                number: header.number, seconds: header.seconds, microseconds: header.microseconds,
                interfaceIndex: header.interfaceIndex, direction: header.direction, frame: Array(bytes),
                wireLength: header.wireLength, truncated: header.truncated)
        }
        return frame
    }

    /// What `CapturedFrame` says about a frame, without its bytes.
    public struct FrameHeader: Sendable {
        public var number: Int
        public var seconds: Int
        public var microseconds: Int
        public var interfaceIndex: UInt32?
        public var direction: Direction?
        public var wireLength: Int
        /// The capture kept fewer bytes than the frame had (caplen < len).
        public var truncated: Bool = false
    }

    /// Hands the next frame to `body` without copying it out: libpcap's own
    /// buffer for Ethernet, a reused scratch buffer for a cooked capture's
    /// rebuilt Ethernet frame. The bytes are valid only during the call (the
    /// dry-run's way through ten million frames). False at the end. Not
    /// generic on purpose: a generic result costs a metadata lookup per frame.
    public func withNextFrame(_ body: (FrameHeader, UnsafeRawBufferPointer) -> Void) throws(CaptureError) -> Bool {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let result = pcap_next_ex(handle, &header, &data)
        switch result {
        case 1:
            break
        case PCAP_ERROR_BREAK:
            return false
        default:
            let cause = String(cString: pcap_geterr(handle))
            throw CaptureError(
                message: "read capture \(path): frame \(count + 1): \(cause) (\(count) frames read before it)")
        }
        guard let header, let data else { return false }
        count += 1
        let captured = UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen))
        let wire = Int(header.pointee.len)
        let time = header.pointee.ts
        var frame = FrameHeader(
            number: count, seconds: Int(time.tv_sec), microseconds: Int(time.tv_usec), interfaceIndex: nil,
            direction: nil, wireLength: wire, truncated: captured.count < wire)
        switch linkType {
        case .ethernet:
            body(frame, captured)
            return true
        case .linuxCookedV2:
            // protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8), then the L3 payload.
            guard captured.count >= 20 else {
                body(frame.cutShort(), UnsafeRawBufferPointer(start: nil, count: 0))
                return true
            }
            frame.interfaceIndex = UInt32(captured[4]) << 24 | UInt32(captured[5]) << 16 | UInt32(captured[6]) << 8 | UInt32(captured[7])
            frame.direction = captured[10] == Self.packetOutgoing ? .egress : .ingress
            // A record claiming fewer bytes on the wire than it holds is corrupt: the kept bytes count.
            frame.wireLength = max(wire, captured.count) - 20 + 14
            rebuildEthernet(protocol: captured[0..<2], address: captured[12..<18], payload: captured[20...])
        case .linuxCookedV1:
            // pkttype(2) hatype(2) halen(2) addr(8) protocol(2), then the L3 payload.
            guard captured.count >= 16 else {
                body(frame.cutShort(), UnsafeRawBufferPointer(start: nil, count: 0))
                return true
            }
            frame.direction = captured[1] == Self.packetOutgoing ? .egress : .ingress
            frame.wireLength = max(wire, captured.count) - 16 + 14
            rebuildEthernet(protocol: captured[14..<16], address: captured[6..<12], payload: captured[16...])
        case .raw, .ipv4, .ipv6:
            // No link header at all: the EtherType comes from the link type, or for RAW
            // from the IP version nibble (anything but 6 is given to the IPv4 parser,
            // which judges a bad version malformed as the kernel would).
            let isIPv6 = linkType == .ipv6 || (linkType == .raw && captured.first.map { $0 >> 4 == 6 } == true)
            frame.wireLength = wire + 14
            withUnsafeBytes(of: (isIPv6 ? Self.etherTypeIPv6 : Self.etherTypeIPv4).bigEndian) { etherType in
                withUnsafeBytes(of: (0, 0, 0, 0, 0, 0) as (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) { address in
                    rebuildEthernet(protocol: etherType[...], address: address[...], payload: captured[...])
                }
            }
        }
        scratch.withUnsafeBytes { body(frame, $0) }
        return true
    }

    /// The rebuilt frame of a cooked capture; its storage is reused frame after frame.
    private var scratch: [UInt8] = []

    /// linux/if_packet.h PACKET_OUTGOING: sent by this host.
    static let packetOutgoing: UInt8 = 4
    static let etherTypeIPv4: UInt16 = 0x0800
    static let etherTypeIPv6: UInt16 = 0x86dd

    /// Cooked and raw IP captures carry no Ethernet header: one is rebuilt from the
    /// protocol field and the link-layer source address the kernel recorded (zero for raw IP).
    private func rebuildEthernet(protocol etherType: Slice<UnsafeRawBufferPointer>, address: Slice<UnsafeRawBufferPointer>,
                                 payload: Slice<UnsafeRawBufferPointer>) {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: repeatElement(0, count: 6))
        scratch.append(contentsOf: address)
        scratch.append(contentsOf: etherType)
        scratch.append(contentsOf: payload)
    }
}

extension CaptureReader.FrameHeader {
    /// A cooked header cut short carries no frame: it is judged (malformed) as empty,
    /// or counted as cut by the capture when the frame was longer than what was kept.
    fileprivate func cutShort() -> Self {
        var copy = self
        copy.wireLength = 0
        return copy
    }
}
