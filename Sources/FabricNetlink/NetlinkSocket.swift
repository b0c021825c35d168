internal import CNetlink
import FabricSystem

/// One rtnetlink socket (libmnl through the CNetlink shim). Dumps use a
/// blocking socket with no groups; the monitor a non-blocking one bound to
/// the link and address groups.
final class NetlinkSocket {
    let handle: OpaquePointer

    init(groups: UInt32, nonblocking: Bool) throws(SystemError) {
        handle = try SystemError.check(fg_nl_open(groups, nonblocking ? 1 : 0), "open", "rtnetlink socket")
    }

    deinit { fg_nl_close(handle) }

    static var linkAndAddressGroups: UInt32 { fg_nl_link_and_address_groups() }

    var descriptor: Int32 { fg_nl_fd(handle) }

    func setReceiveBuffer(bytes: Int32) throws(SystemError) {
        try SystemError.checkNegated(fg_nl_set_receive_buffer(handle, bytes), "size", "rtnetlink receive buffer")
    }

    /// What one batch of messages said, in kernel order.
    enum Message {
        case link(Link)
        case address(Address)
    }

    struct Link {
        var ifindex: UInt32
        var name: String
        var flags: UInt32
        var hardwareAddress: [UInt8]
        var removed: Bool
        /// The link type ("veth", "bridge"), nil for a plain NIC.
        var kind: String? = nil
    }

    struct Address {
        var ifindex: UInt32
        var family: Int32
        var prefixLength: Int
        var bytes: [UInt8]
        var removed: Bool
    }

    /// Every link, then every address. Retries a dump a concurrent change
    /// made inconsistent (NLM_F_DUMP_INTR), a bounded number of times.
    func dump() throws(SystemError) -> [Message] {
        var last: Int32 = 0
        for _ in 0..<8 {
            let collector = Collector()
            last = withExtendedLifetime(collector) {
                fg_nl_dump(handle, Collector.onLink, Collector.onAddress, Unmanaged.passUnretained(collector).toOpaque())
            }
            if last == 0 { return collector.messages }
            guard last == -EAGAIN else { break }
        }
        throw SystemError(
            verb: "dump", object: "links and addresses over rtnetlink", errno: -last,
            detail: last == -EAGAIN ? "the host kept changing during 8 dumps in a row" : nil)
    }

    /// The events queued now (never blocks). `nil` when the kernel dropped
    /// events because the socket overflowed (ENOBUFS): only a dump is safe then.
    func readEvents() throws(SystemError) -> [Message]? {
        let collector = Collector()
        let result = withExtendedLifetime(collector) {
            fg_nl_read_events(handle, Collector.onLink, Collector.onAddress, Unmanaged.passUnretained(collector).toOpaque())
        }
        if result == -ENOBUFS { return nil }
        try SystemError.checkNegated(result, "read", "rtnetlink events")
        return collector.messages
    }

    /// Receives the shim's callbacks; lives for one call.
    private final class Collector {
        var messages: [Message] = []

        static let onLink: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fg_nl_link>?) -> Void = { context, link in
            guard let context, let link = link?.pointee else { return }
            let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
            let name = withUnsafeBytes(of: link.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let hardware = withUnsafeBytes(of: link.address) { Array($0.prefix(Int(link.address_length))) }
            let kind = withUnsafeBytes(of: link.kind) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            collector.messages.append(.link(Link(
                ifindex: link.ifindex, name: name, flags: link.flags, hardwareAddress: hardware, removed: link.removed != 0,
                kind: kind.isEmpty ? nil : kind)))
        }

        static let onAddress: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<fg_nl_address>?) -> Void = { context, address in
            guard let context, let address = address?.pointee else { return }
            let collector = Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue()
            let length = Int32(address.family) == AF_INET ? 4 : 16
            let bytes = withUnsafeBytes(of: address.address) { Array($0.prefix(length)) }
            collector.messages.append(.address(Address(
                ifindex: address.ifindex, family: Int32(address.family), prefixLength: Int(address.prefix_length),
                bytes: bytes, removed: address.removed != 0)))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension NetlinkSocket {
    func clsactFilters(ifindex: UInt32) throws(SystemError) -> Int {
        Int(try SystemError.checkNegated(fg_nl_clsact_filters(handle, Int32(ifindex)), "list tc filters of", "ifindex \(ifindex)"))
    }
}

/// The tc side of an interface, as other tools left it.
public enum TrafficControl {
    /// Every tc filter on the interface's clsact hooks, fabricguard's or not.
    public static func clsactFilters(ifindex: UInt32) throws(SystemError) -> Int {
        try NetlinkSocket(groups: 0, nonblocking: false).clsactFilters(ifindex: ifindex)
    }
}
