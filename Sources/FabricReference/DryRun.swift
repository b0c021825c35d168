import FabricABI
import FabricCompiler
import FabricPolicy

/// What a policy would do to a capture: every frame through the reference
/// decision, tallied like the kernel's counters (so `dry-run --json` and
/// `stats --json` compare line by line) plus the offending flows.
public struct DryRun {
    public let datapath: ReferenceDatapath
    /// Every frame's first step: counted, attributed to an interface, parsed.
    var intake: Intake

    /// Frames read from the capture, attributed or not.
    public var frames: Int { intake.frames }
    public private(set) var judged: UInt64 = 0
    /// Counters as the kernel keeps them: one flat table per interface seen,
    /// indexed by (direction, reason, action), so a frame costs no hashing.
    private var slots: [UInt32: Int] = [:]
    private var slotIfindexes: [UInt32] = []
    private var last: (ifindex: UInt32, slot: Int) = (.max, 0)
    /// Frames submitted, parsed and not yet decided (see `submit`).
    private var pending: [Pending] = []
    private var packets: [UInt64] = []
    private var bytes: [UInt64] = []
    private var verdicts = [UInt64](repeating: 0, count: Verdict.allCases.count)
    private var flows = FlowTable()
    /// Frames the capture cut short (snaplen) before the headers the decision reads: not judged.
    public private(set) var captureTruncated = 0
    private var flowsDropped: UInt64 = 0

    /// A frame's first step, before any decision: counted, attributed to an interface
    /// the host has (else counted as unattributed), parsed. Its own value so that
    /// `DryRunPipeline` runs it on the reading thread while another decides.
    struct Intake: Sendable {
        /// ifindex -> name on the capture's host.
        let names: [UInt32: String]
        private(set) var frames = 0
        private(set) var unattributedFrames = 0
        private(set) var unattributedIndexes: Set<UInt32> = []
        /// The last ifindex looked up in `names`, and whether it was there: frames come in
        /// runs from one interface, and a lookup per frame costs a hash of its own.
        private var lastNamed: (ifindex: UInt32, known: Bool) = (.max, false)

        init(names: [UInt32: String]) { self.names = names }

        /// The frame parsed, nil when its interface is unknown (counted as unattributed).
        mutating func admit(
            frame: UnsafeRawBufferPointer, wireLength: Int, ifindex: UInt32?, direction: Direction, time: Timestamp,
            truncated: Bool
        ) -> Pending? {
            frames += 1
            guard let ifindex, isNamed(ifindex) else {
                unattributedFrames += 1
                if let ifindex { unattributedIndexes.insert(ifindex) }
                return nil
            }
            return Pending(
                parsed: ReferenceDatapath.classify(frame), wireLength: wireLength, ifindex: ifindex, direction: direction,
                time: time, truncated: truncated)
        }

        private mutating func isNamed(_ ifindex: UInt32) -> Bool {
            if ifindex != lastNamed.ifindex {
                lastNamed = (ifindex, names[ifindex] != nil)
            }
            return lastNamed.known
        }
    }

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

    /// A frame between `submit` and its decision: parsed while its bytes were at hand.
    struct Pending {
        var parsed: ParsedFrame
        /// The last node of its lookup prefetched, -1 when done.
        var node: Int32 = -1
        var decision = Decision(reason: .ok, action: .pass, counterSlot: 0)
        /// The hash of its flow, for a violation.
        var flowHash = 0
        var wireLength: Int
        var ifindex: UInt32
        var direction: Direction
        var time: Timestamp
        var truncated: Bool
    }

    /// Frames decided together by `submit`: enough for their prefetches to overlap,
    /// few enough for the batch to stay in the first-level cache.
    static let batchSize = 32
    /// How deep prefetching walks: past the first levels, lookups (1-3 nodes below the
    /// tables' first-level index) are over, and what is left is cheaper decided than read.
    static let prefetchLevels = 4

