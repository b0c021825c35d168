// fabricguard-selftest: the differential tier. Runs inside a throwaway network
// namespace (the test harness starts it with `ip netns exec`), builds the
// fixture world's interfaces there, loads the embedded BPF object with
// fg_record_verdicts set, fills the maps from the compiler's MapPlan and puts
// every fixture plus N seeded random frames through BPF_PROG_TEST_RUN on each
// entry point. The kernel's (reason, action, redirect ifindex, counter slot)
// must equal the reference path's for every frame, and the fixtures' expected
// verdicts; the per-CPU counters must equal the reference's tally. Then two policy
// swaps on the same object, each judged against the new policy's reference (the
// programs' per-CPU source memo must not outlive a generation; run it under
// `taskset -c N` so that one CPU's memo meets every test run).
//
//   fabricguard-selftest [--seed N] [--random N] [--corpus DIR [--mutations N]]
//       --corpus: also every file of a frame fuzz corpus (Fuzz/corpus/frame: byte 0 the
//       interface and direction, see FuzzFrame) and seeded mutations of them until N
//       mutated frames were judged (those shorter than Ethernet or over 1514 bytes are skipped)
//   fabricguard-selftest --bench [--quick]     per-packet cost table (scripts/bench)
//   fabricguard-selftest --bench-events [--quick]   what events cost a violation flood
//   fabricguard-selftest --fill-counters PINDIR SLOTS [--every-cell]   non-zero counters for the scrape bench
//   fabricguard-selftest --tcx-attach ... | --tcx-list ...   another tool's tcx programs (TCXNeighbour.swift)
//
// Exit status: 0 no disagreement, 1 disagreements or a kernel failure, 2 usage.

import CFabricABI
import FabricABI
import FabricBPF
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricNetlink
import FabricPolicy
import FabricReference
import Foundation

struct Arguments {
    var seed = UInt64(Date().timeIntervalSince1970 * 1000) & 0xffff_ffff
    var random = 100_000
    var bench = false
    var benchEvents = false
    var fill: (pinDirectory: String, slots: Int)?
    var everyCell = false
    var quick = false
    var corpus: String?
    var mutations = 0

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--seed":
                guard let value = rest.popFirst().flatMap({ UInt64($0) }) else { Arguments.usage() }
                seed = value
            case "--random":
                guard let value = rest.popFirst().flatMap({ Int($0) }) else { Arguments.usage() }
                random = value
            case "--corpus":
                guard let value = rest.popFirst() else { Arguments.usage() }
                corpus = value
            case "--mutations":
                guard let value = rest.popFirst().flatMap({ Int($0) }) else { Arguments.usage() }
                mutations = value
            case "--bench": bench = true
            case "--bench-events": benchEvents = true
            case "--fill-counters":
                guard let directory = rest.popFirst(), let slots = rest.popFirst().flatMap({ Int($0) }) else { Arguments.usage() }
                fill = (directory, slots)
            case "--every-cell": everyCell = true
            case "--quick": quick = true
            default:
                Arguments.usage()
            }
        }
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: fabricguard-selftest [--seed N] [--random N] [--corpus DIR [--mutations N]] | --bench [--quick] | --bench-events [--quick] | --fill-counters PINDIR SLOTS [--every-cell]\n".utf8))
        exit(2)
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("selftest: \(message)\n".utf8))
    exit(1)
}

