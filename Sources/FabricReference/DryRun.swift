import FabricCompiler
import FabricPolicy

/// What a policy would do to a capture: every frame through the reference
/// decision, tallied like the kernel's counters (so `dry-run --json` and
/// `stats --json` compare line by line) plus the offending flows.
public struct DryRun {
    public let datapath: ReferenceDatapath
    /// ifindex -> name on the capture's host.
    let names: [UInt32: String]

    public private(set) var frames = 0
    public private(set) var judged: UInt64 = 0
    private var counters: [Cell: (packets: UInt64, bytes: UInt64)] = [:]
    private var verdicts: [Verdict: UInt64] = [:]
    private var flows: [FlowKey: FlowTally] = [:]
    private var unattributedFrames = 0
    private var unattributedIndexes: Set<UInt32> = []
    private var flowsDropped: UInt64 = 0

    /// Flows kept in the table; beyond it, offending frames still count, their flows do not.
    public static let flowLimit = 65_536

    struct Cell: Hashable {
        var interface: String
        var direction: Direction
        var reason: Reason
        var action: Action
    }

    struct FlowKey: Hashable {
        var source: IPAddress?
        var destination: IPAddress?
        var cell: Cell
    }

    struct FlowTally {
        var packets: UInt64
        var first: Timestamp
        var last: Timestamp
    }

    public struct Timestamp: Sendable, Codable, Comparable {
        public var seconds: Int
        public var microseconds: Int

        public init(seconds: Int, microseconds: Int) {
            self.seconds = seconds
            self.microseconds = microseconds
        }

        public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
            (lhs.seconds, lhs.microseconds) < (rhs.seconds, rhs.microseconds)
        }
    }

    public init(datapath: ReferenceDatapath, interfaceNames: [UInt32: String]) {
        self.datapath = datapath
        names = interfaceNames
    }

    /// Judges one frame seen on `ifindex` in `direction`; an ifindex the host
    /// does not know is counted as unattributed, never silently skipped.
    public mutating func judge(
        frame: [UInt8], wireLength: Int, ifindex: UInt32?, direction: Direction, time: Timestamp
    ) {
        frames += 1
        guard let ifindex, let name = names[ifindex] else {
            unattributedFrames += 1
            if let ifindex { unattributedIndexes.insert(ifindex) }
            return
        }
        let decision = datapath.decide(frame: frame, ifindex: ifindex, direction: direction)
        judged += 1
        verdicts[decision.verdict, default: 0] += 1
        let cell = Cell(interface: name, direction: direction, reason: decision.reason, action: decision.action)
        let sum = counters[cell] ?? (0, 0)
        counters[cell] = (sum.packets + 1, sum.bytes + UInt64(wireLength))
        guard decision.action != .pass else { return }
        let addresses = FrameAddresses.of(frame)
        let key = FlowKey(source: addresses.source, destination: addresses.destination, cell: cell)
        if var tally = flows[key] {
            tally.packets += 1
            tally.first = min(tally.first, time)
            tally.last = max(tally.last, time)
            flows[key] = tally
        } else if flows.count < Self.flowLimit {
            flows[key] = FlowTally(packets: 1, first: time, last: time)
        } else {
            flowsDropped += 1
        }
    }

    /// Frames that would be dropped or redirected (what --fail-on-violation gates on).
    public var violations: UInt64 { verdicts[.drop, default: 0] + verdicts[.redirect, default: 0] }

    public func report(capture: String, linkType: String, top: Int) -> DryRunReport {
        let rows = counters.map { cell, sum in
            CounterReport.Row(
                interface: cell.interface, direction: cell.direction, reason: cell.reason, action: cell.action,
                packets: sum.packets, bytes: sum.bytes)
        }
        let counted = CounterReport(packets: judged, counters: rows)
        let ranked = flows.sorted { lhs, rhs in
            lhs.value.packets != rhs.value.packets ? lhs.value.packets > rhs.value.packets : lhs.value.first < rhs.value.first
        }
        return DryRunReport(
            capture: capture, linkType: linkType, frames: frames, packets: judged, counters: counted.counters,
            verdicts: Dictionary(uniqueKeysWithValues: Verdict.allCases.map { ($0.rawValue, verdicts[$0, default: 0]) }),
            topFlows: ranked.prefix(top).map { key, tally in
                DryRunReport.Flow(
                    source: key.source?.description, destination: key.destination?.description, interface: key.cell.interface,
                    direction: key.cell.direction, reason: key.cell.reason, action: key.cell.action, packets: tally.packets,
                    first: tally.first, last: tally.last)
            },
            unattributed: DryRunReport.Unattributed(frames: unattributedFrames, ifindexes: unattributedIndexes.sorted()),
            untrackedViolations: flowsDropped)
    }
}

/// The dry-run report: `packets` and `counters` in the shape of `stats --json`.
public struct DryRunReport: Sendable, Codable {
    public var capture: String
    public var linkType: String
    public var frames: Int
    public var packets: UInt64
    public var counters: [CounterReport.Row]
    public var verdicts: [String: UInt64]
    public var topFlows: [Flow]
    public var unattributed: Unattributed
    /// Offending frames whose flow did not fit the flow table (counted above all the same).
    public var untrackedViolations: UInt64

    public struct Flow: Sendable, Codable {
        public var source: String?
        public var destination: String?
        public var interface: String
        public var direction: Direction
        public var reason: Reason
        public var action: Action
        public var packets: UInt64
        public var first: DryRun.Timestamp
        public var last: DryRun.Timestamp
    }

    public struct Unattributed: Sendable, Codable {
        public var frames: Int
        public var ifindexes: [UInt32]
    }

    enum CodingKeys: String, CodingKey {
        case capture, frames, packets, counters, verdicts, unattributed
        case linkType = "link_type"
        case topFlows = "top_flows"
        case untrackedViolations = "untracked_violations"
    }
}

/// The source and destination a frame carries (ARP: sender and target), for reports.
public enum FrameAddresses {
    public static func of(_ frame: [UInt8]) -> (source: IPAddress?, destination: IPAddress?) {
        frame.withUnsafeBytes { bytes in
            switch ReferenceDatapath.classify(bytes) {
            case .ipv4(let source, let destination): (.v4(source), .v4(destination))
            case .ipv6(let source, let destination): (.v6(source), .v6(destination))
            case .arp(let sender, let target): (.v4(sender), target.map { .v4($0) })
            case .notIP, .malformed: (nil, nil)
            }
        }
    }
}
