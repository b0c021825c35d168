import CFabricABI
import FabricBPF
import FabricCompiler
import FabricFixtures
import FabricHost
import FabricPolicy
import FabricReference
import Foundation

/// Per-packet cost of each entry point through BPF_PROG_TEST_RUN, minus the
/// empty program of the same hook, over 4096 distinct frames (so lookups do
/// not keep hitting one cached key), IPv4 and IPv6, at several prefix counts,
/// for the frames the policy passes and those it drops (the reference path
/// says which). Each frame runs once on the program and once on the empty
/// one, interleaved, so drift on a shared VM hits both sides alike; the table
/// shows the median of those differences, which one preempted run cannot move.
///
/// A test run is a system call that allocates and copies the frame, which
/// evicts much of what the previous packet left in the caches: every map
/// lookup then starts cold. The `hot` column runs each frame 32 times in one
/// test run (tc allows repeat > 1 cheaply) so its lookups find warm lines,
/// the other end of the range that real traffic falls in.
///
/// Always repeat = 1: with repeat > 1 an XDP test run installs the program in
/// the XDP dispatcher and waits for an RCU grace period before and after
/// (bpf_prog_change_xdp, kernel 6.18), milliseconds per call.
enum KernelBench {
    static func run(host: HostInventory, sizes: [Int], passes: Int) throws {
        let empty = try BPFObject(bytes: EmbeddedObject.empty, name: "fg_empty")
        try empty.load()
        let emptyTC = try empty.program("fg_empty_tc")
        let emptyXDP = try empty.program("fg_empty_xdp")
        guard let sana0 = host.interface(named: "sana0") else { fail("no sana0 in this namespace") }

        print("| prefixes per family | family | path | tc egress ns | xdp ingress ns | tc ingress ns | tc egress hot ns | empty tc / xdp ns |")
        print("|---:|---|---|---:|---:|---:|---:|---:|")
        for size in sizes {
            // The host holds one address of san-a per family on sana0: the egress
            // "local" rows send from it, the common case of a host's own traffic.
            let bare = try BenchWorld(prefixes: size, seed: 0xbe4c + UInt64(size), host: host)
            let local = [IPAddress.Family.ipv4, .ipv6].map { family -> IPAddress in
                switch bare.plan.prefixes.first(where: { $0.fabricID == 1 && $0.prefix.family == family })!.prefix.address {
                case .v4(let bits): .v4(bits | 7)
                case .v6(let bits): .v6(bits | 7)
                }
            }
            var withAddresses = host
            for index in withAddresses.interfaces.indices where withAddresses.interfaces[index].name == "sana0" {
                withAddresses.interfaces[index].addresses = [HostAddress(local[0], prefixLength: 24), HostAddress(local[1], prefixLength: 64)]
            }
            let world = try BenchWorld(prefixes: size, seed: 0xbe4c + UInt64(size), host: withAddresses)
            let object = try BPFObject()
            try object.load()
            try install(world.plan, bank: 0, into: object)
            let reference = ReferenceDatapath(plan: world.plan)
            let egress = try object.program(FG_PROG_TC_EGRESS)
            let xdp = try object.program(FG_PROG_XDP_INGRESS)
            let ingress = try object.program(FG_PROG_TC_INGRESS)
            for family in [IPAddress.Family.ipv4, .ipv6] {
                let frames = world.frames(family)
                let violating = { (frame: [UInt8]) in reference.decide(frame: frame, ifindex: sana0.index, direction: .egress).action != .pass }
                let source = family == .ipv4 ? local[0] : local[1]
                let localFrames = (0..<BenchWorld.distinctFrames).map { index in
                    family == .ipv4
                        ? FrameBuilder.udp4(source: source, destination: .v4(0xc612_0000 | UInt32(index)))
                        : FrameBuilder.udp6(source: source, destination: .v6(0x2001_0db8 << 96 | UInt128(index)))
                }
                for (path, subset) in [("pass", frames.filter { !violating($0) }), ("violation", frames.filter(violating)),
                                       ("local", localFrames)] where !subset.isEmpty {
                    let tcEgress = try cost(egress, baseline: emptyTC, frames: subset, ifindex: sana0.index, xdp: false, passes: passes)
                    let xdpIngress = try cost(xdp, baseline: emptyXDP, frames: subset, ifindex: sana0.index, xdp: true, passes: passes)
                    let tcIngress = try cost(ingress, baseline: emptyTC, frames: subset, ifindex: sana0.index, xdp: false, passes: passes)
                    let hot = try cost(egress, baseline: emptyTC, frames: subset, ifindex: sana0.index, xdp: false, passes: 1, repeat: 32)
                    let row = [
                        "\(size)", family == .ipv4 ? "IPv4" : "IPv6", path, format(tcEgress.delta), format(xdpIngress.delta),
                        format(tcIngress.delta), format(hot.delta), "\(format(tcEgress.baseline)) / \(format(xdpIngress.baseline))",
                    ]
                    print("| " + row.joined(separator: " | ") + " |")
                }
            }
        }
    }

    /// Median ns per packet of `program` minus `baseline` (paired per frame), and the baseline's median.
    static func cost(
        _ program: BPFProgram, baseline: BPFProgram, frames: [[UInt8]], ifindex: UInt32, xdp: Bool, passes: Int, repeat: UInt32 = 1
    ) throws -> (delta: Double, baseline: Double) {
        var deltas: [Double] = []
        var baselines: [Double] = []
        deltas.reserveCapacity(passes * frames.count)
        for _ in 0..<passes {
            for frame in frames {
                let base = Double(try baseline.testRun(frame: frame, ifindex: ifindex, xdp: xdp, repeat: `repeat`).durationNanoseconds)
                let measured = Double(try program.testRun(frame: frame, ifindex: ifindex, xdp: xdp, repeat: `repeat`).durationNanoseconds)
                deltas.append(measured - base)
                baselines.append(base)
            }
        }
        return (median(deltas), median(baselines))
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