/// Runs a command and waits for it with waitpid(2): Foundation's Process can
/// miss the child's exit in a plain executable's main thread here.
func shell(_ arguments: [String]) {
    var pid: pid_t = 0
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let spawned = posix_spawnp(&pid, arguments[0], nil, nil, argv, environ)
    guard spawned == 0 else { fail("run \(arguments.joined(separator: " ")): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { fail("wait for \(arguments[0]): \(String(cString: strerror(errno)))") }
    }
    guard status == 0 else { fail("\(arguments.joined(separator: " ")) exited with status \(status)") }
}

/// The fixture world's interfaces, made real in this namespace as veth pairs,
/// so that BPF_PROG_TEST_RUN accepts their ifindexes.
func buildInterfaces() throws -> HostInventory {
    shell(["ip", "link", "set", "lo", "up"])
    for link in FixtureWorld.host.interfaces where link.name != "lo" {
        // One managed interface gets an ifindex above FG_DIRECT_IFINDEXES, so
        // fg_interfaces_far is judged too (hosts with much interface churn have such).
        let index = link.name == "sanc0" ? ["index", "\(70_000)"] : []
        shell(["ip", "link", "add", link.name] + index + ["type", "veth", "peer", "name", "p-\(link.name)"])
        if link.up {
            shell(["ip", "link", "set", "p-\(link.name)", "up"])
            shell(["ip", "link", "set", link.name, "up"])
        }
    }
    let live = try LiveHost().inventory()
    // The fixture host with this namespace's ifindexes: addresses and state stay the fixture's.
    var host = FixtureWorld.host
    for index in host.interfaces.indices {
        guard let real = live.interface(named: host.interfaces[index].name) else {
            fail("interface \(host.interfaces[index].name) was not created")
        }
        host.interfaces[index].index = real.index
    }
    host.interfaces.sort { $0.index < $1.index }
    return host
}

struct KernelVerdict: Equatable, CustomStringConvertible {
    var reason: UInt32
    var action: UInt32
    var redirectIfindex: UInt32
    var counterSlot: UInt32
    var returnCode: UInt32

    var description: String {
        "\(Reason(rawValue: UInt8(truncatingIfNeeded: reason)).name)/\(Action(rawValue: UInt8(truncatingIfNeeded: action)).name)"
            + " redirect \(redirectIfindex) slot \(counterSlot) rc \(returnCode)"
    }
}

/// Loads the object for testing and judges frames through it.
final class KernelUnderTest {
    let object: BPFObject
    let lastVerdict: BPFMap
    let counters: BPFMap
    let programs: [String: BPFProgram]

    init(plan: MapPlan, bank: UInt32) throws {
        object = try BPFObject()
        let built = try object.constant(FG_RODATA_ABI_VERSION)
        guard built == UInt32(FG_ABI_VERSION) else { fail("the embedded object has ABI \(built), this binary \(FG_ABI_VERSION)") }
        try object.setConstant(FG_RODATA_RECORD_VERDICTS, 1)
        try object.load()
        try install(plan, bank: bank, into: object)
        lastVerdict = try object.map(FG_MAP_LAST_VERDICT)
        counters = try object.map(FG_MAP_COUNTERS)
        var programs: [String: BPFProgram] = [:]
        for name in ABIMaps.programs { programs[name] = try object.program(name) }
        self.programs = programs
    }

    func judge(_ frame: [UInt8], ifindex: UInt32, program: String) throws -> KernelVerdict {
        let unset = fg_verdict(reason: .max, action: .max, redirect_ifindex: .max, counter_slot: .max)
        try lastVerdict.update(key: UInt32(0), value: unset)
        let run = try programs[program]!.testRun(frame: frame, ifindex: ifindex, xdp: program == FG_PROG_XDP_INGRESS)
        guard let verdict = try lastVerdict.lookup(key: UInt32(0), as: fg_verdict.self) else { fail("fg_last_verdict is empty") }
        return KernelVerdict(
            reason: verdict.reason, action: verdict.action, redirectIfindex: verdict.redirect_ifindex,
            counterSlot: verdict.counter_slot, returnCode: run.returnValue)
    }

    /// Per-(slot, direction, reason, action) packet and byte sums over all CPUs.
    func counterTotals() throws -> [UInt32: (packets: UInt64, bytes: UInt64)] {
        var totals: [UInt32: (packets: UInt64, bytes: UInt64)] = [:]
        for (index, sum) in try counters.counterSums(slots: 0..<Int(ABILimits.unmanagedSlot) + 1) where sum.packets != 0 {
            totals[index] = (sum.packets, sum.bytes)
        }
        return totals
    }

    func resetCounters() throws {
        try counters.setCounters(slots: 0...ABILimits.unmanagedSlot) { _ in fg_counter_value() }
    }
}

/// Fills a loaded object's policy maps with `plan` in `bank` and makes that bank active.
func install(_ plan: MapPlan, bank: UInt32, into object: BPFObject) throws {
    try PolicyWriter.write(plan.entries(bank: bank), bank: bank) { try object.map($0) }
    // A new generation each time, as the agent makes one: the programs' per-CPU
    // memo of source lookups (fg_source_memo) is keyed by it.
    let stateMap = try object.map(FG_MAP_STATE)
    var state = try stateMap.lookup(key: UInt32(0), as: fg_state.self) ?? fg_state()
    state.generation += 1
    state.active_bank = bank
    state.abi_version = UInt32(FG_ABI_VERSION)
    try stateMap.update(key: UInt32(0), value: state)
}

/// True when the process may run on one CPU only (`taskset -c N`, as the kernel
/// tier starts it): a test run judges on the calling CPU, and the programs' per-CPU
/// memo (fg_source_memo) is only surely tested when the runs that fill it and the
/// runs that must not trust it meet the same CPU's copy.
func runsOnOneCPU() -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
    else { return false }
    let list = line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces)
    return !list.isEmpty && list.allSatisfy(\.isNumber)
}

