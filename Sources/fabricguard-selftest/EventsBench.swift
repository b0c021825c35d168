import CFabricABI
import FabricABI
import FabricBPF
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import FabricReference
import Foundation

/// What events cost a violation flood: the same violating frames through tc
/// egress of two loaded objects, one with the policy's default budget
/// (100/s, bursts of 200) and one with events off (rate 0), interleaved frame
/// by frame. Each test run repeats the frame 64 times in the kernel: the
/// steady state of a flood, where nearly every violation finds its bucket
/// empty. Nobody reads the ring, so once it fills the allowed events count as
/// ring full: a flood's worst case, the ring's reserve failing.
enum EventsBench {
    static func run(host: HostInventory, passes: Int) throws {
        guard let sana0 = host.interface(named: "sana0") else { fail("no sana0 in this namespace") }
        let world = try BenchWorld(prefixes: 10_000, seed: 0xe7e7, host: host)
        let reference = ReferenceDatapath(plan: world.plan)
        var objects: [String: (BPFObject, BPFProgram)] = [:]
        for (name, rate) in [("on", 100), ("off", 0)] {
            var plan = world.plan
            plan.events = EventSettings(rate: rate, burst: 200)
            let object = try BPFObject()
            try object.load()
            try install(plan, bank: 0, into: object)
            objects[name] = (object, try object.program(FG_PROG_TC_EGRESS))
        }
        print("| family | events on ns/pkt | events off ns/pkt | on - off ns/pkt (median of pairs) | frames × passes |")
        print("|---|---:|---:|---:|---:|")
        for family in [IPAddress.Family.ipv4, .ipv6] {
            let frames = world.frames(family).filter {
                reference.decide(frame: $0, ifindex: sana0.index, direction: .egress).action == .drop
            }.prefix(1024)
            var on: [Double] = [], off: [Double] = [], deltas: [Double] = []
            for _ in 0..<passes {
                for frame in frames {
                    let a = Double(try objects["on"]!.1.testRun(frame: frame, ifindex: sana0.index, xdp: false, repeat: 64).durationNanoseconds)
                    let b = Double(try objects["off"]!.1.testRun(frame: frame, ifindex: sana0.index, xdp: false, repeat: 64).durationNanoseconds)
                    on.append(a)
                    off.append(b)
                    deltas.append(a - b)
                }
            }
            let row = [
                family == .ipv4 ? "IPv4" : "IPv6", KernelBench.format(KernelBench.median(on)), KernelBench.format(KernelBench.median(off)),
                KernelBench.format(KernelBench.median(deltas)), "\(frames.count) × \(passes)",
            ]
            print("| " + row.joined(separator: " | ") + " |")
        }
        // What the flood left in the tallies: proof that the "on" side sent, suppressed and filled the ring.
        for name in ["on", "off"] {
            let tally = try objects[name]!.0.map(FG_MAP_EVENT_TALLY)
            let values = try tally.arrayValues(as: fg_event_tally.self)
            let sent = values.reduce(0) { $0 + $1.sent }, suppressed = values.reduce(0) { $0 + $1.suppressed }
            let full = values.reduce(0) { $0 + $1.ring_full }
            print("# events \(name): sent \(sent), suppressed \(suppressed), ring full \(full)")
        }
    }
}

/// For the scrape bench: the counters and event tallies of the first `slots`
/// interfaces set to non-zero values in a pinned instance, so that /metrics
/// carries their series: every reason in each direction with every action the
/// decision can give it (docs/decision.md; enforce and audit at once), or with
/// `everyCell` every cell of the table, impossible ones included.
enum CounterFill {
    /// (direction, reason) -> the actions the decision can give.
    static let possible: [(Direction, Reason, [Action])] = [
        (.egress, .ok, [.pass]), (.egress, .exempt, [.pass]), (.egress, .notIP, [.pass]),
        (.egress, .malformed, [.drop, .wouldDrop]), (.egress, .unownedSource, [.pass, .drop, .wouldDrop]),
        (.egress, .foreignSource, [.drop, .redirect, .wouldDrop, .wouldRedirect]),
        (.egress, .redirectUnavailable, [.drop, .wouldDrop]),
        (.ingress, .ok, [.pass]), (.ingress, .exempt, [.pass]), (.ingress, .notIP, [.pass]),
        (.ingress, .malformed, [.drop, .wouldDrop]), (.ingress, .foreignSource, [.drop, .wouldDrop]),
        (.ingress, .foreignDestination, [.drop, .wouldDrop]),
    ]

    static func run(pinDirectory: String, slots: Int, everyCell: Bool) throws {
        let counters = try BPFMap.pinned(at: "\(pinDirectory)/maps/\(FG_MAP_COUNTERS)", name: FG_MAP_COUNTERS)
        let tallies = try BPFMap.pinned(at: "\(pinDirectory)/maps/\(FG_MAP_EVENT_TALLY)", name: FG_MAP_EVENT_TALLY)
        let cells: [(Direction, Reason, Action)] = everyCell
            ? Direction.allCases.flatMap { direction in
                (0..<UInt8(Reason.count)).flatMap { reason in
                    (0..<UInt8(Action.count)).map { (direction, Reason(rawValue: reason), Action(rawValue: $0)) }
                }
            }
            : possible.flatMap { direction, reason, actions in actions.map { (direction, reason, $0) } }
        var filled: Set<UInt32> = []
        for (direction, reason, action) in cells {
            filled.insert(fg_counter_index(0, UInt32(direction.code), UInt32(reason.rawValue), UInt32(action.rawValue)))
        }
        try counters.setCounters(slots: 0..<UInt32(slots)) { index in
            let cell = fg_counter_cell_of(index)
            let inSlotZero = fg_counter_index(0, cell.direction, cell.reason, cell.action)
            return filled.contains(inSlotZero) ? fg_counter_value(packets: UInt64(1 + cell.reason), bytes: 1500) : fg_counter_value()
        }
        let cpus = tallies.valuesPerKey
        var keys: [UInt8] = [], values: [UInt8] = []
        let violations = Set(cells.filter { $0.2 != .pass }.map(\.1.rawValue))
        for slot in 0..<UInt32(slots) {
            for reason in violations.sorted().map(UInt32.init) {
                keys += BPFMap.bytes(of: fg_event_index(slot, reason))
                for _ in 0..<cpus { values += BPFMap.bytes(of: fg_event_tally(sent: 1, suppressed: 2, ring_full: 0, refused_jiffies: 0)) }
            }
        }
        try tallies.updateBatch(keys: keys, values: values)
    }
}
