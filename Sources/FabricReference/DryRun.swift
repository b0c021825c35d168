import FabricABI
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
    /// Counters as the kernel keeps them: one flat table per interface seen,
    /// indexed by (direction, reason, action), so a frame costs no hashing.
    private var slots: [UInt32: Int] = [:]
    private var slotIfindexes: [UInt32] = []
    private var last: (ifindex: UInt32, slot: Int) = (.max, 0)
    private var packets: [UInt64] = []
    private var bytes: [UInt64] = []
    private var verdicts = [UInt64](repeating: 0, count: Verdict.allCases.count)
    private var flows: [FlowKey: FlowTally] = [:]
    private var unattributedFrames = 0
    /// Frames the capture cut short (snaplen) before the headers the decision reads: not judged.
    public private(set) var captureTruncated = 0
    private var unattributedIndexes: Set<UInt32> = []
    private var flowsDropped: UInt64 = 0

    /// Flows kept in the table; beyond it, offending frames still count, their flows do not.
    public static let flowLimit = 65_536

    static let cellsPerInterface = 2 * Reason.count * Action.count

    /// (direction, reason, action) as an index into an interface's table.
    static func cell(_ direction: Direction, _ reason: Reason, _ action: Action) -> Int {
        ((direction == .egress ? 0 : 1) * Reason.count + Int(reason.rawValue)) * Action.count + Int(action.rawValue)
    }

    static func decode(cell: Int) -> (direction: Direction, reason: Reason, action: Action) {
        let action = Action(rawValue: UInt8(cell % Action.count))
        let reason = Reason(rawValue: UInt8(cell / Action.count % Reason.count))
        return (cell / Action.count / Reason.count == 0 ? .egress : .ingress, reason, action)
    }

    struct FlowKey: Hashable {
        var source: IPAddress?
        var destination: IPAddress?
        var ifindex: UInt32
        var cell: Int

        /// Plain words into the hasher: the synthesized hash of optional enums
        /// with UInt128 payloads costs more than the rest of a judged frame.
        func hash(into hasher: inout Hasher) {
            Self.combine(source, into: &hasher)
            Self.combine(destination, into: &hasher)
            hasher.combine(UInt64(ifindex) << 32 | UInt64(UInt32(truncatingIfNeeded: cell)))
        }

        private static func combine(_ address: IPAddress?, into hasher: inout Hasher) {
            switch address {
            case .v4(let bits): hasher.combine(UInt64(bits) | 1 << 32)
            case .v6(let bits):
                // A UInt128 shifted by a UInt128: shifting by an Int converts through generic code.
                hasher.combine(UInt64(truncatingIfNeeded: bits &>> (64 as UInt128)))
                hasher.combine(UInt64(truncatingIfNeeded: bits))
            case nil: hasher.combine(UInt64(2) << 32)
            }
        }
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
    /// `truncated`: the capture kept fewer bytes than the frame had (its snaplen).
    /// Such a frame is judged on the bytes kept; if they lack a header the decision
    /// reads (the verdict is malformed), the capture cut it, not the sender: it is
    /// counted as capture_truncated, apart from every verdict and counter.
    public mutating func judge(
        frame: [UInt8], wireLength: Int, ifindex: UInt32?, direction: Direction, time: Timestamp, truncated: Bool = false
    ) {
        frame.withUnsafeBytes {
            judge(frame: $0, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
        }
    }

    /// The same over bytes the caller owns (a capture reader's buffer, judged in place).
    public mutating func judge(
        frame: UnsafeRawBufferPointer, wireLength: Int, ifindex: UInt32?, direction: Direction, time: Timestamp,
        truncated: Bool = false
    ) {
        frames += 1
        guard let ifindex, let name = names[ifindex] else {
            unattributedFrames += 1
            if let ifindex { unattributedIndexes.insert(ifindex) }
            return
        }
        var parsed: ParsedFrame?
        let decision = datapath.decide(frame: frame, ifindex: ifindex, direction: direction, parsed: &parsed)
        if truncated, decision.reason == .malformed {
            captureTruncated += 1
            return
        }
        judged += 1
        verdicts[Self.verdictIndex(decision.verdict)] += 1
        if ifindex != last.ifindex {
            last = (ifindex, slot(for: ifindex))
        }
        let cell = Self.cell(direction, decision.reason, decision.action)
        let counter = last.slot * Self.cellsPerInterface + cell
        packets[counter] += 1
        bytes[counter] += UInt64(wireLength)
        guard decision.action != .pass else { return }
        let addresses = parsed.map(FrameAddresses.of) ?? (source: nil, destination: nil)
        let key = FlowKey(source: addresses.source, destination: addresses.destination, ifindex: ifindex, cell: cell)
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

    private mutating func slot(for ifindex: UInt32) -> Int {
        if let slot = slots[ifindex] { return slot }
        slots[ifindex] = slotIfindexes.count
        slotIfindexes.append(ifindex)
        packets += [UInt64](repeating: 0, count: Self.cellsPerInterface)
        bytes += [UInt64](repeating: 0, count: Self.cellsPerInterface)
        return slotIfindexes.count - 1
    }

    static func verdictIndex(_ verdict: Verdict) -> Int {
        switch verdict {
        case .pass: 0
        case .drop: 1
        case .redirect: 2
        }
    }

    /// Frames that would be dropped or redirected (what --fail-on-violation gates on).
    public var violations: UInt64 { verdicts[Self.verdictIndex(.drop)] + verdicts[Self.verdictIndex(.redirect)] }

    public func report(capture: String, linkType: String, top: Int) -> DryRunReport {
        var rows: [CounterReport.Row] = []
        for (slot, ifindex) in slotIfindexes.enumerated() {
            for cell in 0..<Self.cellsPerInterface where packets[slot * Self.cellsPerInterface + cell] > 0 {
                let (direction, reason, action) = Self.decode(cell: cell)
                rows.append(CounterReport.Row(
                    interface: names[ifindex] ?? "ifindex \(ifindex)", direction: direction, reason: reason, action: action,
                    packets: packets[slot * Self.cellsPerInterface + cell], bytes: bytes[slot * Self.cellsPerInterface + cell]))
            }
        }
        let counted = CounterReport(packets: judged, counters: rows)
        let ranked = flows.sorted { lhs, rhs in
            lhs.value.packets != rhs.value.packets ? lhs.value.packets > rhs.value.packets : lhs.value.first < rhs.value.first
        }
        return DryRunReport(
            capture: capture, linkType: linkType, frames: frames, packets: judged, counters: counted.counters,
            verdicts: Dictionary(uniqueKeysWithValues: Verdict.allCases.map { ($0.rawValue, verdicts[Self.verdictIndex($0)]) }),
            topFlows: ranked.prefix(top).map { key, tally in
                let (direction, reason, action) = Self.decode(cell: key.cell)
                return DryRunReport.Flow(
                    source: key.source?.description, destination: key.destination?.description,
                    interface: names[key.ifindex] ?? "ifindex \(key.ifindex)", direction: direction, reason: reason, action: action,
                    packets: tally.packets, first: tally.first, last: tally.last)
            },
            unattributed: DryRunReport.Unattributed(frames: unattributedFrames, ifindexes: unattributedIndexes.sorted()),
            captureTruncated: captureTruncated, untrackedViolations: flowsDropped)
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
    /// Frames cut by the capture's snaplen before a header the decision reads: neither
    /// judged nor counted as violations (a small `tcpdump -s` does not make traffic malformed).
    public var captureTruncated: Int
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
}

/// The source and destination a frame carries (ARP: sender and target), for reports.
enum FrameAddresses {
    static func of(_ parsed: ParsedFrame) -> (source: IPAddress?, destination: IPAddress?) {
        switch parsed {
        case .ipv4(let source, let destination): (.v4(source), .v4(destination))
        case .ipv6(let source, let destination): (.v6(source), .v6(destination))
        case .arp(let sender, let target): (.v4(sender), target.map { .v4($0) })
        case .notIP, .malformed: (nil, nil)
        }
    }
}