/// BPF_PROG_TEST_RUN for skb programs refuses (EINVAL) a frame whose EtherType
/// says IPv4 or IPv6 but that is shorter than Ethernet + that fixed header
/// (kernel 6.18). XDP test runs take them, so those frames are still judged
/// there, through the same decide().
enum SkbTestRun {
    static func accepts(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 14 else { return false }
        switch UInt16(frame[12]) << 8 | UInt16(frame[13]) {
        case 0x0800: return frame.count >= 14 + 20
        case 0x86dd: return frame.count >= 14 + 40
        default: return true
        }
    }
}

/// The programs a frame goes through: egress has one hook, ingress two (XDP and its tc fallback).
func programs(for direction: Direction) -> [String] {
    direction == .egress ? [FG_PROG_TC_EGRESS] : [FG_PROG_XDP_INGRESS, FG_PROG_TC_INGRESS]
}

/// The return code each hook must give for an action.
func expectedReturn(_ action: Action, program: String) -> UInt32 {
    if program == FG_PROG_XDP_INGRESS { return action == .drop ? 1 /* XDP_DROP */ : 2 /* XDP_PASS */ }
    switch action {
    case .drop: return 2  // TC_ACT_SHOT
    case .redirect: return 7  // TC_ACT_REDIRECT
    default: return UInt32(bitPattern: -1)  // TC_ACT_UNSPEC: the next program (or the kernel) decides
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// One differential run: every frame judged by the kernel and the reference.
struct Differential {
    let host: HostInventory
    let kernel: KernelUnderTest
    let reference: ReferenceDatapath
    var disagreements = 0
    var judged = 0
    var skippedForSkb = 0
    var expectedCounters: [UInt32: (packets: UInt64, bytes: UInt64)] = [:]

    mutating func report(_ what: String, _ frame: [UInt8], _ kernelVerdict: KernelVerdict, _ expected: String) {
        disagreements += 1
        guard disagreements <= 20 else { return }
        print("DISAGREE \(what)\n  frame    \(hex(frame))\n  kernel   \(kernelVerdict)\n  expected \(expected)")
    }

    /// Judges one frame on every program of its direction against the reference (and a fixture's expectation).
    mutating func check(_ what: String, frame: [UInt8], interface: String, direction: Direction, fixture: Fixture.Expected?) throws {
        guard let link = host.interface(named: interface) else { fail("no interface \(interface)") }
        let decision = reference.decide(frame: frame, ifindex: link.index, direction: direction)
        if let fixture {
            let target = decision.redirectIfindex == 0 ? nil : host.interface(index: decision.redirectIfindex)?.name
            if fixture != Fixture.Expected(reason: decision.reason, action: decision.action, redirectInterface: target) {
                print("DISAGREE reference vs fixture \(what): reference \(decision), fixture \(fixture)")
                disagreements += 1
            }
        }
        for program in programs(for: direction) {
            if program != FG_PROG_XDP_INGRESS, !SkbTestRun.accepts(frame) {
                skippedForSkb += 1
                continue
            }
            let verdict = try kernel.judge(frame, ifindex: link.index, program: program)
            judged += 1
            let wanted = KernelVerdict(
                reason: UInt32(decision.reason.rawValue), action: UInt32(decision.action.rawValue),
                redirectIfindex: decision.redirectIfindex, counterSlot: decision.counterSlot,
                returnCode: expectedReturn(decision.action, program: program))
            if verdict != wanted { report("\(program) \(what) on \(interface)", frame, verdict, "\(wanted) (reference \(decision))") }
            let index = fg_counter_index(
                decision.counterSlot, UInt32(direction.code), UInt32(decision.reason.rawValue), UInt32(decision.action.rawValue))
            let sum = expectedCounters[index] ?? (0, 0)
            expectedCounters[index] = (sum.packets + 1, sum.bytes + UInt64(frame.count))
        }
    }

    mutating func run(randomFrames: Int, seed: UInt64) throws {
        // Fixtures first, with the counters checked against the reference's tally.
        try kernel.resetCounters()
        let runnable = Fixtures.all.filter(\.kernelRunnable)
        for fixture in runnable {
            try check(
                fixture.description, frame: fixture.frame, interface: fixture.interface, direction: fixture.direction,
                fixture: fixture.expected)
        }
        let counted = try kernel.counterTotals()
        let mismatched = Set(counted.keys).union(expectedCounters.keys).filter {
            counted[$0]?.packets != expectedCounters[$0]?.packets || counted[$0]?.bytes != expectedCounters[$0]?.bytes
        }
        for index in mismatched.sorted().prefix(10) {
            print("DISAGREE counter \(index): kernel \(String(describing: counted[index])), reference \(String(describing: expectedCounters[index]))")
        }
        disagreements += mismatched.count
        print("selftest: \(runnable.count) fixtures (\(Fixtures.all.count - runnable.count) shorter than Ethernet skipped), \(counted.count) counters equal")

        var random = RandomFrames(seed: seed)
        for index in 0..<randomFrames {
            let sample = random.next()
            try check("random frame \(index)", frame: sample.frame, interface: sample.interface, direction: sample.direction, fixture: nil)
        }
    }

    /// Every input of a frame fuzz corpus, then `mutations` seeded mutations of them
    /// (byte flips, truncations, insertions, another interface or direction).
    /// Frames the test run cannot take (shorter than Ethernet, longer than the MTU) are skipped.
    mutating func run(corpus directory: String, mutations: Int, seed: UInt64) throws -> (frames: Int, skipped: Int) {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        let inputs = try names.compactMap { name in
            try FuzzFrame(Array(Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name)))).map { (name, $0) }
        }
        guard !inputs.isEmpty else { fail("the corpus \(directory) holds no frame") }
        var frames = 0
        var skipped = 0
        func judge(_ what: @autoclosure () -> String, _ input: FuzzFrame) throws {
            guard (14...1514).contains(input.frame.count) else {
                skipped += 1
                return
            }
            frames += 1
            try check(what(), frame: input.frame, interface: input.interface, direction: input.direction, fixture: nil)
        }
        for (name, input) in inputs { try judge("corpus \(name)", input) }
        // Mutations of the frames a hook can see, until `mutations` of them were judged.
        let bases = inputs.filter { $0.1.frame.count >= 14 }
        var random = SplitMix64(seed: seed)
        var index = 0
        let judgedBefore = frames
        while frames - judgedBefore < mutations, index < 4 * mutations, !bases.isEmpty {
            let (name, original) = bases[Int(random.next() % UInt64(bases.count))]
            let mutated = original.mutated(&random)
            try judge("mutation \(index) of \(name) (seed \(seed))", mutated)
            index += 1
        }
        return (frames, skipped)
    }
}