    public init(datapath: ReferenceDatapath, interfaceNames: [UInt32: String]) {
        self.datapath = datapath
        intake = Intake(names: interfaceNames)
        pending.reserveCapacity(Self.batchSize)
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
        submit(frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
        flush()
    }

    /// `judge` for a stream of frames: the frame is parsed now (its bytes need to live
    /// only during the call) and decided with up to `batchSize - 1` frames after it,
    /// their prefix-table and flow-table lines prefetched together (a capture's reading
    /// evicts the tables between frames, and misses one after another cost more than
    /// the decisions). Same counts as `judge`; `flush()` after the last frame, before `report`.
    public mutating func submit(
        frame: UnsafeRawBufferPointer, wireLength: Int, ifindex: UInt32?, direction: Direction, time: Timestamp,
        truncated: Bool = false
    ) {
        guard let admitted = intake.admit(
            frame: frame, wireLength: wireLength, ifindex: ifindex, direction: direction, time: time, truncated: truncated)
        else { return }
        pending.append(admitted)
        if pending.count == Self.batchSize { flush() }
    }

    /// Decides and counts every submitted frame, in the order submitted.
    public mutating func flush() {
        guard !pending.isEmpty else { return }
        var batch: [Pending] = []
        swap(&batch, &pending)
        decideAndCount(&batch)
        batch.removeAll(keepingCapacity: true)
        pending = batch
    }

    /// Decides every frame of `batch` (unless another thread did: `decided`), then counts
    /// them in order: `flush`'s work, and `DryRunPipeline`'s on whichever thread counts.
    mutating func decideAndCount(_ batch: inout [Pending], decided: Bool = false) {
        if !decided { Self.decide(&batch, with: datapath) }
        tally(&batch)
    }

    /// Decides every frame of `batch`, `batchSize` at a time. Pure (the datapath is
    /// only read), so any thread may decide a batch that another then counts.
    static func decide(_ batch: inout [Pending], with datapath: ReferenceDatapath) {
        for start in stride(from: 0, to: batch.count, by: batchSize) {
            decide(&batch, start..<min(start + batchSize, batch.count), with: datapath)
        }
    }

    private static func decide(_ batch: inout [Pending], _ range: Range<Int>, with datapath: ReferenceDatapath) {
        // Prefetch every frame's source lookup, level by level, so that the batch's
        // misses overlap and the decisions below find the nodes cached.
        for position in range {
            datapath.prefetchStart(batch[position].parsed)
        }
        var walking = false
        for position in range {
            batch[position].node = datapath.prefetchNode(startingFor: batch[position].parsed)
            walking = walking || batch[position].node >= 0
        }
        var level = 1
        while walking, level < prefetchLevels {
            walking = false
            for position in range where batch[position].node >= 0 {
                batch[position].node = datapath.prefetchNode(after: batch[position].node, for: batch[position].parsed)
                walking = walking || batch[position].node >= 0
            }
            level += 1
        }
        for position in range {
            let frame = batch[position]
            batch[position].decision = datapath.decide(frame.parsed, ifindex: frame.ifindex, direction: frame.direction)
        }
    }

    /// Counts every decided frame of `batch`, in order, `batchSize` at a time: the
    /// flow table's slots of a chunk's violations are prefetched together first.
    private mutating func tally(_ batch: inout [Pending]) {
        for start in stride(from: 0, to: batch.count, by: Self.batchSize) {
            let chunk = start..<min(start + Self.batchSize, batch.count)
            for position in chunk where Self.isFlow(batch[position]) {
                batch[position].flowHash = FlowTable.hash(Self.flowKey(batch[position]))
                flows.prefetch(hash: batch[position].flowHash)
            }
            for position in chunk {
                count(batch[position])
            }
        }
    }

    /// Counts a decided frame. A frame the capture cut (`truncated`) whose verdict is
    /// malformed lacks a header the decision reads: capture_truncated, apart from the rest.
    private mutating func count(_ frame: Pending) {
        let decision = frame.decision
        if Self.isCutByCapture(frame) {
            captureTruncated += 1
            return
        }
        judged += 1
        verdicts[Self.verdictIndex(decision.verdict)] += 1
        if frame.ifindex != last.ifindex {
            last = (frame.ifindex, slot(for: frame.ifindex))
        }
        let counter = last.slot * Self.cellsPerInterface + Self.cell(frame.direction, decision.reason, decision.action)
        packets[counter] += 1
        bytes[counter] += UInt64(frame.wireLength)
        guard decision.action != .pass else { return }
        if !flows.count(Self.flowKey(frame), hash: frame.flowHash, time: frame.time, limit: Self.flowLimit) {
            flowsDropped += 1
        }
    }

    private static func isCutByCapture(_ frame: Pending) -> Bool {
        frame.truncated && frame.decision.reason == .malformed
    }

    /// Whether a decided frame goes to the flow table: not passed, and not cut by the capture.
    private static func isFlow(_ frame: Pending) -> Bool {
        frame.decision.action != .pass && !isCutByCapture(frame)
    }

    private static func flowKey(_ frame: Pending) -> FlowKey {
        let addresses = FrameAddresses.of(frame.parsed)
        return FlowKey(
            source: addresses.source, destination: addresses.destination, ifindex: frame.ifindex,
            cell: cell(frame.direction, frame.decision.reason, frame.decision.action))
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
    public var violations: UInt64 {
        precondition(pending.isEmpty, "DryRun.violations read with submitted frames undecided: flush() first")
        return verdicts[Self.verdictIndex(.drop)] + verdicts[Self.verdictIndex(.redirect)]
    }

    public func report(capture: String, linkType: String, top: Int) -> DryRunReport {
        precondition(pending.isEmpty, "DryRun.report with submitted frames undecided: flush() first")
        let names = intake.names
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
        let ranked = flows.entries.sorted { lhs, rhs in
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
            unattributed: DryRunReport.Unattributed(frames: intake.unattributedFrames, ifindexes: intake.unattributedIndexes.sorted()),
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
