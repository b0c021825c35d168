import FabricSystem
import Foundation

/// A change the kernel announced on the link or address groups. It says
/// "look again", never what the host now is: the daemon always re-reads a
/// full snapshot (libnl's cache manager and `ip monitor` work the same way).
public struct HostChange: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case link, address
        /// The socket overflowed and the kernel dropped notifications (ENOBUFS):
        /// nothing is known about what changed, only a full dump is safe.
        case overflow
    }

    public var kind: Kind
    /// The interface the message is about (0 for an overflow).
    public var ifindex: UInt32
    /// The link's name (link messages only).
    public var name: String?
    /// RTM_DELLINK / RTM_DELADDR.
    public var removed: Bool
    /// When the message was read: where event -> enforced latency starts.
    public var received: ContinuousClock.Instant

    public init(kind: Kind, ifindex: UInt32, name: String? = nil, removed: Bool = false, received: ContinuousClock.Instant) {
        self.kind = kind
        self.ifindex = ifindex
        self.name = name
        self.removed = removed
        self.received = received
    }
}

/// The link and IPv4/IPv6 address notifications of this network namespace.
/// Subscribe before taking a snapshot (`LiveHost`), so that no change in
/// between goes unseen. Blocking reads live on a thread of their own, not on
/// Swift's cooperative pool.
public final class NetlinkMonitor: @unchecked Sendable {
    private let socket: NetlinkSocket
    /// A self-pipe: `stop()` writes a byte so a blocked `next()` returns.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopped = Locked(false)
    private let clock = ContinuousClock()

    /// Big enough for a storm of a few thousand interface events while the
    /// daemon is busy; the kernel grants it to CAP_NET_ADMIN (SO_RCVBUFFORCE).
    public static let receiveBuffer: Int32 = 8 << 20

    public init() throws(SystemError) {
        socket = try NetlinkSocket(groups: NetlinkSocket.linkAndAddressGroups, nonblocking: true)
        try socket.setReceiveBuffer(bytes: Self.receiveBuffer)
        var ends: [Int32] = [-1, -1]
        try SystemError.check(pipe(&ends), "create", "wake-up pipe")
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
        (wakeRead, wakeWrite) = (ends[0], ends[1])
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    /// Blocks until the kernel announces something, then returns everything
    /// queued; nil once `stop()` was called.
    public func next() throws(SystemError) -> [HostChange]? {
        while true {
            if stopped.withLock({ $0 }) { return nil }
            var descriptors = [
                pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if SystemError.lastErrno == EINTR { continue }
                throw SystemError(verb: "wait for", object: "rtnetlink events", errno: SystemError.lastErrno)
            }
            if descriptors[1].revents != 0 { return nil }
            let received = clock.now
            guard let messages = try socket.readEvents() else {
                return [HostChange(kind: .overflow, ifindex: 0, received: received)]
            }
            if messages.isEmpty { continue }
            return messages.map { message in
                switch message {
                case .link(let link):
                    HostChange(kind: .link, ifindex: link.ifindex, name: link.name, removed: link.removed, received: received)
                case .address(let address):
                    HostChange(kind: .address, ifindex: address.ifindex, removed: address.removed, received: received)
                }
            }
        }
    }

    /// Ends `next()` and `changes()`, from any thread.
    public func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// The changes as they come, read on a dedicated thread; the stream ends
    /// on `stop()` (or if the socket fails, which the caller sees as the end).
    public func changes() -> AsyncStream<HostChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: HostChange.self)
        let thread = Thread { [self] in
            // Process signals are for whoever awaits them (the daemon's loop), never
            // for this thread: Foundation starts threads with an empty mask, and a
            // SIGTERM delivered here would take its default action and kill the daemon.
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            while let batch = try? next() {
                for change in batch { continuation.yield(change) }
            }
            continuation.finish()
        }
        thread.name = "fabricguard-netlink"
        thread.start()
        return stream
    }
}