if ["--tcx-attach", "--tcx-list"].contains(CommandLine.arguments.dropFirst().first) { TCXNeighbour.main(CommandLine.arguments) }
let arguments = Arguments(CommandLine.arguments)
if let fill = arguments.fill {
    do {
        try CounterFill.run(pinDirectory: fill.pinDirectory, slots: fill.slots, everyCell: arguments.everyCell)
        exit(0)
    } catch {
        fail("\(error)")
    }
}
if arguments.benchEvents {
    do {
        try EventsBench.run(host: try buildInterfaces(), passes: arguments.quick ? 3 : 15)
        exit(0)
    } catch {
        fail("\(error)")
    }
}
if arguments.bench {
    do {
        let host = try buildInterfaces()
        try KernelBench.run(host: host, sizes: arguments.quick ? [10, 10_000] : [10, 10_000, 100_000, 1_000_000], passes: arguments.quick ? 2 : 6)
        exit(0)
    } catch {
        fail("\(error)")
    }
}
print("selftest: seed \(arguments.seed) (replay with --seed \(arguments.seed))")
do {
    let host = try buildInterfaces()
    let plan = try PolicyCompiler.compile(FixtureWorld.policy(), host: host).plan
    // Bank 1, so a program that ignored fg_state.active_bank would find nothing.
    let kernel = try KernelUnderTest(plan: plan, bank: 1)
    var differential = Differential(host: host, kernel: kernel, reference: ReferenceDatapath(plan: plan))
    try differential.run(randomFrames: arguments.random, seed: arguments.seed)
    if let corpus = arguments.corpus {
        let started = Date()
        let before = differential.judged
        let (frames, skipped) = try differential.run(corpus: corpus, mutations: arguments.mutations, seed: arguments.seed)
        print("selftest: corpus \(corpus): \(frames) frames (\(skipped) outside 14...1514 bytes skipped), "
            + "\(differential.judged - before) kernel verdicts in \(Int(Date().timeIntervalSince(started))) s")
    }

    // The programs remember source lookups per CPU (fg_source_memo), keyed by the
    // generation and bank. Two swaps on the object that judged every fixture, each
    // followed by every fixture judged as the new policy says: to a policy that
    // trades san-c's and san-d's prefixes (into the other bank), then back to the
    // first policy, written into the other bank and then into the second policy's
    // bank with nothing judged between. A memo keyed by the bank alone would still
    // hold the second policy's owners there.
    // Under `taskset -c N` (runsOnOneCPU) the memo the fixtures filled is the one
    // the later test runs read.
    var swapped = FixtureWorld.policy()
    let c = swapped.fabrics.firstIndex { $0.name == "san-c" }!, d = swapped.fabrics.firstIndex { $0.name == "san-d" }!
    (swapped.fabrics[c].prefixes, swapped.fabrics[d].prefixes) = (swapped.fabrics[d].prefixes, swapped.fabrics[c].prefixes)
    let swappedPlan = try PolicyCompiler.compile(swapped, host: host).plan
    let (first, second) = (differential.reference, ReferenceDatapath(plan: swappedPlan))
    let runnable = Fixtures.all.filter(\.kernelRunnable)
    var swaps: [Differential] = []
    var changed = 0
    for (installs, old, new) in [([(swappedPlan, UInt32(0))], first, second), ([(plan, UInt32(1)), (plan, UInt32(0))], second, first)] {
        for (installed, bank) in installs { try install(installed, bank: bank, into: kernel.object) }
        var after = Differential(host: host, kernel: kernel, reference: new)
        for fixture in runnable {
            guard let link = host.interface(named: fixture.interface) else { fail("no interface \(fixture.interface)") }
            if old.decide(frame: fixture.frame, ifindex: link.index, direction: fixture.direction)
                != after.reference.decide(frame: fixture.frame, ifindex: link.index, direction: fixture.direction) {
                changed += 1
            }
            try after.check("after swap \(swaps.count + 1): \(fixture.description)", frame: fixture.frame,
                            interface: fixture.interface, direction: fixture.direction, fixture: nil)
        }
        swaps.append(after)
    }
    guard changed > 0 else { fail("the swapped policy judges every fixture as before: the memo's check proves nothing") }
    if !runsOnOneCPU() { print("selftest: not pinned to one CPU: the memo check may miss a stale memo (run under taskset -c N)") }
    print("selftest: swaps between policies that give san-c's and san-d's sources to each other: \(changed) verdicts "
        + "changed, \(swaps.map(\.disagreements).reduce(0, +)) disagreements")

    // A large policy: every prefix as a source on each hook. Its tables are full
    // enough that some keys live past their home bucket, the programs' slower path.
    let large = try BenchWorld(prefixes: 10_000, seed: arguments.seed, host: host).plan
    let awayFromHome = PrefixBuckets(large.prefixes).keysAwayFromHome
    guard awayFromHome > 0 else { fail("the large policy put every key in its home bucket: the probing path went untested") }
    var largeDifferential = Differential(
        host: host, kernel: try KernelUnderTest(plan: large, bank: 0), reference: ReferenceDatapath(plan: large))
    var random = SplitMix64(seed: arguments.seed)
    for entry in large.prefixes {
        let hostBits = entry.prefix.family == .ipv4 ? UInt128(random.next() & 0xff) : UInt128(random.next())
        let source: IPAddress = switch entry.prefix.address {
        case .v4(let base): .v4(base | UInt32(hostBits))
        case .v6(let base): .v6(base | hostBits)
        }
        let frame = source.family == .ipv4
            ? FrameBuilder.udp4(source: source, destination: IPAddress("192.0.2.1")!)
            : FrameBuilder.udp6(source: source, destination: IPAddress("2001:db8::1")!)
        for direction in [Direction.egress, .ingress] {
            try largeDifferential.check("source in \(entry.prefix)", frame: frame, interface: "sana0", direction: direction, fixture: nil)
        }
    }
    print("selftest: large policy, \(large.prefixes.count) prefixes (\(awayFromHome) keys past their home bucket), "
        + "\(largeDifferential.judged) kernel verdicts")

    let disagreements = differential.disagreements + swaps.map(\.disagreements).reduce(0, +) + largeDifferential.disagreements
    print(
        "selftest: \(differential.judged + swaps.map(\.judged).reduce(0, +) + largeDifferential.judged) kernel verdicts "
            + "(\(differential.skippedForSkb) short IP frames skipped on tc, judged on XDP), \(disagreements) disagreements")
    exit(disagreements == 0 ? 0 : 1)
} catch {
    fail("\(error)")
}
