internal import CLibBPF
import CFabricABI
import FabricSystem

#if canImport(Glibc)
import Glibc
#endif

/// One violation event as the programs wrote it (struct fg_event).
public struct RawEvent: Sendable, Equatable {
    /// CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns).
    public var timestampNanoseconds: UInt64
    /// The generation active when the programs sent it.
    public var generation: UInt64
    public var ifindex: UInt32
    public var redirectIfindex: UInt32
    public var direction: UInt8
    public var reason: UInt8
    public var action: UInt8
    /// The frame's length on the wire; `head` holds its first bytes.
    public var frameLength: Int
    public var head: [UInt8]

    public init(
        timestampNanoseconds: UInt64, generation: UInt64, ifindex: UInt32, redirectIfindex: UInt32 = 0, direction: UInt8,
        reason: UInt8, action: UInt8, frameLength: Int, head: [UInt8]
    ) {
        self.timestampNanoseconds = timestampNanoseconds
        self.generation = generation
        self.ifindex = ifindex
        self.redirectIfindex = redirectIfindex
        self.direction = direction
        self.reason = reason
        self.action = action
        self.frameLength = frameLength
        self.head = head
    }
}

/// The programs' ring buffer of violation events (fg_events), read through
/// libbpf's ring_buffer. One consumer at a time gets each event.
public final class EventRing {
    private let ring: OpaquePointer
    private let collector = Collector()

    public init(map: BPFMap) throws(SystemError) {
        ring = try SystemError.check(
            ring_buffer__new(map.fd, Collector.sample, Unmanaged.passUnretained(collector).toOpaque(), nil),
            "read events from", map.name)
    }

    deinit { ring_buffer__free(ring) }

    /// Waits up to `timeoutMilliseconds` for events and returns the ones that came.
    public func poll(timeoutMilliseconds: Int32) throws(SystemError) -> [RawEvent] {
        let result = ring_buffer__poll(ring, timeoutMilliseconds)
        if result < 0, result != -EINTR { throw SystemError(verb: "poll", object: FG_MAP_EVENTS, errno: -result) }
        defer { collector.events.removeAll(keepingCapacity: true) }
        return collector.events
    }

    private final class Collector {
        var events: [RawEvent] = []

        static let sample: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int) -> Int32 = { context, data, size in
            guard let context, let data, size >= MemoryLayout<fg_event>.size else { return 0 }
            let event = data.loadUnaligned(as: fg_event.self)
            let head = withUnsafeBytes(of: event.head) { Array($0.prefix(Int(min(event.head_len, UInt16(FG_EVENT_HEAD_LEN))))) }
            Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue().events.append(RawEvent(
                timestampNanoseconds: event.timestamp_ns, generation: event.generation, ifindex: event.ifindex, redirectIfindex: event.redirect_ifindex,
                direction: event.direction, reason: event.reason, action: event.action, frameLength: Int(event.frame_len),
                head: head))
            return 0
        }
    }
}
