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
    /// Ethernet header (rebuilt for cooked captures) and payload.
    public var frame: [UInt8]
    /// The frame's length on the wire as the kernel counts it (skb->len at the
    /// hook: Ethernet header included), for byte counters comparable with `stats`.
    public var wireLength: Int
}

public struct CaptureError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

/// Streams a pcap or pcapng file through libpcap, one frame at a time (memory
/// stays flat whatever the capture size). Link types: Linux cooked v2 (what
/// `tcpdump -i any` writes: interface index and direction included), Linux
/// cooked v1 (direction included) and Ethernet (neither).
public final class CaptureReader {
    public enum LinkType: Sendable, Equatable {
        case linuxCookedV2, linuxCookedV1, ethernet

        public var name: String {
            switch self {
            case .linuxCookedV2: "LINUX_SLL2"
            case .linuxCookedV1: "LINUX_SLL"
            case .ethernet: "EN10MB"
            }
        }
    }

    public let path: String
    public let linkType: LinkType
    private let handle: OpaquePointer
    private var count = 0

    public init(path: String) throws(CaptureError) {
        self.path = path
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline(path, &errors) else {
            let cause = String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CaptureError(message: "read capture \(path): \(cause)")
        }
        let type = pcap_datalink(handle)
        switch type {
        case DLT_LINUX_SLL2: linkType = .linuxCookedV2
        case DLT_LINUX_SLL: linkType = .linuxCookedV1
        case DLT_EN10MB: linkType = .ethernet
        default:
            let name = pcap_datalink_val_to_name(type).map { String(cString: $0) } ?? "\(type)"
            pcap_close(handle)
            throw CaptureError(
                message: "read capture \(path): link type \(name) is not supported (Ethernet, Linux cooked v1 or v2: capture with tcpdump -i any or on an Ethernet interface)")
        }
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
        let type = pcap_datalink(handle)
        switch type {
        case DLT_LINUX_SLL2: linkType = .linuxCookedV2
        case DLT_LINUX_SLL: linkType = .linuxCookedV1
        case DLT_EN10MB: linkType = .ethernet
        default:
            pcap_close(handle)
            throw CaptureError(message: "read capture \(name): link type \(type) is not supported")
        }
        self.handle = handle
    }

    deinit { pcap_close(handle) }

    /// The next frame, nil at the end; a corrupt or truncated capture throws,
    /// naming the frame and how far the reading got.
    public func next() throws(CaptureError) -> CapturedFrame? {
        var frame: CapturedFrame?
        _ = try withNextFrame { header, bytes in
            frame = CapturedFrame(
                number: header.number, seconds: header.seconds, microseconds: header.microseconds,
                interfaceIndex: header.interfaceIndex, direction: header.direction, frame: Array(bytes),
                wireLength: header.wireLength)
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
            direction: nil, wireLength: wire)
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
        }
        scratch.withUnsafeBytes { body(frame, $0) }
        return true
    }

    /// The rebuilt frame of a cooked capture; its storage is reused frame after frame.
    private var scratch: [UInt8] = []

    /// linux/if_packet.h PACKET_OUTGOING: sent by this host.
    static let packetOutgoing: UInt8 = 4

    /// Cooked captures carry no Ethernet header: one is rebuilt from the
    /// protocol field and the link-layer source address the kernel recorded.
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
    /// A cooked header cut short carries no frame: it is judged (malformed) as empty.
    fileprivate func cutShort() -> Self {
        var copy = self
        copy.wireLength = 0
        return copy
    }
}
