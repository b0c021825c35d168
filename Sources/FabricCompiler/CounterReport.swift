import FabricABI

/// The counters shape shared by `stats --json` (the kernel's counters) and
/// `dry-run --json` (the reference path's), so a live run and a dry run can
/// be compared line by line (docs/cli.md, "JSON").
public struct CounterReport: Sendable, Equatable, Codable {
    /// Frames judged, where the source knows it (dry-run); absent for the kernel.
    public var packets: UInt64?
    public var counters: [Row]
    /// What became of the violations, per interface and reason (the kernel's
    /// event tallies): sent as events, suppressed by the rate limit, or lost
    /// to a full ring. Absent for dry-run, which sends no events.
    public var events: [EventRow]?

    public struct EventRow: Sendable, Equatable, Codable {
        public var interface: String
        public var reason: Reason
        public var sent: UInt64
        public var suppressed: UInt64
        public var ringFull: UInt64

        public init(interface: String, reason: Reason, sent: UInt64, suppressed: UInt64, ringFull: UInt64) {
            self.interface = interface
            self.reason = reason
            self.sent = sent
            self.suppressed = suppressed
            self.ringFull = ringFull
        }
    }

    public struct Row: Sendable, Equatable, Codable {
        public var interface: String
        public var direction: Direction
        public var reason: Reason
        public var action: Action
        public var packets: UInt64
        public var bytes: UInt64

        public init(interface: String, direction: Direction, reason: Reason, action: Action, packets: UInt64, bytes: UInt64) {
            self.interface = interface
            self.direction = direction
            self.reason = reason
            self.action = action
            self.packets = packets
            self.bytes = bytes
        }
    }

    public init(packets: UInt64? = nil, counters: [Row], events: [EventRow]? = nil) {
        self.packets = packets
        self.events = events?.sorted { ($0.interface, $0.reason) < ($1.interface, $1.reason) }
        self.counters = counters.sorted {
            ($0.interface, $0.direction, $0.reason, $0.action) < ($1.interface, $1.direction, $1.reason, $1.action)
        }
    }
}
